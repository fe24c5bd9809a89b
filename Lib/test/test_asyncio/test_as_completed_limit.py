"""Tests for asyncio.as_completed() with a limit."""

import asyncio
import contextlib
import inspect
import itertools
import sys
import unittest
import warnings
import weakref

from asyncio import futures
from asyncio import tasks
from test import support
from test.support.hypothesis_helper import hypothesis
from test.test_asyncio import utils as test_utils

st = hypothesis.strategies


def tearDownModule():
    asyncio.set_event_loop_policy(None)


ASYNC_FOR = 'async for'
PLAIN_FOR = 'for'
MODES = (ASYNC_FOR, PLAIN_FOR)
GATHER = 'gather'  # Plain iteration claiming every step up front.


class MyExc(Exception):
    pass


def stack_depth():
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


class Spy:
    """An iterator of coroutines that records what happens to them.

    Item i returns i after yielding to the event loop 3 + i % 3 times,
    so that items overlap and finish out of order, or after its blocker
    future is done if blockers are used.
    """

    def __init__(self, n=None, *, raise_at=None, blockers=False):
        self.n = n  # None: endless.
        self.raise_at = raise_at  # Taking item raise_at raises MyExc.
        self.blockers = {} if blockers else None
        self.pulls = 0  # Calls of __next__, the failing one included.
        self.taken = []  # The coroutines taken.
        self.running = 0
        self.max_running = 0
        self.finished = 0
        self.received = 0
        self.taken_at_receipt = []  # len(taken) each time a result arrives.

    def __iter__(self):
        return self

    def __next__(self):
        self.pulls += 1
        i = len(self.taken)
        if i == self.raise_at:
            raise MyExc('aws is broken')
        if i == self.n:
            raise StopIteration
        coro = self.item(i)
        self.taken.append(coro)
        return coro

    @contextlib.contextmanager
    def running_item(self):
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            yield
        finally:
            self.running -= 1
            self.finished += 1

    async def item(self, i):
        with self.running_item():
            if self.blockers is not None:
                self.blockers[i] = asyncio.get_running_loop().create_future()
                await self.blockers[i]
            else:
                for _ in range(3 + i % 3):
                    await asyncio.sleep(0)
        return i

    def receive(self, result):
        self.received += 1
        self.taken_at_receipt.append(len(self.taken))
        return result

    def release(self, i):
        self.blockers[i].set_result(None)


END = object()


async def next_result(iterator, mode):
    """One step of either iteration mode: the next result, or END."""
    if mode == ASYNC_FOR:
        fut = await anext(iterator, None)
        return END if fut is None else fut.result()
    coro = next(iterator, None)
    return END if coro is None else await coro


async def collect(iterator, mode, spy=None, stop_after=None):
    """Consume iterator with a for or async for statement."""
    results = []
    if mode == ASYNC_FOR:
        async for fut in iterator:
            results.append(fut.result())
            if spy is not None:
                spy.receive(results[-1])
            if len(results) == stop_after:
                break
    else:
        for coro in iterator:
            results.append(await coro)
            if spy is not None:
                spy.receive(results[-1])
            if len(results) == stop_after:
                break
    return results


async def collect_outcomes(iterator, mode):
    """Consume iterator to the end; each exception raised is an outcome."""
    outcomes = []
    while True:
        try:
            outcome = await next_result(iterator, mode)
        except Exception as exc:
            outcome = exc
        if outcome is END:
            return outcomes
        outcomes.append(outcome)


async def run_loop_briefly(n=10):
    for _ in range(n):
        await asyncio.sleep(0)


class ManualClockLoop(test_utils.TestLoop):
    """A TestLoop whose clock moves only when the test advances it."""

    def __init__(self):
        def no_advance():
            while True:
                yield 0
        super().__init__(no_advance)
        self._check_on_close = False


class ScheduledSpy(Spy):
    """A Spy whose items follow a schedule of (yields, ending) pairs."""

    def __init__(self, schedule, *, raise_at=None):
        super().__init__(len(schedule), raise_at=raise_at)
        self.schedule = schedule

    async def item(self, i):
        yields, ending = self.schedule[i]
        with self.running_item():
            for _ in range(yields):
                await asyncio.sleep(0)
            if ending == 'raise':
                raise MyExc(i)
            if ending == 'cancel':
                raise asyncio.CancelledError(i)
        return i


item_schedules = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(('return', 'raise', 'cancel'))),
    max_size=25)
optional_step = st.none() | st.integers(0, 25)


class BaseAsCompletedLimitTests:

    Task = None
    Future = None

    def new_loop(self, gen=None, *, eager=False):
        return self.set_implementation(self.new_test_loop(gen), eager=eager)

    def set_implementation(self, loop, *, eager=False):
        if eager:
            loop.set_task_factory(tasks.create_eager_task_factory(self.Task))
        else:
            loop.set_task_factory(
                lambda loop, coro, **kwargs: self.Task(coro, loop=loop, **kwargs))
        loop.create_future = lambda: self.Future(loop=loop)
        return loop

    def setUp(self):
        super().setUp()
        self.loop = self.new_loop()

    def run_in_task(self, coro):
        return self.loop.run_until_complete(self.Task(coro, loop=self.loop))

    @contextlib.contextmanager
    def assert_no_warnings(self):
        # Coroutines never awaited and tasks destroyed while pending are
        # reported at garbage collection.
        errors = []
        self.loop.set_exception_handler(
            lambda loop, context: errors.append(context))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            yield
            support.gc_collect()
        self.assertEqual([str(w.message) for w in caught], [])
        self.assertEqual(errors, [])

    def test_limit_validation(self):
        for limit, exc, message in (
            (0, ValueError, r'^limit must be None or > 0$'),
            (-1, ValueError, r'^limit must be None or > 0$'),
            (1.5, TypeError, r'^limit must be an integer or None$'),
            (1.0, TypeError, r'^limit must be an integer or None$'),
            ('2', TypeError, r'^limit must be an integer or None$'),
        ):
            with self.subTest(limit=limit):
                spy = Spy(5)
                with self.assertRaisesRegex(exc, message):
                    asyncio.as_completed(spy, limit=limit)
                self.assertEqual(spy.pulls, 0)

    def test_limit_true_is_one(self):
        # bool is an int, as for Executor.map(buffersize=True).
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(5)
                async def main():
                    return await collect(
                        asyncio.as_completed(spy, limit=True), mode)
                self.assertEqual(self.run_in_task(main()), [0, 1, 2, 3, 4])
                self.assertEqual(spy.max_running, 1)

    def test_takes_limit_at_creation(self):
        for n, limit, expected in ((10, 3, 3), (2, 3, 2), (0, 3, 0)):
            with self.subTest(n=n, limit=limit):
                spy = Spy(n)
                async def main():
                    iterator = asyncio.as_completed(spy, limit=limit)
                    self.assertEqual(len(spy.taken), expected)
                    await run_loop_briefly()
                    # Nothing is taken until a result is handed out.
                    self.assertEqual(len(spy.taken), expected)
                    return await collect(iterator, ASYNC_FOR)
                self.assertCountEqual(self.run_in_task(main()), range(n))

    def test_takes_one_per_result(self):
        n, limit = 12, 4
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(n)
                async def main():
                    return await collect(
                        asyncio.as_completed(spy, limit=limit), mode, spy)
                self.assertCountEqual(self.run_in_task(main()), range(n))
                # When k results are in, limit + k awaitables were taken.
                self.assertEqual(
                    spy.taken_at_receipt,
                    [min(n, limit + k) for k in range(1, n + 1)])
                self.assertEqual(spy.pulls, n + 1)

    def test_bound_is_reached_and_never_exceeded(self):
        for eager, mode, limit in itertools.product(
                (False, True), MODES, (1, 2, 5)):
            with self.subTest(eager=eager, mode=mode, limit=limit):
                self.loop = self.new_loop(eager=eager)
                spy = Spy(30)
                async def main():
                    return await collect(
                        asyncio.as_completed(spy, limit=limit), mode, spy)
                self.assertCountEqual(self.run_in_task(main()), range(30))
                self.assertEqual(spy.max_running, limit)

    def test_gather_plain_iteration(self):
        # Asking for every step up front takes every awaitable to know that
        # it exists, but starts them as slots free: no deadlock.
        for eager in (False, True):
            with self.subTest(eager=eager):
                self.loop = self.new_loop(eager=eager)
                spy = Spy(20)
                async def main():
                    steps = list(asyncio.as_completed(spy, limit=3))
                    self.assertEqual(len(steps), 20)
                    self.assertEqual(len(spy.taken), 20)
                    return await asyncio.gather(*steps)
                self.assertCountEqual(self.run_in_task(main()), range(20))
                self.assertEqual(spy.max_running, 3)

    def test_endless_input_and_break(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy()
                async def main():
                    results = await collect(
                        asyncio.as_completed(spy, limit=3), mode,
                        spy, stop_after=10)
                    await run_loop_briefly()
                    return results
                with self.assert_no_warnings():
                    self.assertEqual(len(self.run_in_task(main())), 10)
                self.assertEqual(len(spy.taken), 13)
                self.assertEqual(spy.finished, 13)

    def test_iterator_released_after_break(self):
        # Neither the done callbacks nor the timeout keep a dropped
        # iterator alive once its tasks are done.
        for mode in MODES:
            with self.subTest(mode=mode):
                self.loop = self.timeout_loop(10)
                spy = Spy()
                async def main():
                    iterator = asyncio.as_completed(spy, limit=3, timeout=10)
                    await collect(iterator, mode, stop_after=2)
                    await run_loop_briefly()
                    return weakref.ref(iterator)
                with self.assert_no_warnings():
                    ref = self.run_in_task(main())
                self.assertIsNone(ref())

    def test_running_tasks_are_kept_alive(self):
        # The event loop references tasks weakly.  An item waiting on a
        # future that only its task references must not be collected.
        waited = []
        async def item(i):
            fut = asyncio.get_running_loop().create_future()
            waited.append(weakref.ref(fut))
            return i + await fut
        for mode in MODES:
            with self.subTest(mode=mode):
                waited.clear()
                async def main():
                    iterator = asyncio.as_completed(
                        (item(i) for i in range(4)), limit=2)
                    results = []
                    for _ in range(4):
                        await run_loop_briefly()
                        support.gc_collect()
                        # Only the items waiting now are still referenced.
                        while waited:
                            fut = waited.pop()()
                            self.assertIsNotNone(fut)
                            fut.set_result(10)
                        results.append(await next_result(iterator, mode))
                    return results
                with self.assert_no_warnings():
                    self.assertCountEqual(self.run_in_task(main()),
                                          [10, 11, 12, 13])

    def test_consumer_cancelled(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(10, blockers=True)
                async def consume():
                    await collect(asyncio.as_completed(spy, limit=3), mode)
                async def main():
                    consumer = asyncio.create_task(consume())
                    await run_loop_briefly()
                    spy.release(0)
                    await run_loop_briefly()
                    self.assertEqual(len(spy.taken), 4)
                    consumer.cancel()
                    with self.assertRaises(asyncio.CancelledError):
                        await consumer
                    for i in range(1, 4):
                        spy.release(i)
                    await run_loop_briefly()
                with self.assert_no_warnings():
                    self.run_in_task(main())
                self.assertEqual(len(spy.taken), 4)
                self.assertEqual(spy.pulls, 4)
                self.assertEqual(spy.finished, 4)

    def test_cancelled_step_loses_nothing(self):
        # A step cancelled while it waits leaves its outcome to the next.
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(6, blockers=True)
                async def main():
                    iterator = asyncio.as_completed(spy, limit=2)
                    step = asyncio.create_task(next_result(iterator, mode))
                    await run_loop_briefly()
                    step.cancel()
                    await run_loop_briefly()
                    self.assertTrue(step.cancelled())
                    spy.release(0)
                    self.assertEqual(await next_result(iterator, mode), 0)
                    for i in range(1, 6):
                        spy.release(i)
                        self.assertEqual(
                            await next_result(iterator, mode), i)
                    self.assertEqual(await collect(iterator, mode), [])
                self.run_in_task(main())

    def test_gather_cancelled_closes_unstarted(self):
        spy = Spy(8, blockers=True)
        async def main():
            gathered = asyncio.gather(*asyncio.as_completed(spy, limit=2))
            await run_loop_briefly()
            gathered.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await gathered
            spy.release(0)
            spy.release(1)
            await run_loop_briefly()
        with self.assert_no_warnings():
            self.run_in_task(main())
        self.assertEqual(len(spy.taken), 8)
        self.assertEqual(spy.finished, 2)
        for coro in spy.taken[2:]:
            self.assertEqual(inspect.getcoroutinestate(coro),
                             inspect.CORO_CLOSED)

    def test_input_error_is_raised_once(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(10, raise_at=5)
                async def main():
                    return await collect_outcomes(
                        asyncio.as_completed(spy, limit=2), mode)
                outcomes = self.run_in_task(main())
                errors = [o for o in outcomes if isinstance(o, MyExc)]
                self.assertEqual(len(errors), 1)
                # No result of an awaitable already taken is lost.
                self.assertCountEqual(
                    [o for o in outcomes if not isinstance(o, MyExc)],
                    range(5))
                self.assertEqual(spy.pulls, 6)

    def test_input_error_at_creation(self):
        # Raised by the first step, not by the call; then the awaitable
        # already started is handed out and iteration stops.
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(10, raise_at=1)
                async def main():
                    iterator = asyncio.as_completed(spy, limit=3)
                    with self.assertRaisesRegex(MyExc, 'aws is broken'):
                        await next_result(iterator, mode)
                    return await collect(iterator, mode)
                self.assertEqual(self.run_in_task(main()), [0])
                self.assertEqual(spy.pulls, 2)

    def test_non_awaitable_input(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                pulls = 0
                def aws():
                    nonlocal pulls
                    pulls += 1
                    yield asyncio.sleep(0, 'a')
                    pulls += 1
                    yield 42
                    pulls += 1
                    yield asyncio.sleep(0)
                async def main():
                    return await collect_outcomes(
                        asyncio.as_completed(aws(), limit=3), mode)
                outcomes = self.run_in_task(main())
                self.assertEqual(len(outcomes), 2)
                self.assertIsInstance(outcomes[0], TypeError)
                self.assertEqual(outcomes[1], 'a')
                self.assertEqual(pulls, 2)

    def test_task_exception_does_not_stop_iteration(self):
        async def item(i):
            await asyncio.sleep(0)
            if i % 2:
                raise MyExc(i)
            return i
        for mode in MODES:
            with self.subTest(mode=mode):
                async def main():
                    iterator = asyncio.as_completed(
                        (item(i) for i in range(6)), limit=2)
                    outcomes = []
                    for _ in range(6):
                        try:
                            outcomes.append(
                                await next_result(iterator, mode))
                        except MyExc as exc:
                            outcomes.append(exc.args[0])
                    self.assertEqual(await collect(iterator, mode), [])
                    return outcomes
                self.assertCountEqual(self.run_in_task(main()), range(6))

    def timeout_loop(self, timeout):
        # The timeout is the only timer; the tests move the clock.
        def gen():
            when = yield
            self.assertAlmostEqual(when, timeout)
            yield 0
        return self.new_loop(gen)

    def test_timeout(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                self.loop = self.timeout_loop(10)
                spy = Spy(10, blockers=True)
                async def main():
                    iterator = asyncio.as_completed(spy, limit=2, timeout=10)
                    await run_loop_briefly()
                    spy.release(0)
                    self.assertEqual(await next_result(iterator, mode), 0)
                    await run_loop_briefly()
                    spy.release(1)
                    await run_loop_briefly()
                    self.loop.advance_time(10)
                    await run_loop_briefly()
                    outcomes = await collect_outcomes(iterator, mode)
                    # Running tasks are not cancelled, and the iterator
                    # keeps no result that no step will hand out.
                    spy.release(2)
                    await run_loop_briefly()
                    self.assertTrue(iterator._done.empty())
                    return outcomes
                with self.assert_no_warnings():
                    outcomes = self.run_in_task(main())
                # Item 1 was done before the deadline; item 2 was running,
                # and the rest of aws was never taken.
                self.assertEqual(outcomes[0], 1)
                self.assertEqual(len(outcomes), 3)
                for outcome in outcomes[1:]:
                    self.assertIsInstance(outcome, TimeoutError)
                self.assertEqual(len(spy.taken), 3)
                self.assertEqual(spy.finished, 3)

    def test_timeout_closes_unstarted(self):
        self.loop = self.timeout_loop(10)
        spy = Spy(5, blockers=True)
        async def main():
            steps = list(asyncio.as_completed(spy, limit=2, timeout=10))
            gathered = asyncio.gather(*steps, return_exceptions=True)
            await run_loop_briefly()
            self.loop.advance_time(10)
            outcomes = await gathered
            spy.release(0)
            spy.release(1)
            await run_loop_briefly()
            return outcomes
        with self.assert_no_warnings():
            outcomes = self.run_in_task(main())
        self.assertEqual(len(outcomes), 5)
        for outcome in outcomes:
            self.assertIsInstance(outcome, TimeoutError)
        for coro in spy.taken[2:]:
            self.assertEqual(inspect.getcoroutinestate(coro),
                             inspect.CORO_CLOSED)

    def test_timeout_not_reached(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                self.loop = self.timeout_loop(10)
                spy = Spy(8)
                async def main():
                    return await collect(
                        asyncio.as_completed(spy, limit=3, timeout=10), mode)
                self.assertCountEqual(self.run_in_task(main()), range(8))

    def test_tasks_and_futures_already_running(self):
        async def item(i):
            await asyncio.sleep(0)
            return i
        async def main(mode):
            fut = self.loop.create_future()
            aws = [self.loop.create_task(item(0)), fut,
                   self.loop.create_task(item(2))]
            started = iter(aws)
            iterator = asyncio.as_completed(started, limit=2)
            # The tasks run, but only two count toward the limit.
            self.assertIs(next(started), aws[2])
            fut.set_result(1)
            if mode == PLAIN_FOR:
                return aws, await collect(iterator, mode)
            return aws, [aw async for aw in iterator]
        for mode in MODES:
            with self.subTest(mode=mode):
                aws, got = self.run_in_task(main(mode))
                if mode == ASYNC_FOR:
                    # The original objects are yielded.
                    self.assertCountEqual(map(id, got), map(id, aws[:2]))
                else:
                    self.assertCountEqual(got, [0, 1])

    def test_eager_tasks_no_recursion_growth(self):
        # Items finishing as they are created must not nest the next
        # start in the previous one's completion.
        self.loop = self.new_loop(eager=True)
        depths = []
        async def item():
            depths.append(stack_depth())
        for mode in MODES:
            with self.subTest(mode=mode):
                depths.clear()
                async def main():
                    return len(await collect(asyncio.as_completed(
                        (item() for _ in range(100_000)), limit=10), mode))
                self.assertEqual(self.run_in_task(main()), 100_000)
                # Past the first ten, each item starts from a hand-out.
                self.assertEqual(set(depths[10:]), {depths[10]})

    def test_empty_input(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                async def main():
                    return await collect(
                        asyncio.as_completed(iter([]), limit=3, timeout=1),
                        mode)
                self.assertEqual(self.run_in_task(main()), [])

    def test_limit_at_least_len(self):
        for mode, limit in itertools.product(MODES, (5, 6, 100)):
            with self.subTest(mode=mode, limit=limit):
                spy = Spy(5)
                async def main():
                    iterator = asyncio.as_completed(spy, limit=limit)
                    self.assertEqual(len(spy.taken), 5)
                    return await collect(iterator, mode)
                self.assertCountEqual(self.run_in_task(main()), range(5))
                self.assertEqual(spy.max_running, 5)

    def test_duplicates_are_not_collapsed(self):
        async def item():
            await asyncio.sleep(0)
            return 'x'
        for mode in MODES:
            with self.subTest(mode=mode):
                async def main():
                    task = self.loop.create_task(item())
                    return task, await collect_outcomes(
                        asyncio.as_completed([task, task], limit=2), mode)
                task, outcomes = self.run_in_task(main())
                self.assertEqual(outcomes, ['x', 'x'])
                async def main():
                    coro = item()
                    return await collect_outcomes(
                        asyncio.as_completed([coro, coro], limit=2), mode)
                outcomes = self.run_in_task(main())
                # A coroutine object can only be awaited once.
                self.assertIn('x', outcomes)
                self.assertEqual(len(outcomes), 2)
                self.assertIsInstance(
                    [o for o in outcomes if o != 'x'][0], RuntimeError)

    def test_limit_none_unchanged(self):
        # Without a limit aws is consumed eagerly at the call, duplicates
        # are collapsed and an error of aws is raised by the call.
        for mode in MODES:
            with self.subTest(mode=mode):
                spy = Spy(5)
                async def main():
                    iterator = asyncio.as_completed(spy)
                    self.assertEqual(len(spy.taken), 5)
                    return await collect(iterator, mode)
                self.assertCountEqual(self.run_in_task(main()), range(5))
                async def main():
                    task = asyncio.ensure_future(asyncio.sleep(0, 'x'))
                    return await collect(
                        asyncio.as_completed([task, task]), mode)
                self.assertEqual(self.run_in_task(main()), ['x'])
                spy = Spy(5, raise_at=2)
                async def main():
                    with self.assertRaises(MyExc):
                        asyncio.as_completed(spy)
                    # Close the taken coroutines: the call failed.
                    for coro in spy.taken:
                        coro.close()
                self.run_in_task(main())

    @hypothesis.given(
        mode=st.sampled_from(MODES + (GATHER,)),
        eager=st.booleans(),
        limit=st.integers(1, 30),
        schedule=item_schedules,
        raise_at=optional_step,
        stop_at=optional_step,
        stop_by=st.sampled_from(('break', 'cancel', 'deadline')),
    )
    @hypothesis.example(mode=ASYNC_FOR, eager=False, limit=3,
                        schedule=[(i % 4, 'return') for i in range(10)],
                        raise_at=None, stop_at=None, stop_by='break')
    @hypothesis.example(mode=PLAIN_FOR, eager=True, limit=2,
                        schedule=[(1, 'raise'), (0, 'cancel')] * 4,
                        raise_at=5, stop_at=None, stop_by='break')
    @hypothesis.example(mode=ASYNC_FOR, eager=False, limit=4,
                        schedule=[(3, 'return')] * 12,
                        raise_at=None, stop_at=3, stop_by='break')
    @hypothesis.example(mode=PLAIN_FOR, eager=False, limit=2,
                        schedule=[(2, 'return')] * 8,
                        raise_at=None, stop_at=2, stop_by='cancel')
    @hypothesis.example(mode=ASYNC_FOR, eager=True, limit=3,
                        schedule=[(i % 3, 'return') for i in range(9)],
                        raise_at=None, stop_at=4, stop_by='deadline')
    @hypothesis.example(mode=PLAIN_FOR, eager=False, limit=5,
                        schedule=[(3, 'raise')] * 3,
                        raise_at=None, stop_at=0, stop_by='deadline')
    @hypothesis.example(mode=GATHER, eager=False, limit=2,
                        schedule=[(3, 'return')] * 6,
                        raise_at=None, stop_at=1, stop_by='cancel')
    @hypothesis.example(mode=GATHER, eager=True, limit=2,
                        schedule=[(3, 'raise')] * 6,
                        raise_at=4, stop_at=1, stop_by='deadline')
    def test_random_schedules(self, mode, eager, limit, schedule, raise_at,
                              stop_at, stop_by):
        loop = self.set_implementation(ManualClockLoop(), eager=eager)
        self.addCleanup(loop.close)
        spy = ScheduledSpy(schedule, raise_at=raise_at)
        timeout = 10 if stop_by == 'deadline' else None
        outcomes = []
        taken_at_stop = None

        async def consume():
            nonlocal taken_at_stop
            iterator = asyncio.as_completed(spy, limit=limit, timeout=timeout)
            while True:
                if len(outcomes) == stop_at and taken_at_stop is None:
                    if stop_by == 'break':
                        taken_at_stop = len(spy.taken)
                        return
                    elif stop_by == 'cancel':
                        asyncio.current_task().cancel()
                    else:
                        loop.advance_time(timeout)
                        # The timer runs after this task's wake-up.
                        await run_loop_briefly(2)
                        taken_at_stop = len(spy.taken)
                try:
                    outcome = await next_result(iterator, mode)
                except asyncio.CancelledError as exc:
                    if asyncio.current_task().cancelling():
                        taken_at_stop = len(spy.taken)
                        raise
                    outcome = exc
                except Exception as exc:
                    outcome = exc
                if outcome is END:
                    return
                outcomes.append(outcome)

        async def consume_all_at_once():
            nonlocal taken_at_stop
            iterator = asyncio.as_completed(spy, limit=limit, timeout=timeout)
            gathered = asyncio.gather(*iterator, return_exceptions=True)
            if stop_at is not None and stop_by != 'break':
                await run_loop_briefly(stop_at)
                if stop_by == 'cancel':
                    gathered.cancel()
                else:
                    loop.advance_time(timeout)
                    await run_loop_briefly(2)
                taken_at_stop = len(spy.taken)
            outcomes.extend(await gathered)

        async def main():
            consumer = asyncio.create_task(
                consume_all_at_once() if mode == GATHER else consume())
            try:
                await consumer
            except asyncio.CancelledError:
                self.assertEqual(stop_by, 'cancel')
            while spy.running:
                await asyncio.sleep(0)

        problems = []
        loop.set_exception_handler(
            lambda loop, context: problems.append(context['message']))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            loop.run_until_complete(main())
            support.gc_collect()
        problems.extend(str(w.message) for w in caught)

        self.assertLessEqual(spy.max_running, limit)
        for problem in problems:
            self.assertNotIn('never awaited', problem)
            self.assertNotIn('destroyed but it is pending', problem)
        if taken_at_stop is not None:
            # Nothing is taken after a break, a cancellation or the
            # deadline.
            self.assertEqual(len(spy.taken), taken_at_stop)
        if stop_by != 'deadline' and taken_at_stop is not None:
            return  # The consumer left before the end.

        # Every awaitable taken is accounted for exactly once: its result,
        # its exception or a TimeoutError.  The rest of aws, if it may
        # hold more, gets one TimeoutError too.
        input_errors = [o for o in outcomes
                        if isinstance(o, MyExc) and o.args == ('aws is broken',)]
        timeouts = [o for o in outcomes if isinstance(o, TimeoutError)]
        item_outcomes = [o for o in outcomes
                         if o not in input_errors and o not in timeouts]
        # gather() replaces a cancelled child's error: it loses the id.
        item_ids = [o if isinstance(o, int) else o.args[0]
                    for o in item_outcomes
                    if not isinstance(o, asyncio.CancelledError)]
        self.assertEqual(len(set(item_ids)), len(item_ids))
        self.assertLessEqual(set(item_ids), set(range(len(spy.taken))))
        failed_to_take = raise_at is not None and spy.pulls > raise_at
        self.assertEqual(len(input_errors), int(failed_to_take))
        exhausted = spy.pulls > len(schedule) or failed_to_take
        rest = 1 if taken_at_stop is not None and not exhausted else 0
        self.assertEqual(len(item_outcomes) + len(timeouts),
                         len(spy.taken) + rest)
        if taken_at_stop is None:
            self.assertEqual(timeouts, [])
            self.assertEqual(len(item_outcomes), len(spy.taken))
            if not failed_to_take:
                self.assertEqual(len(spy.taken), len(schedule))


@unittest.skipUnless(hasattr(tasks, '_CTask'),
                     'requires the C _asyncio module')
class CTaskCFutureTests(BaseAsCompletedLimitTests, test_utils.TestCase):
    Task = getattr(tasks, '_CTask', None)
    Future = getattr(futures, '_CFuture', None)


class PyTaskPyFutureTests(BaseAsCompletedLimitTests, test_utils.TestCase):
    Task = tasks._PyTask
    Future = futures._PyFuture


if __name__ == '__main__':
    unittest.main()
