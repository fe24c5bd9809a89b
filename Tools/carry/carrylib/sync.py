"""Stage 2, sync: the repository's per-file ``.diff`` storage and the
build/cpython worktree (checkout, export, status).

build/cpython is a git repository with two commits: the pristine base and
the change, both with a fixed author and date.  In the repository a file of
CPython is stored as ``<path>.diff`` (a ``git diff`` against the base), a new
file whole at its CPython path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .common import (CHANGE_ROOTS, PROG, CarryError, Config, TempIndex,
                     commit_tree, git, git_out, info, warn, write_if_changed)

SKIP_NAMES = {"__pycache__", ".DS_Store"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")


def is_skipped(name: str) -> bool:
    return name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES)


# --------------------------------------------------------------------------
# the change in the repository

def stored_change(top: Path) -> tuple[dict, dict]:
    """The change stored under *top*'s change roots, as (diffs, new_files):
    {cpython_path: stored_file}."""
    diffs, new = {}, {}
    for root in CHANGE_ROOTS:
        for dirpath, dirnames, filenames in os.walk(top / root):
            dirnames[:] = sorted(d for d in dirnames if not is_skipped(d))
            for fn in sorted(filenames):
                if is_skipped(fn):
                    continue
                f = Path(dirpath) / fn
                rel = f.relative_to(top).as_posix()
                if fn.endswith(".diff"):
                    diffs[rel[:-len(".diff")]] = f
                else:
                    new[rel] = f
    for path, f in diffs.items():
        targets = set(re.findall(r"^diff --git a/(\S+) b/(\S+)",
                                 f.read_text(errors="replace"), re.M))
        names = {t for pair in targets for t in pair}
        if names != {path}:
            raise CarryError(f"{f} must be a git diff of {path} only (it "
                             f"names {sorted(names) or 'nothing'})")
    return diffs, new


def apply_stored(idx: TempIndex, wt: Path, diffs: dict, new: dict,
                 three_way=False) -> list[tuple[str, str]]:
    """Apply stored diffs and add new files to *idx*; return the failures
    as [(path, why)]."""
    failed = []
    for path, f in sorted(diffs.items()):
        p = idx.git("apply", "--cached", "--whitespace=nowarn",
                    *(["--3way"] if three_way else []), str(f), check=False)
        if p.returncode != 0:
            failed.append((path, (p.stderr.strip().splitlines() or ["?"])[-1]))
    for path, f in sorted(new.items()):
        if idx.git("ls-files", "--", path).stdout.strip():
            failed.append((path, "new file already exists in the base"))
            continue
        blob = git_out(wt, "hash-object", "-w", "--", str(f))
        mode = "100755" if os.access(f, os.X_OK) else "100644"
        idx.git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
    return failed


def report_failures(failed: list[tuple[str, str]], what: str, wt: Path):
    for path, why in failed:
        print(f"{PROG}: does not apply: {path}: {why}", file=sys.stderr)
    return CarryError(f"{what} does not apply in {wt} "
                      f"({', '.join(p for p, _ in failed)}); worktree left "
                      "as it was")


def change_commit(cfg: Config, wt: Path, base: str) -> str:
    """Commit base + the repository's change (without touching the worktree)."""
    diffs, new = stored_change(cfg.repo)
    with TempIndex(wt) as idx:
        idx.git("read-tree", base)
        failed = apply_stored(idx, wt, diffs, new)
        if failed:
            raise report_failures(failed, "the change", wt)
        tree = idx.git("write-tree").stdout.strip()
    return commit_tree(cfg, wt, tree, base, cfg.commit_message)


# --------------------------------------------------------------------------
# checkout

STATE_FILE = "carry-state.json"
# Release tarballs ship no .gitignore: keep build litter out of the change.
EXCLUDES = """\
# written by carry.py: never part of the change
__pycache__/
*.py[cod]
*.orig
*.rej
*~
.DS_Store
/Doc/build/
/Doc/venv/
/Doc/.venv/
/Doc/sphinx-warnings.txt
"""


def ensure_excludes(wt: Path) -> None:
    f = wt / ".git" / "info" / "exclude"
    f.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(f, EXCLUDES)


def load_state(wt: Path) -> dict:
    f = wt / ".git" / STATE_FILE
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return {"bases": {}}


def save_state(wt: Path, state: dict) -> None:
    (wt / ".git" / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def load_source(cfg: Config) -> dict:
    try:
        rec = json.loads(cfg.source_record.read_text())
    except OSError:
        raise CarryError(f"no source recorded in {cfg.source_record}: "
                         "run `carry.py source` first")
    if not Path(rec["tree"]).is_dir():
        raise CarryError(f"the recorded source tree {rec['tree']} is gone: "
                         "run `carry.py source` again")
    return rec


def base_commit(cfg: Config, wt: Path, rec: dict, state: dict) -> str:
    key = rec.get("id")
    known = state["bases"].get(key) if key else None
    if known and git(wt, "cat-file", "-e", f"{known}^{{commit}}",
                     check=False).returncode == 0:
        return known
    tree_dir = Path(rec["tree"])
    info(f"recording the pristine base from {tree_dir} ...")
    with TempIndex(wt) as idx:
        idx.git("--work-tree", str(tree_dir), "add", "-A", "-f", "--", ".",
                ":(exclude,top).carry-complete")
        tree = idx.git("write-tree").stdout.strip()
    origin = rec.get("sha256") and f"sha256 {rec['sha256']}" or \
        rec.get("commit") and f"git commit {rec['commit']}" or rec["origin"]
    msg = (f"CPython {rec['version']} (pristine base)\n\n"
           f"Source: {rec['origin']}\n{origin}\n")
    commit = commit_tree(cfg, wt, tree, None, msg)
    if key:
        state["bases"][key] = commit
    return commit


def worktree_dirty(wt: Path) -> list[str]:
    out = git(wt, "status", "--porcelain", "--untracked-files=normal").stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


def cmd_checkout(cfg: Config, args) -> int:
    rec = load_source(cfg)
    wt = cfg.worktree
    fresh = not (wt / ".git").is_dir()
    if fresh:
        if wt.exists() and any(wt.iterdir()):
            raise CarryError(f"{wt} exists but is not a git repository: "
                             "move it away")
        wt.mkdir(parents=True, exist_ok=True)
        git(wt, "init", "-q")
        git(wt, "symbolic-ref", "HEAD", "refs/heads/main")
    ensure_excludes(wt)
    state = load_state(wt)
    base = base_commit(cfg, wt, rec, state)
    target = change_commit(cfg, wt, base)
    head = git(wt, "rev-parse", "-q", "--verify", "HEAD^{commit}",
               check=False).stdout.strip()
    if head == target:
        dirty = worktree_dirty(wt)
        save_state(wt, {**state, "synced": target})
        if dirty:
            info(f"{wt} is up to date with the repository, and has "
                 f"uncommitted edits ({len(dirty)} paths): run "
                 "`carry.py export` to keep them")
        else:
            info(f"{wt} is up to date ({rec['version']} + change, {target[:12]})")
        return 0
    if head:
        dirty = worktree_dirty(wt)
        if dirty:
            raise CarryError(
                f"{wt} has uncommitted edits ({', '.join(dirty[:5])}"
                f"{' ...' if len(dirty) > 5 else ''}): run `carry.py export` "
                "to keep them, or discard them (git -C build/cpython "
                "reset --hard), then checkout again")
        if state.get("synced") and head != state["synced"]:
            raise CarryError(
                f"{wt} has commits made by hand (HEAD {head[:12]}): run "
                "`carry.py export` to keep them, or discard them, then "
                "checkout again")
    # Two-way switch: only the files that differ between HEAD and target
    # are rewritten, so make does not rebuild the world.
    if head:
        changed = git(wt, "diff", "--name-only", "--no-renames", head,
                      target).stdout.split()
        git(wt, "reset", "-q", "--keep", target)
    else:
        git(wt, "reset", "-q", "--hard", target)
        changed = None
    save_state(wt, {**state, "synced": target})
    if changed is None:
        info(f"created {wt}: CPython {rec['version']} + change ({target[:12]})")
    else:
        info(f"updated {wt}: {len(changed)} file(s) rewritten ({target[:12]})")
        for p in changed[:20]:
            info(f"  {p}")
    return 0


# --------------------------------------------------------------------------
# export / status

def require_worktree(cfg: Config) -> Path:
    wt = cfg.worktree
    if not (wt / ".git").is_dir():
        raise CarryError(f"no worktree at {wt}: run `carry.py checkout` first")
    ensure_excludes(wt)
    return wt


def worktree_base(wt: Path) -> str:
    roots = git_out(wt, "rev-list", "--max-parents=0", "HEAD").split()
    if len(roots) != 1:
        raise CarryError(f"{wt}: expected one root commit (the pristine base)")
    return roots[0]


def present_roots(wt: Path, *commits) -> list[str]:
    roots = set()
    for r in CHANGE_ROOTS:
        if (wt / r).exists():
            roots.add(r)
    for c in commits:
        for name in git_out(wt, "ls-tree", "--name-only", c).splitlines():
            if name in CHANGE_ROOTS:
                roots.add(name)
    return sorted(roots)


def worktree_commit(cfg: Config, wt: Path, base: str) -> tuple[str, list[str]]:
    """Commit base + (worktree state under the change roots).

    Returns the commit and the list of edited paths outside the roots.
    """
    roots = present_roots(wt, "HEAD", base)
    with TempIndex(wt, copy_from_real=True) as idx:
        if roots:
            idx.git("add", "-A", "--", *roots)
        current = idx.git("write-tree").stdout.strip()
    raw = git(wt, "diff-tree", "-r", "--no-renames", "-z", base, current, "--",
              *roots).stdout if roots else ""
    entries = raw.split("\0")
    info_lines = []
    i = 0
    while i + 1 < len(entries):
        meta, path = entries[i], entries[i + 1]
        i += 2
        _, new_mode, _, new_sha, status = meta.lstrip(":").split()
        if status == "D":
            info_lines.append(f"0 {'0' * 40}\t{path}")
        else:
            info_lines.append(f"{new_mode} {new_sha}\t{path}")
    with TempIndex(wt) as idx:
        idx.git("read-tree", base)
        if info_lines:
            idx.git("update-index", "--index-info",
                    input="\n".join(info_lines) + "\n")
        tree = idx.git("write-tree").stdout.strip()
    outside = [p for p in worktree_dirty(wt)
               if p.split("/")[0].strip('"') not in CHANGE_ROOTS]
    return commit_tree(cfg, wt, tree, base, cfg.commit_message), outside


def diff_text(wt: Path, a: str, b: str, path: str) -> str:
    """The exact format of the repository's <path>.diff files."""
    return git(wt, "diff", "--no-color", "--no-ext-diff", "--no-renames",
               "--full-index", "--src-prefix=a/", "--dst-prefix=b/",
               a, b, "--", path).stdout


def changed_paths(wt, a, b) -> list[str]:
    out = git(wt, "diff", "--name-only", "--no-renames", "-z", a, b, "--",
              *CHANGE_ROOTS).stdout
    return [p for p in out.split("\0") if p]


def in_tree(wt, commit, path) -> bool:
    return bool(git_out(wt, "ls-tree", commit, "--", path))


def cmd_export(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    current, outside = worktree_commit(cfg, wt, base)
    repo_commit = change_commit(cfg, wt, base)
    paths = changed_paths(wt, repo_commit, current)
    written, removed = [], []
    for path in paths:
        # What the repository stores for path: a diff for a file of the
        # base, the whole file for a new one; None when path no longer
        # differs from the base.
        if in_tree(wt, base, path):
            dest = cfg.repo / (path + ".diff")
            data = diff_text(wt, base, current, path).encode() or None
        else:
            dest = cfg.repo / path
            data = None
            if in_tree(wt, current, path):
                data = subprocess.run(
                    ["git", "cat-file", "blob", f"{current}:{path}"], cwd=wt,
                    capture_output=True, check=True).stdout
        if data is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written.append(dest)
        elif dest.exists():
            dest.unlink()
            removed.append(dest)
    for d in removed:
        # prune now-empty directories inside the change roots
        parent = d.parent
        while parent != cfg.repo and parent.name not in ("",) and \
                parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    check = change_commit(cfg, wt, base)
    if check != current:
        raise CarryError("internal error: exported change does not reproduce "
                         "the worktree (please report)")
    git(wt, "reset", "-q", current)  # amend: HEAD = base + change, files untouched
    state = load_state(wt)
    save_state(wt, {**state, "synced": current})
    for f in written:
        info(f"wrote   {f.relative_to(cfg.repo)}")
    for f in removed:
        info(f"removed {f.relative_to(cfg.repo)}")
    if not written and not removed:
        info("nothing to export: the repository already has the change")
    info(f"change commit is now {current[:12]}")
    if outside:
        warn("edits outside the change roots are not exported: "
             + ", ".join(outside[:10]))
    return 0


def cmd_status(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    current, outside = worktree_commit(cfg, wt, base)
    repo_commit = change_commit(cfg, wt, base)
    head = git_out(wt, "rev-parse", "HEAD")
    paths = changed_paths(wt, repo_commit, current)
    if outside:
        warn("edits outside the change roots (ignored): " + ", ".join(outside[:10]))
    if not paths:
        info(f"in sync: {wt} and the repository agree")
        return 0
    edited = set(changed_paths(wt, head, current))
    print(f"{PROG}: {wt} and the repository differ:")
    for p in paths:
        where = ("edited in build/cpython: run export" if p in edited
                 else "changed in the repository: run checkout")
        print(f"  {p}  ({where})")
    return 1
