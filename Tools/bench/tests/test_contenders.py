"""Every contender must be correct, or its timing proves nothing."""

import argparse
import asyncio
import inspect
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_as_completed  # noqa: E402
import contenders  # noqa: E402

# as_completed(limit=) exists only in the patched interpreter; the peers only
# where their package is installed.
PATCHED = 'limit' in inspect.signature(asyncio.as_completed).parameters
RUNNABLE = [name for name in contenders.available(contenders.CONTENDERS)
            if name not in contenders.PATCHED_ONLY or PATCHED]


def run_counting(name, n, limit):
    """Run contender *name*; return (completed, items started, max running)."""
    run = contenders.CONTENDERS[name][0]
    started = []
    running = max_running = 0

    async def work(i):
        nonlocal running, max_running
        started.append(i)
        running += 1
        max_running = max(max_running, running)
        for _ in range(i % 3 + 1):
            await asyncio.sleep(0)
        running -= 1

    completed = asyncio.run(run(work, n, limit))
    return completed, sorted(started), max_running


@pytest.mark.parametrize('name', [name for name in RUNNABLE
                                  if name not in contenders.UNBOUNDED])
@pytest.mark.parametrize('limit', [1, 5])
def test_contender_runs_every_item_within_the_limit(name, limit):
    completed, started, max_running = run_counting(name, 40, limit)
    assert (completed, started) == (40, list(range(40)))
    if name in contenders.PEERS:
        # Their own scheduling starts the next item later: these items,
        # a few steps long each, are done before the limit is reached.
        assert 1 <= max_running <= limit
    else:
        assert max_running == limit


@pytest.mark.parametrize('name', contenders.UNBOUNDED)
def test_unbounded_contender_runs_every_item_at_once(name):
    assert run_counting(name, 40, 5) == (40, list(range(40)), 40)


def collect(coros, limit):
    """Run pool_as_completed(); return the items in the order they ended,
    and the outcomes in the order the consumer got them."""
    ended = []
    outcomes = []

    async def main():
        async with asyncio.timeout(10):
            await consume()

    async def consume():
        async for task in contenders.pool_as_completed(coros(ended), limit):
            if task.cancelled():
                outcomes.append('cancelled')
            elif task.exception() is not None:
                outcomes.append(task.exception().args[0])
            else:
                outcomes.append(task.result())

    asyncio.run(main())
    return ended, outcomes


def items(delays, failing=(), cancelled=()):
    async def item(i, delay, ended):
        await asyncio.sleep(delay)
        ended.append(i)
        if i in failing:
            raise ValueError(f'item {i} failed')
        if i in cancelled:
            raise asyncio.CancelledError
        return i

    return lambda ended: (item(i, delay, ended)
                          for i, delay in enumerate(delays))


@pytest.mark.parametrize('limit', [1, 3, 10])
def test_fair_pool_hands_out_results_in_completion_order(limit):
    delays = [(7 * i % 10) / 1000 for i in range(20)]
    ended, outcomes = collect(items(delays), limit)
    assert sorted(ended) == list(range(20))
    assert outcomes == ended
    if limit > 1:
        assert ended != sorted(ended)


def test_fair_pool_keeps_each_items_error_and_runs_the_others():
    ended, outcomes = collect(
        items([0.001] * 12, failing={0, 5}, cancelled={7}), 3)
    assert sorted(ended) == list(range(12))
    assert outcomes == [f'item {i} failed' if i in (0, 5)
                        else 'cancelled' if i == 7 else i
                        for i in ended]


def test_fair_pool_waits_for_a_slow_consumer():
    started = handed_out = most_in_flight = 0

    async def item():
        nonlocal started, most_in_flight
        started += 1
        most_in_flight = max(most_in_flight, started - handed_out)
        await asyncio.sleep(0)

    async def main():
        nonlocal handed_out
        async for _ in contenders.pool_as_completed(
                (item() for _ in range(30)), 4):
            handed_out += 1
            for _ in range(5):
                await asyncio.sleep(0)

    asyncio.run(main())
    assert (started, handed_out, most_in_flight) == (30, 30, 4)


def test_the_baselines_are_always_checked():
    assert {'semaphore-gather', 'taskgroup-semaphore', 'worker-pool',
            'worker-pool-tasks', 'fair-pool', 'polling',
            'floor'} <= set(RUNNABLE)


def test_format_table_is_an_rst_simple_table():
    table = bench_as_completed.format_table(
        ['contender', 'us/item'], [['floor', '4.24'], ['ours', '5.25']])
    lines = table.splitlines()
    assert lines[0] == lines[2] == lines[-1] == '=========  ======='
    assert lines[1] == 'contender  us/item'
    assert lines[3] == 'floor         4.24'


def time_point(*values_us):
    return {'values_us': list(values_us)}


def test_a_verdict_needs_enough_samples_on_each_side():
    many = time_point(1.0, 1.1, 0.9)
    assert bench_as_completed.verdict(True, (many, many), 'x') == 'met     x'
    assert bench_as_completed.verdict(False, (many, many), 'x') == 'MISSED  x'
    assert bench_as_completed.verdict(True, (many, time_point(1.0)), 'x') == (
        '1 sample, no verdict: x')


def test_time_table_shows_median_and_range_and_ratios_of_medians():
    rows = [{'contender': name, 'n': 1000, 'values_us': values}
            for name, values in (('floor', [4.0, 5.0, 9.0]),
                                 ('ours-async-for', [6.0, 7.5, 8.0]),
                                 ('fair-pool', [15.0]))]
    table = bench_as_completed.time_table({'limit': 10, 'rows': rows})
    assert 'median (min-max) of 1/3 samples' in table
    cells = [re.split(r'\s{2,}', line) for line in table.splitlines()]
    assert cells[2][1:] == ['N=1e+03 us/item', 'x floor (N=1e+03)',
                            'x ours (N=1e+03)']
    assert cells[4][1:] == ['5.00 (4.00-9.00)', '1.00', '0.67']
    assert cells[5][1:] == ['7.50 (6.00-8.00)', '1.50', '1.00']
    assert cells[6][1:] == ['15.00 (1 sample)', '3.00', '2.00']


def test_a_rerun_of_some_contenders_keeps_the_stored_rows_of_the_others(
        tmp_path):
    args = argparse.Namespace(results_dir=tmp_path, mode='full',
                              contenders=None)
    stored = [{'contender': name, 'n': n, 'run': 1}
              for name in ('ours-async-for', 'semaphore-gather', 'floor')
              for n in (10, 100)]
    bench_as_completed.store_section(args, 'memory', {'rows': stored})
    args.contenders = ['floor', 'ours-async-for']
    rerun = [{'contender': name, 'n': 10, 'run': 2}
             for name in args.contenders]
    rows = bench_as_completed.with_stored_rows(args, 'memory', rerun)
    assert [(row['contender'], row['n'], row['run']) for row in rows] == [
        ('ours-async-for', 10, 2), ('semaphore-gather', 10, 1),
        ('semaphore-gather', 100, 1), ('floor', 10, 2)]


def test_contenders_are_checked_by_name():
    assert bench_as_completed.contender_names('floor,fair-pool') == [
        'floor', 'fair-pool']
    with pytest.raises(argparse.ArgumentTypeError, match='unknown: ours;'):
        bench_as_completed.contender_names('floor,ours')
