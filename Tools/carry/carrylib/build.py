"""Stage 3, build: configure and make out of tree, run regrtest, run
CPython's ``make patchcheck``, install with CPython's ``make altinstall``.

The build dependencies come from Debian (``apt-get build-dep``, see
Tools/carry/README.rst); before configuring, ``build`` checks the few that
configure cannot do without and names the Debian package of each missing one.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import (PROG, CarryError, Config, cpu_count, git, git_out, info,
                     read_version, run, warn)
from .sync import require_worktree, worktree_base

VARIANTS = {
    "release": [],
    "debug": ["--with-pydebug"],
    "freethreading": ["--disable-gil"],
}
# What a build cannot do without, and the Debian package that provides it.
# (program, Debian package)
BUILD_TOOLS = [("cc", "build-essential"), ("make", "make"),
               ("pkg-config", "pkg-config")]
# (header, Debian package)
BUILD_HEADERS = [("openssl/ssl.h", "libssl-dev"), ("zlib.h", "zlib1g-dev"),
                 ("ffi.h", "libffi-dev")]


def missing_build_deps(tools=BUILD_TOOLS, headers=BUILD_HEADERS, path=None):
    """Return [(what, debian_package)] for each missing build dependency."""
    missing = []
    cc = (os.environ.get("CC") or "cc").split()
    have_cc = shutil.which(cc[0], path=path) is not None
    for prog, pkg in tools:
        name = cc[0] if prog == "cc" else prog
        if shutil.which(name, path=path) is None:
            missing.append((name, pkg))
    if not have_cc:
        if headers:
            print(f"{PROG}: note: C headers are checked once a C compiler is "
                  "installed", file=sys.stderr)
        return missing
    with tempfile.TemporaryDirectory(prefix="carry-deps-") as tmp:
        for header, pkg in headers:
            src = Path(tmp) / "t.c"
            src.write_text(f"#include <{header}>\n")
            env = dict(os.environ)
            if path is not None:
                env["PATH"] = path
            p = subprocess.run([*cc, "-fsyntax-only", "-c", str(src)],
                               capture_output=True, env=env)
            if p.returncode != 0:
                missing.append((f"<{header}>", pkg))
    return missing


def check_build_deps():
    missing = missing_build_deps()
    if missing:
        for what, pkg in missing:
            print(f"{PROG}: missing {what}: install the Debian package {pkg}",
                  file=sys.stderr)
        pkgs = " ".join(sorted({p for _, p in missing}))
        raise CarryError(f"missing build dependencies: apt-get install {pkgs} "
                         "(all of CPython's: see \"Build dependencies\" in "
                         "Tools/carry/README.rst)")


def variant_of(args) -> str:
    if getattr(args, "debug", False):
        return "debug"
    if getattr(args, "freethreading", False):
        return "freethreading"
    return "release"


def tail(path: Path, n=40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def log_header(log: Path, what: str) -> None:
    with open(log, "a") as logf:
        logf.write(f"\n===== carry {what} {time.ctime()} =====\n")


def run_logged(cmd: list[str], bdir: Path, log: Path, what: str) -> None:
    """Run *cmd* in *bdir*, its output appended to *log*; on failure show
    the log's tail and raise."""
    with open(log, "a") as logf:
        p = subprocess.run(cmd, cwd=bdir, stdout=logf,
                           stderr=subprocess.STDOUT)
    if p.returncode != 0:
        print(tail(log), file=sys.stderr)
        raise CarryError(f"{what} failed (exit {p.returncode}); "
                         f"full log: {log}")


def cmd_build(cfg: Config, args) -> int:
    check_build_deps()
    wt = require_worktree(cfg)
    variant = variant_of(args)
    bdir = cfg.build / variant
    bdir.mkdir(parents=True, exist_ok=True)
    log = bdir / "build.log"
    makefile = bdir / "Makefile"
    configure = wt / "configure"
    t0 = time.monotonic()
    log_header(log, f"build {variant}")
    if not makefile.exists() or configure.stat().st_mtime > makefile.stat().st_mtime:
        cmd = [str(configure), *VARIANTS[variant]]
        extra = os.environ.get("CARRY_CONFIGURE_ARGS", "").split()
        cmd += extra
        info(f"configure {' '.join(cmd[1:]) or '(no options)'} in {bdir} "
             f"(log: {log})")
        run_logged(cmd, bdir, log, "configure")
    jobs = cpu_count()
    info(f"make -j{jobs} in {bdir} (log: {log})")
    run_logged(["make", f"-j{jobs}"], bdir, log, "make")
    python = bdir / "python"
    if not python.exists():
        raise CarryError(f"make succeeded but {python} is missing; see {log}")
    info(f"build {variant} done in {time.monotonic() - t0:.1f}s")
    print(f"interpreter: {python}")
    return 0


# regrtest options that take a value (so their value is not a test name)
REGRTEST_VALUE_OPTS = {"-m", "--match", "-i", "--ignore", "-R", "--huntrleaks",
                       "-j", "--multiprocess", "-u", "--use", "-M", "--memlimit",
                       "--timeout", "-f", "--fromfile", "--junit-xml",
                       "--matchfile", "--ignorefile", "--tempdir", "--testdir",
                       "-p", "--python", "--randseed"}


# A test that hangs fails after this long instead of holding the run (and
# CI) forever; regrtest's own default is no limit.
REGRTEST_TIMEOUT = "--timeout=600"


def regrtest_command(python: Path, extra: list[str]) -> list[str]:
    timeout = ([] if any(a.startswith("--timeout") for a in extra)
               else [REGRTEST_TIMEOUT])
    if not extra:
        return [str(python), "-m", "test", "test_asyncio", f"-j{cpu_count()}",
                *timeout]
    has_test = False
    skip = False
    for a in extra:
        if skip:
            skip = False
            continue
        if a in REGRTEST_VALUE_OPTS:
            skip = True
        elif not a.startswith("-"):
            has_test = True
    args = list(extra)
    if not has_test:
        args.append("test_asyncio")
    return [str(python), "-m", "test", *args, *timeout]


UPSTREAM_URL = "https://github.com/python/cpython"
# Lines of patchcheck's report and the endings that mean "nothing to fix".
PATCHCHECK_CLEAN = {
    "Fixing Python file whitespace": "... 0 files",
    "Fixing C file whitespace": "... 0 files",
    "Fixing docs whitespace": "... 0 files",
    "Misc/NEWS.d updated with `blurb`": "... yes",
}


def patchcheck_problems(report: str) -> list[str]:
    """The lines of a patchcheck report that must be fixed before a PR."""
    return [line for line in report.splitlines()
            for check, clean in PATCHCHECK_CLEAN.items()
            if line.startswith(check) and not line.endswith(clean)]


def cmd_patchcheck(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    bdir = cfg.build / "release"
    if not (bdir / "python").exists():
        raise CarryError(f"no interpreter in {bdir}: run `carry.py build` first")
    # patchcheck diffs against upstream/<major.minor> of the remote whose URL
    # names python/cpython, and never fetches: point that ref at the base.
    if "upstream" not in git_out(wt, "remote").split():
        git(wt, "remote", "add", "upstream", UPSTREAM_URL)
    branch = ".".join(read_version(wt).split(".")[:2])
    git(wt, "update-ref", f"refs/remotes/upstream/{branch}", worktree_base(wt))
    p = subprocess.run(["make", "patchcheck"], cwd=bdir, capture_output=True,
                       text=True)
    report = p.stdout[p.stdout.find("Getting base branch"):]
    print(report, end="")
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr, end="")
        raise CarryError(f"make patchcheck failed (exit {p.returncode})")
    problems = patchcheck_problems(report)
    for problem in problems:
        warn(f"patchcheck: {problem}")
    return 1 if problems else 0


def cmd_test(cfg: Config, args) -> int:
    variant = variant_of(args)
    bdir = cfg.build / variant
    python = bdir / "python"
    if not python.exists():
        flag = "" if variant == "release" else f" --{variant}"
        raise CarryError(f"no interpreter at {python}: run `carry.py build{flag}` first")
    cmd = regrtest_command(python, args.regrtest_args)
    info("running " + " ".join(cmd))
    sys.stdout.flush()
    return subprocess.run(cmd, cwd=bdir).returncode


# The directories under the prefix that `make altinstall` writes to.
INSTALL_DIRS = ("bin", "include", "lib", "share")
# Prefixes whose files the system's package manager owns.
SYSTEM_PREFIXES = (Path("/"), Path("/usr"))


def makefile_var(makefile: Path, name: str) -> str | None:
    """The value of ``NAME=`` in a configured Makefile, None without one."""
    try:
        text = makefile.read_text(errors="replace")
    except OSError:
        return None
    m = re.search(rf"^{name}=[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    return m.group(1) if m else None


def check_writable(path: Path) -> None:
    """Raise unless *path* is a directory we can write to, or can be made."""
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        if existing == path:
            raise CarryError(f"{path} is not a directory")
        raise CarryError(f"cannot create {path}: {existing} is not a "
                         "directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing} is not)"
        raise CarryError(f"{path} is not writable{where}: choose a --prefix "
                         "you can write to")


def check_prefix(prefix: Path, bdir: Path, version: str) -> None:
    """Raise unless `make altinstall` from *bdir* can install into *prefix*
    and would replace no Python but one installed from *bdir*."""
    if prefix in SYSTEM_PREFIXES:
        raise CarryError(f"{prefix} belongs to the system's package manager: "
                         "use /usr/local or a directory of your own")
    if any(c.isspace() for c in str(prefix)):
        raise CarryError(f"the prefix {str(prefix)!r} has whitespace, which "
                         "CPython's Makefile cannot install into")
    for path in (prefix, *(prefix / d for d in INSTALL_DIRS)):
        check_writable(path)
    python = prefix / "bin" / f"python{version}"
    if not os.path.lexists(python):
        return
    # libainstall copies the build's Makefile to LIBPL, which is
    # lib/pythonX.Y/config-X.Y-<multiarch> for a release build.
    libpl = f"lib/python{version}/config-{version}-*"
    builddirs = {makefile_var(m, "abs_builddir")
                 for m in prefix.glob(f"{libpl}/Makefile")}
    if str(bdir) not in builddirs:
        raise CarryError(f"{python} exists and was not installed from {bdir}: "
                         "`make altinstall` would replace it; choose another "
                         "--prefix or remove that Python")


def cmd_install(cfg: Config, args) -> int:
    bdir = cfg.build / "release"
    if not (bdir / "python").exists():
        raise CarryError(f"no build in {bdir}: run `carry.py build` (or "
                         "`tox -e build`) first")
    wt = require_worktree(cfg)
    version = ".".join(read_version(wt).split(".")[:2])
    prefix = Path(os.path.abspath(args.prefix))
    check_prefix(prefix, bdir, version)
    log = bdir / "build.log"
    t0 = time.monotonic()
    log_header(log, f"install --prefix {prefix}")
    # configure fixes the prefix: after `make altinstall prefix=DIR` alone,
    # sysconfig's variables (INCLUDEPY, LIBPL, ...) would still name
    # configure's prefix.  So configure again with --prefix=DIR and the
    # build's other arguments as config.status recorded them.
    if makefile_var(bdir / "Makefile", "prefix") != str(prefix):
        recorded = run(["./config.status", "--config"], cwd=bdir).stdout
        cmd = [str(wt / "configure"),
               *[a for a in shlex.split(recorded)
                 if not a.startswith("--prefix=")],
               f"--prefix={prefix}"]
        info(f"configure {' '.join(cmd[1:])} in {bdir} (log: {log})")
        run_logged(cmd, bdir, log, "configure")
    jobs = cpu_count()
    info(f"make -j{jobs} in {bdir} (log: {log})")
    run_logged(["make", f"-j{jobs}"], bdir, log, "make")
    info(f"make altinstall in {bdir} (log: {log})")
    run_logged(["make", "altinstall"], bdir, log, "make altinstall")
    info(f"install done in {time.monotonic() - t0:.1f}s")
    print(f"interpreter: {prefix / 'bin' / f'python{version}'}")
    return 0
