import json
import subprocess

import pytest

from carrylib.common import CarryError, Config
from mainline import lib
from mainline.errors import MainlineError

from .conftest import (NEW_TEST, NEW_TEST_FILE, TASKS_313, TASKS_313_CHANGED,
                       TASKS_315, TASKS_315_CHANGED, write)


def run_apply(fake):
    return lib.apply_change(Config(fake.repo), fake.root)


def lib_text(fake, rel):
    return (fake.lib / rel).read_text()


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, text=True,
                          capture_output=True).stdout.strip()


def test_the_main_patch_is_merged_onto_debians_files(fake):
    lines = run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED
    assert lib_text(fake, NEW_TEST_FILE) == NEW_TEST
    assert lines == ["Lib/asyncio/tasks.py: the main patch",
                     f"Lib/{NEW_TEST_FILE}: the main patch"]
    state = json.loads((fake.state / "applied.json").read_text())
    assert state == {"files": ["asyncio/tasks.py", NEW_TEST_FILE],
                     "inputs": lib.inputs_digest(fake.repo)}


def test_the_repository_holds_debians_lib_and_the_commit_applied(fake):
    run_apply(fake)
    repo = fake.root / lib.REPO
    assert git(repo, "ls-tree", "-r", "--name-only", "debian").split() == [
        "Lib/asyncio/tasks.py", "Lib/test/test_asyncio/__init__.py"]
    # at rest at Debian's files, a main base for `carry.py patch`
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "debian")
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "--format=%s%n%an <%ae>", "-1", "applied") == (
        "gh-1: Add limit to as_completed()\n"
        "mainline test <mainline@example.invalid>")
    tasks = git(repo, "rev-parse", "debian:Lib/asyncio/tasks.py")
    patch = (fake.root / lib.PATCH).read_text()
    assert f"\nindex {tasks}.." in patch


def test_reapplying_changes_nothing(fake):
    run_apply(fake)
    pyc = write(fake.lib / "asyncio/__pycache__/tasks.cpython-315.pyc", b"x")
    lines = run_apply(fake)
    assert all(line.endswith("(unchanged)") for line in lines), lines
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED
    assert pyc.exists()


def test_a_changed_change_starts_from_debians_file(fake):
    run_apply(fake)
    pyc = write(fake.lib / "asyncio/__pycache__/tasks.cpython-315.pyc", b"x")
    write(fake.repo / "Lib/asyncio/tasks.py.diff", fake.diff(
        "Lib/asyncio/tasks.py", TASKS_313,
        TASKS_313.replace("timeout=None)", "timeout=None, limit=3)")))
    fake.carry("checkout")
    run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315.replace(
        "timeout=None)", "timeout=None, limit=3)")
    assert not pyc.exists()


def test_files_no_longer_in_the_change_go_back(fake):
    run_apply(fake)
    (fake.repo / "Lib/asyncio/tasks.py.diff").unlink()
    (fake.repo / "Lib" / NEW_TEST_FILE).unlink()
    write(fake.repo / "Lib/test/test_asyncio/test_other.py", NEW_TEST)
    fake.carry("checkout")
    lines = run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315
    assert not (fake.lib / NEW_TEST_FILE).exists()
    assert "Lib/asyncio/tasks.py: back to Debian's text" in lines
    state = json.loads((fake.state / "applied.json").read_text())
    assert state["files"] == ["test/test_asyncio/test_other.py"]


def test_overlay_on_main_text_goes_into_the_patch_not_the_chroot(fake):
    whatsnew = "Improved modules\n================\n\nbz2\n---\n"
    write(fake.repo / "Tools/carry/main/Doc/whatsnew/3.16.rst.diff",
          fake.diff("Doc/whatsnew/3.16.rst", whatsnew, whatsnew.replace(
              "\nbz2", "\nasyncio\n-------\n\n* limit.\n\nbz2")))
    overlay = TASKS_313_CHANGED.replace("    return iter(fs)\n",
                                        "    return iter(list(fs))\n")
    write(fake.repo / "Tools/carry/main/Lib/asyncio/tasks.py.diff",
          fake.diff("Lib/asyncio/tasks.py", TASKS_313_CHANGED, overlay))
    run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED.replace(
        "    return iter(fs)\n", "    return iter(list(fs))\n")
    assert not (fake.root / "usr/lib/python3.15/Doc").exists()
    assert "+* limit." in (fake.root / lib.PATCH).read_text()


def test_a_patch_that_does_not_apply_changes_nothing(fake):
    run_apply(fake)
    before = (fake.state / "applied.json").read_text()
    write(fake.repo / "Lib/asyncio/tasks.py.diff", fake.diff(
        "Lib/asyncio/tasks.py", TASKS_313,
        TASKS_313.replace("# 3.13 line 18\n", "# 3.13 line 18, edited\n")))
    fake.carry("checkout")
    with pytest.raises(CarryError, match=r"Lib/asyncio/tasks.py\); nothing"):
        run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED
    assert (fake.state / "applied.json").read_text() == before


def test_a_file_not_as_debian_installed_it_is_refused(fake):
    write(fake.lib / "asyncio/tasks.py", "# edited\n")
    with pytest.raises(MainlineError, match="asyncio/tasks.py is not as "
                       "Debian installed it"):
        run_apply(fake)
    assert not (fake.root / lib.REPO).exists()


def test_only_lib_files_are_taken(fake):
    assert sorted(lib.debian_files(fake.root)) == [
        "asyncio/tasks.py", "test/test_asyncio/__init__.py"]
