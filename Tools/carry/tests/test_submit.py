import re
import shutil
from pathlib import Path

from conftest import (SUBMITTER, TASKS_PY, TASKS_PY_CHANGED, git,
                      git_diff_text, write)

NEW = "Lib/test/test_asyncio/test_as_completed_limit.py"


def target_checkout(tmp_path, fake_tree, name="target"):
    """A CPython git checkout: the pristine base plus an unrelated commit."""
    d = tmp_path / name
    shutil.copytree(fake_tree, d)
    git(d, "init", "-q")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "base")
    write(d / "README.rst", "This is Python version 3.14.0 alpha 0\n")
    git(d, "commit", "-qam", "unrelated")
    return d


def test_patch_applies_to_pristine_base(checked_out, tmp_path, fake_tree):
    p = checked_out("patch", ok=True)
    patch = checked_out.repo / "dist" / "as_completed-limit.patch"
    assert str(patch) in p.stdout
    text = patch.read_text()
    assert text.startswith("From 0000000000000000000000000000000000000000 ")
    assert "Subject: [PATCH] gh-1: Add limit to as_completed()" in text
    d = tmp_path / "pristine"
    shutil.copytree(fake_tree, d)
    git(d, "init", "-q")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "base")
    assert git(d, "apply", "--check", str(patch), check=False).returncode == 0
    git(d, "am", "-q", str(patch))
    assert (d / "Lib/asyncio/tasks.py").read_text() == TASKS_PY_CHANGED
    assert (d / NEW).exists()
    # reproducible
    checked_out("patch", ok=True)
    assert patch.read_text() == text


def test_apply_to_clean_checkout(checked_out, tmp_path, fake_tree):
    d = target_checkout(tmp_path, fake_tree)
    head = git(d, "rev-parse", "HEAD").stdout.strip()
    p = checked_out("apply", "--to", d, ok=True)
    assert "applied" in p.stdout
    assert git(d, "rev-parse", "HEAD~1").stdout.strip() == head
    assert (d / "Lib/asyncio/tasks.py").read_text() == TASKS_PY_CHANGED
    assert (d / NEW).exists()
    assert git(d, "status", "--porcelain").stdout == ""
    assert git(d, "log", "-1", "--format=%s").stdout.strip() == \
        "gh-1: Add limit to as_completed()"


def test_apply_merges_nearby_upstream_edit(checked_out, tmp_path, fake_tree):
    d = target_checkout(tmp_path, fake_tree)
    write(d / "Lib/asyncio/tasks.py", "# new header\n" * 5 + TASKS_PY)
    git(d, "commit", "-qam", "upstream moved lines")
    checked_out("apply", "--to", d, ok=True)
    assert "limit=None" in (d / "Lib/asyncio/tasks.py").read_text()


def test_apply_conflict_leaves_target_as_it_was(checked_out, tmp_path, fake_tree):
    d = target_checkout(tmp_path, fake_tree)
    write(d / "Lib/asyncio/tasks.py", TASKS_PY.replace(
        "def as_completed(fs, *, timeout=None):",
        "def as_completed(fs, *, timeout=None, buffersize=None):"))
    git(d, "commit", "-qam", "conflicting upstream change")
    head = git(d, "rev-parse", "HEAD").stdout.strip()
    p = checked_out("apply", "--to", d, ok=False)
    assert "conflict: Lib/asyncio/tasks.py" in p.stderr
    assert "Lib/asyncio/tasks.py" in p.stderr.splitlines()[-1]
    assert git(d, "rev-parse", "HEAD").stdout.strip() == head
    assert git(d, "status", "--porcelain", "--ignored").stdout == ""
    assert not (d / ".git" / "rebase-apply").exists()
    assert not (d / NEW).exists()


def test_apply_refuses_dirty_target(checked_out, tmp_path, fake_tree):
    d = target_checkout(tmp_path, fake_tree)
    write(d / "Lib/asyncio/tasks.py", "local edit\n")
    p = checked_out("apply", "--to", d, ok=False)
    assert "not a clean checkout" in p.stderr
    assert (d / "Lib/asyncio/tasks.py").read_text() == "local edit\n"


def test_apply_refuses_non_git_and_missing(checked_out, tmp_path, fake_tree):
    p = checked_out("apply", "--to", fake_tree, ok=False)
    assert "not the top of a git checkout" in p.stderr
    p = checked_out("apply", "--to", tmp_path / "missing", ok=False)
    assert "no such directory" in p.stderr


# --------------------------------------------------------------------------
# the submitter's identity

def test_patch_author_is_the_submitter(checked_out):
    p = checked_out("patch", ok=True)
    patch = checked_out.repo / "dist" / "as_completed-limit.patch"
    assert p.stdout.splitlines()[-1] == str(patch)
    assert f"From: {SUBMITTER}" in patch.read_text()


def test_patch_without_identity_writes_nothing(checked_out, tmp_path):
    empty = write(tmp_path / "empty-gitconfig", "")
    p = checked_out("patch", env={"GIT_CONFIG_GLOBAL": str(empty)}, ok=False)
    assert "git config user.name" in p.stderr
    assert not (checked_out.repo / "dist").exists()


def test_apply_commit_is_by_the_submitter(checked_out, tmp_path, fake_tree):
    d = target_checkout(tmp_path, fake_tree)
    checked_out("apply", "--to", d, ok=True)
    assert git(d, "log", "-1", "--format=%an <%ae>").stdout.strip() == SUBMITTER


# --------------------------------------------------------------------------
# --target main: the change plus the main-line overlay

WHATSNEW = "".join(f"Entry {i}.\n\n" for i in range(1, 16)).replace(
    "Entry 8.\n", "Improved modules\n================\n")
WHATSNEW_ADDED = WHATSNEW.replace(
    "================\n", "================\n\nasyncio\n-------\n\n"
    "* as_completed() has a new *limit* parameter.\n")
TASKS_MAIN = TASKS_PY_CHANGED.replace("    return iter(fs)\n",
                                      "    return iter(fs)  # main-line\n")


def with_overlay(carry, tmp_path):
    overlay = carry.repo / "Tools" / "carry" / "main"
    write(overlay / "Lib/asyncio/tasks.py.diff", git_diff_text(
        tmp_path / "o1", "Lib/asyncio/tasks.py", TASKS_PY_CHANGED, TASKS_MAIN))
    write(overlay / "Doc/whatsnew/3.16.rst.diff", git_diff_text(
        tmp_path / "o2", "Doc/whatsnew/3.16.rst", WHATSNEW, WHATSNEW_ADDED))


def fake_main(tmp_path, fake_tree):
    """main: lines moved in tasks.py, and a What's New only main has."""
    d = target_checkout(tmp_path, fake_tree, "main")
    write(d / "Lib/asyncio/tasks.py", "# main header\n" * 3 + TASKS_PY)
    write(d / "Doc/whatsnew/3.16.rst", "Title\n\n" + WHATSNEW)
    git(d, "add", "-A")
    git(d, "commit", "-qm", "main moved on")
    return d


def test_main_patch_applies_to_main(checked_out, tmp_path, fake_tree):
    with_overlay(checked_out, tmp_path)
    p = checked_out("patch", "--target", "main", ok=True)
    patch = Path(p.stdout.splitlines()[-1])
    assert patch == checked_out.repo / "dist" / "as_completed-limit-main.patch"
    text = patch.read_text()
    assert "Subject: [PATCH] gh-1: Add limit to as_completed()" in text
    stat = text[text.index("\n---\n"):text.index("\ndiff --git")]
    assert re.search(r"^ Doc/whatsnew/3.16.rst +\| +5 \+{5}$", stat, re.M)
    d = fake_main(tmp_path, fake_tree)
    git(d, "am", "-3", "-q", str(patch))
    assert (d / "Lib/asyncio/tasks.py").read_text() == \
        "# main header\n" * 3 + TASKS_MAIN
    assert (d / "Doc/whatsnew/3.16.rst").read_text() == \
        "Title\n\n" + WHATSNEW_ADDED
    assert (d / NEW).exists()
    assert git(d, "log", "-1", "--format=%an <%ae>").stdout.strip() == SUBMITTER
    # build/cpython: the 3.13 part of the overlay on branch main-line
    wt = checked_out.wt
    assert git(wt, "log", "--format=%s", "main-line").stdout.splitlines() == [
        "main-line additions", "gh-1: Add limit to as_completed()",
        "CPython 3.13.15 (pristine base)"]
    assert git(wt, "diff", "--name-only", "main", "main-line").stdout.split() \
        == ["Lib/asyncio/tasks.py"]
    assert git(wt, "status", "--porcelain").stdout == ""


def test_apply_to_main_checkout(checked_out, tmp_path, fake_tree):
    with_overlay(checked_out, tmp_path)
    d = fake_main(tmp_path, fake_tree)
    checked_out("apply", "--to", d, ok=True)
    assert "as_completed() has a new *limit*" in \
        (d / "Doc/whatsnew/3.16.rst").read_text()
    assert "# main-line" in (d / "Lib/asyncio/tasks.py").read_text()


def test_main_patch_without_overlay_is_the_base_patch(checked_out):
    base = Path(checked_out("patch", ok=True).stdout.splitlines()[-1])
    main = Path(checked_out("patch", "--target", "main",
                            ok=True).stdout.splitlines()[-1])
    assert base != main and base.read_text() == main.read_text()


def test_overlay_that_does_not_apply_names_the_file(checked_out):
    overlay = checked_out.repo / "Tools" / "carry" / "main"
    write(overlay / "Lib/asyncio/tasks.py.diff",
          "diff --git a/Lib/asyncio/tasks.py b/Lib/asyncio/tasks.py\n"
          "--- a/Lib/asyncio/tasks.py\n+++ b/Lib/asyncio/tasks.py\n"
          "@@ -1,1 +1,1 @@\n-no such line\n+other\n")
    p = checked_out("patch", "--target", "main", ok=False)
    assert "does not apply: Lib/asyncio/tasks.py" in p.stderr
    assert not (checked_out.repo / "dist").exists()
