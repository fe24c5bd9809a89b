"""Stress asyncio.as_completed(limit=...) with a patched interpreter.

Runs --items awaitables from one shared generator through a chain of
iterators: the consumer breaks out of one at random and goes on with a fresh
one over the rest of the generator, alternating ``async for`` and plain
``for``.  One item in a hundred raises.  At the end it checks that nothing
was lost (every item taken ran to completion exactly once, every result
handed out is distinct, and every item is either handed out or was in flight
when its iterator was dropped) and that traced memory stayed flat.

An item that raises after its iterator was dropped is never retrieved, as
without a limit: those reports are counted, not failures.  A coroutine never
awaited or a task destroyed while pending is a failure.

Not a timed test: it prints the figures and exits 1 if a check fails.
"""

import argparse
import asyncio
import inspect
import random
import sys
import tracemalloc
import warnings


class ItemFailed(Exception):
    pass


class Run:
    """State of one stress run, shared by the items and the consumer."""

    def __init__(self, items, failure_rate, seed):
        self.items = items
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.taken = 0
        # Counts per item, allocated up front so that the bookkeeping does
        # not grow while memory is sampled.
        self.times_finished = bytearray(items)
        self.times_handed_out = bytearray(items)
        self.finished = 0
        self.handed_out = 0
        self.dropped_in_flight = 0
        self.iterators = 0
        self.sample_every = max(1, items // 20)
        self.memory_samples = []  # (items handed out, traced bytes)
        self.unretrieved = 0  # Exceptions of items dropped in flight.
        self.problems = []  # Other reports of the loop, and warnings.

    def handle_loop_report(self, loop, context):
        if context['message'] == 'Task exception was never retrieved':
            self.unretrieved += 1
        else:
            self.problems.append(context['message'])

    def awaitables(self):
        for i in range(self.items):
            self.taken += 1
            yield self.item(i, self.random.random() < self.failure_rate)

    async def item(self, i, fails):
        await asyncio.sleep(0)
        self.times_finished[i] = min(self.times_finished[i] + 1, 255)
        self.finished += 1
        if fails:
            raise ItemFailed(i)
        return i

    def hand_out(self, i):
        self.times_handed_out[i] = min(self.times_handed_out[i] + 1, 255)
        self.handed_out += 1
        if self.handed_out % self.sample_every == 0:
            current, _ = tracemalloc.get_traced_memory()
            self.memory_samples.append((self.handed_out, current))


async def receive(run, step):
    """Hand out what a step gives: a task from async for, a coroutine
    from plain for; awaiting either returns the item's id or raises it."""
    try:
        run.hand_out(await step)
    except ItemFailed as exc:
        run.hand_out(exc.args[0])


async def consume_one_iterator(run, source, limit, break_probability, mode):
    """Consume until the source ends or a random break; return True at end."""
    taken_before = run.taken
    handed_out = 0
    iterator = asyncio.as_completed(source, limit=limit)
    if mode == 'async for':
        async for task in iterator:
            await receive(run, task)
            handed_out += 1
            if run.random.random() < break_probability:
                break
        else:
            return True
    else:
        for step in iterator:
            await receive(run, step)
            handed_out += 1
            if run.random.random() < break_probability:
                break
        else:
            return True
    run.dropped_in_flight += run.taken - taken_before - handed_out
    return False


async def stress(run, limit, break_probability):
    asyncio.get_running_loop().set_exception_handler(run.handle_loop_report)
    source = run.awaitables()
    modes = ('async for', 'for')
    while True:
        run.iterators += 1
        mode = modes[run.iterators % 2]
        if await consume_one_iterator(run, source, limit, break_probability,
                                      mode):
            break
    # Items in flight when an iterator was dropped still run to the end.
    while run.finished < run.taken:
        await asyncio.sleep(0)


def check(run, memory_growth_limit):
    """Return the list of failed checks."""
    failures = list(run.problems)
    if run.taken != run.items:
        failures.append(f'{run.taken} items taken, expected {run.items}')
    finished_once = run.times_finished.count(1)
    if finished_once != run.taken or run.finished != run.taken:
        failures.append(f'{finished_once} items finished exactly once, '
                        f'{run.taken} taken')
    handed_out_twice = run.items - run.times_handed_out.count(0) \
        - run.times_handed_out.count(1)
    if handed_out_twice:
        failures.append(f'{handed_out_twice} results handed out twice')
    if run.handed_out + run.dropped_in_flight != run.taken:
        failures.append(f'{run.handed_out} handed out + '
                        f'{run.dropped_in_flight} dropped in flight '
                        f'!= {run.taken} taken')
    samples = [current for _, current in run.memory_samples]
    if len(samples) >= 4:
        half = len(samples) // 2
        growth = max(samples[half:]) - max(samples[:half])
        if growth > memory_growth_limit:
            failures.append(f'traced memory grew by {growth} bytes from the '
                            f'first half of the run to the second')
    else:
        failures.append('too few memory samples: use more --items')
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--items', type=int, default=1_000_000)
    parser.add_argument('--limit', type=int, default=100)
    parser.add_argument('--failure-rate', type=float, default=0.01,
                        help='share of items that raise (default: 0.01)')
    parser.add_argument('--break-probability', type=float, default=1e-4,
                        help='chance to break out after each result')
    parser.add_argument('--memory-growth-limit', type=int, default=1 << 20,
                        help='bytes of traced memory growth allowed '
                             '(default: 1 MiB)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.items < 1 or args.limit < 1:
        parser.error('--items and --limit must be positive')
    if 'limit' not in inspect.signature(asyncio.as_completed).parameters:
        parser.error(f'{sys.executable} has no as_completed(limit=...): '
                     'run this with the patched interpreter, '
                     'build/release/python')

    run = Run(args.items, args.failure_rate, args.seed)
    tracemalloc.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        asyncio.run(stress(run, args.limit, args.break_probability))
    run.problems.extend(str(w.message) for w in caught)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f'items: {run.items}, limit: {args.limit}, '
          f'iterators: {run.iterators}, '
          f'handed out: {run.handed_out}, '
          f'dropped in flight: {run.dropped_in_flight} '
          f'({run.unretrieved} of them raised, never retrieved)')
    print('traced memory (KiB) after N results: ' + ', '.join(
        f'{n}: {current // 1024}' for n, current in run.memory_samples))
    print(f'traced peak: {peak // 1024} KiB')
    failures = check(run, args.memory_growth_limit)
    for failure in failures:
        print(f'FAILED: {failure}')
    print('stress: ' + ('FAILED' if failures else 'OK'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
