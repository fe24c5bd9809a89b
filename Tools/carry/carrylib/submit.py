"""Stage 4, submit: the pull request's patch, and applying it to a checkout.

``patch --target base`` is the change as build/cpython holds it, for the
pinned base.  ``patch --target main`` adds the main-line overlay: the
``.diff`` files under Tools/carry/main/, at CPython paths, each to apply on top
of the change.  Those whose file exists in the 3.13 tree (or that create a
file) make a third commit, "main-line additions" (branch ``main-line`` in
build/cpython); the others (files only main has, such as
Doc/whatsnew/3.16.rst) go into the patch text only.  Both targets make one
commit, authored by the submitter's git identity.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .common import (PROG, CarryError, Config, TempIndex, check_cpython_tree,
                     commit_tree, git, git_out, info, is_git_top, run, warn)
from .sync import (apply_stored, change_commit, in_tree, report_failures,
                   require_worktree, stored_change, worktree_base,
                   worktree_commit, worktree_dirty)

PATCH_NAMES = {"base": "as_completed-limit.patch",
               "main": "as_completed-limit-main.patch"}
MAIN_LINE_BRANCH = "refs/heads/main-line"
MAIN_LINE_MESSAGE = "main-line additions\n"


def submitter_identity(where: Path) -> tuple[str, str]:
    """``user.name`` and ``user.email`` as git reads them in *where*."""
    values = [run(["git", "config", key], cwd=where, check=False).stdout.strip()
              for key in ("user.name", "user.email")]
    if not all(values):
        raise CarryError(
            f"no git identity in {where}: set `git config user.name \"Your "
            "Name\"` and `git config user.email you@example.org` (CPython's "
            "CLA check reads the patch's author)")
    return values[0], values[1]


def main_line_commit(cfg: Config, wt: Path, change: str) -> tuple[str, dict]:
    """The change plus the overlay diffs that apply to the 3.13 tree, and
    {path: diff file} of those for files only main has."""
    diffs, new = stored_change(cfg.main_overlay)
    main_only = {}
    for path, f in list(diffs.items()):
        creates = re.search(r"^--- /dev/null$", f.read_text(errors="replace"),
                            re.M)
        if not creates and not in_tree(wt, change, path):
            main_only[path] = diffs.pop(path)
    with TempIndex(wt) as idx:
        idx.git("read-tree", change)
        failed = apply_stored(idx, wt, diffs, new, three_way=True)
        if failed:
            raise report_failures(failed, "the main-line overlay "
                                  "(Tools/carry/main)", wt)
        tree = idx.git("write-tree").stdout.strip()
    commit = commit_tree(cfg, wt, tree, change, MAIN_LINE_MESSAGE)
    git(wt, "update-ref", MAIN_LINE_BRANCH, commit)
    return commit, main_only


def with_main_only(patch: str, main_only: dict, wt: Path) -> str:
    """*patch* with the main-only diffs appended, and its diffstat redone."""
    extra = "".join(f.read_text() for _, f in sorted(main_only.items()))
    head, sep, diffs = patch.partition("\ndiff --git ")
    diffs = sep.lstrip("\n") + diffs + extra
    stat = git(wt, "apply", "--stat", "--summary", "-", input=diffs).stdout
    message, _, _ = head.partition("\n---\n")
    return f"{message}\n---\n{stat}\n{diffs}"


def make_patch(cfg: Config, target: str, author: tuple[str, str]) -> Path:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    commit = change_commit(cfg, wt, base)
    current, _ = worktree_commit(cfg, wt, base)
    if current != commit:
        warn("build/cpython has edits not exported; the patch is made from "
             "the repository (run `carry.py export` first to include them)")
    main_only = {}
    if target == "main":
        commit, main_only = main_line_commit(cfg, wt, commit)
    tree = git_out(wt, "rev-parse", f"{commit}^{{tree}}")
    squashed = commit_tree(cfg, wt, tree, base, cfg.commit_message, author)
    out = git(wt, "format-patch", "-1", "--stdout", "--full-index",
              "--no-signature", "--zero-commit", "--no-renames",
              squashed).stdout
    if main_only:
        out = with_main_only(out, main_only, wt)
    dest = cfg.dist / PATCH_NAMES[target]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(out)
    return dest


def cmd_patch(cfg: Config, args) -> int:
    author = submitter_identity(cfg.repo)
    dest = make_patch(cfg, args.target, author)
    onto = (f"CPython {cfg.base['version']}" if args.target == "base"
            else "CPython main, with `git am -3`")
    info(f"patch by {author[0]} <{author[1]}>, to apply onto {onto}:")
    print(dest)
    return 0


def check_target_checkout(target: Path) -> str:
    """Refuse anything but the top of a clean CPython git checkout; return
    its HEAD."""
    if not target.is_dir():
        raise CarryError(f"--to {target}: no such directory")
    if not is_git_top(target):
        raise CarryError(f"--to {target}: not the top of a git checkout")
    check_cpython_tree(target, f"--to {target}")
    gitdir = Path(git_out(target, "rev-parse", "--absolute-git-dir"))
    for marker in ("rebase-apply", "rebase-merge", "MERGE_HEAD",
                   "CHERRY_PICK_HEAD"):
        if (gitdir / marker).exists():
            raise CarryError(f"--to {target}: a git operation is in progress "
                             f"({marker}): finish or abort it first")
    dirty = worktree_dirty(target)
    if dirty:
        raise CarryError(f"--to {target}: not a clean checkout "
                         f"({', '.join(dirty[:5])}): commit or stash first")
    head = git(target, "rev-parse", "-q", "--verify", "HEAD",
               check=False).stdout.strip()
    if not head:
        raise CarryError(f"--to {target}: has no commits")
    return head


def cmd_apply(cfg: Config, args) -> int:
    target = Path(args.to).expanduser().resolve()
    head = check_target_checkout(target)
    author = submitter_identity(target)
    patch = make_patch(cfg, args.target, author)
    p = git(target, "am", "-3", "--keep-cr", str(patch), check=False)
    if p.returncode == 0:
        new = git_out(target, "rev-parse", "--short", "HEAD")
        info(f"applied the change onto {target} as commit {new}")
        return 0
    text = p.stdout + "\n" + p.stderr
    files = set(git(target, "diff", "--name-only", "--diff-filter=U",
                    check=False).stdout.split())
    files |= set(re.findall(r"Merge conflict in (\S+)", text))
    files |= set(re.findall(r"^error: patch failed: (\S+?):\d+", text, re.M))
    files |= set(re.findall(r"^error: (\S+): (?:does not exist in index|"
                            r"already exists in (?:index|working directory)|"
                            r"patch does not apply)", text, re.M))
    git(target, "am", "--abort", check=False)
    if git_out(target, "rev-parse", "HEAD") != head or worktree_dirty(target):
        git(target, "reset", "-q", "--hard", head)
    for f in sorted(files):
        print(f"{PROG}: conflict: {f}", file=sys.stderr)
    raise CarryError(f"the change does not apply to {target} "
                     f"({', '.join(sorted(files)) or 'see git am output'}); "
                     f"{target} left unchanged at {head[:12]}")
