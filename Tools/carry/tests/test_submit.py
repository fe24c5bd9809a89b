import os
import re
import shutil
from pathlib import Path

from conftest import (DOC_RST, SUBMITTER, TASKS_PY, TASKS_PY_CHANGED,
                      git, git_diff_text, write)

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
    assert "does not apply: Lib/asyncio/tasks.py" in p.stderr
    assert "Lib/asyncio/tasks.py); nothing written" in p.stderr
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
# --target main: the change carried onto a main base, plus the overlay

WHATSNEW = "".join(f"Entry {i}.\n\n" for i in range(1, 16)).replace(
    "Entry 8.\n", "Improved modules\n================\n")
WHATSNEW_ADDED = WHATSNEW.replace(
    "================\n", "================\n\nasyncio\n-------\n\n"
    "* as_completed() has a new *limit* parameter.\n"
    "  (Contributed by ... in :gh:`1`.)\n")
TASKS_MAIN = TASKS_PY_CHANGED.replace("    return iter(fs)\n",
                                      "    return iter(fs)  # main-line\n")
# main's own text of asyncio-task.rst, and the change's words in it
DOC_MAIN = DOC_RST.replace("Paragraph 10.", "Paragraph 10 (fs).")
DOC_CHANGED = DOC_RST.replace("Paragraph 10.", "Paragraph 10, limit.")
DOC_MAIN_CHANGED = DOC_MAIN.replace("(fs).", "(fs), limit.")
MAIN_HEADER = "# main header\n" * 3


def with_overlay(carry, tmp_path):
    overlay = carry.repo / "Tools" / "carry" / "main"
    write(overlay / "Lib/asyncio/tasks.py.diff", git_diff_text(
        tmp_path / "o1", "Lib/asyncio/tasks.py", TASKS_PY_CHANGED, TASKS_MAIN))
    write(overlay / "Doc/whatsnew/3.16.rst.diff", git_diff_text(
        tmp_path / "o2", "Doc/whatsnew/3.16.rst", WHATSNEW, WHATSNEW_ADDED))
    write(overlay / "Doc/library/asyncio-task.rst.diff", git_diff_text(
        tmp_path / "o3", "Doc/library/asyncio-task.rst", DOC_MAIN,
        DOC_MAIN_CHANGED))


def with_doc_change(carry, tmp_path):
    """The change also edits Doc/library/asyncio-task.rst (in 3.13's
    words)."""
    write(carry.repo / "Doc/library/asyncio-task.rst.diff", git_diff_text(
        tmp_path / "c1", "Doc/library/asyncio-task.rst", DOC_RST, DOC_CHANGED))


def fake_main(tmp_path, fake_tree):
    """main: lines moved in tasks.py, main's words in asyncio-task.rst, a
    What's New only main has; then its Doc/ moved on from the texts the
    overlay was made against."""
    d = target_checkout(tmp_path, fake_tree, "main")
    write(d / "Lib/asyncio/tasks.py", MAIN_HEADER + TASKS_PY)
    write(d / "Doc/library/asyncio-task.rst", DOC_MAIN)
    write(d / "Doc/whatsnew/3.16.rst", WHATSNEW)
    git(d, "add", "-A")
    git(d, "commit", "-qm", "main's words")
    for path in "Doc/library/asyncio-task.rst", "Doc/whatsnew/3.16.rst":
        write(d / path, "Title\n\n" + (d / path).read_text())
    git(d, "commit", "-qam", "main moved on")
    return d


def lib_base(tmp_path, name="lib"):
    """A git repository of main's Lib/ only (as Tools/mainline makes from
    Debian's 3.15)."""
    d = tmp_path / name
    write(d / "Lib/asyncio/__init__.py", "from .tasks import *\n")
    write(d / "Lib/asyncio/tasks.py", MAIN_HEADER + TASKS_PY)
    git(d, "init", "-q")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "Lib")
    return d


def diff_of(patch_text, path):
    """The diff of *path* in a patch, from its `diff --git` line."""
    chunks = re.split(r"(?m)^(?=diff --git )", patch_text)
    found = [c for c in chunks if c.startswith(f"diff --git a/{path} ")]
    assert len(found) == 1, [c.splitlines()[0] for c in chunks[1:]]
    return found[0]


def blob(repo, rev_path):
    return git(repo, "rev-parse", rev_path).stdout.strip()


def test_main_patch_is_made_against_the_main_base(checked_out, tmp_path,
                                                  fake_tree):
    with_overlay(checked_out, tmp_path)
    with_doc_change(checked_out, tmp_path)
    base = lib_base(tmp_path)
    p = checked_out("patch", "--target", "main", "--main-base", base, ok=True)
    patch = Path(p.stdout.splitlines()[-1])
    assert patch == checked_out.repo / "dist" / "as_completed-limit-main.patch"
    text = patch.read_text()
    assert "Subject: [PATCH] gh-1: Add limit to as_completed()" in text
    # Lib/: carried onto the main base, against its blob
    assert (f"index {blob(base, 'HEAD:Lib/asyncio/tasks.py')}.."
            in diff_of(text, "Lib/asyncio/tasks.py"))
    # Doc/, which the base does not hold: the diffs against main's text
    main = fake_main(tmp_path, fake_tree)
    for path in "Doc/library/asyncio-task.rst", "Doc/whatsnew/3.16.rst":
        assert (f"index {blob(main, f'HEAD~1:{path}')[:7]}.."
                in diff_of(text, path))
    stat = text[text.index("\n---\n"):text.index("\ndiff --git")]
    assert re.search(r"^ Doc/whatsnew/3.16.rst +\| +6 \+{6}$", stat, re.M)
    # one commit on main, with nothing to merge
    git(main, "am", "-3", "-q", str(patch))
    assert (main / "Lib/asyncio/tasks.py").read_text() == \
        MAIN_HEADER + TASKS_MAIN
    assert (main / "Doc/library/asyncio-task.rst").read_text() == \
        "Title\n\n" + DOC_MAIN_CHANGED
    assert (main / "Doc/whatsnew/3.16.rst").read_text() == \
        "Title\n\n" + WHATSNEW_ADDED.replace(
            "by ...", "by " + SUBMITTER.partition(" <")[0])
    assert (main / NEW).exists()
    assert git(main, "log", "-1", "--format=%an <%ae>").stdout.strip() == \
        SUBMITTER
    # reproducible
    checked_out("patch", "--target", "main", "--main-base", base, ok=True)
    assert patch.read_text() == text


def test_main_line_branch_is_the_change_and_its_overlay(checked_out,
                                                        tmp_path):
    with_overlay(checked_out, tmp_path)
    checked_out("patch", "--target", "main", "--main-base",
                lib_base(tmp_path), ok=True)
    wt = checked_out.wt
    assert git(wt, "log", "--format=%s", "main-line").stdout.splitlines() == [
        "main-line additions", "gh-1: Add limit to as_completed()",
        "CPython 3.13.15 (pristine base)"]
    assert git(wt, "diff", "--name-only", "main", "main-line").stdout.split() \
        == ["Lib/asyncio/tasks.py"]
    assert git(wt, "status", "--porcelain").stdout == ""


def test_change_diff_of_a_file_the_base_lacks_goes_in_as_stored(
        checked_out, tmp_path):
    with_doc_change(checked_out, tmp_path)
    checked_out("patch", "--target", "main", "--main-base",
                lib_base(tmp_path), ok=True)
    text = (checked_out.repo / "dist/as_completed-limit-main.patch"
            ).read_text()
    stored = (checked_out.repo / "Doc/library/asyncio-task.rst.diff"
              ).read_text().splitlines()
    diff = diff_of(text, "Doc/library/asyncio-task.rst").splitlines()
    pristine = blob(checked_out.wt, "main~1:Doc/library/asyncio-task.rst")
    assert diff[1].startswith(f"index {pristine}..")
    assert diff[:1] + diff[2:] == stored[:1] + stored[2:]


def test_apply_to_main_checkout(checked_out, tmp_path, fake_tree):
    with_overlay(checked_out, tmp_path)
    with_doc_change(checked_out, tmp_path)
    d = fake_main(tmp_path, fake_tree)
    head = blob(d, "HEAD")
    checked_out("apply", "--to", d, ok=True)
    assert blob(d, "HEAD~1") == head
    assert (d / "Lib/asyncio/tasks.py").read_text() == MAIN_HEADER + TASKS_MAIN
    assert (d / "Doc/library/asyncio-task.rst").read_text() == \
        "Title\n\n" + DOC_MAIN_CHANGED
    assert "as_completed() has a new *limit*" in \
        (d / "Doc/whatsnew/3.16.rst").read_text()
    assert git(d, "status", "--porcelain").stdout == ""


def test_main_patch_onto_the_base_itself_is_the_base_patch(
        checked_out, tmp_path, fake_tree):
    base = Path(checked_out("patch", ok=True).stdout.splitlines()[-1])
    pristine = target_checkout(tmp_path, fake_tree, "pristine")
    git(pristine, "reset", "-q", "--hard", "HEAD~1")
    main = Path(checked_out("patch", "--target", "main", "--main-base",
                            pristine, ok=True).stdout.splitlines()[-1])
    assert base != main and base.read_text() == main.read_text()


def test_main_patch_needs_a_main_base(checked_out, tmp_path):
    p = checked_out("patch", "--target", "main", ok=False)
    assert "--main-base" in p.stderr
    p = checked_out("patch", "--target", "main", "--main-base",
                    tmp_path / "missing", ok=False)
    assert "not the top of a git repository" in p.stderr
    p = checked_out("patch", "--main-base", lib_base(tmp_path), ok=False)
    assert "--target base takes none" in p.stderr
    assert not (checked_out.repo / "dist").exists()


def test_overlay_without_index_line_is_refused(checked_out, tmp_path):
    with_overlay(checked_out, tmp_path)
    overlay = checked_out.repo / "Tools/carry/main/Doc/whatsnew/3.16.rst.diff"
    overlay.write_text(re.sub(r"(?m)^index .*\n", "", overlay.read_text()))
    p = checked_out("patch", "--target", "main", "--main-base",
                    lib_base(tmp_path), ok=False)
    assert f"{overlay} has no index line" in p.stderr
    assert not (checked_out.repo / "dist").exists()


def test_overlay_that_does_not_apply_names_the_file(checked_out, tmp_path):
    overlay = checked_out.repo / "Tools" / "carry" / "main"
    write(overlay / "Lib/asyncio/tasks.py.diff", git_diff_text(
        tmp_path / "o1", "Lib/asyncio/tasks.py", TASKS_PY_CHANGED,
        TASKS_MAIN).replace("-    return iter(fs)\n", "-    no such line\n"))
    p = checked_out("patch", "--target", "main", "--main-base",
                    lib_base(tmp_path), ok=False)
    assert "does not apply: Lib/asyncio/tasks.py" in p.stderr
    assert not (checked_out.repo / "dist").exists()


def test_main_base_that_conflicts_names_the_file(checked_out, tmp_path):
    base = lib_base(tmp_path)
    write(base / "Lib/asyncio/tasks.py", TASKS_PY.replace(
        "def as_completed(fs, *, timeout=None):",
        "def as_completed(fs, *, timeout=None, buffersize=None):"))
    git(base, "commit", "-qam", "conflicting")
    p = checked_out("patch", "--target", "main", "--main-base", base,
                    ok=False)
    assert "does not apply: Lib/asyncio/tasks.py" in p.stderr
    assert str(base) in p.stderr.splitlines()[-1]
    assert not (checked_out.repo / "dist").exists()


def test_am_of_lib_only_onto_a_lib_repository(checked_out, tmp_path):
    """What Tools/mainline does: carry's patch and `git am -3`, Lib/ only,
    onto a repository of main's Lib/."""
    from carrylib import submit
    from carrylib.common import Config

    with_overlay(checked_out, tmp_path)
    base = lib_base(tmp_path)
    head = blob(base, "HEAD")
    env = {k: v for k, v in checked_out.env.items() if k.startswith("CARRY_")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        new = submit.carry_onto(Config(), base, head, "main",
                                ("T", "t@example.invalid"),
                                include=("Lib/*",), dest=tmp_path / "p")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    assert blob(base, "HEAD~1") == head == blob(base, "HEAD^")
    assert git(base, "diff", "--name-only", head, new).stdout.split() == [
        "Lib/asyncio/tasks.py", NEW]
    assert "Doc/whatsnew/3.16.rst" in (tmp_path / "p").read_text()
