"""Command line: ``python Tools/mainline {chroot,apply,test,backport}``.

Each subcommand is one stage and can be run again at any time: the chroot
is made once and reused, apply is idempotent, test only reads.
"""

import argparse
import sys
import time
from pathlib import Path

from carrylib.common import CarryError, Config
from carrylib.source import apt_entries, debian_entry, os_codename
from mainline import backport, chroot, lib, regrtest
from mainline.errors import MainlineError
from mainline.process import info, run

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / "build" / "mainline" / "sid"


def debian_mirror(etc: Path = Path("/etc")) -> str:
    """The first URI of this machine's Debian entry, as carry reads it."""
    entry = debian_entry(apt_entries(etc), os_codename(etc))
    if entry is None:
        raise MainlineError(f"no Debian entry for this release in "
                            f"{etc / 'apt'}: pass the mirror with --mirror URI")
    return entry["uris"].split()[0].rstrip("/")


def cmd_chroot(args) -> int:
    mirror = args.mirror or debian_mirror()
    chroot.make_chroot(args.root, mirror, rebuild=args.rebuild)
    return 0


def cmd_apply(args) -> int:
    stamp = chroot.require_chroot(args.root)
    info(f"the main patch on CPython {stamp['python_version']}'s "
         f"/{chroot.LIB}")
    for line in lib.apply_change(Config(args.repo), args.root):
        info("  " + line)
    return 0


def require_applied(args) -> None:
    chroot.require_chroot(args.root)
    if lib.applied_inputs(args.root) != lib.inputs_digest(args.repo):
        raise MainlineError(f"{args.root} does not hold the repository's "
                            "current change: run the `apply` subcommand first")


def cmd_test(args) -> int:
    require_applied(args)
    chroot.require_root("running the tests in the chroot")
    new_tests = regrtest.new_tests(args.new_tests)
    return run_in_chroot(args.root, [
        ("all of test_asyncio", regrtest.full_run(args.jobs)),
        ("the new tests, -R 3:3 on the debug build",
         regrtest.refleak_run(new_tests))])


def cmd_backport(args) -> int:
    require_applied(args)
    chroot.require_root("running the backport's tests in the chroot")
    stage_dir = backport.stage(args.repo, args.root, args.dist.resolve())
    return run_in_chroot(args.root, backport.runs(stage_dir))


def run_in_chroot(root, runs) -> int:
    """Run each (title, command) in the chroot, all of them; 1 if one
    failed."""
    results = []
    with chroot.mounted(root):
        for title, command in runs:
            info(f"--- {title}")
            start = time.monotonic()
            status = run(chroot.chroot_command(root, command),
                         check=False, env=chroot.chroot_env())
            results.append((title, status, time.monotonic() - start))
    for title, status, seconds in results:
        verdict = "passed" if status == 0 else f"FAILED (status {status})"
        info(f"{title}: {verdict} in {seconds:.0f} s")
    return 1 if any(status for _, status, _ in results) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python Tools/mainline",
        description="Verify the change on CPython 3.15 from Debian sid's "
                    "binary packages, in a chroot (root only).")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="the chroot (default: %(default)s)")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the repository (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("chroot", help="make the sid chroot with CPython 3.15 "
                       "(once; reused after)")
    p.add_argument("--mirror", help="Debian mirror URI (default: the "
                   "machine's own, from /etc/apt)")
    p.add_argument("--rebuild", action="store_true",
                   help="make it anew even if it is there")
    p.set_defaults(func=cmd_chroot)

    p = sub.add_parser("apply", help="the main patch, made and applied "
                       "by carry (git am -3) on a git repository of the "
                       f"chroot's /{chroot.LIB}, copied into it")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("test", help="all of test_asyncio with warnings as "
                       "errors, then the new tests under -R 3:3 on "
                       "python3.15-dbg")
    p.add_argument("-j", "--jobs", type=int, default=2,
                   help="regrtest workers for test_asyncio (default: 2)")
    p.add_argument("--new-tests", metavar="REGRTEST_ARGS",
                   help="regrtest arguments selecting the new tests "
                   f"(default: {' '.join(regrtest.NEW_TESTS)})")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("backport", help="the backport's wheel in a venv of "
                       "python3.14, of python3.15 with Debian's asyncio and "
                       "of python3.15 with the main patch: the change's "
                       "tests and Tools/properties "
                       "(Tools/backport/venvtest.py)")
    p.add_argument("--dist", type=Path, required=True,
                   help="the directory holding the wheel of Tools/backport")
    p.set_defaults(func=cmd_backport)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.root = args.root.resolve()
    args.repo = args.repo.resolve()
    try:
        return args.func(args)
    except (MainlineError, CarryError, OSError) as e:
        print(f"mainline: error: {e}", file=sys.stderr)
        return 2
