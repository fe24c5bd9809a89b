"""The backport's wheel on the chroot's CPythons: 3.14, and 3.15 both with
Debian's asyncio and with the main patch (which makes as_completed_limit
the stdlib's function there).

Tools/backport/venvtest.py runs inside the chroot with each interpreter:
what it needs is staged in var/lib/mainline/backport, at the same paths
relative to each other as in the repository, with hypothesis's wheels for
3.14 and 3.15, downloaded here: the chroot reaches no index itself (it
lacks the host's certificates, and needs none).
"""

import shutil
import sys
from pathlib import Path

from carrylib.common import git
from mainline.chroot import PYTHON, STATE
from mainline.errors import MainlineError
from mainline.lib import BRANCH, REPO
from mainline.process import run

STAGE = STATE / "backport"
PYTHON_314 = "/usr/bin/python3.14"
VERSIONS = ("3.14", "3.15")
# What venvtest.py needs, from the repository's Tools/.
STAGED = ("backport/venvtest.py", "backport/tests",
          "properties/test_as_completed_limit_properties.py")
DEBIAN_ASYNCIO = "asyncio-debian.tar"


def stage(repo: Path, root: Path, dist: Path) -> Path:
    """Copy venvtest.py, the tests, *dist* (the wheel's directory) and
    Debian's asyncio (a ``git archive`` of the branch of the chroot's Lib/
    repository that holds Debian's files) into the chroot; the stage, as
    the chroot sees it."""
    if not dist.is_dir():
        raise MainlineError(f"{dist}: no such directory (python -m build "
                            "--outdir DIST Tools/backport)")
    lib_repo = root / REPO
    if not lib_repo.is_dir():
        raise MainlineError(f"no {lib_repo}: run the `apply` subcommand "
                            "first")
    dest = root / STAGE
    if dest.exists():
        shutil.rmtree(dest)
    for rel in STAGED:
        src, target = repo / "Tools" / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, target)
    shutil.copytree(dist, dest / "dist")
    for version in VERSIONS:
        run([sys.executable, "-m", "pip", "download", "-q",
             "--only-binary=:all:", "--implementation", "cp",
             "--python-version", version, "-d", str(dest / "wheels"),
             "hypothesis"])
    git(lib_repo, "archive", "-o", str(dest / DEBIAN_ASYNCIO), BRANCH,
        "Lib/asyncio")
    return Path("/") / STAGE


def runs(stage_dir: Path) -> list[tuple[str, list[str]]]:
    """(title, command in the chroot) of each venvtest run."""
    def venvtest(python, work, expect, *more):
        return [python, str(stage_dir / "backport/venvtest.py"), python,
                "--dist", str(stage_dir / "dist"),
                "--find-links", str(stage_dir / "wheels"),
                "--work", str(stage_dir / "work" / work),
                "--expect", expect, *more]
    return [
        ("3.14", venvtest(PYTHON_314, "3.14", "backport")),
        ("3.15, Debian's asyncio", venvtest(
            PYTHON, "3.15", "backport",
            "--asyncio-archive", str(stage_dir / DEBIAN_ASYNCIO))),
        ("3.15 with the main patch", venvtest(
            PYTHON, "3.15-main", "stdlib")),
    ]
