"""Every contender must be correct, or its timing proves nothing."""

import asyncio
import inspect
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_as_completed
import contenders

# as_completed(limit=) exists only in the patched interpreter; the peers only
# where their package is installed.
RUNNABLE = [name for name in contenders.available(contenders.CONTENDERS)
            if not name.startswith('ours')
            or 'limit' in inspect.signature(asyncio.as_completed).parameters]


@pytest.mark.parametrize('name', RUNNABLE)
@pytest.mark.parametrize('limit', [1, 5])
def test_contender_runs_every_item_within_the_limit(name, limit):
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

    assert asyncio.run(run(work, 40, limit)) == 40
    assert sorted(started) == list(range(40))
    assert max_running == limit


def test_the_baselines_are_always_checked():
    assert {'semaphore-gather', 'taskgroup-semaphore', 'polling',
            'floor'} <= set(RUNNABLE)


def test_format_table_is_an_rst_simple_table():
    table = bench_as_completed.format_table(
        ['contender', 'us/item'], [['floor', '4.24'], ['ours', '5.25']])
    lines = table.splitlines()
    assert lines[0] == lines[2] == lines[-1] == '=========  ======='
    assert lines[1] == 'contender  us/item'
    assert lines[3] == 'floor         4.24'
