import json

import pytest

from mainline import apply, chroot, cli, regrtest
from mainline.errors import MainlineError


def make_ready(fake):
    (fake.root / chroot.STATE).mkdir(parents=True, exist_ok=True)
    (fake.root / chroot.STAMP).write_text(json.dumps(
        {"packages": list(chroot.PACKAGES), "python_version": "3.15.2"}))


def main(fake, *args):
    return cli.main(["--root", str(fake.root), "--repo", str(fake.repo),
                     *args])


def test_apply_without_a_chroot_is_a_clear_error(fake, capsys):
    assert main(fake, "apply") == 2
    assert "run the `chroot` subcommand first" in capsys.readouterr().err


def test_apply_merges_onto_the_base_carry_recorded(fake, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv("CARRY_BUILD_DIR", str(tmp_path / "carry"))
    assert cli.carry_base_tree(fake.repo) is None
    record = tmp_path / "carry" / "source.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"tree": "/src/main", "matches_base": False}))
    assert cli.carry_base_tree(fake.repo) is None
    record.write_text(json.dumps({"tree": str(fake.base),
                                  "matches_base": True}))
    assert cli.carry_base_tree(fake.repo) == fake.base
    make_ready(fake)
    assert main(fake, "apply") == 0


def test_apply_then_test_sees_a_stale_change(fake, capsys):
    make_ready(fake)
    assert main(fake, "apply", "--base-tree", str(fake.base)) == 0
    assert apply.applied_inputs(fake.state) == apply.inputs_digest(fake.repo)
    (fake.repo / "Lib/test/test_asyncio/test_as_completed_limit.py"
     ).write_text("# edited\n")
    capsys.readouterr()
    assert main(fake, "test") == 2
    assert "run the `apply` subcommand first" in capsys.readouterr().err


def test_test_runs_both_runs_and_fails_if_one_fails(fake, monkeypatch,
                                                    capsys):
    make_ready(fake)
    assert main(fake, "apply", "--base-tree", str(fake.base)) == 0
    commands = []

    def fake_run(command, check=True, **kwargs):
        commands.append(command)
        return 2 if "-R" in command else 0

    monkeypatch.setattr(chroot, "require_root", lambda what: None)
    monkeypatch.setattr(chroot, "current_mounts_under", lambda path: [])
    monkeypatch.setattr(chroot, "run", lambda command, check=True, **kw: 0)
    monkeypatch.setattr(cli, "run", fake_run)
    assert main(fake, "test", "-j", "1") == 1
    assert [c[:3] for c in commands] == [
        ["chroot", str(fake.root), "/usr/bin/python3.15"],
        ["chroot", str(fake.root), "/usr/bin/python3.15-dbg"]]
    assert "-j1" in commands[0]
    assert commands[1][-6:] == regrtest.NEW_TESTS
    out = capsys.readouterr().out
    assert "all of test_asyncio: passed" in out
    assert "-R 3:3 on the debug build: FAILED (status 2)" in out


def test_mirror_is_the_machines_debian_entry(tmp_path):
    (tmp_path / "apt" / "sources.list.d").mkdir(parents=True)
    (tmp_path / "os-release").write_text("VERSION_CODENAME=bookworm\n")
    (tmp_path / "apt" / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert cli.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_no_debian_entry_is_a_clear_error(tmp_path):
    (tmp_path / "apt").mkdir()
    (tmp_path / "os-release").write_text("VERSION_CODENAME=bookworm\n")
    with pytest.raises(MainlineError, match="--mirror"):
        cli.debian_mirror(tmp_path)
