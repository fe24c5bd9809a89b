"""The main patch on the chroot's Lib/ (/usr/lib/python3.15).

The chroot's Lib/ is kept as a git repository, var/lib/mainline/lib in the
chroot: 3.15's files as Debian installed them (each checked against dpkg's
md5sums) at Lib/<path>, on the branch ``debian``, made once.  ``apply``
resets it to that commit and runs carry's ``apply`` on it: the main patch
made against it and applied with ``git am -3``, the operation a submitter
runs on a main clone (here for Lib/ only: the repository has no Doc/).  The
files the patch changed are then copied into /usr/lib/python3.15, and those
an earlier run changed and this one does not go back to Debian's text.
"""

import hashlib
import json
import shutil
from pathlib import Path

from carrylib import submit
from carrylib.common import Config, git, git_out
from carrylib.sync import stored_change
from mainline.chroot import LIB, STATE
from mainline.errors import MainlineError

REPO = STATE / "lib"
APPLIED = STATE / "applied.json"
PATCH = STATE / "as_completed-limit-main.patch"
BRANCH = "debian"
# The author and committer of the patch applied in the chroot (carry's
# `patch` takes the submitter's git identity, which CI does not have).
IDENTITY = ("mainline test", "mainline@example.invalid")
# Build output installed beside Lib/, not part of CPython's Lib/.
NOT_LIB = ("lib-dynload/", "config-")
DPKG_INFO = Path("var/lib/dpkg/info")


def debian_files(root: Path) -> dict[str, str]:
    """{path under Lib/: md5} of the files dpkg installed there."""
    prefix = LIB.as_posix() + "/"
    files = {}
    for listing in sorted((root / DPKG_INFO).glob("*.md5sums")):
        for line in listing.read_text().splitlines():
            md5, _, path = line.partition("  ")
            rel = path.removeprefix(prefix)
            if rel != path and not rel.startswith(NOT_LIB):
                files[rel] = md5
    return files


def make_repo(cfg: Config, root: Path) -> None:
    """The repository of the chroot's Lib/ as Debian installed it."""
    repo = root / REPO
    fresh = repo.with_name(repo.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    files = debian_files(root)
    if not files:
        raise MainlineError(f"dpkg lists no file under /{LIB} in {root}")
    for rel, md5 in sorted(files.items()):
        data = (root / LIB / rel).read_bytes()
        if hashlib.md5(data).hexdigest() != md5:
            raise MainlineError(f"/{LIB / rel} is not as Debian installed it: "
                                "make the chroot anew (chroot --rebuild)")
        dest = fresh / "Lib" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    git(fresh, "init", "-q")
    git(fresh, "symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
    for key, value in zip(("user.name", "user.email"), IDENTITY):
        git(fresh, "config", key, value)
    git(fresh, "add", "-A", "-f")
    git(fresh, "commit", "-q", "--no-verify", "-m",
        "Lib/ as Debian installed it (checked against dpkg's md5sums)",
        env=cfg.commit_env(IDENTITY))
    fresh.rename(repo)


def reset_repo(repo: Path) -> str:
    """The repository back at Debian's files; that commit."""
    if (Path(git_out(repo, "rev-parse", "--absolute-git-dir"))
            / "rebase-apply").exists():
        git(repo, "am", "--abort")
    git(repo, "checkout", "-q", "-f", "--detach", BRANCH)
    git(repo, "clean", "-q", "-f", "-d", "-x")
    return git_out(repo, "rev-parse", "HEAD")


def inputs_digest(repo: Path) -> str:
    """A digest of the stored change and overlay, to tell whether the
    chroot holds the repository's current change."""
    h = hashlib.sha256()
    for top in (repo, repo / "Tools/carry/main"):
        diffs, new = stored_change(top)
        for path, f in sorted([*diffs.items(), *new.items()]):
            h.update(f"{f.relative_to(repo)}\0".encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def applied_inputs(root: Path) -> str | None:
    """The inputs digest of the change last applied in full, if any."""
    try:
        return json.loads((root / APPLIED).read_text())["inputs"]
    except (OSError, ValueError, KeyError):
        return None


def copy_file(src: Path, dest: Path) -> bool:
    """Make *dest* hold *src*'s bytes (absent if *src* is); whether it
    changed."""
    new = src.read_bytes() if src.exists() else None
    old = dest.read_bytes() if dest.exists() else None
    if new == old:
        return False
    if new is None:
        dest.unlink()
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(new)
    # A stale .pyc can survive a same-second, same-size rewrite.
    for pyc in dest.parent.glob(f"__pycache__/{dest.stem}.*.pyc"):
        pyc.unlink()
    return True


def apply_change(cfg: Config, root: Path) -> list[str]:
    """Make the chroot's Lib/ hold Debian's 3.15 plus the main patch; one
    line per file saying what was done.  If the patch does not apply,
    /usr/lib/python3.15 is left as it was."""
    repo = root / REPO
    if not repo.is_dir():
        make_repo(cfg, root)
    debian = reset_repo(repo)
    submit.carry_onto(cfg, repo, debian, "main", IDENTITY,
                      include=("Lib/*",), dest=root / PATCH)
    changed = [p.removeprefix("Lib/") for p in git_out(
        repo, "diff", "--name-only", "--no-renames", debian, "HEAD",
        "--", "Lib").splitlines()]
    try:
        state = json.loads((root / APPLIED).read_text())
    except (OSError, ValueError):
        state = {"files": []}
    state["inputs"] = None      # until every file is written
    (root / APPLIED).write_text(json.dumps(state, indent=2) + "\n")
    lines = []
    for rel in sorted(set(state["files"]) | set(changed)):
        done = copy_file(repo / "Lib" / rel, root / LIB / rel)
        what = ("the main patch" if rel in changed
                else "back to Debian's text")
        lines.append(f"Lib/{rel}: {what}" + ("" if done else " (unchanged)"))
    state = {"files": sorted(changed), "inputs": inputs_digest(cfg.repo)}
    (root / APPLIED).write_text(json.dumps(state, indent=2) + "\n")
    # At rest the repository is at Debian's files, a main base for
    # `carry.py patch --target main`; the commit applied is the branch
    # `applied`.
    git(repo, "branch", "-f", "applied", "HEAD")
    reset_repo(repo)
    return lines
