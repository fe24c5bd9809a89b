"""Running commands: each is shown before it runs."""

import shlex
import subprocess
import sys

from mainline.errors import MainlineError


def info(message: str) -> None:
    print(f"mainline: {message}", flush=True)


def run(command: list[str], *, check: bool = True, **kwargs) -> int:
    """Run *command*, its output going to ours; return its exit status."""
    info("$ " + shlex.join(command))
    try:
        status = subprocess.run(command, **kwargs).returncode
    except OSError as e:
        raise MainlineError(f"cannot run {command[0]}: {e}") from None
    if check and status:
        raise MainlineError(f"{shlex.join(command)} failed with status "
                            f"{status}")
    return status


def output(command: list[str], **kwargs) -> str:
    """The standard output of *command*, which must succeed."""
    try:
        p = subprocess.run(command, capture_output=True, text=True, **kwargs)
    except OSError as e:
        raise MainlineError(f"cannot run {command[0]}: {e}") from None
    if p.returncode:
        sys.stderr.write(p.stderr)
        raise MainlineError(f"{shlex.join(command)} failed with status "
                            f"{p.returncode}")
    return p.stdout
