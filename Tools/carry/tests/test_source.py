import json
import subprocess
import time
from pathlib import Path

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


# --------------------------------------------------------------------------
# apt-sources: the deb-src entry, from the machine's own Debian entry

MIRROR = "http://mirror.example.invalid/debian"
DEB822 = f"""\
Types: deb
URIs: {MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {MIRROR}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
OTHER = """\
Types: deb
URIs: https://vendor.example.invalid/apt
Suites: nodistro
Components: main
"""


def fake_etc(root, codename="bookworm", sources=None, one_line=None):
    write(root / "os-release", f'NAME="Debian"\nVERSION_CODENAME={codename}\n')
    write(root / "apt" / "sources.list", one_line or "")
    if sources:
        write(root / "apt" / "sources.list.d" / "debian.sources", sources)
    write(root / "apt" / "sources.list.d" / "other.sources", OTHER)
    return root


def test_apt_sources_from_deb822(carry, tmp_path):
    etc = fake_etc(tmp_path / "etc", sources=DEB822)
    p = carry("apt-sources", "--etc", etc, ok=True)
    assert p.stdout == (f"Types: deb-src\nURIs: {MIRROR}\nSuites: sid forky\n"
                        "Components: main\nSigned-By: "
                        "/usr/share/keyrings/debian-archive-keyring.gpg\n")
    assert not (etc / "apt/sources.list.d/debian-src.sources").exists()
    carry("apt-sources", "--etc", etc, "--write", ok=True)
    assert (etc / "apt/sources.list.d/debian-src.sources").read_text() == \
        p.stdout


def test_apt_sources_from_one_line_sources_list(carry, tmp_path):
    etc = fake_etc(tmp_path / "etc", codename="trixie", one_line=(
        "# a comment\n"
        f"deb [arch=amd64 signed-by=/etc/apt/keyrings/d.gpg] {MIRROR} trixie "
        "main contrib\n"
        f"deb {MIRROR} trixie-updates main\n"))
    p = carry("apt-sources", "--etc", etc, ok=True)
    assert f"URIs: {MIRROR}\n" in p.stdout
    assert "Signed-By: /etc/apt/keyrings/d.gpg\n" in p.stdout
    assert "Types: deb-src\n" in p.stdout and "Suites: sid forky\n" in p.stdout


def test_apt_sources_keeps_an_inline_key(tmp_path):
    from carrylib import source
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP"
    stanza = DEB822.split("\n\n")[0].replace(
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "Signed-By: -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n"
        " -----END PGP")
    etc = fake_etc(tmp_path / "etc", sources=stanza + "\n")
    text = source.deb_src_stanza(etc)
    assert source.parse_deb822(text)[0]["signed-by"] == key
    assert text.endswith("Signed-By: -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                         " .\n mQINBF\n -----END PGP\n")


def test_apt_sources_without_debian_entry(carry, tmp_path):
    etc = fake_etc(tmp_path / "etc", sources=DEB822.replace("Types: deb\n",
                                                           "Types: deb\nEnabled: no\n"))
    p = carry("apt-sources", "--etc", etc, "--write", ok=False)
    assert "no Debian entry of type deb for this release (bookworm)" in p.stderr
    assert not (etc / "apt/sources.list.d/debian-src.sources").exists()


def test_no_mirror_host_in_the_tools():
    repo = Path(__file__).resolve().parents[3]
    spelled = subprocess.run(["git", "grep", "-l", "deb.debian" + ".org", "--",
                              "Tools", ".ci", "tox.ini"],
                             cwd=repo, capture_output=True, text=True)
    assert (spelled.returncode, spelled.stdout) == (1, "")
