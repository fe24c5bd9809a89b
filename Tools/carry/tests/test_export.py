from conftest import DOC_RST, NEW_TEST, TASKS_PY, Carry, git, write

NEW = "Lib/test/test_asyncio/test_as_completed_limit.py"


def test_export_then_checkout_round_trips(checked_out, tmp_path, fake_tarball):
    c, wt = checked_out, checked_out.wt
    text = (wt / "Lib/asyncio/tasks.py").read_text().replace(
        "# line 30\n", "# line 30 (edited)\n")
    write(wt / "Lib/asyncio/tasks.py", text)
    write(wt / "Doc/library/asyncio-task.rst",
          DOC_RST.replace("Paragraph 5.", "Paragraph five."))
    write(wt / "Misc/NEWS.d/next/Library/2026-01-01-00-00-00.gh-issue-1.abc.rst",
          "Added *limit*.\n")
    write(wt / "Lib/asyncio/__pycache__/tasks.cpython-313.pyc", "junk")
    assert c("status").returncode == 1
    p = c("export", ok=True)
    assert "Doc/library/asyncio-task.rst.diff" in p.stdout
    diff = (c.repo / "Doc/library/asyncio-task.rst.diff").read_text()
    assert diff.startswith("diff --git a/Doc/library/asyncio-task.rst "
                           "b/Doc/library/asyncio-task.rst\n")
    assert "+Paragraph five." in diff
    assert "(edited)" in (c.repo / "Lib/asyncio/tasks.py.diff").read_text()
    assert (c.repo / "Misc/NEWS.d/next/Library/"
            "2026-01-01-00-00-00.gh-issue-1.abc.rst").read_text() == "Added *limit*.\n"
    assert not list(c.repo.rglob("*.pyc"))
    # the change commit was amended: still two commits, worktree clean
    assert len(git(wt, "log", "--format=%H").stdout.split()) == 2
    assert git(wt, "status", "--porcelain").stdout == ""
    assert c("status").returncode == 0
    # a fresh checkout from the repository gives the identical tree
    other = Carry(c.repo, tmp_path / "build2", c.cache)
    other("source", "--source", fake_tarball, ok=True)
    other("checkout", ok=True)
    tree = lambda w: git(w, "rev-parse", "HEAD^{tree}").stdout
    assert tree(other.wt) == tree(wt)
    assert git(other.wt, "rev-parse", "HEAD").stdout == git(wt, "rev-parse", "HEAD").stdout
    # and checkout in the original worktree has nothing to do
    assert "up to date" in c("checkout", ok=True).stdout


def test_export_removes_what_is_no_longer_changed(checked_out):
    c, wt = checked_out, checked_out.wt
    write(wt / "Lib/asyncio/tasks.py", TASKS_PY)  # revert to the base
    (wt / NEW).unlink()
    c("export", ok=True)
    assert not (c.repo / "Lib/asyncio/tasks.py.diff").exists()
    assert not (c.repo / NEW).exists()
    assert git(wt, "diff", "--stat", "HEAD~1", "HEAD").stdout == ""
    assert c("status").returncode == 0


def test_export_keeps_equivalent_diffs_untouched(checked_out):
    c = checked_out
    f = c.repo / "Lib/asyncio/tasks.py.diff"
    before = (f.read_text(), f.stat().st_mtime_ns)
    p = c("export", ok=True)
    assert "nothing to export" in p.stdout
    assert (f.read_text(), f.stat().st_mtime_ns) == before


def test_export_includes_hand_made_commits(checked_out):
    c, wt = checked_out, checked_out.wt
    write(wt / NEW, NEW_TEST + "# committed by hand\n")
    git(wt, "commit", "-qam", "wip")
    p = c("checkout", ok=False)   # would lose the commit
    assert "export" in p.stderr
    c("export", ok=True)
    assert (c.repo / NEW).read_text().endswith("# committed by hand\n")
    assert len(git(wt, "log", "--format=%H").stdout.split()) == 2
    assert c("status").returncode == 0


def test_status_detects_drift(checked_out):
    c, wt = checked_out, checked_out.wt
    p = c("status")
    assert p.returncode == 0 and "in sync" in p.stdout
    write(wt / "Lib/asyncio/tasks.py", "edited\n")
    p = c("status")
    assert p.returncode == 1
    assert "Lib/asyncio/tasks.py" in p.stdout and "run export" in p.stdout
    git(wt, "checkout", "--", "Lib/asyncio/tasks.py")
    write(c.repo / NEW, "changed in the repository\n")
    p = c("status")
    assert p.returncode == 1
    assert NEW in p.stdout and "run checkout" in p.stdout
    assert "tasks.py" not in p.stdout


def test_export_ignores_edits_outside_change_roots(checked_out):
    c, wt = checked_out, checked_out.wt
    write(wt / "README.rst", "edited\n")
    p = c("export", ok=True)
    assert "README.rst" in p.stderr
    assert not (c.repo / "README.rst.diff").exists()
