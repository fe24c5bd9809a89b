import pytest

from mainline import aptsource
from mainline.errors import MainlineError

DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: sid

Types: deb
URIs: http://off.example/debian
Enabled: no
Suites: bookworm

Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
"""


def test_deb822_stanzas_and_continuation_lines():
    stanzas = aptsource.parse_deb822(
        "Types: deb\n# comment\nURIs: http://a.example/debian\n"
        " http://b.example/debian\n\n\nTypes: deb-src\nURIs: x\n")
    assert stanzas == [
        {"types": ["deb"], "uris": ["http://a.example/debian",
                                    "http://b.example/debian"]},
        {"types": ["deb-src"], "uris": ["x"]}]


def test_first_enabled_deb_entry_of_the_debian_archive(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(DEB822)
    assert aptsource.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_one_line_format_with_options(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian sid main\n"
        "deb-src http://src.example/debian sid main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian "
        "bookworm main\n")
    assert aptsource.debian_mirror(tmp_path) == "http://m.example/debian"


def test_disabled_files_are_not_read(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/x.sources.disabled").write_text(DEB822)
    with pytest.raises(MainlineError, match="--mirror"):
        aptsource.debian_mirror(tmp_path)


def test_no_debian_entry_is_a_clear_error(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://archive.ubuntu.example/ubuntu noble main\n")
    with pytest.raises(MainlineError, match="no Debian apt entry"):
        aptsource.debian_mirror(tmp_path)
