from mainline import regrtest


def test_new_tests_are_those_of_tasks_and_graph():
    assert regrtest.new_tests() == [
        "test_asyncio.test_tasks", "test_asyncio.test_graph",
        "-m", "test_as_completed_limit*",
        "-m", "test_stack_as_completed_limit*"]


def test_override_is_split_like_a_shell():
    assert regrtest.new_tests("test_asyncio.test_tasks -m 'x y*'") \
        == ["test_asyncio.test_tasks", "-m", "x y*"]


def test_full_run_has_warnings_as_errors_before_the_module():
    command = regrtest.full_run(2)
    assert command[:4] == ["/usr/bin/python3.15", "-W", "error", "-m"]
    assert command[4:7] == ["test", "test_asyncio", "-j2"]


def test_a_hang_fails_in_both_runs():
    for command in (regrtest.full_run(2), regrtest.refleak_run(["t"])):
        assert "--timeout=600" in command


def test_refleak_run_uses_the_debug_build():
    command = regrtest.refleak_run(["test_asyncio.test_tasks", "-m", "p*"])
    assert command[:3] == ["/usr/bin/python3.15-dbg", "-W", "error"]
    assert command[command.index("-R") + 1] == "3:3"
    assert command[-3:] == ["test_asyncio.test_tasks", "-m", "p*"]
