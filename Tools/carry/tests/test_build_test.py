import os
import shutil

from carrylib import build as carry_mod
from conftest import write


def test_missing_header_names_debian_package():
    missing = carry_mod.missing_build_deps(
        tools=[], headers=[("carry_no_such_header_xyz.h", "libxyz-dev"),
                           ("stdio.h", "libc6-dev")])
    assert missing == [("<carry_no_such_header_xyz.h>", "libxyz-dev")]


def test_missing_tools_name_debian_packages(tmp_path):
    empty = tmp_path / "emptybin"
    empty.mkdir()
    missing = dict(carry_mod.missing_build_deps(path=str(empty)))
    assert missing["cc"] == "build-essential"
    assert missing["make"] == "make"
    assert missing["pkg-config"] == "pkg-config"


def test_build_without_compiler_fails_clearly(checked_out, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("git"), bindir / "git")
    p = checked_out("build", env={"PATH": str(bindir), "CC": ""}, ok=False)
    assert "build-essential" in p.stderr
    assert "apt-get install" in p.stderr
    assert not (checked_out.build / "release").exists()


def test_build_needs_checkout(carry):
    if carry_mod.missing_build_deps():
        raise AssertionError("this machine lacks build deps")
    p = carry("build", ok=False)
    assert "run `carry.py checkout` first" in p.stderr


def fake_python(carry, variant="release", status=3):
    py = write(carry.build / variant / "python",
               f"#!/bin/sh\necho ARGS: \"$@\"\nexit {status}\n")
    py.chmod(0o755)
    return py


def test_test_default_runs_all_of_test_asyncio(carry):
    fake_python(carry)
    p = carry("test")
    assert p.returncode == 3  # regrtest's status is passed on
    line = [l for l in p.stdout.splitlines() if l.startswith("ARGS:")][0]
    assert line.split()[1:4] == ["-m", "test", "test_asyncio"]
    assert line.split()[4].startswith("-j")


def test_test_passes_options_through(carry):
    fake_python(carry, "debug", status=0)
    p = carry("test", "--debug", "-m", "test_as_completed*", "-R", "3:3", "-v")
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if l.startswith("ARGS:")][0]
    assert line.split()[1:] == ["-m", "test", "-m", "test_as_completed*",
                                "-R", "3:3", "-v", "test_asyncio",
                                "--timeout=600"]
    p = carry("test", "--debug", "--", "test_asyncio.test_as_completed_limit",
              "--timeout", "5")
    line = [l for l in p.stdout.splitlines() if l.startswith("ARGS:")][0]
    assert line.split()[1:] == ["-m", "test",
                                "test_asyncio.test_as_completed_limit",
                                "--timeout", "5"]


def test_test_without_build(carry):
    p = carry("test", "--freethreading", ok=False)
    assert "carry.py build --freethreading" in p.stderr
