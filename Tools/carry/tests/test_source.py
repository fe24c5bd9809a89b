import json
import time

from conftest import git, make_fake_tree, write


def record(carry):
    return json.loads((carry.build / "source.json").read_text())


def test_source_from_tarball(carry, fake_tarball):
    p = carry("source", "--source", fake_tarball, ok=True)
    rec = record(carry)
    assert rec["kind"] == "tarball"
    assert rec["version"] == "3.13.15" and rec["matches_base"] is True
    assert len(rec["sha256"]) == 64
    assert "3.13.15" in p.stdout and "warning" not in p.stderr
    # unpacked into the cache, outside the clone
    tree = carry.cache / "trees"
    assert str(tree) in rec["tree"]
    marker = next(tree.glob("*/.carry-complete"))
    before = marker.stat().st_mtime_ns
    t0 = time.monotonic()
    carry("source", "--source", fake_tarball, ok=True)
    assert time.monotonic() - t0 < 5
    assert marker.stat().st_mtime_ns == before  # not unpacked again


def test_source_from_directory(carry, fake_tree):
    carry("source", "--source", fake_tree, ok=True)
    rec = record(carry)
    assert rec["kind"] == "tree"
    assert rec["tree"] == str(fake_tree)
    assert rec["version"] == "3.13.15"


def test_source_from_git_checkout_reports_other_version(carry, fake_git_checkout):
    p = carry("source", "--source", fake_git_checkout, ok=True)
    rec = record(carry)
    head = git(fake_git_checkout, "rev-parse", "HEAD").stdout.strip()
    assert rec["kind"] == "git" and rec["commit"] == head
    assert rec["version"] == "3.14.0a0" and rec["matches_base"] is False
    assert "3.14.0a0" in p.stderr and "pinned base 3.13.15" in p.stderr


def test_source_missing_path(carry, tmp_path):
    missing = tmp_path / "nope.tar.xz"
    p = carry("source", "--source", missing, ok=False)
    assert str(missing) in p.stderr
    assert not (carry.build / "source.json").exists()


def test_source_not_a_cpython_tree(carry, tmp_path):
    d = tmp_path / "notcpython"
    write(d / "README", "hello\n")
    p = carry("source", "--source", d, ok=False)
    assert "not a CPython source tree" in p.stderr
    assert "Include/patchlevel.h" in p.stderr and "Lib/asyncio" in p.stderr
    assert not (carry.build / "source.json").exists()


def test_source_tarball_without_cpython(carry, tmp_path):
    import tarfile
    d = tmp_path / "x"
    write(d / "hello.txt", "hi\n")
    tb = tmp_path / "x.tar.gz"
    with tarfile.open(tb, "w:gz") as tf:
        tf.add(d, arcname="x")
    p = carry("source", "--source", tb, ok=False)
    assert "not a CPython source tarball" in p.stderr


def test_source_apt_failure_says_what_to_do(carry):
    p = carry("source", env={"CARRY_APT_CACHE": "/nonexistent/apt-cache"},
              ok=False)
    assert "Types: deb-src" in p.stderr
    assert "Suites: sid forky" in p.stderr
    assert "/etc/apt/sources.list.d/debian-src.sources" in p.stderr
    assert "--source" in p.stderr
    assert not (carry.build / "source.json").exists()


def test_source_debian_cached_is_used_without_apt(carry, tmp_path, monkeypatch):
    # A cached Debian orig tarball is used as is: apt is never called.
    from carrylib import source as carry_mod
    import tarfile
    tree = make_fake_tree(tmp_path / "deb" / "Python-3.13.99", version="3.13.99")
    ddir = carry.cache / "debian"
    ddir.mkdir(parents=True)
    with tarfile.open(ddir / "python3.13_3.13.99.orig.tar.xz", "w:xz") as tf:
        tf.add(tree, arcname="Python-3.13.99")
    p = carry("source", env={"CARRY_APT_CACHE": "/nonexistent",
                             "CARRY_APT_GET": "/nonexistent"}, ok=True)
    rec = record(carry)
    assert rec["kind"] == "debian" and rec["version"] == "3.13.99"
    assert "differ" not in p.stdout and "pinned base 3.13.15" in p.stderr
    assert carry_mod.debian_version_key("3.13.18-1") > \
        carry_mod.debian_version_key("3.13.15-1")
    assert carry_mod.debian_version_key("3.13.15-10") > \
        carry_mod.debian_version_key("3.13.15-9")
