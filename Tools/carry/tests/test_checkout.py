import shutil

from conftest import (NEW_TEST, TASKS_PY, TASKS_PY_CHANGED, Carry, git,
                      git_diff_text, tree_mtimes, write)

NEW = "Lib/test/test_asyncio/test_as_completed_limit.py"


def log(wt):
    return git(wt, "log", "--format=%an <%ae>|%ad|%s", "--date=iso").stdout.splitlines()


def test_checkout_two_commits_with_the_change(checked_out):
    wt = checked_out.wt
    lines = log(wt)
    assert len(lines) == 2
    assert lines[1].endswith("|CPython 3.13.15 (pristine base)")
    assert lines[0].endswith("|gh-1: Add limit to as_completed()")
    for line in lines:
        who, date, _ = line.split("|")
        assert who == "as_completed limit contributors <noreply@example.invalid>"
        assert date.startswith("2026-01-01 00:00:00")
    assert (wt / "Lib/asyncio/tasks.py").read_text() == TASKS_PY_CHANGED
    assert (wt / NEW).read_text() == NEW_TEST
    assert git(wt, "show", "HEAD~1:Lib/asyncio/tasks.py").stdout == TASKS_PY
    assert git(wt, "status", "--porcelain").stdout == ""
    # only the change is in the change commit
    changed = git(wt, "diff", "--name-only", "HEAD~1", "HEAD").stdout.split()
    assert changed == ["Lib/asyncio/tasks.py", NEW]
    # project files (README.rst, Tools/) are not copied into CPython
    assert (wt / "README.rst").read_text() == "This is Python version 3.13.15\n"


def test_checkout_is_reproducible(checked_out, tmp_path, fake_tarball):
    other = Carry(checked_out.repo, tmp_path / "build2", checked_out.cache)
    other("source", "--source", fake_tarball, ok=True)
    other("checkout", ok=True)
    head = lambda c: git(c.wt, "rev-parse", "HEAD").stdout.strip()
    assert head(other) == head(checked_out)


def test_checkout_twice_leaves_mtimes_untouched(checked_out):
    wt = checked_out.wt
    before = tree_mtimes(wt)
    head = git(wt, "rev-parse", "HEAD").stdout
    p = checked_out("checkout", ok=True)
    assert "up to date" in p.stdout
    assert tree_mtimes(wt) == before
    assert git(wt, "rev-parse", "HEAD").stdout == head


def test_checkout_rewrites_only_changed_files(checked_out):
    wt = checked_out.wt
    before = tree_mtimes(wt)
    write(checked_out.repo / NEW, NEW_TEST + "# more\n")
    p = checked_out("checkout", ok=True)
    after = tree_mtimes(wt)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {NEW}, p.stdout
    assert (wt / NEW).read_text().endswith("# more\n")
    assert len(log(wt)) == 2


def test_checkout_refuses_to_clobber_edits(checked_out):
    wt = checked_out.wt
    write(wt / "Lib/asyncio/tasks.py", "my edit\n")
    write(checked_out.repo / NEW, NEW_TEST + "# more\n")
    head = git(wt, "rev-parse", "HEAD").stdout
    p = checked_out("checkout", ok=False)
    assert "uncommitted edits" in p.stderr and "export" in p.stderr
    assert (wt / "Lib/asyncio/tasks.py").read_text() == "my edit\n"
    assert (wt / NEW).read_text() == NEW_TEST
    assert git(wt, "rev-parse", "HEAD").stdout == head


def test_checkout_with_edits_but_same_change_is_a_noop(checked_out):
    wt = checked_out.wt
    write(wt / "Lib/asyncio/tasks.py", "my edit\n")
    p = checked_out("checkout", ok=True)
    assert "export" in p.stdout
    assert (wt / "Lib/asyncio/tasks.py").read_text() == "my edit\n"


def test_checkout_reports_diff_that_does_not_apply(checked_out, tmp_path):
    wt = checked_out.wt
    before = tree_mtimes(wt)
    head = git(wt, "rev-parse", "HEAD").stdout
    write(checked_out.repo / "Doc/library/asyncio-task.rst.diff",
          git_diff_text(tmp_path, "Doc/library/asyncio-task.rst",
                        "something else\n", "something new\n"))
    p = checked_out("checkout", ok=False)
    assert "Doc/library/asyncio-task.rst" in p.stderr
    assert "tasks.py" not in p.stderr.split("error:")[-1]
    assert git(wt, "rev-parse", "HEAD").stdout == head
    assert tree_mtimes(wt) == before


def test_checkout_needs_source(carry):
    p = carry("checkout", ok=False)
    assert "run `carry.py source` first" in p.stderr


def test_diff_naming_another_file_is_rejected(checked_out, tmp_path):
    shutil.copy(checked_out.repo / "Lib/asyncio/tasks.py.diff",
                checked_out.repo / "Lib/asyncio/events.py.diff")
    p = checked_out("checkout", ok=False)
    assert "Lib/asyncio/events.py.diff" in p.stderr
