"""Ways to run many coroutines with at most *limit* of them at once.

Every runner has the signature ``await run(work, n, limit)``: it runs
``work(0)``, ..., ``work(n - 1)`` with at most *limit* running at once
and returns how many completed, so that the harness can check it.
The coroutines are made lazily, from a generator, wherever the
contender accepts one.
"""

import asyncio
import collections
import functools
import itertools


async def ours_async_for(work, n, limit, as_completed=asyncio.as_completed):
    """asyncio.as_completed(limit=) as an asynchronous iterator (or
    *as_completed*, another iterator of its shape)."""
    completed = 0
    coros = (work(i) for i in range(n))
    async for task in as_completed(coros, limit=limit):
        task.result()
        completed += 1
    return completed


async def ours_plain_for(work, n, limit, as_completed=asyncio.as_completed):
    """asyncio.as_completed(limit=) as a plain iterator of coroutines (or
    *as_completed*, another iterator of its shape)."""
    completed = 0
    coros = (work(i) for i in range(n))
    for next_result in as_completed(coros, limit=limit):
        await next_result
        completed += 1
    return completed


async def backport_async_for(work, n, limit):
    """The backport's as_completed(limit=) (as_completed_limit, made from
    the change by Tools/backport) as an asynchronous iterator."""
    from as_completed_limit import as_completed
    return await ours_async_for(work, n, limit, as_completed)


async def backport_plain_for(work, n, limit):
    """The backport's as_completed(limit=) as a plain iterator."""
    from as_completed_limit import as_completed
    return await ours_plain_for(work, n, limit, as_completed)


async def unbounded_as_completed(work, n, limit):
    """asyncio.as_completed(list) as it is today: no limit, *limit* unused.

    Every coroutine becomes a task at the call, so all *n* run at once.
    """
    completed = 0
    for next_result in asyncio.as_completed([work(i) for i in range(n)]):
        await next_result
        completed += 1
    return completed


async def worker_pool(work, n, limit):
    """*limit* workers in a TaskGroup awaiting the items inline.

    The answer an asyncio maintainer gives: each worker pulls the next
    coroutine from one shared iterator and awaits it in its own task.
    No task per item; the first error cancels the whole group.
    """
    coros = (work(i) for i in range(n))
    completed = 0

    async def worker():
        nonlocal completed
        for coro in coros:
            await coro
            completed += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(limit):
            group.create_task(worker())
    return completed


async def worker_pool_tasks(work, n, limit):
    """The worker pool with each item its own task, awaited by its worker."""
    coros = (work(i) for i in range(n))
    completed = 0

    async def worker():
        nonlocal completed
        for coro in coros:
            await asyncio.create_task(coro)
            completed += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(limit):
            group.create_task(worker())
    return completed


async def pool_as_completed(coros, limit):
    """Yield a done task per coroutine of *coros*, in completion order.

    The smallest correct worker pool giving what as_completed(limit=)
    gives: a task per item, its error kept in its task (one failing
    item does not cancel the others), every result to one consumer in
    completion order through a queue, *coros* consumed lazily and at
    most *limit* items started and not yet handed out.  The queue is
    unbounded: with maxsize, a worker putting into a queue with room
    overtakes one woken to put, and the order is lost.  So a worker
    starts its next item only when the consumer has taken a result.
    """
    coros = iter(coros)
    done = asyncio.Queue()
    taken = asyncio.Semaphore(0)  # Released for each result taken.
    workers_left = limit

    async def worker():
        nonlocal workers_left
        for coro in coros:
            task = asyncio.create_task(coro)
            try:
                await task
            except BaseException:
                # The item's error, even CancelledError, stays in its
                # task for the consumer; the worker's own cancellation
                # stops it.  (asyncio.wait([task]) costs 1.5x as much.)
                if asyncio.current_task().cancelling():
                    raise
            done.put_nowait(task)
            await taken.acquire()
        workers_left -= 1
        if not workers_left:
            done.put_nowait(None)  # The end, after every result.

    async with asyncio.TaskGroup() as group:
        for _ in range(limit):
            group.create_task(worker())
        while (task := await done.get()) is not None:
            taken.release()
            yield task


async def fair_pool(work, n, limit):
    """pool_as_completed(): the worker pool that gives what limit= gives."""
    completed = 0
    async for task in pool_as_completed((work(i) for i in range(n)), limit):
        task.result()
        completed += 1
    return completed


async def semaphore_gather(work, n, limit):
    """A task per item made up front, each waiting on a Semaphore.

    The "client-async-sem" pattern of the 1 million requests posts.
    """
    semaphore = asyncio.Semaphore(limit)

    async def bounded(i):
        async with semaphore:
            return await work(i)

    tasks = [asyncio.ensure_future(bounded(i)) for i in range(n)]
    return len(await asyncio.gather(*tasks))


async def taskgroup_semaphore(work, n, limit):
    """A task per item made up front in a TaskGroup, with a Semaphore."""
    semaphore = asyncio.Semaphore(limit)
    completed = 0

    async def bounded(i):
        nonlocal completed
        async with semaphore:
            await work(i)
        completed += 1

    async with asyncio.TaskGroup() as group:
        for i in range(n):
            group.create_task(bounded(i))
    return completed


def polling_as_completed(coros, limit):
    """Yield coroutines giving results in completion order, by polling.

    A re-implementation of the limited_as_completed() of the blog post
    "Making 100 million requests with Python aiohttp": the first *limit*
    coroutines become tasks; each yielded coroutine then gives control
    to the event loop and scans the tasks until one is done, replaces
    it with the next coroutine and returns its result.
    """
    coros = iter(coros)
    running = [asyncio.ensure_future(coro)
               for coro in itertools.islice(coros, limit)]

    async def first_done():
        while True:
            await asyncio.sleep(0)
            for index, task in enumerate(running):
                if task.done():
                    next_coro = next(coros, None)
                    if next_coro is None:
                        del running[index]
                    else:
                        running[index] = asyncio.ensure_future(next_coro)
                    return task.result()

    while running:
        yield first_done()


async def polling(work, n, limit):
    """The polling limited_as_completed() of the blog post."""
    completed = 0
    for next_result in polling_as_completed(
            (work(i) for i in range(n)), limit):
        await next_result
        completed += 1
    return completed


async def shape_floor(work, n, limit):
    """The shape floor: the cheapest runner of as_completed(limit=)'s shape.

    A task per item, at most *limit* in flight, every result to one
    consumer in completion order, each result taken starting the next
    item.  A done-callback appends the finished task to a deque and
    wakes the consumer if it waits (one future per wait); the consumer
    is this coroutine's own loop, with no iterator protocol, so it is
    the reference of both iteration modes of ours.  The running tasks
    are kept in a set, as ours keeps them: the event loop holds them
    weakly.  (Starting each task inline, not in a function of its own,
    saves 1% of the instructions per item: 43,014 against 43,464.)
    """
    loop = asyncio.get_running_loop()
    coros = (work(i) for i in range(n))
    running = set()
    finished = collections.deque()
    waiter = None

    def on_done(task):
        nonlocal waiter
        running.discard(task)
        finished.append(task)
        if waiter is not None and not waiter.done():  # Not if cancelled.
            waiter.set_result(None)
            waiter = None  # The next ones need not ask done().

    for coro in itertools.islice(coros, limit):
        task = loop.create_task(coro)
        running.add(task)
        task.add_done_callback(on_done)
    completed = 0
    while running or finished:
        if not finished:
            waiter = loop.create_future()
            await waiter
        task = finished.popleft()
        coro = next(coros, None)
        if coro is not None:
            started = loop.create_task(coro)
            running.add(started)
            started.add_done_callback(on_done)
        task.result()
        completed += 1
    return completed


class ProtocolFloor:
    """The shape floor behind the iterator protocol: as_completed(limit=)'s
    shape as an iterator, for one consumer taking one step at a time.

    The shape floor's callback, deque and start of the next item, in a
    coroutine per step: __anext__() itself, or the one __next__() returns.
    None of as_completed()'s bookkeeping: no claims for several consumers,
    no deadline, no duplicates, no errors of the iterable.  Ours' runners
    iterate it, so that only the iterator differs.
    """

    def __init__(self, coros, limit):  # coros: an iterator.
        self.loop = asyncio.get_running_loop()
        self.coros = coros
        self.running = set()
        self.finished = collections.deque()
        self.waiter = None
        self.on_done = self._on_done  # One bound method for every item.
        for coro in itertools.islice(coros, limit):
            task = self.loop.create_task(coro)
            self.running.add(task)
            task.add_done_callback(self.on_done)

    def __aiter__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        if not (self.running or self.finished):
            raise StopIteration
        return self._step(True)

    def _on_done(self, task):
        self.running.discard(task)
        self.finished.append(task)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
            self.waiter = None  # The next ones need not ask done().

    async def _step(self, resolve=False):
        if not (resolve or self.running or self.finished):
            raise StopAsyncIteration
        if not self.finished:
            self.waiter = self.loop.create_future()
            await self.waiter
        task = self.finished.popleft()
        coro = next(self.coros, None)
        if coro is not None:
            started = self.loop.create_task(coro)
            self.running.add(started)
            started.add_done_callback(self.on_done)
        return task.result() if resolve else task

    __anext__ = _step


async def aiostream_map(work, n, limit):
    """aiostream: stream.map(xs, fn, task_limit=limit), unordered."""
    from aiostream import stream

    completed = 0
    mapped = stream.map(stream.iterate(range(n)), work,
                        ordered=False, task_limit=limit)
    async with mapped.stream() as results:
        async for _ in results:
            completed += 1
    return completed


async def aiometer_amap(work, n, limit):
    """aiometer: amap(fn, xs, max_at_once=limit).

    aiometer wants a Sequence (it calls len()), so range(n) is given:
    a generator, let alone an endless one, is refused.
    """
    import aiometer

    completed = 0
    async with aiometer.amap(work, range(n), max_at_once=limit) as results:
        async for _ in results:
            completed += 1
    return completed


# Name -> (runner, label for tables and plots).
CONTENDERS = {
    "ours-async-for": (ours_async_for, "as_completed(limit=), async for"),
    "ours-for": (ours_plain_for, "as_completed(limit=), for"),
    "semaphore-gather": (semaphore_gather, "Semaphore + gather"),
    "taskgroup-semaphore": (taskgroup_semaphore, "TaskGroup + Semaphore"),
    "unbounded": (unbounded_as_completed,
                  "as_completed(list) today, no limit"),
    "worker-pool": (worker_pool, "worker pool, items inline"),
    "worker-pool-tasks": (worker_pool_tasks, "worker pool, task per item"),
    "fair-pool": (fair_pool, "fair pool: tasks, queue, one consumer"),
    "polling": (polling, "polling limited_as_completed"),
    "shape-floor": (shape_floor, "shape floor: callback, deque, consumer"),
    # Iterated by ours' own loops.
    "protocol-floor-async-for": (
        functools.partial(ours_async_for, as_completed=ProtocolFloor),
        "protocol floor, async for"),
    "protocol-floor-for": (
        functools.partial(ours_plain_for, as_completed=ProtocolFloor),
        "protocol floor, for"),
    "backport-async-for": (backport_async_for,
                           "as-completed-limit backport, async for"),
    "backport-for": (backport_plain_for, "as-completed-limit backport, for"),
    "aiostream": (aiostream_map, "aiostream map(task_limit=)"),
    "aiometer": (aiometer_amap, "aiometer amap(max_at_once=)"),
}

PEERS = {"aiostream": "aiostream", "aiometer": "aiometer"}
# The backport, counted on the CPythons whose as_completed() has no limit.
BACKPORT = {"backport-async-for": "as_completed_limit",
            "backport-for": "as_completed_limit"}
# Contender -> the package it needs.
PACKAGE_OF = {**PEERS, **BACKPORT}
# The contenders that need as_completed(limit=), and those with no limit.
PATCHED_ONLY = ["ours-async-for", "ours-for"]
UNBOUNDED = ["unbounded"]


def available(names):
    """Return the contenders of *names* whose package can be imported."""
    import importlib.util

    return [name for name in names
            if name not in PACKAGE_OF
            or importlib.util.find_spec(PACKAGE_OF[name]) is not None]


async def trivial(i):
    """The trivial task: give control to the event loop once."""
    await asyncio.sleep(0)
