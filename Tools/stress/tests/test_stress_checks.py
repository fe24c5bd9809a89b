import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stress_as_completed as stress


def finished_run(items=8, handed_out=6, dropped=2):
    """A Run as the stress leaves it when nothing went wrong."""
    run = stress.Run(items, failure_rate=0, seed=0)
    run.taken = items
    run.finished = items
    run.times_finished[:] = bytes([1]) * items
    run.handed_out = handed_out
    run.times_handed_out[:handed_out] = bytes([1]) * handed_out
    run.dropped_in_flight = dropped
    run.memory_samples = [(n, 1000) for n in range(1, 5)]
    return run


def test_clean_run_passes():
    assert stress.check(finished_run(), memory_growth_limit=0) == []


def test_item_finished_twice_fails():
    run = finished_run()
    run.times_finished[3] = 2
    assert any('finished exactly once' in f for f in stress.check(run, 0))


def test_result_handed_out_twice_fails():
    run = finished_run()
    run.times_handed_out[0] = 2
    assert any('handed out twice' in f for f in stress.check(run, 0))


def test_lost_item_fails():
    run = finished_run(dropped=1)
    assert any('!= 8 taken' in f for f in stress.check(run, 0))


def test_memory_growth_fails():
    run = finished_run()
    run.memory_samples[-1] = (4, 1000 + 2048)
    assert stress.check(run, memory_growth_limit=1024) != []
    assert stress.check(run, memory_growth_limit=4096) == []


def test_never_awaited_is_a_failure():
    run = finished_run()
    run.handle_loop_report(None, {'message': 'Task exception was never retrieved'})
    assert stress.check(run, 0) == []
    run.problems.append("coroutine 'item' was never awaited")
    assert "coroutine 'item' was never awaited" in stress.check(run, 0)


def test_unpatched_interpreter_is_refused(monkeypatch, capsys):
    def as_completed_without_limit(fs, *, timeout=None):
        raise AssertionError('must not be called')
    monkeypatch.setattr(stress.asyncio, 'as_completed',
                        as_completed_without_limit)
    try:
        stress.main(['--items', '10'])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError('main() did not refuse')
    assert 'no as_completed(limit=...)' in capsys.readouterr().err
