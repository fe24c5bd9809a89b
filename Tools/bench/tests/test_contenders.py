"""Every contender must be correct, or its timing proves nothing."""

import argparse
import asyncio
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_as_completed  # noqa: E402
import contenders  # noqa: E402
import instructions  # noqa: E402

# as_completed(limit=) exists only in the patched interpreter; the peers only
# where their package is installed.
PATCHED = 'limit' in inspect.signature(asyncio.as_completed).parameters
RUNNABLE = [name for name in contenders.available(contenders.CONTENDERS)
            if name not in contenders.PATCHED_ONLY or PATCHED]


def run_counting(name, n, limit):
    """Run contender *name*; return (completed, items started, max running).
    The loop's exception handler must not be called."""
    run = contenders.CONTENDERS[name][0]
    started = []
    running = max_running = 0
    errors = []

    async def work(i):
        nonlocal running, max_running
        started.append(i)
        running += 1
        max_running = max(max_running, running)
        for _ in range(i % 3 + 1):
            await asyncio.sleep(0)
        running -= 1

    async def main():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context['message']))
        return await run(work, n, limit)

    completed = asyncio.run(main())
    assert errors == []
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
            'shape-floor'} <= set(RUNNABLE)


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
            for name, values in (('shape-floor', [4.0, 5.0, 9.0]),
                                 ('ours-async-for', [6.0, 7.5, 8.0]),
                                 ('fair-pool', [15.0]))]
    table = bench_as_completed.time_table({'limit': 10, 'rows': rows})
    assert 'median (min-max) of 1/3 samples' in table
    cells = [re.split(r'\s{2,}', line) for line in table.splitlines()]
    assert cells[2][1:] == ['N=1e+03 us/item', 'x shape floor (N=1e+03)',
                            'x ours (N=1e+03)']
    assert cells[4][1:] == ['5.00 (4.00-9.00)', '1.00', '0.67']
    assert cells[5][1:] == ['7.50 (6.00-8.00)', '1.50', '1.00']
    assert cells[6][1:] == ['15.00 (1 sample)', '3.00', '2.00']


def test_a_rerun_of_some_contenders_keeps_the_stored_rows_of_the_others(
        tmp_path):
    args = argparse.Namespace(results_dir=tmp_path, mode='full',
                              contenders=None)
    stored = [{'contender': name, 'n': n, 'run': 1}
              for name in ('ours-async-for', 'semaphore-gather',
                           'shape-floor')
              for n in (10, 100)]
    bench_as_completed.store_section(args, 'memory', {'rows': stored})
    args.contenders = ['shape-floor', 'ours-async-for']
    rerun = [{'contender': name, 'n': 10, 'run': 2}
             for name in args.contenders]
    rows = bench_as_completed.with_stored_rows(args, 'memory', rerun)
    assert [(row['contender'], row['n'], row['run']) for row in rows] == [
        ('shape-floor', 10, 2), ('ours-async-for', 10, 2),
        ('semaphore-gather', 10, 1), ('semaphore-gather', 100, 1)]


def test_a_rerun_of_a_protocol_floor_keeps_the_order_of_a_run(tmp_path):
    args = argparse.Namespace(results_dir=tmp_path, mode='full',
                              contenders=None)
    bench_as_completed.store_section(
        args, 'instructions', instructions_section(
            shape_floor=43_000, ours_async_for=48_000, fair_pool=86_000))
    args.contenders = ['protocol-floor-for']
    rows = bench_as_completed.with_stored_rows(
        args, 'instructions', instructions_section(
            protocol_floor_for=45_000)['rows'])
    assert [row['contender'] for row in rows] == [
        'shape-floor', 'protocol-floor-for', 'ours-async-for', 'fair-pool']


def test_the_instruction_count_takes_the_floors_and_ours(monkeypatch,
                                                         tmp_path):
    counted = []
    monkeypatch.setattr(instructions, 'missing', lambda: None)
    monkeypatch.setattr(instructions, 'count', lambda name: counted.append(
        name) or {'contender': name, 'instructions_per_item': 1})
    args = argparse.Namespace(results_dir=tmp_path, mode='quick',
                              contenders=None)
    bench_as_completed.measure_instructions(args)
    assert {'shape-floor', 'protocol-floor-async-for', 'protocol-floor-for',
            'ours-async-for', 'ours-for'} <= set(counted)


def test_contenders_are_checked_by_name():
    assert bench_as_completed.contender_names('shape-floor,fair-pool') == [
        'shape-floor', 'fair-pool']
    with pytest.raises(argparse.ArgumentTypeError, match='unknown: ours;'):
        bench_as_completed.contender_names('shape-floor,ours')


FLOORS = ['shape-floor', 'protocol-floor-async-for', 'protocol-floor-for']


@pytest.mark.parametrize('name', FLOORS)
def test_a_floor_gives_an_items_error_to_its_consumer(name):
    async def work(i):
        await asyncio.sleep(0)
        if i == 7:
            raise ValueError('item 7 failed')

    with pytest.raises(ValueError, match='item 7 failed'):
        asyncio.run(contenders.CONTENDERS[name][0](work, 20, 3))


@pytest.mark.parametrize('name', FLOORS)
def test_a_floor_cancelled_while_waiting_leaves_no_error_behind(name):
    errors = []

    async def work(i):
        await gates[i]

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(
            lambda loop, context: errors.append(context['message']))
        gates.extend(loop.create_future() for _ in range(20))
        runner = asyncio.create_task(
            contenders.CONTENDERS[name][0](work, 20, 3))
        for _ in range(3):
            await asyncio.sleep(0)  # The runner waits.
        gates[0].set_result(None)
        await asyncio.sleep(0)  # Item 0 ends: its callback is queued.
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        for gate in gates[1:]:
            gate.set_result(None)
        await asyncio.sleep(0)  # The running items finish.

    gates = []
    asyncio.run(main())
    assert errors == []


@pytest.mark.parametrize('mode', ['async for', 'for'])
def test_the_protocol_floor_yields_in_completion_order(mode):
    async def work(i):
        for _ in range(3 - i):
            await asyncio.sleep(0)
        return i

    async def main():
        steps = contenders.ProtocolFloor((work(i) for i in range(3)), 3)
        if mode == 'for':
            return [await step for step in steps]
        return [task.result() async for task in steps]

    assert asyncio.run(main()) == [2, 1, 0]


def instructions_section(**counts):
    return {'limit': 100, 'sizes': [5000, 15000],
            'rows': [{'contender': name.replace('_', '-'),
                      'instructions_per_item': per_item}
                     for name, per_item in counts.items()]}


def test_instructions_per_item_are_the_difference_over_the_extra_items(
        monkeypatch):
    runs = []
    monkeypatch.setattr(instructions, 'run_once',
                        lambda contender, n, cache: runs.append((n, cache)))
    monkeypatch.setattr(instructions, 'collected', lambda contender, n, cache:
                        runs.append((n, cache)) or 3_000_000 + 43_001 * n)
    row = instructions.count('shape-floor')
    assert row == {
        'contender': 'shape-floor',
        'asyncio_md5': instructions.asyncio_digest(),
        'collected': {'5000': 3_000_000 + 43_001 * 5000,
                      '15000': 3_000_000 + 43_001 * 15000},
        'instructions_per_item': 43_001}
    # The counted runs read the cache written by the run before them.
    assert [n for n, _ in runs] == [1, 5000, 15000]
    assert len({cache for _, cache in runs}) == 1


@pytest.mark.parametrize('digests, counted', [
    ('aab', 'a'), ('abcc', 'c'), ('abcdef', None)])
def test_a_count_is_taken_again_if_asyncio_changed_meanwhile(
        monkeypatch, capsys, digests, counted):
    digests = iter(digests)
    monkeypatch.setattr(instructions, 'asyncio_digest',
                        lambda: next(digests))
    monkeypatch.setattr(instructions, 'run_once',
                        lambda contender, n, cache: None)
    monkeypatch.setattr(instructions, 'collected',
                        lambda contender, n, cache: 7 * n)
    if counted is None:
        with pytest.raises(SystemExit, match='changed at each of 3 counts'
                                             ' of fair-pool'):
            instructions.count('fair-pool')
    else:
        row = instructions.count('fair-pool')
        assert (row['asyncio_md5'], row['instructions_per_item']) == (
            counted, 7)
    assert capsys.readouterr().out.count(
        'changed while fair-pool was counted: counting again') == {
            'a': 0, 'c': 1, None: 3}[counted]


def test_a_count_is_taken_again_if_an_asyncio_file_was_written_meanwhile(
        monkeypatch, capsys):
    # The same text written again: the next run compiles it again.
    mtimes = iter([[1, 2], [1, 3], [1, 3], [1, 3]])
    monkeypatch.setattr(instructions, 'asyncio_mtimes', lambda: next(mtimes))
    monkeypatch.setattr(instructions, 'run_once',
                        lambda contender, n, cache: None)
    counts = iter([10, 12, 5, 15])  # The first pair: a compile in between.
    monkeypatch.setattr(instructions, 'collected',
                        lambda contender, n, cache: next(counts))
    monkeypatch.setattr(instructions, 'SIZES', (1, 2))
    assert instructions.count('fair-pool')['instructions_per_item'] == 10
    assert capsys.readouterr().out.count('counting again') == 1


def test_the_bytecode_cache_is_written_even_where_python_is_told_not_to(
        monkeypatch, tmp_path):
    monkeypatch.setenv('PYTHONDONTWRITEBYTECODE', '1')
    instructions.run_once('shape-floor', 1, str(tmp_path))
    assert list(tmp_path.rglob('contenders*.pyc'))


def test_a_run_failing_under_callgrind_is_a_clear_error(monkeypatch,
                                                        tmp_path):
    monkeypatch.setattr(instructions.subprocess, 'run',
                        lambda command, **kwargs: subprocess.CompletedProcess(
                            command, 1, '', 'run_once.py: boom'))
    with pytest.raises(SystemExit, match=r'(?s)fair-pool with 10 items'
                                         r' failed under callgrind.*boom'):
        instructions.collected('fair-pool', 10, str(tmp_path))


@pytest.mark.skipif(shutil.which('valgrind') is None,
                    reason='valgrind not installed')
def test_callgrind_counts_two_runs_alike(tmp_path):
    instructions.run_once('shape-floor', 1, str(tmp_path))
    first, second = (instructions.collected('shape-floor', 10, str(tmp_path))
                     for _ in range(2))
    assert first > 10**7
    assert abs(second - first) < first / 10**4


def test_without_valgrind_the_instructions_command_fails_and_stores_nothing(
        monkeypatch, tmp_path):
    monkeypatch.setattr(instructions.shutil, 'which', lambda name: None)
    args = argparse.Namespace(results_dir=tmp_path, mode='quick',
                              contenders=None)
    with pytest.raises(SystemExit, match='valgrind not found: install'
                                         " Debian's valgrind"):
        bench_as_completed.measure_instructions(args)
    assert not (tmp_path / 'results.json').exists()


def test_without_valgrind_a_whole_run_notes_it_in_place_of_the_counts(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(instructions.shutil, 'which', lambda name: None)
    for name in ('measure_time', 'measure_memory', 'measure_latency',
                 'measure_http', 'measure_http_large', 'plot', 'report'):
        monkeypatch.setattr(bench_as_completed, name, lambda args: None)
    args = argparse.Namespace(results_dir=tmp_path, mode='quick',
                              contenders=None)
    bench_as_completed.store_section(
        args, 'instructions', instructions_section(shape_floor=43_000))
    bench_as_completed.run_all(args)
    assert 'NOTE: no instruction counts: valgrind not found' in (
        capsys.readouterr().out)
    section = json.loads((tmp_path / 'results.json').read_text())[
        'instructions']
    assert bench_as_completed.instructions_table(section) == (
        "Instructions per item: not counted: " + instructions.VALGRIND_MISSING)


def test_instructions_table_gives_ratios_to_the_shape_floor_beside_timed():
    section = instructions_section(shape_floor=40_000,
                                   ours_async_for=44_000, fair_pool=80_000)
    time_section = {'limit': 100, 'rows': [
        {'contender': name, 'n': n, 'values_us': [us]}
        for name, n, us in (('shape-floor', 10, 1.0),
                            ('shape-floor', 100, 5.0),
                            ('ours-async-for', 100, 6.0),
                            ('fair-pool', 10, 9.0))]}
    table = bench_as_completed.instructions_table(section, time_section)
    assert 'between 15,000 and 5,000 trivial items over 10,000' in table
    cells = [re.split(r'\s{2,}', line) for line in table.splitlines()]
    assert cells[2][1:] == ['instructions/item', 'x shape floor',
                            'timed x shape floor (N=1e+02)']
    assert cells[4][1:] == ['40,000', '1.00', '1.00']
    assert cells[5][1:] == ['44,000', '1.10', '1.20']
    assert cells[6][1:] == ['80,000', '2.00', '-']
    assert len(bench_as_completed.instructions_table(section).splitlines()[
        2].split()) == 5  # Without a time section: no timed column.


def test_ours_is_held_to_a_tenth_over_the_shape_floor_in_instructions():
    lines = bench_as_completed.instruction_lines(instructions_section(
        shape_floor=40_000, ours_async_for=44_000, ours_for=44_400,
        protocol_floor_async_for=42_000))
    assert [(met, text) for met, _, text in lines] == [
        (True, 'as_completed(limit=), async for: 1.10x the shape floor in'
               ' instructions per item (target <= 1.10x); 1.05x the'
               ' protocol floor, async for'),
        (False, 'as_completed(limit=), for: 1.11x the shape floor in'
                ' instructions per item (target <= 1.10x)')]


def test_results_of_a_contender_no_longer_here_are_refused(tmp_path):
    args = argparse.Namespace(results_dir=tmp_path, mode='full',
                              contenders=None)
    bench_as_completed.store_section(args, 'memory', {'rows': [
        {'contender': 'floor', 'n': 10}]})
    with pytest.raises(SystemExit, match='rows of floor, no longer a'
                                         ' contender; rerun'):
        bench_as_completed.report(args)
