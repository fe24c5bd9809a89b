"""Test the backport's wheel with one interpreter: ``python
Tools/backport/venvtest.py PYTHON --dist DIST --work DIR --expect
{backport,stdlib} [--asyncio-archive TAR]``.

In a fresh venv of PYTHON in DIR: install the wheel in DIST (as ``python -m
build`` writes it) and hypothesis, check which ``as_completed`` the package
gives, then run the change's tests (``tests/``, warnings as errors) and
``Tools/properties`` against it.

--asyncio-archive: a ``git archive`` holding ``Lib/asyncio``, put ahead on
PYTHONPATH: the interpreter's asyncio as released, for a build that
carries the change.  --find-links: install hypothesis from these wheels
only, without an index.  Stdlib only, run by PYTHON's own version too (in
the mainline chroot).
"""

import argparse
import os
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE / "tests"
PROPERTIES = (HERE.parent / "properties"
              / "test_as_completed_limit_properties.py")
# Which module the package's as_completed() comes from.
MODULES = {"backport": "as_completed_limit._tasks", "stdlib": "asyncio.tasks"}
WHICH = ("import asyncio, as_completed_limit, sys; "
         "print(sys.version.split()[0], asyncio.__file__, "
         "as_completed_limit.as_completed.__module__)")


class VenvTestError(Exception):
    """Reported as one line ``venvtest: error: ...`` (exit 2)."""


def run(command, **kwargs):
    print("venvtest: $ " + " ".join(map(str, command)), flush=True)
    return subprocess.run(list(map(str, command)), **kwargs)


def make_venv(python: Path, work: Path) -> Path:
    venv = work / "venv"
    if run([python, "-m", "venv", "--clear", venv]).returncode:
        raise VenvTestError(f"{python} -m venv failed (Debian: install "
                            "pythonX.Y-venv)")
    return venv / "bin" / "python"


def find_wheel(dist: Path) -> Path:
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise VenvTestError(f"{dist} holds {len(wheels)} wheels, not one "
                            "(python -m build --outdir DIST Tools/backport)")
    return wheels[0]


def released_asyncio(archive: Path, work: Path) -> Path:
    """The directory to put on PYTHONPATH for the archive's asyncio."""
    dest = work / "released"
    # A trusted archive; extraction filters exist from 3.11.4 (not 3.11.2).
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(archive) as tar:
        tar.extractall(dest, **safe)
    if not (dest / "Lib" / "asyncio" / "__init__.py").is_file():
        raise VenvTestError(f"{archive} holds no Lib/asyncio")
    return dest / "Lib"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python Tools/backport/venvtest.py",
        description="Install the backport's wheel in a fresh venv of PYTHON "
                    "and run the change's tests and Tools/properties there.")
    parser.add_argument("python", type=Path, help="the interpreter")
    parser.add_argument("--dist", type=Path, required=True,
                        help="the directory holding the wheel")
    parser.add_argument("--work", type=Path, required=True,
                        help="a directory for the venv (made anew)")
    parser.add_argument("--expect", choices=MODULES, required=True,
                        help="which as_completed() the package must give")
    parser.add_argument("--asyncio-archive", type=Path, metavar="TAR",
                        help="git archive with Lib/asyncio to import first")
    parser.add_argument("--find-links", type=Path, metavar="DIR",
                        help="install from these wheels, without an index")
    args = parser.parse_args(argv)
    try:
        for path in (args.python, args.dist, args.asyncio_archive,
                     args.find_links):
            if path and not path.exists():
                raise VenvTestError(f"{path}: no such file or directory")
        wheel = find_wheel(args.dist)
        args.work.mkdir(parents=True, exist_ok=True)
        python = make_venv(args.python, args.work)
        if run([python, "-c", "import test.test_asyncio.utils"]).returncode:
            raise VenvTestError(f"{args.python} lacks CPython's test package "
                                "(Debian: install libpythonX.Y-testsuite)")
        env = dict(os.environ, PROPERTIES_AS_COMPLETED="as_completed_limit")
        if args.asyncio_archive:
            env["PYTHONPATH"] = str(released_asyncio(args.asyncio_archive,
                                                     args.work))
        # The newest hypothesis with a wheel: 3.13t has no native one.
        index = (["--no-index", "--find-links", args.find_links]
                 if args.find_links else [])
        if run([python, "-m", "pip", "install", "-q", "--prefer-binary",
                *index, wheel, "hypothesis"], env=env).returncode:
            raise VenvTestError(f"pip install of {wheel} failed")
        which = run([python, "-c", WHICH], env=env, capture_output=True,
                    text=True)
        print(which.stdout + which.stderr, end="")
        if which.returncode or which.stdout.split()[-1:] != [
                MODULES[args.expect]]:
            raise VenvTestError("as_completed_limit.as_completed is not the "
                                f"{args.expect}'s ({MODULES[args.expect]})")
        tests = ["test_as_completed_limit", "test_as_completed",
                 "test_package"]
        version = tuple(map(int, which.stdout.split()[0].split(".")[:2]))
        if version >= (3, 14):  # The call graph is new in 3.14.
            tests.append("test_as_completed_limit_graph")
        failed = [name for name, command, cwd in (
            ("the change's tests", [python, "-W", "error", "-m", "unittest",
                                    "-v", *tests], TESTS),
            ("Tools/properties", [python, PROPERTIES], HERE))
            if run(command, cwd=cwd, env=env).returncode]
        if failed:
            raise VenvTestError(" and ".join(failed) + " failed")
    except (VenvTestError, OSError, tarfile.TarError) as e:
        print(f"venvtest: error: {e}", file=sys.stderr)
        return 2
    print(f"venvtest: {args.python} ({args.expect}'s as_completed): passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
