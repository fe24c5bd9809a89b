import pytest

from mainline import chroot, cli, lib, regrtest
from mainline.errors import MainlineError


def main(fake, *args):
    return cli.main(["--root", str(fake.root), "--repo", str(fake.repo),
                     *args])


def test_apply_without_a_chroot_is_a_clear_error(fake, capsys):
    assert main(fake, "apply") == 2
    assert "run the `chroot` subcommand first" in capsys.readouterr().err


def test_apply_then_test_sees_a_stale_change(ready, capsys):
    assert main(ready, "apply") == 0
    assert "Lib/asyncio/tasks.py: the main patch" in capsys.readouterr().out
    assert lib.applied_inputs(ready.root) == lib.inputs_digest(ready.repo)
    (ready.repo / "Lib/test/test_asyncio/test_as_completed_limit.py"
     ).write_text("# edited\n")
    assert main(ready, "test") == 2
    assert "run the `apply` subcommand first" in capsys.readouterr().err


def test_apply_that_does_not_apply_is_a_clear_error(ready, capsys):
    (ready.repo / "Lib/asyncio/tasks.py.diff").write_text(
        (ready.repo / "Lib/asyncio/tasks.py.diff").read_text().replace(
            " # 3.13 line 18", " # 3.13 line 18, edited"))
    assert main(ready, "apply") == 2
    err = capsys.readouterr().err
    assert "mainline: error: " in err and "Lib/asyncio/tasks.py" in err


def test_test_runs_both_runs_and_fails_if_one_fails(ready, monkeypatch,
                                                    capsys):
    fake = ready
    assert main(fake, "apply") == 0
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


def test_backport_stages_and_runs_three_interpreters(ready, monkeypatch,
                                                     tmp_path, capsys):
    from mainline import backport

    fake = ready
    assert main(fake, "apply") == 0
    for rel in backport.STAGED:  # The repository's files venvtest needs.
        write_to = fake.repo / "Tools" / rel
        if "." in rel.rsplit("/", 1)[-1]:
            write_to.parent.mkdir(parents=True, exist_ok=True)
            write_to.write_text("# staged\n")
        else:
            (write_to / "__pycache__").mkdir(parents=True)
            (write_to / "harness.py").write_text("# staged\n")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "as_completed_limit-0.1.0-py3-none-any.whl").write_text("w")
    downloads, commands = [], []
    monkeypatch.setattr(backport, "run", downloads.append)
    monkeypatch.setattr(chroot, "require_root", lambda what: None)
    monkeypatch.setattr(chroot, "current_mounts_under", lambda path: [])
    monkeypatch.setattr(chroot, "run", lambda command, check=True, **kw: 0)
    monkeypatch.setattr(cli, "run", lambda command, check=True, **kw:
                        commands.append(command) or 0)
    assert main(fake, "backport", "--dist", str(dist)) == 0
    stage = fake.root / backport.STAGE
    assert (stage / "backport/tests/harness.py").exists()
    assert not (stage / "backport/tests/__pycache__").exists()
    assert (stage / "dist/as_completed_limit-0.1.0-py3-none-any.whl").exists()
    assert (stage / backport.DEBIAN_ASYNCIO).stat().st_size > 0
    assert [d[d.index("--python-version") + 1] for d in downloads] == [
        "3.14", "3.15"]
    venvtest = "/var/lib/mainline/backport/backport/venvtest.py"
    assert [c[2:4] for c in commands] == [
        ["/usr/bin/python3.14", venvtest], ["/usr/bin/python3.15", venvtest],
        ["/usr/bin/python3.15", venvtest]]
    expects = [c[c.index("--expect") + 1] for c in commands]
    assert expects == ["backport", "backport", "stdlib"]
    assert "--asyncio-archive" in commands[1]
    assert "--asyncio-archive" not in commands[2]
    out = capsys.readouterr().out
    assert "3.15 with the main patch: passed" in out


def test_backport_needs_the_change_applied(ready, tmp_path, capsys):
    assert main(ready, "backport", "--dist", str(tmp_path)) == 2
    assert "run the `apply` subcommand first" in capsys.readouterr().err
