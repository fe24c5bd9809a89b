"""Fixtures: a fake repository carrying a change, the fake CPython 3.13.15
sources it was made against, and a fake chroot with 3.15's Lib/ and dpkg's
md5sums."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

TASKS_313 = "".join(f"# 3.13 line {i}\n" for i in range(1, 41)).replace(
    "# 3.13 line 20\n",
    "def as_completed(fs, *, timeout=None):\n    return iter(fs)\n")
TASKS_313_CHANGED = TASKS_313.replace(
    "def as_completed(fs, *, timeout=None):\n",
    "def as_completed(fs, *, timeout=None, limit=None):\n")
# 3.15: the same function, but other lines around it (so the plain patch
# does not apply) and a new line far from it (which the merge keeps).
TASKS_315 = (TASKS_313.replace("# 3.13 line 18\n", "# 3.15 line 18\n")
             .replace("# 3.13 line 23\n", "# 3.15 line 23\n")
             .replace("# 3.13 line 2\n", "# 3.13 line 2\n# new in 3.15\n"))
NEW_TEST = "import unittest\n\n\nclass T(unittest.TestCase):\n    pass\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def make_diff(scratch: Path, rel: str, old: str, new: str) -> str:
    """``git diff --full-index`` of Lib/<rel> from *old* to *new*."""
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_COMMITTER_NAME="T",
               GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_EMAIL="t@example.invalid")

    def git(*args):
        return subprocess.run(["git", *args], cwd=scratch, env=env, check=True,
                              capture_output=True, text=True).stdout

    scratch.mkdir(parents=True, exist_ok=True)
    git("init", "-q")
    write(scratch / "Lib" / rel, old)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    write(scratch / "Lib" / rel, new)
    return git("diff", "--full-index", "--no-color", "--", f"Lib/{rel}")


class Fake:
    """Paths of one fake setup, and helpers to change it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.repo = tmp / "repo"
        self.base = tmp / "base"
        self.root = tmp / "root"
        self.lib = self.root / "usr/lib/python3.15"
        self.state = self.root / "var/lib/mainline"
        self.diffs = 0

    def diff(self, rel: str, old: str, new: str) -> str:
        self.diffs += 1
        return make_diff(self.tmp / f"diff{self.diffs}", rel, old, new)

    def install(self, rel: str, text: str) -> None:
        """Lib/<rel> as Debian installed it, with its md5sums line."""
        data = write(self.lib / rel, text).read_bytes()
        md5sums = self.root / "var/lib/dpkg/info/libpython3.15-stdlib.md5sums"
        line = (f"{hashlib.md5(data).hexdigest()}  "
                f"usr/lib/python3.15/{rel}\n")
        write(md5sums, (md5sums.read_text() if md5sums.exists() else "")
              + line)


@pytest.fixture
def fake(tmp_path) -> Fake:
    f = Fake(tmp_path)
    write(f.base / "Lib/asyncio/tasks.py", TASKS_313)
    write(f.repo / "Tools/carry/base.json",
          '{"orig_tarball": "python3.13_3.13.15.orig.tar.xz", '
          '"sha256": "1e66a7945a48390ee4c2a4268a0e4185884059a1"}\n')
    write(f.repo / "Lib/asyncio/tasks.py.diff",
          f.diff("asyncio/tasks.py", TASKS_313, TASKS_313_CHANGED))
    write(f.repo / "Lib/test/test_asyncio/test_as_completed_limit.py",
          NEW_TEST)
    f.install("asyncio/tasks.py", TASKS_315)
    f.install("test/test_asyncio/test_tasks.py", "# 3.15 test_tasks\n")
    return f
