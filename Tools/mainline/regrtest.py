"""The test runs inside the chroot: all of 3.15's test_asyncio with the
change, and the new tests under -R 3:3 on the debug build."""

import shlex

from carrylib.build import REGRTEST_TIMEOUT
from mainline.chroot import PYTHON, PYTHON_DEBUG

# The change's tests: beside the as_completed tests in test_tasks, and,
# on main only (Tools/carry/main), beside test_stack_as_completed.
NEW_TESTS = ["test_asyncio.test_tasks", "test_asyncio.test_graph",
             "-m", "test_as_completed_limit*",
             "-m", "test_stack_as_completed_limit*"]
WARNINGS_AS_ERRORS = ["-W", "error"]
# regrtest: show a failing test's output (tracebacks), without rerunning it.
SHOW_FAILURES = ["--verbose3"]


def new_tests(override: str | None = None) -> list[str]:
    """The regrtest arguments selecting the new tests: *override* (split
    as a shell would), or NEW_TESTS."""
    return shlex.split(override) if override else NEW_TESTS


def full_run(jobs: int) -> list[str]:
    """All of test_asyncio (the new tests included: they are in it)."""
    return [PYTHON, *WARNINGS_AS_ERRORS, "-m", "test", "test_asyncio",
            f"-j{jobs}", *SHOW_FAILURES, REGRTEST_TIMEOUT]


def refleak_run(tests: list[str]) -> list[str]:
    # -j1: in a worker process, as regrtest shows a failure's output
    # (--verbose3) under -R only there.
    return [PYTHON_DEBUG, *WARNINGS_AS_ERRORS, "-m", "test", "-R", "3:3",
            "-j1", *SHOW_FAILURES, REGRTEST_TIMEOUT, *tests]
