import shutil

from conftest import TASKS_PY, TASKS_PY_CHANGED, git, write

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
