"""The Debian sid chroot holding CPython 3.15: made with mmdebstrap once,
then reused; and the mounts the tests need while they run in it."""

import contextlib
import json
import os
import shutil
from pathlib import Path

from mainline.errors import MainlineError
from mainline.process import info, output, run

SUITE = "sid"
# python3.15-dbg is a --with-pydebug build, for refleak runs (-R 3:3);
# python3.14 and the venv packages, for the backport's tests (venvs).
PACKAGES = ("python3.15", "libpython3.15-testsuite", "python3.15-dbg",
            "python3.15-venv", "python3.14", "libpython3.14-testsuite",
            "python3.14-venv")
PYTHON = "/usr/bin/python3.15"
PYTHON_DEBUG = "/usr/bin/python3.15-dbg"
LIB = Path("usr/lib/python3.15")
# The tool's state inside the chroot, so that it goes with the chroot.
STATE = Path("var/lib/mainline")
STAMP = STATE / "chroot.json"
# sid's Release file may be past its Valid-Until date.
APT_OPTION = 'Acquire::Check-Valid-Until "false"'
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def mmdebstrap_command(target: Path, mirror: str) -> list[str]:
    return ["mmdebstrap", "--variant=apt", f"--aptopt={APT_OPTION}",
            "--include=" + ",".join(PACKAGES), SUITE, str(target), mirror]


def chroot_command(root: Path, command: list[str]) -> list[str]:
    return ["chroot", str(root), *command]


def chroot_env() -> dict[str, str]:
    """A clean environment for commands in the chroot: nothing of the
    host's Python settings (tox's among them) leaks in."""
    return {"PATH": CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8",
            "TERM": os.environ.get("TERM", "dumb")}


def mount_commands(root: Path) -> list[tuple[list[str], Path]]:
    """(command, mount point): /proc, and /dev and /dev/pts from the host
    (without them test_events fails with ENODEV)."""
    return [
        (["mount", "-t", "proc", "proc", str(root / "proc")], root / "proc"),
        (["mount", "--bind", "/dev", str(root / "dev")], root / "dev"),
        (["mount", "--bind", "/dev/pts", str(root / "dev/pts")],
         root / "dev/pts"),
    ]


def unescape_mountinfo(field: str) -> str:
    """Mount points in /proc/self/mountinfo escape space, tab, newline and
    backslash as octal."""
    for code in ("040", "011", "012", "134"):
        field = field.replace("\\" + code, chr(int(code, 8)))
    return field


def mounts_under(path: Path, mountinfo: str) -> list[Path]:
    """The mount points at or below *path*, given /proc/self/mountinfo."""
    path = Path(os.path.abspath(path))
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = Path(unescape_mountinfo(fields[4]))
            if point == path or path in point.parents:
                found.append(point)
    return found


def current_mounts_under(path: Path) -> list[Path]:
    return mounts_under(path, Path("/proc/self/mountinfo").read_text())


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise MainlineError(f"{what} needs root (chroot, mount, mmdebstrap)")


def ensure_mmdebstrap() -> None:
    """Install Debian's mmdebstrap if it is missing."""
    if shutil.which("mmdebstrap"):
        return
    if not shutil.which("apt-get"):
        raise MainlineError("mmdebstrap is missing and there is no apt-get to "
                            "install it with")
    info("mmdebstrap is missing: installing it with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
         "mmdebstrap"], env=env)


def read_stamp(root: Path) -> dict | None:
    try:
        return json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None


def is_ready(root: Path) -> bool:
    """Whether *root* is a complete chroot with the packages wanted now."""
    stamp = read_stamp(root)
    return bool(stamp) and stamp.get("packages") == list(PACKAGES)


def remove_tree(path: Path) -> None:
    """Remove a chroot, refusing while anything is mounted in it (removing
    a bound /dev would remove the host's device nodes)."""
    mounted = current_mounts_under(path)
    if mounted:
        raise MainlineError(
            f"{path} has mounts ({', '.join(map(str, mounted))}); unmount "
            f"them first (umount {' '.join(map(str, reversed(mounted)))})")
    shutil.rmtree(path)


def make_chroot(root: Path, mirror: str, rebuild: bool = False) -> dict:
    """Make the chroot at *root* unless it is there already; return its
    stamp (suite, packages, mirror, CPython version)."""
    if is_ready(root) and not rebuild:
        stamp = read_stamp(root)
        info(f"reusing {root}: CPython {stamp['python_version']} from "
             f"Debian {SUITE} (--rebuild makes it anew)")
        return stamp
    require_root("making the chroot")
    ensure_mmdebstrap()
    fresh = root.with_name(root.name + ".new")
    if fresh.exists():
        remove_tree(fresh)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    run(mmdebstrap_command(fresh, mirror))
    version = output(chroot_command(fresh, [
        PYTHON, "-c", "import platform; print(platform.python_version())"]),
        env=chroot_env()).strip()
    stamp = {"suite": SUITE, "packages": list(PACKAGES), "mirror": mirror,
             "python_version": version}
    (fresh / STATE).mkdir(parents=True, exist_ok=True)
    (fresh / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    if root.exists():
        remove_tree(root)
    fresh.rename(root)
    info(f"made {root}: CPython {version} from Debian {SUITE}")
    return stamp


def require_chroot(root: Path) -> dict:
    if not is_ready(root):
        raise MainlineError(f"no chroot at {root}: run the `chroot` "
                            "subcommand first")
    return read_stamp(root)


@contextlib.contextmanager
def mounted(root: Path):
    """/proc, /dev and /dev/pts mounted in the chroot for the duration;
    always unmounted afterwards, in reverse order."""
    stale = current_mounts_under(root)
    if stale:
        raise MainlineError(
            f"already mounted in {root}: {', '.join(map(str, stale))} "
            f"(another run, or a killed one: umount "
            f"{' '.join(map(str, reversed(stale)))})")
    done = []
    try:
        for command, point in mount_commands(root):
            run(command)
            done.append(point)
        yield
    finally:
        failed = [point for point in reversed(done)
                  if run(["umount", str(point)], check=False)]
        if failed:
            raise MainlineError("could not unmount "
                                + ", ".join(map(str, failed)))
