"""carry.py install: `make altinstall` of build/release into a prefix, and
the errors it gives, before any long step, for a bad prefix or no build."""

import os
from pathlib import Path

import pytest

from carrylib import build as carry_mod
from carrylib.common import CarryError, cpu_count
from conftest import write

# configure records its arguments and writes the Makefile of that prefix;
# make records its arguments.  Both run in build/release.
FAKE_CONFIGURE = """#!/bin/sh
for a in "$@"; do echo "$a"; done > configure.args
for a in "$@"; do case "$a" in --prefix=*) p="${a#--prefix=}";; esac; done
printf 'prefix=\\t%s\\nabs_builddir=\\t%s\\n' "$p" "$(pwd -P)" > Makefile
"""
FAKE_MAKE = """#!/bin/sh
echo "$@" >> make.args
"""
FAKE_CONFIG_STATUS = """#!/bin/sh
test "$1" = --config && echo "'--with-lto' 'CFLAGS=-O1 -g' '--prefix=/opt/old'"
"""


def script(path: Path, text: str) -> Path:
    write(path, text).chmod(0o755)
    return path


@pytest.fixture
def built(checked_out, tmp_path):
    """A checkout and a fake build/release configured for /usr/local, with
    a fake make first on PATH."""
    bdir = (checked_out.build / "release").resolve()
    script(bdir / "python", "#!/bin/sh\nexit 0\n")
    script(bdir / "config.status", FAKE_CONFIG_STATUS)
    write(bdir / "Makefile",
          f"prefix=\t\t/usr/local\nabs_builddir=\t{bdir}\n")
    script(checked_out.wt / "configure", FAKE_CONFIGURE)
    script(tmp_path / "fakebin" / "make", FAKE_MAKE)
    checked_out.env["PATH"] = f"{tmp_path / 'fakebin'}:{os.environ['PATH']}"
    checked_out.bdir = bdir
    return checked_out


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_install_configures_for_the_prefix_then_altinstalls(built, tmp_path):
    prefix = tmp_path / "opt" / "py"
    p = built("install", "--prefix", prefix, ok=True)
    assert lines(built.bdir / "configure.args") == [
        "--with-lto", "CFLAGS=-O1 -g", f"--prefix={prefix}"]
    assert lines(built.bdir / "make.args") == [f"-j{cpu_count()}",
                                              "altinstall"]
    assert p.stdout.splitlines()[-1] == \
        f"interpreter: {prefix / 'bin' / 'python3.13'}"


def test_install_again_into_the_same_prefix_does_not_configure(built,
                                                               tmp_path):
    prefix = tmp_path / "py"
    built("install", "--prefix", prefix, ok=True)
    (built.bdir / "configure.args").unlink()
    built("install", "--prefix", prefix, ok=True)
    assert not (built.bdir / "configure.args").exists()
    assert lines(built.bdir / "make.args")[2:] == [f"-j{cpu_count()}",
                                                  "altinstall"]


def test_install_without_build(checked_out, tmp_path):
    prefix = tmp_path / "py"
    p = checked_out("install", "--prefix", prefix, ok=False)
    assert "no build in" in p.stderr
    assert "run `carry.py build` (or `tox -e build`) first" in p.stderr
    assert not prefix.exists()


def test_install_needs_a_prefix(built):
    p = built("install")
    assert p.returncode == 2
    assert "--prefix" in p.stderr


@pytest.mark.parametrize("name, message", [
    ("file/py", "cannot create {prefix}: {file} is not a directory"),
    ("file", "{file} is not a directory"),
    ("with space", "has whitespace"),
])
def test_install_refuses_a_bad_prefix(built, tmp_path, name, message):
    file = write(tmp_path / "file", "")
    prefix = tmp_path / name
    p = built("install", "--prefix", prefix, ok=False)
    assert message.format(prefix=prefix, file=file) in p.stderr
    assert not (built.bdir / "configure.args").exists()
    assert not (built.bdir / "make.args").exists()
    assert not prefix.exists() or prefix == file


@pytest.mark.parametrize("prefix", ["/usr", "/"])
def test_install_refuses_the_system_prefix(built, prefix):
    p = built("install", "--prefix", prefix, ok=False)
    assert "belongs to the system's package manager" in p.stderr
    assert not (built.bdir / "make.args").exists()


def test_unwritable_prefix_is_refused(tmp_path, monkeypatch):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(carry_mod.os, "access", lambda path, mode:
                        Path(path) != readonly and real_access(path, mode))
    prefix = readonly / "opt" / "py"
    with pytest.raises(CarryError) as e:
        carry_mod.check_prefix(prefix, tmp_path / "build", "3.13")
    assert str(e.value) == (f"{prefix} is not writable ({readonly} is not): "
                            "choose a --prefix you can write to")
    assert not prefix.exists()
    with pytest.raises(CarryError, match="^.*/ro is not writable: "):
        carry_mod.check_prefix(readonly, tmp_path / "build", "3.13")


def test_unwritable_subdirectory_is_refused(tmp_path, monkeypatch):
    prefix = tmp_path / "py"
    (prefix / "lib").mkdir(parents=True)
    real_access = os.access
    monkeypatch.setattr(carry_mod.os, "access", lambda path, mode:
                        Path(path) != prefix / "lib"
                        and real_access(path, mode))
    with pytest.raises(CarryError, match=f"^{prefix}/lib is not writable"):
        carry_mod.check_prefix(prefix, tmp_path / "build", "3.13")


def another_python(prefix: Path, abs_builddir=None) -> Path:
    python = script(prefix / "bin" / "python3.13", "#!/bin/sh\n")
    if abs_builddir:
        write(prefix / "lib" / "python3.13" / "config-3.13-x86_64-linux-gnu"
              / "Makefile",
              f"prefix=\t{prefix}\nabs_builddir=\t{abs_builddir}\n")
    return python


@pytest.mark.parametrize("abs_builddir", [None, "/elsewhere/build/release"])
def test_install_does_not_replace_another_python(built, tmp_path,
                                                 abs_builddir):
    prefix = tmp_path / "py"
    python = another_python(prefix, abs_builddir)
    p = built("install", "--prefix", prefix, ok=False)
    assert (f"{python} exists and was not installed from {built.bdir}"
            in p.stderr)
    assert not (built.bdir / "make.args").exists()


def test_install_replaces_a_python_installed_from_this_build(built, tmp_path):
    prefix = tmp_path / "py"
    another_python(prefix, built.bdir)
    built("install", "--prefix", prefix, ok=True)
    assert lines(built.bdir / "make.args")[-1] == "altinstall"
