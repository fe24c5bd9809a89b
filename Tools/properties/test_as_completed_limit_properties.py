"""Property-based check of asyncio.as_completed(aws, limit=n) (hypothesis).

Run with the patched interpreter, in a venv that has hypothesis:
    python Tools/properties/test_as_completed_limit_properties.py [-v]
PROPERTIES_EXAMPLES (default 200) and PROPERTIES_SEED tune the search;
PROPERTIES_AS_COMPLETED=as_completed_limit checks the backport instead.
"""

import asyncio
import collections
import gc
import importlib
import inspect
import os
import selectors
import sys
import unittest
import warnings

from asyncio import futures, tasks

import hypothesis
from hypothesis import strategies as st

MODES = ASYNC_FOR, PLAIN_FOR, GATHER = 'async for', 'for', 'gather'
STOPS = ('break', 'cancel', 'cancel step', 'deadline')
# A non-awaitable item and the iterable's exception are raised by the call
# or by a step, not yielded as outcomes (test_tasks tests them): the model
# here draws neither.
ENDINGS = ('return', 'raise', 'cancel')
TIMEOUT = ('timeout',)
END = object()
EAGER = hasattr(tasks, 'create_eager_task_factory')  # 3.12 on.
# Another module's as_completed() to check, as the backport's
# (PROPERTIES_AS_COMPLETED=as_completed_limit).
as_completed = importlib.import_module(
    os.environ.get('PROPERTIES_AS_COMPLETED', 'asyncio')).as_completed


class MyExc(Exception):
    pass


class NoWaitSelector(selectors.DefaultSelector):
    # Nothing but the test moves the clock: an event loop about to wait
    # would wait forever.
    def select(self, timeout=None):
        if timeout is None or timeout > 0:
            raise AssertionError('deadlock: the event loop would wait')
        return super().select(0)


class ManualClockLoop(asyncio.SelectorEventLoop):
    now = 0.0

    def time(self):
        return self.now


class ScheduledSpy:
    """aws: item i yields schedule[i][0] times, then ends as schedule[i][1];
    taking item raise_at raises MyExc instead."""

    def __init__(self, schedule, raise_at):
        self.schedule, self.raise_at = schedule, raise_at
        self.taken, self.delivered = [], set()
        self.failed = self.exhausted = self.overrun = False
        self.running = self.max_running = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.exhausted:  # Taken from after its end: fail, but end.
            self.overrun = True
            raise StopIteration
        i = len(self.taken)
        if i == self.raise_at or i == len(self.schedule):
            self.exhausted = True
            self.failed = i == self.raise_at
            raise MyExc('aws is broken') if self.failed else StopIteration
        ending = self.schedule[i][1]
        self.taken.append(object() if ending == 'not awaitable'
                          else self.item(i))
        return self.taken[-1]

    async def item(self, i):
        yields, ending = self.schedule[i]
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            for _ in range(yields):
                await asyncio.sleep(0)
            if ending == 'raise':
                raise MyExc(i)
            if ending == 'cancel':
                raise asyncio.CancelledError(i)
            return i
        finally:
            self.running -= 1

    def key(self, i):
        """The outcome item i must have, if not a TimeoutError."""
        ending = self.schedule[i][1]
        return {'return': ('ok', i), 'raise': ('raise', i)}.get(
            ending, (ending,))


def outcome_key(o):
    if isinstance(o, MyExc):
        return ('input',) if o.args == ('aws is broken',) else ('raise',) + o.args
    for exc, key in ((asyncio.CancelledError, ('cancel',)),  # gather may
                     (TypeError, ('not awaitable',)),          # lose its id
                     (TimeoutError, TIMEOUT)):
        if isinstance(o, exc):
            return key
    return ('ok', o) if isinstance(o, int) else ('other', repr(o))


async def next_result(iterator, mode):
    if mode == ASYNC_FOR:
        fut = await anext(iterator, None)
        return END if fut is None else fut.result()
    coro = next(iterator, None)
    return END if coro is None else await coro


async def run_loop_briefly(n=10):
    for _ in range(n):
        await asyncio.sleep(0)


class BaseProperties:
    Task = Future = None
    examples = 0

    @classmethod
    def tearDownClass(cls):
        print(f'\n{cls.__name__}: {cls.examples} examples', file=sys.stderr)

    def new_loop(self, eager, spy):
        loop = ManualClockLoop(NoWaitSelector())
        factory = (tasks.create_eager_task_factory(self.Task) if eager
                   else lambda loop, coro, **kw: self.Task(coro, loop=loop,
                                                           **kw))

        def task_factory(loop, coro, **kw):
            # A done-callback before the iterator's, called in the same loop
            # run: which items' completions came before the deadline.
            task = factory(loop, coro, **kw)
            for i, item in enumerate(spy.taken):
                if item is coro:
                    task.add_done_callback(
                        lambda task, i=i: spy.delivered.add(i))
            return task

        loop.set_task_factory(task_factory)
        loop.create_future = lambda: self.Future(loop=loop)
        return loop

    @hypothesis.settings(
        max_examples=int(os.environ.get('PROPERTIES_EXAMPLES', 200)),
        deadline=None, database=None, print_blob=True,
        report_multiple_bugs=False,  # Shrinking one is slow enough.
        suppress_health_check=[hypothesis.HealthCheck.differing_executors])
    @hypothesis.given(
        mode=st.sampled_from(MODES),
        eager=st.booleans() if EAGER else st.just(False),
        limit=st.integers(1, 8),
        schedule=st.lists(st.tuples(st.integers(0, 3),
                                    st.sampled_from(ENDINGS)), max_size=25),
        raise_at=st.none(),
        stop_at=st.none() | st.integers(0, 12), stop_by=st.sampled_from(STOPS))
    @hypothesis.example(
        mode=GATHER, eager=False, limit=2, schedule=[(3, 'return')] * 6,
        raise_at=None, stop_at=1, stop_by='cancel')
    @hypothesis.example(
        mode=GATHER, eager=False, limit=2, schedule=[(2, 'return')] * 5,
        raise_at=None, stop_at=0, stop_by='cancel step')
    @hypothesis.example(
        mode=ASYNC_FOR, eager=EAGER, limit=3, schedule=[(3, 'raise')] * 9,
        raise_at=None, stop_at=4, stop_by='deadline')
    @hypothesis.example(
        mode=ASYNC_FOR, eager=False, limit=2, schedule=[(2, 'return')] * 6,
        raise_at=None, stop_at=1, stop_by='cancel step')
    @hypothesis.example(
        mode=PLAIN_FOR, eager=False, limit=2, schedule=[(2, 'return')] * 8,
        raise_at=None, stop_at=2, stop_by='cancel')
    def test_random_schedules(self, mode, eager, limit, schedule, raise_at,
                              stop_at, stop_by):
        type(self).examples += 1
        spy = ScheduledSpy(schedule, raise_at)
        loop = self.new_loop(eager, spy)
        timeout = 10 if stop_by == 'deadline' else None
        outcomes = []
        taken_at_stop = at_deadline = consumer = None
        most = len(schedule) + 2  # Each item, an input error, the rest.

        def bounded(iterator):  # Fails rather than run forever.
            for n, step in enumerate(iterator):
                self.assertLess(n, most)
                yield step

        def snapshot():  # Runs with the iterator's deadline timer.
            nonlocal at_deadline
            at_deadline = set(spy.delivered), len(spy.taken)

        async def stop():
            nonlocal taken_at_stop
            loop.now += timeout
            await run_loop_briefly(2)
            taken_at_stop = at_deadline[1]

        async def cancel_step(iterator):
            step = self.Task(next_result(iterator, mode), loop=loop)
            await asyncio.sleep(0)
            if not step.cancel():  # Done before: its outcome counts.
                try:
                    if step.result() is not END:
                        outcomes.append(step.result())
                except BaseException as exc:
                    outcomes.append(exc)
            else:
                await asyncio.wait([step])

        async def consume():
            nonlocal taken_at_stop, stop_at
            iterator = as_completed(spy, limit=limit, timeout=timeout)
            loop.call_later(10, snapshot)
            while True:
                if len(outcomes) == stop_at and taken_at_stop is None:
                    if stop_by == 'break':
                        taken_at_stop = len(spy.taken)
                        return
                    if stop_by == 'cancel':
                        consumer.cancel()
                    elif stop_by == 'deadline':
                        await stop()
                    else:
                        await cancel_step(iterator)
                        stop_at = None
                try:
                    outcome = await next_result(iterator, mode)
                except asyncio.CancelledError as exc:
                    if consumer.cancelling():
                        taken_at_stop = len(spy.taken)
                        raise
                    outcome = exc
                except Exception as exc:
                    outcome = exc
                if outcome is END:
                    return
                outcomes.append(outcome)
                self.assertLessEqual(len(outcomes), most)

        async def consume_all_at_once():
            nonlocal taken_at_stop
            iterator = as_completed(spy, limit=limit, timeout=timeout)
            loop.call_later(10, snapshot)
            steps = [asyncio.ensure_future(c) for c in bounded(iterator)]
            gathered = asyncio.gather(*steps, return_exceptions=True)
            dropped = None
            if stop_at is not None and stop_by != 'break':
                # A step cancelled before it starts cannot give its claim
                # back: never awaited, as in main's iterator.
                await run_loop_briefly(stop_at + (stop_by == 'cancel step'))
                if stop_by == 'cancel':
                    gathered.cancel()
                    taken_at_stop = len(spy.taken)
                elif stop_by == 'deadline':
                    await stop()
                elif stop_at < len(steps) and steps[stop_at].cancel():
                    dropped = stop_at  # Its outcome goes to a next step.
            results = await gathered
            outcomes.extend(o for i, o in enumerate(results) if i != dropped)
            for coro in bounded(iterator):
                try:
                    outcomes.append(await coro)
                except (Exception, asyncio.CancelledError) as exc:
                    outcomes.append(exc)

        async def main():
            nonlocal consumer
            consumer = self.Task(consume_all_at_once() if mode == GATHER
                                 else consume(), loop=loop)
            try:
                await consumer
            except asyncio.CancelledError:
                self.assertEqual(stop_by, 'cancel')
            for _ in range(100):  # A lost task must not hang the run.
                if spy.running:
                    await asyncio.sleep(0)
            self.assertEqual(spy.running, 0)
            await run_loop_briefly(3)  # The last completion callbacks.

        # Results nobody asked for are left unretrieved (after a break,
        # the deadline), and coroutines taken ahead and never started after
        # the consumer stopped are left as they are (closed here), but no
        # other coroutine is left never awaited and no task destroyed while
        # pending.
        problems = []
        loop.set_exception_handler(
            lambda loop, ctx: problems.append(ctx['message']))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:  # Per example: a failing one leaves the loop running.
                loop.run_until_complete(self.Task(main(), loop=loop))
            finally:
                loop.close()
            left = [coro for coro in spy.taken if inspect.iscoroutine(coro)
                    and inspect.getcoroutinestate(coro) == 'CORO_CREATED']
            for coro in left:
                coro.close()
            gc.collect()
        problems += [str(w.message) for w in caught]
        self.assertEqual([p for p in problems if 'never retrieved' not in p],
                         [])

        self.assertLessEqual(spy.max_running, limit)
        self.assertFalse(spy.overrun)
        # Each coroutine ran or was closed, but those taken ahead by the
        # steps of a consumer cancelled.
        if left:
            self.assertEqual(stop_by, 'cancel')
        for coro in spy.taken:
            if inspect.iscoroutine(coro) and coro not in left:
                self.assertEqual(inspect.getcoroutinestate(coro),
                                 'CORO_CLOSED')
        # Nothing is taken after a break or a cancellation; after the
        # deadline one more, closed, if there is one, to know that the
        # iterable holds more.
        extra = 0
        if taken_at_stop is not None:
            extra = len(spy.taken) - taken_at_stop
            self.assertIn(extra, (0, 1) if stop_by == 'deadline' else (0,))
        got = collections.Counter(map(outcome_key, outcomes))
        keys = [spy.key(i) for i in range(len(spy.taken))]
        keys += [('input',)] * spy.failed
        if at_deadline is None or taken_at_stop is None:  # No deadline.
            if taken_at_stop is not None:  # The consumer left early.
                self.assertLessEqual(got, collections.Counter(keys))
                return
            # Each awaitable taken is accounted for exactly once.
            self.assertEqual(got, collections.Counter(keys))
            self.assertEqual(len(outcomes), len(keys))
            self.assertEqual(len(spy.taken),
                             len(schedule) if raise_at is None
                             else min(raise_at, len(schedule)))
            if limit == 1 and (mode, stop_by) != (GATHER, 'cancel step'):
                self.assertEqual(list(map(outcome_key, outcomes)), keys)
            return
        # The deadline: each taken item whose completion came before it
        # yields its outcome, the others a TimeoutError (as without a limit,
        # also one done whose callback had not run), and one more stands for
        # the rest of aws if aws may hold more.  The error items (input
        # error and non-awaitables) are not watched: either.
        done, taken = at_deadline
        fixed = collections.Counter(
            spy.key(i) if i in done else TIMEOUT
            for i, coro in enumerate(spy.taken[:taken])
            if inspect.iscoroutine(coro))
        fixed[TIMEOUT] += extra
        either = collections.Counter(k for k in keys if k[0] in (
            'input', 'not awaitable'))
        self.assertLessEqual(fixed, got)
        rest = got - fixed
        self.assertEqual(rest.total(), either.total())
        self.assertLessEqual(rest - collections.Counter(
            {TIMEOUT: rest[TIMEOUT]}), either)


@unittest.skipUnless(hasattr(tasks, '_CTask'), 'requires _asyncio')
class CTaskCFutureProperties(BaseProperties, unittest.TestCase):
    Task = getattr(tasks, '_CTask', None)
    Future = getattr(futures, '_CFuture', None)


class PyTaskPyFutureProperties(BaseProperties, unittest.TestCase):
    Task = tasks._PyTask
    Future = futures._PyFuture


if os.environ.get('PROPERTIES_SEED'):
    BaseProperties.test_random_schedules = hypothesis.seed(
        int(os.environ['PROPERTIES_SEED']))(BaseProperties.test_random_schedules)

if __name__ == '__main__':
    unittest.main()
