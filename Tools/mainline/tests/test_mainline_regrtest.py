import pytest

from mainline import regrtest
from mainline.errors import MainlineError

MODULE = "Lib/test/test_asyncio/test_as_completed_limit.py"


def test_new_tests_are_the_module_when_it_exists(fake):
    assert regrtest.new_tests(fake.repo) == [
        "test_asyncio.test_as_completed_limit"]


@pytest.mark.parametrize("diff", regrtest.TASKS_TESTS_DIFFS)
def test_new_tests_moved_into_test_tasks(fake, diff):
    (fake.repo / MODULE).unlink()
    (fake.repo / diff).parent.mkdir(parents=True, exist_ok=True)
    (fake.repo / diff).write_text(
        "+class AsCompletedLimitTests:\n"
        "+    def test_as_completed_limit_x(self):\n")
    assert regrtest.new_tests(fake.repo) == [
        "test_asyncio.test_tasks", "-m", "test_as_completed_limit*"]


def test_no_new_tests_is_an_error(fake):
    (fake.repo / MODULE).unlink()
    with pytest.raises(MainlineError, match="cannot find the new tests"):
        regrtest.new_tests(fake.repo)


def test_override_is_split_like_a_shell(fake):
    assert regrtest.new_tests(fake.repo, "test_asyncio.test_tasks -m 'x y*'") \
        == ["test_asyncio.test_tasks", "-m", "x y*"]


def test_full_run_has_warnings_as_errors_before_the_module():
    command = regrtest.full_run(2)
    assert command[:4] == ["/usr/bin/python3.15", "-W", "error", "-m"]
    assert command[4:7] == ["test", "test_asyncio", "-j2"]


def test_refleak_run_uses_the_debug_build():
    command = regrtest.refleak_run(["test_asyncio.test_tasks", "-m", "p*"])
    assert command[:3] == ["/usr/bin/python3.15-dbg", "-W", "error"]
    assert command[command.index("-R") + 1] == "3:3"
    assert command[-3:] == ["test_asyncio.test_tasks", "-m", "p*"]
