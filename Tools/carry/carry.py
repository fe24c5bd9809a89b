#!/usr/bin/env python3
"""carry: keep one CPython change out of tree, build and test it.

The repository stores the change to CPython as files under the CPython
"change roots" (Doc, Include, Lib, Misc, Modules, Objects, Python, Parser):
a file that already exists in CPython is stored as ``<path>.diff`` (a
``git diff`` against the pinned base), a new file is stored whole.

Subcommands (one job each), by stage (modules of carrylib/):

  source.py   apt-sources  the deb-src entry for Debian's python3.13 (root)
              source       obtain the CPython source (Debian's python3.13
                           by default, cached)
  sync.py     checkout     build/cpython: pristine base + the change (2 commits)
              export       write edits made in build/cpython back into the
                           repository
              status       does build/cpython agree with the repository?
  build.py    build        out-of-tree build in build/release, build/debug
                           or build/freethreading
              test         regrtest (all of test_asyncio by default)
              patchcheck   CPython's `make patchcheck`, offline
              install      `make altinstall` of build/release into a prefix
  submit.py   patch        the pull request's patch (--target base or main)
              apply        apply it onto a CPython git checkout (3-way merge)

Paths can be overridden with options or the environment:
  --repo / CARRY_REPO            repository root (default: two levels up)
  --build-dir / CARRY_BUILD_DIR  build directory (default: REPO/build)
  --cache-dir / CARRY_CACHE_DIR  download/unpack cache (default:
                                 ${XDG_CACHE_HOME:-~/.cache}/cpython-as-completed-limit)

Stdlib only; Python >= 3.11.
"""

from __future__ import annotations

import argparse
import sys

from carrylib import build, source, submit, sync
from carrylib.common import CACHE_NAME, PROG, CarryError, Config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Keep the asyncio.as_completed(limit=) change out of tree: "
                    "obtain CPython, apply the change, build, test, export, "
                    "and submit.")
    parser.add_argument("--repo", help="repository root (env CARRY_REPO)")
    parser.add_argument("--build-dir", help="build directory (env CARRY_BUILD_DIR; "
                        "default REPO/build)")
    parser.add_argument("--cache-dir", help="cache (env CARRY_CACHE_DIR; default "
                        f"$XDG_CACHE_HOME/{CACHE_NAME})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("apt-sources", help="print the deb-src entry for "
                       "Debian's python3.13, made from this machine's Debian "
                       "entry; --write it (as root)")
    p.add_argument("--write", action="store_true",
                   help=f"write it to /etc/{source.DEB_SRC_FILE}")
    p.add_argument("--etc", default="/etc", metavar="DIR",
                   help="where os-release and apt/ are (default /etc)")
    p.set_defaults(func=source.cmd_apt_sources)

    p = sub.add_parser("source", help="obtain the CPython source (cached)")
    p.add_argument("--source", metavar="PATH",
                   help="release tarball, unpacked CPython tree or git checkout "
                        "(default: Debian's python3.13 source package)")
    p.set_defaults(func=source.cmd_source)

    p = sub.add_parser("checkout", help="create/update build/cpython "
                       "(pristine base + the change)")
    p.set_defaults(func=sync.cmd_checkout)

    def variant_opts(p):
        g = p.add_mutually_exclusive_group()
        g.add_argument("--debug", action="store_true",
                       help="build/debug (--with-pydebug)")
        g.add_argument("--freethreading", action="store_true",
                       help="build/freethreading (--disable-gil)")

    p = sub.add_parser("build", help="out-of-tree build (incremental)")
    variant_opts(p)
    p.set_defaults(func=build.cmd_build)

    p = sub.add_parser(
        "test", help="run regrtest with the built interpreter",
        description="Run `python -m test` with the built interpreter: all of "
                    "test_asyncio by default. Other arguments go to regrtest "
                    "(put them after `--` if in doubt); test_asyncio is added "
                    "when they name no test.")
    variant_opts(p)
    p.add_argument("regrtest_args", nargs="*", metavar="REGRTEST_ARGS")
    p.set_defaults(func=build.cmd_test)

    p = sub.add_parser("patchcheck", help="CPython's `make patchcheck` on the "
                       "change, offline; fails on whitespace or a missing NEWS")
    p.set_defaults(func=build.cmd_patchcheck)

    p = sub.add_parser(
        "install", help="install build/release into a prefix (CPython's "
        "`make altinstall`: bin/python3.13, no python3)",
        description="Install build/release with CPython's `make altinstall` "
                    "into DIR: DIR/bin/python3.13 and its library, no "
                    "python3 or python link. build/release is configured "
                    "again with --prefix=DIR when it was configured for "
                    "another prefix.")
    p.add_argument("--prefix", required=True, metavar="DIR",
                   help="where to install (created if missing)")
    p.set_defaults(func=build.cmd_install)

    p = sub.add_parser("export", help="write build/cpython edits back into "
                       "the repository and amend the change commit")
    p.set_defaults(func=sync.cmd_export)

    p = sub.add_parser("status", help="do build/cpython and the repository "
                       "agree? (exit 0 yes, 1 no)")
    p.set_defaults(func=sync.cmd_status)

    def target_opt(p, default):
        p.add_argument("--target", choices=submit.PATCH_NAMES, default=default,
                       help="base: the change for the pinned base; main: "
                       "plus the main-line overlay in Tools/carry/main "
                       f"(default {default})")

    p = sub.add_parser("patch", help="write the pull request's patch (git "
                       "format-patch, authored by your git identity) and "
                       "print its path")
    target_opt(p, "base")
    p.add_argument("--main-base", metavar="DIR",
                   help="for --target main: a git repository of CPython "
                   "main (or of 3.15's Lib/), whose HEAD's files the patch "
                   "is made against")
    p.set_defaults(func=submit.cmd_patch)

    p = sub.add_parser("apply", help="apply the change onto a clean CPython "
                       "git checkout (3-way merge)")
    p.add_argument("--to", required=True, metavar="DIR")
    target_opt(p, "main")
    p.set_defaults(func=submit.cmd_apply)
    return parser


def parse_args(argv):
    """argparse, except that `test` passes everything unknown to regrtest."""
    parser = build_parser()
    if "test" in argv:
        i = argv.index("test")
        head, tail_ = argv[:i + 1], argv[i + 1:]
        own, rest = [], []
        for j, a in enumerate(tail_):
            if a == "--":
                rest = tail_[j + 1:]
                break
            if a in ("--debug", "--freethreading", "-h", "--help"):
                own.append(a)
                continue
            rest = tail_[j:]
            break
        ns = parser.parse_args(head + own)
        if ns.command == "test":
            ns.regrtest_args = rest
            return ns
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        cfg = Config(args.repo, args.build_dir, args.cache_dir)
        return args.func(cfg, args)
    except CarryError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
