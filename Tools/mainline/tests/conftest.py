"""Fixtures: a fake repository carrying a change, the fake CPython 3.13.15
sources it was made against (checked out by carry.py in tmp_path), and a
fake chroot with 3.15's Lib/ and dpkg's md5sums."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CARRY = Path(__file__).resolve().parents[2] / "carry" / "carry.py"
TASKS_313 = "".join(f"# 3.13 line {i}\n" for i in range(1, 41)).replace(
    "# 3.13 line 20\n",
    "def as_completed(fs, *, timeout=None):\n    return iter(fs)\n")
TASKS_313_CHANGED = TASKS_313.replace(
    "def as_completed(fs, *, timeout=None):\n",
    "def as_completed(fs, *, timeout=None, limit=None):\n")
# 3.15: the same function, but other lines around it (so that only a
# three-way merge carries the change onto it) and a new line far from it.
TASKS_315 = (TASKS_313.replace("# 3.13 line 18\n", "# 3.15 line 18\n")
             .replace("# 3.13 line 23\n", "# 3.15 line 23\n")
             .replace("# 3.13 line 2\n", "# 3.13 line 2\n# new in 3.15\n"))
TASKS_315_CHANGED = TASKS_315.replace(
    "def as_completed(fs, *, timeout=None):\n",
    "def as_completed(fs, *, timeout=None, limit=None):\n")
NEW_TEST = "import unittest\n\n\nclass T(unittest.TestCase):\n    pass\n"
NEW_TEST_FILE = "test/test_asyncio/test_as_completed_limit.py"
GIT_ENV = {"GIT_AUTHOR_NAME": "T", "GIT_COMMITTER_NAME": "T",
           "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def make_diff(scratch: Path, path: str, old: str, new: str) -> str:
    """``git diff --full-index`` of *path* from *old* to *new*."""
    env = dict(os.environ, **GIT_ENV)

    def git(*args):
        return subprocess.run(["git", *args], cwd=scratch, env=env, check=True,
                              capture_output=True, text=True).stdout

    scratch.mkdir(parents=True, exist_ok=True)
    git("init", "-q")
    write(scratch / path, old)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    write(scratch / path, new)
    return git("diff", "--full-index", "--no-color", "--", path)


class Fake:
    """Paths of one fake setup, and helpers to change it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.repo = tmp / "repo"
        self.base = tmp / "Python-3.13.15"
        self.root = tmp / "root"
        self.lib = self.root / "usr/lib/python3.15"
        self.state = self.root / "var/lib/mainline"
        self.diffs = 0

    def diff(self, path: str, old: str, new: str) -> str:
        self.diffs += 1
        return make_diff(self.tmp / f"diff{self.diffs}", path, old, new)

    def install(self, rel: str, text: str,
                package="libpython3.15-stdlib") -> None:
        """/usr/lib/python3.15/<rel> as Debian installed it, with its
        md5sums line."""
        data = write(self.lib / rel, text).read_bytes()
        md5sums = self.root / f"var/lib/dpkg/info/{package}.md5sums"
        line = (f"{hashlib.md5(data).hexdigest()}  "
                f"usr/lib/python3.15/{rel}\n")
        write(md5sums, (md5sums.read_text() if md5sums.exists() else "")
              + line)

    def carry(self, *args):
        p = subprocess.run([sys.executable, str(CARRY), *map(str, args)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Fake:
    f = Fake(tmp_path)
    write(f.base / "Include/patchlevel.h",
          '#define PY_VERSION "3.13.15"\n')
    write(f.base / "Lib/asyncio/tasks.py", TASKS_313)
    write(f.base / "Lib/test/test_asyncio/__init__.py", "")
    carry_dir = CARRY.parent
    write(f.repo / "Tools/carry/base.json",
          (carry_dir / "base.json").read_text())
    write(f.repo / "Tools/carry/commit-message.txt",
          "gh-1: Add limit to as_completed()\n")
    write(f.repo / "Lib/asyncio/tasks.py.diff",
          f.diff("Lib/asyncio/tasks.py", TASKS_313, TASKS_313_CHANGED))
    write(f.repo / "Lib" / NEW_TEST_FILE, NEW_TEST)
    for name, value in {"CARRY_REPO": f.repo,
                        "CARRY_BUILD_DIR": tmp_path / "build",
                        "CARRY_CACHE_DIR": tmp_path / "cache"}.items():
        monkeypatch.setenv(name, str(value))
    f.carry("source", "--source", f.base)
    f.carry("checkout")
    f.install("asyncio/tasks.py", TASKS_315)
    f.install("test/test_asyncio/__init__.py", "")
    f.install("lib-dynload/_asyncio.so", "binary")
    f.install("config-3.15d-x86_64-linux-gnu/Makefile", "make",
              package="libpython3.15-dbg")
    return f


@pytest.fixture
def ready(fake) -> Fake:
    """The fake chroot, made (as far as the `chroot` stage's stamp goes)."""
    from mainline import chroot

    write(fake.root / chroot.STAMP, json.dumps(
        {"packages": list(chroot.PACKAGES), "python_version": "3.15.2"}))
    return fake
