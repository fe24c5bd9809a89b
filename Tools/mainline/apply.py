"""Put the change into the chroot's Lib/ (/usr/lib/python3.15).

The change is kept against CPython 3.13.15: ``Lib/<path>.diff`` for a
changed file, ``Lib/<path>`` whole for a new one.  The main-line overlay,
``Tools/carry/main/Lib/``, has the same form and is applied after it.
Each diff is applied to 3.15's text as a plain patch; where that fails, by
a three-way merge (``git merge-file``) with the 3.13.15 file, as the diff
was made against, for the base.

3.15's files are kept as they came from the .deb (checked against dpkg's
md5sums) in the chroot's state directory, so every run starts from them:
re-applying is idempotent, and a file the change no longer touches goes
back to Debian's text.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from carrylib.common import CarryError
from carrylib.sync import stored_change
from mainline.errors import MainlineError

BASE_VERSION = "3.13.15"
LAYERS = (("change", Path(".")), ("main overlay", Path("Tools/carry/main")))
DPKG_INFO = Path("var/lib/dpkg/info")


@dataclass(frozen=True)
class Step:
    """One repository file acting on one file of Lib/."""
    layer: str
    source: Path          # in the repository
    is_diff: bool

    def describe(self, repo: Path) -> str:
        return f"{self.source.relative_to(repo)} ({self.layer})"


def change_steps(repo: Path) -> dict[str, list[Step]]:
    """{path under Lib/: its steps, in order}, from the repository."""
    steps: dict[str, list[Step]] = {}
    for layer, top in LAYERS:
        try:
            diffs, new = stored_change(repo / top)
        except CarryError as e:
            raise MainlineError(str(e))
        for path, source in sorted([*diffs.items(), *new.items()]):
            if path.startswith("Lib/"):
                steps.setdefault(path.removeprefix("Lib/"), []).append(
                    Step(layer, source, path in diffs))
    if not steps:
        raise MainlineError(f"no change under {repo / 'Lib'}")
    return steps


def inputs_digest(repo: Path) -> str:
    """A digest of the change files, to tell whether a chroot holds the
    repository's current change."""
    h = hashlib.sha256()
    for rel, steps in sorted(change_steps(repo).items()):
        for step in steps:
            h.update(f"{rel}\0{step.layer}\0{step.is_diff}\0".encode())
            h.update(hashlib.sha256(step.source.read_bytes()).digest())
    return h.hexdigest()


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def diff_base_id(diff: bytes) -> str | None:
    """The full blob id the diff was made against (``git diff
    --full-index``), if it gives one."""
    m = re.search(rb"^index ([0-9a-f]{40})\.\.[0-9a-f]{40}", diff, re.M)
    return m.group(1).decode() if m else None


def git_env(scratch: Path) -> dict[str, str]:
    # Work as plain patch/merge tools: never find an enclosing repository.
    return dict(os.environ, GIT_CEILING_DIRECTORIES=str(scratch.parent))


def patched(text: bytes, diff: bytes, rel: str) -> bytes | None:
    """*text* (Lib/<rel>) with *diff* applied, or None if it does not
    apply."""
    with tempfile.TemporaryDirectory(prefix="mainline-patch-") as scratch:
        scratch = Path(scratch)
        target = scratch / "Lib" / rel
        target.parent.mkdir(parents=True)
        target.write_bytes(text)
        (scratch / "change.diff").write_bytes(diff)
        p = subprocess.run(["git", "apply", "--whitespace=nowarn",
                            "change.diff"], cwd=scratch, env=git_env(scratch),
                           capture_output=True)
        return target.read_bytes() if p.returncode == 0 else None


def merged(ours: bytes, base: bytes, theirs: bytes, rel: str,
           what: str) -> bytes:
    """Three-way merge of *theirs* (base + a diff) into *ours*."""
    with tempfile.TemporaryDirectory(prefix="mainline-merge-") as scratch:
        scratch = Path(scratch)
        names = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            (scratch / name).write_bytes(data)
            names.append(name)
        p = subprocess.run(
            ["git", "merge-file", "-p", "-L", f"3.15 Lib/{rel}",
             "-L", f"{BASE_VERSION} Lib/{rel}", "-L", what, *names],
            cwd=scratch, env=git_env(scratch), capture_output=True)
    if p.returncode > 0:
        raise MainlineError(
            f"{what}: {p.returncode} conflict(s) in the three-way merge onto "
            f"3.15's Lib/{rel}")
    if p.returncode < 0:
        raise MainlineError(f"{what}: git merge-file failed: "
                            f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


class BaseTree:
    """The CPython 3.13.15 sources the diffs were made against."""

    def __init__(self, root: Path | None):
        self.root = root

    def text(self, rel: str, diff: bytes, what: str) -> bytes:
        if self.root is None or not self.root.is_dir():
            raise MainlineError(
                f"{what} does not apply to 3.15's Lib/{rel} as a plain patch, "
                f"and the three-way merge needs the CPython {BASE_VERSION} "
                f"sources: run `python Tools/carry/carry.py source` "
                f"(or pass --base-tree DIR)")
        path = self.root / "Lib" / rel
        try:
            text = path.read_bytes()
        except OSError as e:
            raise MainlineError(f"{what}: cannot read its base {path}: {e}")
        expected = diff_base_id(diff)
        if expected and git_blob_id(text) != expected:
            raise MainlineError(f"{what} was made against blob {expected}, "
                                f"but {path} is {git_blob_id(text)}")
        return text


def new_text(rel: str, steps: list[Step], current: bytes | None,
             base_tree: BaseTree, repo: Path) -> tuple[bytes, list[str]]:
    """Lib/<rel> after *steps*, starting from 3.15's text *current* (None:
    3.15 has no such file); and how each step was applied."""
    origin = None          # text the lineage starts from; None: the base
    lineage: list[bytes] = []   # diffs applied since origin
    how = []
    for step in steps:
        what = step.describe(repo)
        data = step.source.read_bytes()
        if not step.is_diff:
            current = origin = data
            lineage = []
            how.append("copied whole")
            continue
        if current is None:
            raise MainlineError(f"{what} changes Lib/{rel}, which 3.15 does "
                                "not have")
        result = patched(current, data, rel)
        if result is None:
            base = (origin if origin is not None
                    else base_tree.text(rel, lineage[0] if lineage else data,
                                        what))
            for earlier in lineage:
                base = patched(base, earlier, rel)
            theirs = patched(base, data, rel) if base is not None else None
            if theirs is None:
                raise MainlineError(f"{what} does not apply to its own base "
                                    f"(CPython {BASE_VERSION} plus the steps "
                                    "before it)")
            result = merged(current, base, theirs, rel, what)
            how.append(f"three-way merge ({step.layer})")
        else:
            how.append(f"plain patch ({step.layer})")
        current = result
        lineage.append(data)
    return current, how


def dpkg_md5sums(root: Path) -> dict[str, str]:
    """{path in the chroot, without the leading /: md5} of the installed
    packages."""
    sums = {}
    for listing in (root / DPKG_INFO).glob("*.md5sums"):
        for line in listing.read_text().splitlines():
            md5, _, path = line.partition("  ")
            sums[path] = md5
    return sums


class LibTree:
    """The chroot's Lib/ and the pristine copies of the files changed in it.

    state.json: {"files": {rel: "deb" | "new"}, "inputs": digest}; a "deb"
    file has its pristine copy under pristine/.
    """

    def __init__(self, root: Path, lib: Path, state_dir: Path):
        self.root, self.lib, self.state_dir = root, lib, state_dir
        self.state_file = state_dir / "applied.json"
        self.pristine_dir = state_dir / "pristine"
        try:
            self.state = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            self.state = {"files": {}, "inputs": None}
        self._md5sums = None

    def save_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state, indent=2,
                                              sort_keys=True) + "\n")

    def pristine(self, rel: str) -> bytes | None:
        """3.15's own text of Lib/<rel>, None if 3.15 has no such file."""
        kind = self.state["files"].get(rel)
        if kind == "deb":
            return (self.pristine_dir / rel).read_bytes()
        if kind == "new":
            return None
        path = self.lib / rel
        if not path.exists():
            return None
        if self._md5sums is None:
            self._md5sums = dpkg_md5sums(self.root)
        installed = (self.lib / rel).relative_to(self.root).as_posix()
        data = path.read_bytes()
        if self._md5sums.get(installed) != hashlib.md5(data).hexdigest():
            raise MainlineError(
                f"/{installed} is not as Debian installed it, and no pristine "
                "copy is kept: make the chroot anew (chroot --rebuild)")
        return data

    def keep_pristine(self, rel: str) -> None:
        if rel in self.state["files"]:
            return
        data = self.pristine(rel)
        if data is None:
            self.state["files"][rel] = "new"
        else:
            copy = self.pristine_dir / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            self.state["files"][rel] = "deb"

    def write(self, rel: str, data: bytes | None) -> bool:
        """Make Lib/<rel> hold *data* (None: absent); whether it changed."""
        path = self.lib / rel
        old = path.read_bytes() if path.exists() else None
        if old == data:
            return False
        if data is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        # A stale .pyc can survive a same-second, same-size rewrite.
        for pyc in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            pyc.unlink()
        return True


def apply_change(repo: Path, root: Path, lib: Path, state_dir: Path,
                 base_tree: BaseTree) -> list[str]:
    """Make the chroot's Lib/ hold 3.15 plus the change; return one line
    per file saying what was done.  Every text is computed before anything
    is written: on an error nothing changes."""
    tree = LibTree(root, lib, state_dir)
    wanted = {}
    report = []
    for rel, steps in change_steps(repo).items():
        wanted[rel], how = new_text(rel, steps, tree.pristine(rel), base_tree,
                                    repo)
        report.append((rel, ", ".join(how)))
    dropped = sorted(set(tree.state["files"]) - set(wanted))
    for rel in wanted:
        tree.keep_pristine(rel)
    tree.state["inputs"] = None     # until every file is written
    tree.save_state()
    lines = []
    for rel in dropped:
        changed = tree.write(rel, tree.pristine(rel))
        lines.append(f"Lib/{rel}: back to 3.15's "
                     + ("text" if changed else "text (unchanged)"))
        if tree.state["files"].pop(rel) == "deb":
            (tree.pristine_dir / rel).unlink()
    for rel, how in report:
        changed = tree.write(rel, wanted[rel])
        lines.append(f"Lib/{rel}: {how}" + ("" if changed else " (unchanged)"))
    tree.state["inputs"] = inputs_digest(repo)
    tree.save_state()
    return lines


def applied_inputs(state_dir: Path) -> str | None:
    """The inputs digest of the change last applied in full, if any."""
    try:
        return json.loads((state_dir / "applied.json").read_text())["inputs"]
    except (OSError, ValueError, KeyError):
        return None

