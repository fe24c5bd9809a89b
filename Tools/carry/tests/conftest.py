"""Fixtures: a small fake CPython tree, a fake repository carrying a change,
and a runner for carry.py with every path (repo, build, cache) in tmp_path."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

CARRY = Path(__file__).resolve().parents[1] / "carry.py"
sys.path.insert(0, str(CARRY.parent))

TASKS_PY = "".join(f"# line {i}\n" for i in range(1, 41)).replace(
    "# line 20\n",
    "def as_completed(fs, *, timeout=None):\n"
    "    return iter(fs)\n")
TASKS_PY_CHANGED = TASKS_PY.replace(
    "def as_completed(fs, *, timeout=None):\n",
    "def as_completed(fs, *, timeout=None, limit=None):\n")
DOC_RST = "".join(f"Paragraph {i}.\n\n" for i in range(1, 21))
NEW_TEST = "import unittest\n\nclass T(unittest.TestCase):\n    pass\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def git(cwd, *args, check=True):
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.invalid")
    p = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True,
                       text=True)
    if check and p.returncode:
        raise AssertionError(f"git {args} failed: {p.stderr}")
    return p


def make_fake_tree(root: Path, version="3.13.15") -> Path:
    write(root / "Include" / "patchlevel.h",
          f'#define PY_MAJOR_VERSION 3\n#define PY_VERSION "{version}"\n')
    write(root / "Lib" / "asyncio" / "__init__.py", "from .tasks import *\n")
    write(root / "Lib" / "asyncio" / "tasks.py", TASKS_PY)
    write(root / "Lib" / "test" / "test_asyncio" / "__init__.py", "")
    write(root / "Doc" / "library" / "asyncio-task.rst", DOC_RST)
    write(root / "Misc" / "NEWS.d" / "next" / "Library" / "README.txt", "news\n")
    write(root / "README.rst", "This is Python version 3.13.15\n")
    conf = write(root / "configure", "#!/bin/sh\nexit 1\n")
    conf.chmod(0o755)
    return root


def git_diff_text(tmp: Path, path: str, before: str, after: str) -> str:
    """A `git diff` (a/ b/ prefixes) of one file, as a developer makes it."""
    d = tmp / "diffmaker"
    d.mkdir(parents=True, exist_ok=True)
    git(d, "init", "-q")
    write(d / path, before)
    git(d, "add", "-A")
    git(d, "commit", "-qm", "before")
    write(d / path, after)
    text = git(d, "diff").stdout
    git(d, "checkout", "-q", "--", path)
    return text


@pytest.fixture
def fake_tree(tmp_path):
    return make_fake_tree(tmp_path / "Python-3.13.15")


@pytest.fixture
def fake_tarball(tmp_path, fake_tree):
    tb = tmp_path / "Python-3.13.15.tar.xz"
    with tarfile.open(tb, "w:xz") as tf:
        tf.add(fake_tree, arcname="Python-3.13.15")
    return tb


@pytest.fixture
def fake_git_checkout(tmp_path):
    d = make_fake_tree(tmp_path / "cpython-main", version="3.14.0a0")
    git(d, "init", "-q")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "main")
    return d


@pytest.fixture
def fake_repo(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "Lib" / "asyncio" / "tasks.py.diff",
          git_diff_text(tmp_path, "Lib/asyncio/tasks.py", TASKS_PY,
                        TASKS_PY_CHANGED))
    write(repo / "Lib" / "test" / "test_asyncio" / "test_as_completed_limit.py",
          NEW_TEST)
    write(repo / "Tools" / "carry" / "commit-message.txt",
          "gh-1: Add limit to as_completed()\n\nBody.\n")
    write(repo / "README.rst", "not part of the change\n")
    return repo


SUBMITTER = "Sub Mitter <sub@example.invalid>"


class Carry:
    def __init__(self, repo, build, cache):
        self.repo, self.build, self.cache = repo, build, cache
        # git reads the submitter's identity from this global config only
        gitconfig = write(build.parent / "gitconfig",
                          "[user]\n\tname = Sub Mitter\n"
                          "\temail = sub@example.invalid\n")
        self.env = dict(os.environ, CARRY_REPO=str(repo),
                        CARRY_BUILD_DIR=str(build), CARRY_CACHE_DIR=str(cache),
                        GIT_CONFIG_GLOBAL=str(gitconfig),
                        GIT_CONFIG_NOSYSTEM="1")
        for k in ("CARRY_APT_GET", "CARRY_APT_CACHE"):
            self.env.pop(k, None)

    @property
    def wt(self):
        return self.build / "cpython"

    def __call__(self, *args, env=None, ok=None):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run([sys.executable, str(CARRY), *map(str, args)],
                           env=e, capture_output=True, text=True)
        if ok is True:
            assert p.returncode == 0, f"{args}: {p.stdout}\n{p.stderr}"
        elif ok is False:
            assert p.returncode == 2, f"{args}: {p.stdout}\n{p.stderr}"
            errors = [l for l in p.stderr.splitlines() if l.startswith("carry: error:")]
            assert len(errors) == 1, p.stderr
        return p


@pytest.fixture
def carry(tmp_path, fake_repo):
    return Carry(fake_repo, tmp_path / "build", tmp_path / "cache")


@pytest.fixture
def checked_out(carry, fake_tarball):
    carry("source", "--source", fake_tarball, ok=True)
    carry("checkout", ok=True)
    return carry


def tree_mtimes(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
