import json
from pathlib import Path

import pytest

from mainline import chroot
from mainline.errors import MainlineError

MOUNTINFO = """\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:5 / /work/my\\040root/proc rw - proc proc rw
31 22 0:6 / /work/my\\040root/dev rw - devtmpfs udev rw
40 22 0:7 / /work/my\\040root2/dev rw - devtmpfs udev rw
"""


def test_mmdebstrap_command():
    command = chroot.mmdebstrap_command(Path("/b/sid.new"), "http://m/debian")
    assert command == [
        "mmdebstrap", "--variant=apt",
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--include=python3.15,libpython3.15-testsuite,python3.15-dbg,"
        "python3.15-venv,python3.14,libpython3.14-testsuite,python3.14-venv",
        "sid", "/b/sid.new", "http://m/debian"]


def test_mounts_proc_dev_and_dev_pts_in_that_order():
    assert [(c[-1], str(p)) for c, p in chroot.mount_commands(Path("/r"))] == [
        ("/r/proc", "/r/proc"), ("/r/dev", "/r/dev"),
        ("/r/dev/pts", "/r/dev/pts")]


def test_mounts_under_reads_escaped_mount_points():
    assert chroot.mounts_under(Path("/work/my root"), MOUNTINFO) == [
        Path("/work/my root/proc"), Path("/work/my root/dev")]
    assert chroot.mounts_under(Path("/work/other"), MOUNTINFO) == []


def test_chroot_env_keeps_nothing_of_the_hosts_python(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/host")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = chroot.chroot_env()
    assert not [k for k in env if k.startswith("PYTHON")]
    assert env["HOME"] == "/root"


class Recorder:
    """Stands in for process.run: records commands, fails those asked."""

    def __init__(self, fail=()):
        self.commands, self.fail = [], fail

    def __call__(self, command, check=True, **kwargs):
        self.commands.append(command)
        if command[0] == "mmdebstrap" and "mmdebstrap" not in self.fail:
            Path(command[-2]).mkdir(parents=True)
        status = 1 if command[0] in self.fail else 0
        if check and status:
            raise MainlineError(f"{command[0]} failed")
        return status


@pytest.fixture
def no_root_needed(monkeypatch):
    monkeypatch.setattr(chroot, "require_root", lambda what: None)
    monkeypatch.setattr(chroot, "ensure_mmdebstrap", lambda: None)
    monkeypatch.setattr(chroot, "output", lambda command, **kw: "3.15.2\n")
    monkeypatch.setattr(chroot, "current_mounts_under", lambda path: [])


def test_make_chroot_then_reuse(tmp_path, monkeypatch, no_root_needed):
    recorder = Recorder()
    monkeypatch.setattr(chroot, "run", recorder)
    root = tmp_path / "sid"
    stamp = chroot.make_chroot(root, "http://m/debian")
    assert stamp["python_version"] == "3.15.2"
    assert json.loads((root / chroot.STAMP).read_text()) == stamp
    assert chroot.require_chroot(root) == stamp
    assert not (tmp_path / "sid.new").exists()
    assert chroot.make_chroot(root, "http://m/debian") == stamp
    assert len(recorder.commands) == 1


def test_failed_rebuild_keeps_the_old_chroot(tmp_path, monkeypatch,
                                             no_root_needed):
    monkeypatch.setattr(chroot, "run", Recorder())
    root = tmp_path / "sid"
    chroot.make_chroot(root, "http://m/debian")
    monkeypatch.setattr(chroot, "run", Recorder(fail=("mmdebstrap",)))
    with pytest.raises(MainlineError):
        chroot.make_chroot(root, "http://m/debian", rebuild=True)
    assert chroot.is_ready(root)


def test_a_stamp_with_other_packages_is_not_ready(tmp_path):
    (tmp_path / chroot.STATE).mkdir(parents=True)
    (tmp_path / chroot.STAMP).write_text('{"packages": ["python3.15"]}')
    assert not chroot.is_ready(tmp_path)
    with pytest.raises(MainlineError, match="run the `chroot` subcommand"):
        chroot.require_chroot(tmp_path)


def test_remove_tree_refuses_while_mounted(tmp_path, monkeypatch):
    monkeypatch.setattr(chroot, "current_mounts_under",
                        lambda path: [path / "proc"])
    with pytest.raises(MainlineError, match="unmount"):
        chroot.remove_tree(tmp_path)
    assert tmp_path.exists()


def test_mounted_unmounts_in_reverse_order_also_on_failure(tmp_path,
                                                           monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(chroot, "run", recorder)
    monkeypatch.setattr(chroot, "current_mounts_under", lambda path: [])
    with pytest.raises(RuntimeError):
        with chroot.mounted(tmp_path):
            raise RuntimeError("tests crashed")
    assert [c[0] for c in recorder.commands] == ["mount"] * 3 + ["umount"] * 3
    assert [c[-1] for c in recorder.commands[3:]] == [
        str(tmp_path / p) for p in ("dev/pts", "dev", "proc")]


def test_mounted_unmounts_what_was_mounted_when_a_mount_fails(tmp_path,
                                                              monkeypatch):
    class FailSecondMount(Recorder):
        def __call__(self, command, check=True, **kwargs):
            if command[:2] == ["mount", "--bind"] and command[2] == "/dev":
                raise MainlineError("mount failed")
            return super().__call__(command, check, **kwargs)

    recorder = FailSecondMount()
    monkeypatch.setattr(chroot, "run", recorder)
    monkeypatch.setattr(chroot, "current_mounts_under", lambda path: [])
    with pytest.raises(MainlineError, match="mount failed"):
        with chroot.mounted(tmp_path):
            pytest.fail("ran with a mount missing")
    assert recorder.commands[-1] == ["umount", str(tmp_path / "proc")]


def test_mounted_refuses_stale_mounts(tmp_path, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(chroot, "run", recorder)
    monkeypatch.setattr(chroot, "current_mounts_under",
                        lambda path: [path / "proc"])
    with pytest.raises(MainlineError, match="already mounted"):
        with chroot.mounted(tmp_path):
            pass
    assert recorder.commands == []
