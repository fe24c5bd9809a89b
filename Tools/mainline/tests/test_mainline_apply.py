import json

import pytest

from mainline import apply
from mainline.errors import MainlineError

from .conftest import (NEW_TEST, TASKS_313, TASKS_313_CHANGED, TASKS_315,
                       write)

TASKS_315_CHANGED = TASKS_315.replace(
    "def as_completed(fs, *, timeout=None):\n",
    "def as_completed(fs, *, timeout=None, limit=None):\n")
NEW_TEST_FILE = "test/test_asyncio/test_as_completed_limit.py"


def run_apply(fake, base=True):
    return apply.apply_change(fake.repo, fake.root, fake.lib, fake.state,
                              apply.BaseTree(fake.base if base else None))


def lib_text(fake, rel):
    return (fake.lib / rel).read_text()


def test_three_way_merge_where_the_plain_patch_fails(fake):
    lines = run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED
    assert "Lib/asyncio/tasks.py: three-way merge (change)" in lines
    assert lib_text(fake, NEW_TEST_FILE) == NEW_TEST


def test_plain_patch_where_it_applies(fake):
    fake.install("asyncio/tasks.py", "# only in 3.15\n" + TASKS_313)
    lines = run_apply(fake, base=False)
    assert lib_text(fake, "asyncio/tasks.py") == (
        "# only in 3.15\n" + TASKS_313_CHANGED)
    assert "Lib/asyncio/tasks.py: plain patch (change)" in lines


def test_reapplying_changes_nothing(fake):
    run_apply(fake)
    pyc = write(fake.lib / "asyncio/__pycache__/tasks.cpython-315.pyc", b"x")
    lines = run_apply(fake)
    assert all(line.endswith("(unchanged)") for line in lines), lines
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED
    assert pyc.exists()
    assert (fake.state / "pristine/asyncio/tasks.py").read_text() == TASKS_315


def test_a_changed_change_starts_from_the_pristine_file(fake):
    run_apply(fake)
    pyc = write(fake.lib / "asyncio/__pycache__/tasks.cpython-315.pyc", b"x")
    write(fake.repo / "Lib/asyncio/tasks.py.diff", fake.diff(
        "asyncio/tasks.py", TASKS_313,
        TASKS_313.replace("timeout=None)", "timeout=None, limit=3)")))
    run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315.replace(
        "timeout=None)", "timeout=None, limit=3)")
    assert not pyc.exists()


def test_files_no_longer_in_the_change_go_back(fake):
    run_apply(fake)
    (fake.repo / "Lib/asyncio/tasks.py.diff").unlink()
    (fake.repo / "Lib/test/test_asyncio/test_as_completed_limit.py").unlink()
    write(fake.repo / "Lib/test/test_asyncio/test_other.py", NEW_TEST)
    run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315
    assert not (fake.lib / NEW_TEST_FILE).exists()
    assert not (fake.state / "pristine/asyncio/tasks.py").exists()
    state = json.loads((fake.state / "applied.json").read_text())
    assert state["files"] == {"test/test_asyncio/test_other.py": "new"}


def test_main_overlay_is_applied_after_the_change(fake):
    overlay = TASKS_313_CHANGED.replace("    return iter(fs)\n",
                                        "    return iter(list(fs))\n")
    write(fake.repo / "Tools/carry/main/Lib/asyncio/tasks.py.diff",
          fake.diff("asyncio/tasks.py", TASKS_313_CHANGED, overlay))
    lines = run_apply(fake)
    assert lib_text(fake, "asyncio/tasks.py") == TASKS_315_CHANGED.replace(
        "    return iter(fs)\n", "    return iter(list(fs))\n")
    assert ("Lib/asyncio/tasks.py: three-way merge (change), "
            "three-way merge (main overlay)") in lines


def test_a_diff_of_a_test_file_of_315(fake):
    write(fake.repo / "Lib/test/test_asyncio/test_tasks.py.diff", fake.diff(
        "test/test_asyncio/test_tasks.py", "# 3.15 test_tasks\n",
        "# 3.15 test_tasks\ndef test_as_completed_limit_x(): pass\n"))
    run_apply(fake)
    assert lib_text(fake, "test/test_asyncio/test_tasks.py").endswith(
        "def test_as_completed_limit_x(): pass\n")


def test_conflict_names_the_file_and_changes_nothing(fake):
    fake.install("asyncio/tasks.py", TASKS_315.replace(
        "timeout=None)", "timeout=None, other=1)"))
    with pytest.raises(MainlineError, match=(
            r"Lib/asyncio/tasks\.py\.diff \(change\): 1 conflict\(s\) .* "
            r"Lib/asyncio/tasks\.py")):
        run_apply(fake)
    assert "other=1" in lib_text(fake, "asyncio/tasks.py")
    assert not (fake.lib / NEW_TEST_FILE).exists()
    assert not fake.state.exists()


def test_merge_without_the_base_sources_says_how_to_get_them(fake):
    with pytest.raises(MainlineError, match="carry.py source"):
        run_apply(fake, base=False)


def test_base_sources_must_be_what_the_diff_was_made_against(fake):
    write(fake.base / "Lib/asyncio/tasks.py", TASKS_313 + "# other\n")
    with pytest.raises(MainlineError, match="was made against blob"):
        run_apply(fake)


def test_a_diff_must_name_its_own_file(fake):
    write(fake.repo / "Lib/asyncio/futures.py.diff",
          (fake.repo / "Lib/asyncio/tasks.py.diff").read_text())
    with pytest.raises(MainlineError, match="must be a git diff of Lib/asyncio/futures.py only"):
        run_apply(fake)


def test_a_file_changed_outside_the_tool_is_refused(fake):
    (fake.lib / "asyncio/tasks.py").write_text(TASKS_315 + "# edited\n")
    with pytest.raises(MainlineError, match="not as Debian installed it"):
        run_apply(fake)


def test_inputs_digest_follows_the_change_files(fake):
    before = apply.inputs_digest(fake.repo)
    assert apply.inputs_digest(fake.repo) == before
    write(fake.repo / "Lib/test/test_asyncio/test_as_completed_limit.py",
          NEW_TEST + "# more\n")
    assert apply.inputs_digest(fake.repo) != before


def test_applied_inputs_is_set_only_when_all_is_written(fake):
    assert apply.applied_inputs(fake.state) is None
    run_apply(fake)
    assert apply.applied_inputs(fake.state) == apply.inputs_digest(fake.repo)

