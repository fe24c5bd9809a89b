"""The test runs inside the chroot: all of 3.15's test_asyncio with the
change, and the new tests under -R 3:3 on the debug build."""

import shlex
from pathlib import Path

from mainline.chroot import PYTHON, PYTHON_DEBUG
from mainline.errors import MainlineError

# The one name of the new tests: a module of that name in test_asyncio,
# or else test_asyncio.test_tasks methods whose names start with it.
NEW_TESTS = "test_as_completed_limit"
NEW_TESTS_MODULE_FILE = Path(f"Lib/test/test_asyncio/{NEW_TESTS}.py")
TASKS_TESTS_DIFFS = (Path("Lib/test/test_asyncio/test_tasks.py.diff"),
                     Path("Tools/carry/main/Lib/test/test_asyncio/"
                          "test_tasks.py.diff"))
WARNINGS_AS_ERRORS = ["-W", "error"]
# regrtest: show a failing test's output (tracebacks), without rerunning it.
SHOW_FAILURES = ["--verbose3"]


def new_tests(repo: Path, override: str | None = None) -> list[str]:
    """The regrtest arguments selecting the new tests: *override* (split
    as a shell would), the module if the repository has it whole, else
    the methods added to test_tasks."""
    if override:
        return shlex.split(override)
    if (repo / NEW_TESTS_MODULE_FILE).is_file():
        return [f"test_asyncio.{NEW_TESTS}"]
    for diff in TASKS_TESTS_DIFFS:
        path = repo / diff
        if path.is_file() and f"+    def {NEW_TESTS}" in path.read_text():
            return ["test_asyncio.test_tasks", "-m", f"{NEW_TESTS}*"]
    raise MainlineError(
        f"cannot find the new tests: neither {NEW_TESTS_MODULE_FILE} nor a "
        f"`def {NEW_TESTS}...` added by "
        f"{' or '.join(map(str, TASKS_TESTS_DIFFS))} (name them with "
        "--new-tests)")


def full_run(jobs: int) -> list[str]:
    """All of test_asyncio (the new tests included: they are in it)."""
    return [PYTHON, *WARNINGS_AS_ERRORS, "-m", "test", "test_asyncio",
            f"-j{jobs}", *SHOW_FAILURES]


def refleak_run(tests: list[str]) -> list[str]:
    # -j1: in a worker process, as regrtest shows a failure's output
    # (--verbose3) under -R only there.
    return [PYTHON_DEBUG, *WARNINGS_AS_ERRORS, "-m", "test", "-R", "3:3",
            "-j1", *SHOW_FAILURES, *tests]
