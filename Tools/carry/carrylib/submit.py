"""Stage 4, submit: the pull request's patch, and applying it to a checkout.

``patch --target base`` is the change as build/cpython holds it, for the
pinned base.  ``patch --target main`` is the change carried onto a *main
base*: the HEAD of a git repository of CPython main (or 3.15), of which the
patch takes the files it touches, so that every diff of the patch is made
against a blob of that repository.

The main-line overlay, Tools/carry/main/, holds ``.diff`` files at CPython
paths; each says by its ``index`` line what it applies to:

* a diff of the change's own text of a file (or one that creates a file)
  goes on top of the change: with it, the change becomes the commit
  "main-line additions" (branch ``main-line`` in build/cpython);
* any other diff is against main's text of its file and takes the place of
  the change's diff of that file.

The main patch is then made in a throw-away index holding the main base's
files: each file of the main line that the main base holds is carried onto
it with a three-way merge (``git apply --3way``), a new file is added, and a
diff against main's text is applied.  Where the main base does not hold the
file (Doc/ when the base is a Lib/ tree), the diff goes into the patch as it
is stored.  Both targets make one commit, authored by the submitter's git
identity.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .common import (PROG, CarryError, Config, TempIndex, check_cpython_tree,
                     commit_tree, git, git_out, info, is_git_top, run, warn)
from .sync import (apply_stored, change_commit, diff_text, report_failures,
                   require_worktree, stored_change, worktree_base,
                   worktree_commit, worktree_dirty)

PATCH_NAMES = {"base": "as_completed-limit.patch",
               "main": "as_completed-limit-main.patch"}
MAIN_LINE_BRANCH = "refs/heads/main-line"
MAIN_LINE_MESSAGE = "main-line additions\n"
INDEX_LINE = re.compile(r"^index ([0-9a-f]{7,40})\.\.[0-9a-f]{7,40}", re.M)


CREDIT_PLACEHOLDER = "(Contributed by ... in"


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


# --------------------------------------------------------------------------
# the main line: the change, the overlay, the main base

def preimage(f: Path) -> str:
    """The blob id an overlay diff was made against (its ``index`` line)."""
    m = INDEX_LINE.search(f.read_text(errors="replace"))
    if not m:
        raise CarryError(f"{f} has no index line: make it with `git diff "
                         "--full-index`, against the text it applies to")
    return m.group(1)


def split_overlay(cfg: Config, wt: Path,
                  change: str) -> tuple[dict, dict, dict]:
    """The overlay as (diffs on top of the change, diffs against main's
    text, new files): {cpython_path: stored_file}."""
    diffs, new = stored_change(cfg.main_overlay)
    on_change, on_main = {}, {}
    for path, f in diffs.items():
        pre = preimage(f)
        ours = git(wt, "rev-parse", "-q", "--verify", f"{change}:{path}",
                   check=False).stdout.strip()
        if not pre.strip("0") or ours.startswith(pre):
            on_change[path] = f
        else:
            on_main[path] = f
    return on_change, on_main, new


def main_line_commit(cfg: Config, wt: Path, change: str, diffs: dict,
                     new: dict) -> str:
    """The change plus the overlay diffs made on top of it (branch
    main-line)."""
    with TempIndex(wt) as idx:
        idx.git("read-tree", change)
        failed = apply_stored(idx, wt, diffs, new, three_way=True)
        if failed:
            raise report_failures(failed, "the main-line overlay "
                                  "(Tools/carry/main)", wt)
        tree = idx.git("write-tree").stdout.strip()
    commit = commit_tree(cfg, wt, tree, change, MAIN_LINE_MESSAGE)
    git(wt, "update-ref", MAIN_LINE_BRANCH, commit)
    return commit


class MainBase:
    """The HEAD of a git repository of CPython main (or of 3.15's Lib/)."""

    def __init__(self, where: Path):
        where = Path(where).expanduser().resolve()
        if not where.is_dir() or not is_git_top(where):
            raise CarryError(f"main base {where}: not the top of a git "
                             "repository")
        head = git(where, "rev-parse", "-q", "--verify", "HEAD^{commit}",
                   check=False).stdout.strip()
        if not head:
            raise CarryError(f"main base {where}: has no commits")
        self.where, self.head = where, head

    def files(self, paths) -> dict[str, tuple[str, str]]:
        """{path: (mode, blob)} of those of *paths* HEAD holds."""
        out = git(self.where, "ls-tree", "-z", self.head, "--",
                  *sorted(paths)).stdout if paths else ""
        found = {}
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode, kind, blob = meta.split()
            if kind == "blob":
                found[path] = (mode, blob)
        return found

    def copy_to(self, wt: Path, blob: str) -> bool:
        """Copy *blob* into *wt*'s objects; whether this repository has
        it."""
        p = subprocess.run(["git", "cat-file", "blob", blob], cwd=self.where,
                           capture_output=True)
        if p.returncode != 0:
            return False
        subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=wt,
                       input=p.stdout, capture_output=True, check=True)
        return True


def main_patch_tree(cfg: Config, wt: Path, base: str, change: str,
                    main_base: MainBase) -> tuple[str, str, list[str]]:
    """The main line carried onto *main_base*: (the commit of the main
    base's files it touches, its tree with the main line, the stored diffs
    that go into the patch as they are)."""
    on_change, on_main, new = split_overlay(cfg, wt, change)
    line = main_line_commit(cfg, wt, change, on_change, new)
    status = {}
    out = git(wt, "diff", "--name-status", "--no-renames", "-z", base,
              line).stdout.split("\0")
    for kind, path in zip(out[::2], out[1::2]):
        status[path] = kind
    held = main_base.files(set(status) | set(on_main))
    with TempIndex(wt) as idx:
        for path, (mode, blob) in sorted(held.items()):
            main_base.copy_to(wt, blob)
            idx.git("update-index", "--add", "--cacheinfo",
                    f"{mode},{blob},{path}")
        parent_tree = idx.git("write-tree").stdout.strip()
    parent = commit_tree(
        cfg, wt, parent_tree, None,
        f"main base: the files of {main_base.where} at {main_base.head} "
        "that the change touches\n")
    as_stored, failed = [], []
    with TempIndex(wt) as idx:
        idx.git("read-tree", parent_tree)
        for path in sorted(set(status) | set(on_main)):
            if path in on_main:
                diff = on_main[path].read_text()
                # for the three-way merge, where the base has moved on
                main_base.copy_to(wt, preimage(on_main[path]))
            else:
                diff = diff_text(wt, base, line, path)
            if path not in held and status.get(path) != "A":
                as_stored.append(diff)
                continue
            p = idx.git("apply", "--cached", "--3way", "--whitespace=nowarn",
                        "-", input=diff, check=False)
            if p.returncode != 0:
                failed.append((path, (p.stderr.strip().splitlines()
                                      or ["?"])[-1]))
        if failed:
            for path, why in failed:
                print(f"{PROG}: does not apply: {path}: {why}",
                      file=sys.stderr)
            raise CarryError(
                f"the change does not apply to the files of "
                f"{main_base.where} at {main_base.head[:12]} "
                f"({', '.join(p for p, _ in failed)}); nothing written")
        tree = idx.git("write-tree").stdout.strip()
    return parent, tree, as_stored


def with_stored_diffs(patch: str, diffs: list[str], wt: Path) -> str:
    """*patch* with *diffs* appended, and its diffstat redone."""
    head, sep, own = patch.partition("\ndiff --git ")
    body = (sep.lstrip("\n") + own if sep else "") + "".join(diffs)
    stat = git(wt, "apply", "--stat", "--summary", "-", input=body).stdout
    message, _, _ = head.partition("\n---\n")
    return f"{message}\n---\n{stat}\n{body}"


def make_patch(cfg: Config, target: str, author: tuple[str, str],
               main_base: Path | None = None,
               dest: Path | None = None) -> Path:
    """Write the patch of *target* to *dest* (default dist/) and return
    its path; ``main`` is carried onto the HEAD of the *main_base*
    repository."""
    if (target == "main") != (main_base is not None):
        raise CarryError("--target main needs --main-base DIR (a git "
                         "repository of CPython main or 3.15) and --target "
                         "base takes none")
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    commit = change_commit(cfg, wt, base)
    current, _ = worktree_commit(cfg, wt, base)
    if current != commit:
        warn("build/cpython has edits not exported; the patch is made from "
             "the repository (run `carry.py export` first to include them)")
    parent, as_stored = base, []
    tree = git_out(wt, "rev-parse", f"{commit}^{{tree}}")
    if target == "main":
        parent, tree, as_stored = main_patch_tree(
            cfg, wt, base, commit, MainBase(main_base))
    squashed = commit_tree(cfg, wt, tree, parent, cfg.commit_message, author)
    out = git(wt, "format-patch", "-1", "--stdout", "--full-index",
              "--no-signature", "--zero-commit", "--no-renames",
              squashed).stdout
    if as_stored:
        out = with_stored_diffs(out, as_stored, wt)
    # What's New credits the submitter, as the commit does.
    out = out.replace(CREDIT_PLACEHOLDER, f"(Contributed by {author[0]} in")
    dest = dest or cfg.dist / PATCH_NAMES[target]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(out)
    return dest


def cmd_patch(cfg: Config, args) -> int:
    author = submitter_identity(cfg.repo)
    dest = make_patch(cfg, args.target, author, args.main_base)
    onto = (f"CPython {cfg.base['version']}" if args.target == "base"
            else f"CPython main, with `git am -3` (made against the files of "
            f"{Path(args.main_base).resolve()} at HEAD)")
    info(f"patch by {author[0]} <{author[1]}>, to apply onto {onto}:")
    print(dest)
    return 0


# --------------------------------------------------------------------------
# apply

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


def am(target: Path, patch: Path, head: str, include=()) -> str:
    """``git am -3`` *patch* onto *target* (at *head*, clean), only the
    paths matching *include* if given; return the new HEAD.  On a conflict
    *target* is left at *head* and the error names the files."""
    p = git(target, "am", "-3", "--keep-cr",
            *(f"--include={pattern}" for pattern in include), str(patch),
            check=False)
    if p.returncode == 0:
        return git_out(target, "rev-parse", "HEAD")
    text = p.stdout + "\n" + p.stderr
    files = set(git(target, "diff", "--name-only", "--diff-filter=U",
                    check=False).stdout.split())
    files |= set(re.findall(r"Merge conflict in (\S+)", text))
    files |= set(re.findall(r"^error: patch failed: (\S+?):\d+", text, re.M))
    files |= set(re.findall(r"^error: (\S+): (?:does not exist in index|"
                            r"already exists in (?:index|working directory)|"
                            r"patch does not apply)", text, re.M))
    files |= set(re.findall(r"^error: sha1 information is lacking or "
                            r"useless \((\S+)\)", text, re.M))
    git(target, "am", "--abort", check=False)
    if git_out(target, "rev-parse", "HEAD") != head or worktree_dirty(target):
        git(target, "reset", "-q", "--hard", head)
    for f in sorted(files):
        print(f"{PROG}: conflict: {f}", file=sys.stderr)
    raise CarryError(f"the change does not apply to {target} "
                     f"({', '.join(sorted(files)) or 'see git am output'}); "
                     f"{target} left unchanged at {head[:12]}")


def carry_onto(cfg: Config, target: Path, head: str, kind: str,
               author: tuple[str, str], include=(),
               dest: Path | None = None) -> str:
    """The patch of *kind* (``main``: made against *target* itself) applied
    onto the clean git checkout *target* at *head*; the new HEAD."""
    patch = make_patch(cfg, kind, author,
                       target if kind == "main" else None, dest)
    return am(target, patch, head, include)


def cmd_apply(cfg: Config, args) -> int:
    target = Path(args.to).expanduser().resolve()
    head = check_target_checkout(target)
    author = submitter_identity(target)
    new = carry_onto(cfg, target, head, args.target, author)
    info(f"applied the change onto {target} as commit {new[:12]}")
    return 0
