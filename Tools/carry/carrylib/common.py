"""What the stages share: configuration, errors, output, git helpers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROG = "carry"
CARRY_DIR = Path(__file__).resolve().parent.parent   # Tools/carry
CHANGE_ROOTS = ("Doc", "Include", "Lib", "Misc", "Modules", "Objects",
                "Python", "Parser")
CACHE_NAME = "cpython-as-completed-limit"
DEFAULT_COMMIT_MESSAGE = "Add limit parameter to asyncio.as_completed()\n"
GIT_OPTS = ["-c", "core.autocrlf=false", "-c", "core.safecrlf=false",
            "-c", "commit.gpgsign=false", "-c", "core.quotepath=false",
            "-c", "gc.auto=0", "-c", "advice.detachedHead=false"]


class CarryError(Exception):
    """An error reported as one line ``carry: error: ...`` (exit 2)."""


def info(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"{PROG}: warning: {msg}", file=sys.stderr, flush=True)


class Config:
    def __init__(self, repo=None, build_dir=None, cache_dir=None):
        repo = repo or os.environ.get("CARRY_REPO") or CARRY_DIR.parent.parent
        self.repo = Path(repo).resolve()
        build_dir = (build_dir or os.environ.get("CARRY_BUILD_DIR")
                     or self.repo / "build")
        self.build = Path(build_dir).resolve()
        if cache_dir or os.environ.get("CARRY_CACHE_DIR"):
            cache = Path(cache_dir or os.environ["CARRY_CACHE_DIR"])
        else:
            xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            cache = Path(xdg) / CACHE_NAME
        self.cache = cache.resolve()
        self.dist = self.repo / "dist"
        self.worktree = self.build / "cpython"
        self.source_record = self.build / "source.json"
        self.main_overlay = self.repo / "Tools" / "carry" / "main"
        base_file = self.repo / "Tools" / "carry" / "base.json"
        if not base_file.is_file():
            base_file = CARRY_DIR / "base.json"
        try:
            self.base = json.loads(base_file.read_text())
        except (OSError, ValueError) as e:
            raise CarryError(f"cannot read the pinned base {base_file}: {e}")
        msg_file = self.repo / "Tools" / "carry" / "commit-message.txt"
        self.commit_message = (msg_file.read_text() if msg_file.is_file()
                               else DEFAULT_COMMIT_MESSAGE)

    @property
    def identity(self):
        """The fixed (name, email) of build/cpython's reproducible commits."""
        m = re.fullmatch(r"(.*?)\s*<(.*)>", self.base["commit_identity"])
        return m.group(1), m.group(2)

    def commit_env(self, author=None):
        """git's environment for a reproducible commit; *author* (name,
        email) replaces the fixed identity as the author."""
        name, email = self.identity
        author_name, author_email = author or (name, email)
        date = self.base["commit_date"]
        return {"GIT_AUTHOR_NAME": author_name,
                "GIT_AUTHOR_EMAIL": author_email,
                "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}


def run(cmd, *, cwd=None, env=None, check=True, input=None, capture=True):
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        p = subprocess.run(cmd, cwd=cwd, env=full_env, input=input,
                           capture_output=capture, text=True)
    except FileNotFoundError:
        raise CarryError(f"command not found: {cmd[0]}")
    if check and p.returncode != 0:
        err = (p.stderr or p.stdout or "").strip().splitlines()
        last = err[-1] if err else f"exit status {p.returncode}"
        raise CarryError(f"{' '.join(map(str, cmd[:3]))} ... failed: {last}")
    return p


def git(repo, *args, env=None, check=True, input=None):
    return run(["git", *GIT_OPTS, *args], cwd=repo, env=env, check=check,
               input=input)


def git_out(repo, *args, env=None):
    return git(repo, *args, env=env).stdout.strip()


def is_git_top(path: Path) -> bool:
    top = run(["git", "rev-parse", "--show-toplevel"], cwd=path, check=False)
    return top.returncode == 0 and Path(top.stdout.strip()).resolve() == path


def read_version(tree: Path) -> str:
    text = (tree / "Include" / "patchlevel.h").read_text(errors="replace")
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', text)
    if not m:
        raise CarryError(f"no PY_VERSION in {tree / 'Include/patchlevel.h'}")
    return m.group(1)


def check_cpython_tree(tree: Path, what: str) -> None:
    missing = [p for p in ("Include/patchlevel.h", "Lib/asyncio")
               if not (tree / p).exists()]
    if missing:
        raise CarryError(f"{what} is not a CPython source tree "
                         f"(missing {', '.join(missing)})")


def write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    path.write_text(text)


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TempIndex:
    """A throw-away git index, so nothing touches the real index/worktree."""

    def __init__(self, repo: Path, copy_from_real=False):
        self.repo = repo
        gitdir = Path(git_out(repo, "rev-parse", "--absolute-git-dir"))
        fd, name = tempfile.mkstemp(prefix="carry-index-", dir=gitdir)
        os.close(fd)
        self.path = Path(name)
        if copy_from_real and (gitdir / "index").is_file():
            shutil.copyfile(gitdir / "index", self.path)
        else:
            self.path.unlink()
        self.env = {"GIT_INDEX_FILE": str(self.path)}

    def git(self, *args, check=True, input=None, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        return git(self.repo, *args, env=e, check=check, input=input)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def commit_tree(cfg: Config, wt: Path, tree: str, parent, message,
                author=None) -> str:
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    return git(wt, *args, input=message,
               env=cfg.commit_env(author)).stdout.strip()
