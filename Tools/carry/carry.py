#!/usr/bin/env python3
"""carry: keep one CPython change out of tree, build and test it.

The repository stores the change to CPython as files under the CPython
"change roots" (Doc, Include, Lib, Misc, Modules, Objects, Python, Parser):
a file that already exists in CPython is stored as ``<path>.diff`` (a
``git diff`` against the pinned base), a new file is stored whole.

Subcommands (one job each):

  source    obtain the CPython source (Debian's python3.13 by default, cached)
  checkout  build/cpython: a git repo, pristine base + the change (2 commits)
  build     out-of-tree build in build/release, build/debug or build/freethreading
  test      run regrtest (all of test_asyncio by default) with the built python
  export    write edits made in build/cpython back into the repository
  status    does build/cpython agree with the repository?  (exit 0 / 1)
  patch     dist/as_completed-limit.patch (git format-patch of the change)
  apply     apply the change onto a CPython git checkout with a 3-way merge

Paths can be overridden with options or the environment:
  --repo / CARRY_REPO            repository root (default: two levels up)
  --build-dir / CARRY_BUILD_DIR  build directory (default: REPO/build)
  --cache-dir / CARRY_CACHE_DIR  download/unpack cache (default:
                                 ${XDG_CACHE_HOME:-~/.cache}/cpython-as-completed-limit)

Stdlib only; Python >= 3.11.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PROG = "carry"
CHANGE_ROOTS = ("Doc", "Include", "Lib", "Misc", "Modules", "Objects",
                "Python", "Parser")
PATCH_NAME = "as_completed-limit.patch"
CACHE_NAME = "cpython-as-completed-limit"
VARIANTS = {
    "release": [],
    "debug": ["--with-pydebug"],
    "freethreading": ["--disable-gil"],
}
DEB_SRC_STANZA = """\
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: sid forky
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# (program, Debian package)
BUILD_TOOLS = [("cc", "build-essential"), ("make", "make"),
               ("pkg-config", "pkg-config")]
# (header, Debian package)
BUILD_HEADERS = [("openssl/ssl.h", "libssl-dev"), ("zlib.h", "zlib1g-dev"),
                 ("ffi.h", "libffi-dev")]
DEFAULT_COMMIT_MESSAGE = "Add limit parameter to asyncio.as_completed()\n"
SKIP_NAMES = {"__pycache__", ".DS_Store"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", "~")


class CarryError(Exception):
    """An error reported as one line ``carry: error: ...`` (exit 2)."""


def info(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"{PROG}: warning: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# configuration

class Config:
    def __init__(self, repo=None, build_dir=None, cache_dir=None):
        here = Path(__file__).resolve().parent
        repo = repo or os.environ.get("CARRY_REPO") or here.parent.parent
        self.repo = Path(repo).resolve()
        build_dir = (build_dir or os.environ.get("CARRY_BUILD_DIR")
                     or self.repo / "build")
        self.build = Path(build_dir).resolve()
        if cache_dir or os.environ.get("CARRY_CACHE_DIR"):
            cache = Path(cache_dir or os.environ["CARRY_CACHE_DIR"])
        else:
            xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            cache = Path(xdg) / CACHE_NAME
        self.cache = cache.resolve()
        self.dist = self.repo / "dist"
        self.worktree = self.build / "cpython"
        self.source_record = self.build / "source.json"
        base_file = self.repo / "Tools" / "carry" / "base.json"
        if not base_file.is_file():
            base_file = here / "base.json"
        try:
            self.base = json.loads(base_file.read_text())
        except (OSError, ValueError) as e:
            raise CarryError(f"cannot read the pinned base {base_file}: {e}")
        msg_file = self.repo / "Tools" / "carry" / "commit-message.txt"
        self.commit_message = (msg_file.read_text() if msg_file.is_file()
                               else DEFAULT_COMMIT_MESSAGE)

    @property
    def identity(self):
        m = re.fullmatch(r"(.*?)\s*<(.*)>", self.base["commit_identity"])
        return m.group(1), m.group(2)

    def commit_env(self):
        name, email = self.identity
        date = self.base["commit_date"]
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}


# --------------------------------------------------------------------------
# helpers

GIT_OPTS = ["-c", "core.autocrlf=false", "-c", "core.safecrlf=false",
            "-c", "commit.gpgsign=false", "-c", "core.quotepath=false",
            "-c", "gc.auto=0", "-c", "advice.detachedHead=false"]


def run(cmd, *, cwd=None, env=None, check=True, input=None, capture=True):
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        p = subprocess.run(cmd, cwd=cwd, env=full_env, input=input,
                           capture_output=capture, text=True)
    except FileNotFoundError:
        raise CarryError(f"command not found: {cmd[0]}")
    if check and p.returncode != 0:
        err = (p.stderr or p.stdout or "").strip().splitlines()
        last = err[-1] if err else f"exit status {p.returncode}"
        raise CarryError(f"{' '.join(map(str, cmd[:3]))} ... failed: {last}")
    return p


def git(repo, *args, env=None, check=True, input=None):
    return run(["git", *GIT_OPTS, *args], cwd=repo, env=env, check=check,
               input=input)


def git_out(repo, *args, env=None):
    return git(repo, *args, env=env).stdout.strip()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_version(tree: Path) -> str:
    text = (tree / "Include" / "patchlevel.h").read_text(errors="replace")
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', text)
    if not m:
        raise CarryError(f"no PY_VERSION in {tree / 'Include/patchlevel.h'}")
    return m.group(1)


def check_cpython_tree(tree: Path, what: str) -> None:
    missing = [p for p in ("Include/patchlevel.h", "Lib/asyncio")
               if not (tree / p).exists()]
    if missing:
        raise CarryError(f"{what} is not a CPython source tree "
                         f"(missing {', '.join(missing)})")


def is_skipped(name: str) -> bool:
    return name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES)


# --------------------------------------------------------------------------
# source

def tarball_top(tf: tarfile.TarFile) -> str:
    for m in tf:
        parts = m.name.lstrip("./").split("/")
        if len(parts) >= 3 and parts[-2:] == ["Include", "patchlevel.h"]:
            return "/".join(parts[:-2])
        if len(parts) == 2 and parts[-2:] == ["Include", "patchlevel.h"]:
            return ""
    raise CarryError(f"{tf.name} is not a CPython source tarball "
                     "(no Include/patchlevel.h)")


def unpack_tarball(cfg: Config, tarball: Path, digest: str) -> Path:
    name = re.sub(r"\.(tar\.xz|tar\.gz|tgz|tar\.bz2|tar)$", "", tarball.name)
    dest = cfg.cache / "trees" / f"{name}-{digest[:12]}"
    if (dest / ".carry-complete").is_file():
        return dest
    info(f"unpacking {tarball.name} into {dest}")
    tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=cfg.cache))
    try:
        try:
            with tarfile.open(tarball) as tf:
                top = tarball_top(tf)
                kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(tmp, **kwargs)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise CarryError(f"cannot unpack {tarball}: {e}")
        root = tmp / top if top else tmp
        check_cpython_tree(root, str(tarball))
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        root.rename(dest)
        (dest / ".carry-complete").write_text(digest + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def debian_versions(cfg: Config) -> list[str]:
    apt_cache = os.environ.get("CARRY_APT_CACHE", "apt-cache")
    try:
        p = subprocess.run([apt_cache, "showsrc", cfg.base["debian_package"]],
                           capture_output=True, text=True)
    except OSError:
        return []
    versions = set(re.findall(r"^Version:\s*(\S+)", p.stdout, re.M))
    return sorted(versions, key=debian_version_key, reverse=True)


def debian_version_key(v: str):
    # Good enough for python3.13 versions like 3.13.15-1, 3.13.0~rc1-2.
    key = []
    for part in re.split(r"([0-9]+)", v):
        if part.isdigit():
            key.append((1, int(part)))
        elif part:
            key.append((0 if part.startswith("~") else 2, part))
    return key


def apt_failure(detail: str) -> CarryError:
    stanza = "".join("    " + line + "\n" for line in DEB_SRC_STANZA.splitlines())
    print(f"""\
{PROG}: could not download Debian's {detail}.
To use Debian's source package, as root add the file
/etc/apt/sources.list.d/debian-src.sources containing

{stanza}
then run `apt-get update` and try again.  Or give the source yourself:
    python3 Tools/carry/carry.py source --source Python-3.13.15.tar.xz
    (a release tarball, an unpacked CPython tree, or a CPython git checkout)""",
          file=sys.stderr)
    return CarryError(f"could not obtain Debian's {detail} (see above)")


def obtain_debian(cfg: Config) -> dict:
    pkg = cfg.base["debian_package"]
    ddir = cfg.cache / "debian"
    cached = sorted(ddir.glob(f"{pkg}_*.orig.tar.xz")) if ddir.is_dir() else []
    pinned = ddir / cfg.base["orig_tarball"]
    tarball = None
    if pinned in cached:
        tarball = pinned
    elif cached:
        tarball = max(cached, key=lambda p: debian_version_key(p.name))
    if tarball is None:
        versions = debian_versions(cfg)
        if not versions:
            raise apt_failure(f"{pkg} source package: `apt-cache showsrc {pkg}` "
                              "lists no version")
        apt_get = os.environ.get("CARRY_APT_GET", "apt-get")
        ddir.mkdir(parents=True, exist_ok=True)
        for version in versions:
            scratch = Path(tempfile.mkdtemp(prefix="apt-", dir=ddir))
            try:
                info(f"downloading Debian source {pkg}={version} ...")
                try:
                    p = subprocess.run(
                        [apt_get, "source", "--download-only", "-q",
                         f"{pkg}={version}"], cwd=scratch,
                        capture_output=True, text=True)
                except OSError as e:
                    p = None
                    info(f"  {apt_get}: {e}")
                origs = list(scratch.glob("*.orig.tar.xz"))
                if p is not None and p.returncode == 0 and origs:
                    target = ddir / origs[0].name
                    origs[0].replace(target)
                    tarball = target
                    break
                if p is not None:
                    last = (p.stderr.strip().splitlines() or ["failed"])[-1]
                    info(f"  {pkg}={version}: {last}")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        if tarball is None:
            raise apt_failure(f"{pkg} source package (tried "
                              f"{', '.join(versions)})")
    digest = sha256_file(tarball)
    if tarball.name == cfg.base["orig_tarball"] and digest != cfg.base["sha256"]:
        raise CarryError(f"{tarball} has sha256 {digest}, expected "
                         f"{cfg.base['sha256']} (delete it and run source again)")
    tree = unpack_tarball(cfg, tarball, digest)
    m = re.match(rf"{re.escape(pkg)}_(.*)\.orig\.tar\.xz$", tarball.name)
    return {"kind": "debian", "origin": f"Debian source package {pkg} "
            f"(upstream {m.group(1) if m else '?'})", "path": str(tarball),
            "sha256": digest, "id": f"sha256:{digest}", "tree": str(tree)}


def obtain_path(cfg: Config, path: Path) -> dict:
    if not path.exists():
        raise CarryError(f"--source {path}: no such file or directory")
    path = path.resolve()
    if path.is_file():
        if not re.search(r"\.(tar\.xz|tgz|tar\.gz|tar\.bz2|tar)$", path.name):
            raise CarryError(f"--source {path}: not a .tar.xz/.tgz/.tar.gz "
                             "tarball, a CPython tree or a git checkout")
        digest = sha256_file(path)
        tree = unpack_tarball(cfg, path, digest)
        return {"kind": "tarball", "origin": str(path), "path": str(path),
                "sha256": digest, "id": f"sha256:{digest}", "tree": str(tree)}
    check_cpython_tree(path, f"--source {path}")
    top = run(["git", "rev-parse", "--show-toplevel"], cwd=path, check=False)
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == path:
        commit = git_out(path, "rev-parse", "HEAD")
        dirty = git_out(path, "status", "--porcelain", "--untracked-files=no")
        if dirty:
            warn(f"{path} has uncommitted changes; using its HEAD commit "
                 f"{commit[:12]} only")
        dest = cfg.cache / "trees" / f"git-{commit[:12]}"
        if not (dest / ".carry-complete").is_file():
            info(f"exporting {commit[:12]} from {path} into {dest}")
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            archive = subprocess.run(["git", "archive", "--format=tar", commit],
                                     cwd=path, capture_output=True)
            if archive.returncode != 0:
                raise CarryError(f"git archive failed in {path}")
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout,
                           check=True)
            (dest / ".carry-complete").write_text(commit + "\n")
        return {"kind": "git", "origin": str(path), "path": str(path),
                "commit": commit, "id": f"git:{commit}", "tree": str(dest)}
    return {"kind": "tree", "origin": str(path), "path": str(path),
            "id": None, "tree": str(path)}


def cmd_source(cfg: Config, args) -> int:
    cfg.cache.mkdir(parents=True, exist_ok=True)
    if args.source:
        rec = obtain_path(cfg, Path(args.source).expanduser())
    else:
        rec = obtain_debian(cfg)
    rec["version"] = read_version(Path(rec["tree"]))
    rec["base_version"] = cfg.base["version"]
    rec["matches_base"] = rec["version"] == cfg.base["version"]
    cfg.build.mkdir(parents=True, exist_ok=True)
    write_if_changed(cfg.source_record, json.dumps(rec, indent=2) + "\n")
    ident = rec.get("sha256") or rec.get("commit") or "(unpacked tree)"
    info(f"source: CPython {rec['version']} from {rec['origin']} [{ident}]")
    info(f"recorded in {cfg.source_record}")
    if not rec["matches_base"]:
        warn(f"obtained CPython {rec['version']}, but the change is kept "
             f"against the pinned base {cfg.base['version']}: the .diff files "
             "may not apply cleanly; `carry.py apply --to DIR` uses a 3-way "
             "merge for a git checkout such as main")
    return 0


def write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    path.write_text(text)


# --------------------------------------------------------------------------
# the change in the repository

def repo_change(cfg: Config):
    """Return (diffs, new_files): {cpython_path: repo_file}."""
    diffs, new = {}, {}
    for root in CHANGE_ROOTS:
        base = cfg.repo / root
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not is_skipped(d))
            for fn in sorted(filenames):
                if is_skipped(fn):
                    continue
                f = Path(dirpath) / fn
                rel = f.relative_to(cfg.repo).as_posix()
                if fn.endswith(".diff"):
                    diffs[rel[:-len(".diff")]] = f
                else:
                    new[rel] = f
    for path, f in diffs.items():
        targets = set(re.findall(r"^diff --git a/(\S+) b/(\S+)",
                                 f.read_text(errors="replace"), re.M))
        names = {t for pair in targets for t in pair}
        if names != {path}:
            raise CarryError(f"{f.relative_to(cfg.repo)} must be a git diff of "
                             f"{path} only (it names {sorted(names) or 'nothing'})")
    return diffs, new


class TempIndex:
    """A throw-away git index, so nothing touches the real index/worktree."""

    def __init__(self, repo: Path, copy_from_real=False):
        self.repo = repo
        gitdir = Path(git_out(repo, "rev-parse", "--absolute-git-dir"))
        fd, name = tempfile.mkstemp(prefix="carry-index-", dir=gitdir)
        os.close(fd)
        self.path = Path(name)
        if copy_from_real and (gitdir / "index").is_file():
            shutil.copyfile(gitdir / "index", self.path)
        else:
            self.path.unlink()
        self.env = {"GIT_INDEX_FILE": str(self.path)}

    def git(self, *args, check=True, input=None, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        return git(self.repo, *args, env=e, check=check, input=input)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def change_commit(cfg: Config, wt: Path, base: str) -> str:
    """Commit base + the repository's change (without touching the worktree)."""
    diffs, new = repo_change(cfg)
    with TempIndex(wt) as idx:
        idx.git("read-tree", base)
        failed = []
        for path, f in sorted(diffs.items()):
            p = idx.git("apply", "--cached", "--whitespace=nowarn", str(f),
                        check=False)
            if p.returncode != 0:
                failed.append((path, (p.stderr.strip().splitlines() or ["?"])[-1]))
        for path, f in sorted(new.items()):
            exists = idx.git("ls-files", "--", path).stdout.strip()
            if exists:
                failed.append((path, "new file already exists in the base"))
                continue
            blob = git_out(wt, "hash-object", "-w", "--", str(f))
            mode = "100755" if os.access(f, os.X_OK) else "100644"
            idx.git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
        if failed:
            for path, why in failed:
                print(f"{PROG}: does not apply: {path}: {why}", file=sys.stderr)
            raise CarryError("the change does not apply to the base in "
                             f"{wt} ({', '.join(p for p, _ in failed)}); "
                             "worktree left as it was")
        tree = idx.git("write-tree").stdout.strip()
    return commit_tree(cfg, wt, tree, base, cfg.commit_message)


def commit_tree(cfg, wt, tree, parent, message) -> str:
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    return git(wt, *args, input=message, env=cfg.commit_env()).stdout.strip()


# --------------------------------------------------------------------------
# checkout

STATE_FILE = "carry-state.json"
# Release tarballs ship no .gitignore: keep build litter out of the change.
EXCLUDES = """\
# written by carry.py: never part of the change
__pycache__/
*.py[cod]
*.orig
*.rej
*~
.DS_Store
/Doc/build/
/Doc/venv/
/Doc/.venv/
/Doc/sphinx-warnings.txt
"""


def ensure_excludes(wt: Path) -> None:
    f = wt / ".git" / "info" / "exclude"
    f.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(f, EXCLUDES)


def load_state(wt: Path) -> dict:
    f = wt / ".git" / STATE_FILE
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return {"bases": {}}


def save_state(wt: Path, state: dict) -> None:
    (wt / ".git" / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def load_source(cfg: Config) -> dict:
    try:
        rec = json.loads(cfg.source_record.read_text())
    except OSError:
        raise CarryError(f"no source recorded in {cfg.source_record}: "
                         "run `carry.py source` first")
    if not Path(rec["tree"]).is_dir():
        raise CarryError(f"the recorded source tree {rec['tree']} is gone: "
                         "run `carry.py source` again")
    return rec


def base_commit(cfg: Config, wt: Path, rec: dict, state: dict) -> str:
    key = rec.get("id")
    known = state["bases"].get(key) if key else None
    if known and git(wt, "cat-file", "-e", f"{known}^{{commit}}",
                     check=False).returncode == 0:
        return known
    tree_dir = Path(rec["tree"])
    info(f"recording the pristine base from {tree_dir} ...")
    with TempIndex(wt) as idx:
        idx.git("--work-tree", str(tree_dir), "add", "-A", "-f", "--", ".",
                ":(exclude,top).carry-complete")
        tree = idx.git("write-tree").stdout.strip()
    origin = rec.get("sha256") and f"sha256 {rec['sha256']}" or \
        rec.get("commit") and f"git commit {rec['commit']}" or rec["origin"]
    msg = (f"CPython {rec['version']} (pristine base)\n\n"
           f"Source: {rec['origin']}\n{origin}\n")
    commit = commit_tree(cfg, wt, tree, None, msg)
    if key:
        state["bases"][key] = commit
    return commit


def worktree_dirty(wt: Path) -> list[str]:
    out = git(wt, "status", "--porcelain", "--untracked-files=normal").stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


def cmd_checkout(cfg: Config, args) -> int:
    rec = load_source(cfg)
    wt = cfg.worktree
    fresh = not (wt / ".git").is_dir()
    if fresh:
        if wt.exists() and any(wt.iterdir()):
            raise CarryError(f"{wt} exists but is not a git repository: "
                             "move it away")
        wt.mkdir(parents=True, exist_ok=True)
        git(wt, "init", "-q")
        git(wt, "symbolic-ref", "HEAD", "refs/heads/main")
    ensure_excludes(wt)
    state = load_state(wt)
    base = base_commit(cfg, wt, rec, state)
    target = change_commit(cfg, wt, base)
    head = git(wt, "rev-parse", "-q", "--verify", "HEAD^{commit}",
               check=False).stdout.strip()
    if head == target:
        dirty = worktree_dirty(wt)
        save_state(wt, {**state, "synced": target})
        if dirty:
            info(f"{wt} is up to date with the repository, and has "
                 f"uncommitted edits ({len(dirty)} paths): run "
                 "`carry.py export` to keep them")
        else:
            info(f"{wt} is up to date ({rec['version']} + change, {target[:12]})")
        return 0
    if head:
        dirty = worktree_dirty(wt)
        if dirty:
            raise CarryError(
                f"{wt} has uncommitted edits ({', '.join(dirty[:5])}"
                f"{' ...' if len(dirty) > 5 else ''}): run `carry.py export` "
                "to keep them, or discard them (git -C build/cpython "
                "reset --hard), then checkout again")
        if state.get("synced") and head != state["synced"]:
            raise CarryError(
                f"{wt} has commits made by hand (HEAD {head[:12]}): run "
                "`carry.py export` to keep them, or discard them, then "
                "checkout again")
    # Two-way switch: only the files that differ between HEAD and target
    # are rewritten, so make does not rebuild the world.
    if head:
        changed = git(wt, "diff", "--name-only", "--no-renames", head,
                      target).stdout.split()
        git(wt, "reset", "-q", "--keep", target)
    else:
        git(wt, "reset", "-q", "--hard", target)
        changed = None
    save_state(wt, {**state, "synced": target})
    if changed is None:
        info(f"created {wt}: CPython {rec['version']} + change ({target[:12]})")
    else:
        info(f"updated {wt}: {len(changed)} file(s) rewritten ({target[:12]})")
        for p in changed[:20]:
            info(f"  {p}")
    return 0


# --------------------------------------------------------------------------
# export / status

def require_worktree(cfg: Config) -> Path:
    wt = cfg.worktree
    if not (wt / ".git").is_dir():
        raise CarryError(f"no worktree at {wt}: run `carry.py checkout` first")
    ensure_excludes(wt)
    return wt


def worktree_base(wt: Path) -> str:
    roots = git_out(wt, "rev-list", "--max-parents=0", "HEAD").split()
    if len(roots) != 1:
        raise CarryError(f"{wt}: expected one root commit (the pristine base)")
    return roots[0]


def present_roots(wt: Path, *commits) -> list[str]:
    roots = set()
    for r in CHANGE_ROOTS:
        if (wt / r).exists():
            roots.add(r)
    for c in commits:
        for name in git_out(wt, "ls-tree", "--name-only", c).splitlines():
            if name in CHANGE_ROOTS:
                roots.add(name)
    return sorted(roots)


def worktree_commit(cfg: Config, wt: Path, base: str) -> tuple[str, list[str]]:
    """Commit base + (worktree state under the change roots).

    Returns the commit and the list of edited paths outside the roots.
    """
    roots = present_roots(wt, "HEAD", base)
    with TempIndex(wt, copy_from_real=True) as idx:
        if roots:
            idx.git("add", "-A", "--", *roots)
        current = idx.git("write-tree").stdout.strip()
    raw = git(wt, "diff-tree", "-r", "--no-renames", "-z", base, current, "--",
              *roots).stdout if roots else ""
    entries = raw.split("\0")
    info_lines = []
    i = 0
    while i + 1 < len(entries):
        meta, path = entries[i], entries[i + 1]
        i += 2
        _, new_mode, _, new_sha, status = meta.lstrip(":").split()
        if status == "D":
            info_lines.append(f"0 {'0' * 40}\t{path}")
        else:
            info_lines.append(f"{new_mode} {new_sha}\t{path}")
    with TempIndex(wt) as idx:
        idx.git("read-tree", base)
        if info_lines:
            idx.git("update-index", "--index-info",
                    input="\n".join(info_lines) + "\n")
        tree = idx.git("write-tree").stdout.strip()
    outside = [p for p in worktree_dirty(wt)
               if p.split("/")[0].strip('"') not in CHANGE_ROOTS]
    return commit_tree(cfg, wt, tree, base, cfg.commit_message), outside


def diff_text(wt: Path, a: str, b: str, path: str) -> str:
    """The exact format of the repository's <path>.diff files."""
    return git(wt, "diff", "--no-color", "--no-ext-diff", "--no-renames",
               "--full-index", "--src-prefix=a/", "--dst-prefix=b/",
               a, b, "--", path).stdout


def changed_paths(wt, a, b) -> list[str]:
    out = git(wt, "diff", "--name-only", "--no-renames", "-z", a, b, "--",
              *CHANGE_ROOTS).stdout
    return [p for p in out.split("\0") if p]


def in_tree(wt, commit, path) -> bool:
    return bool(git_out(wt, "ls-tree", commit, "--", path))


def cmd_export(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    current, outside = worktree_commit(cfg, wt, base)
    repo_commit = change_commit(cfg, wt, base)
    paths = changed_paths(wt, repo_commit, current)
    written, removed = [], []
    for path in paths:
        # What the repository stores for path: a diff for a file of the
        # base, the whole file for a new one; None when path no longer
        # differs from the base.
        if in_tree(wt, base, path):
            dest = cfg.repo / (path + ".diff")
            data = diff_text(wt, base, current, path).encode() or None
        else:
            dest = cfg.repo / path
            data = None
            if in_tree(wt, current, path):
                data = subprocess.run(
                    ["git", "cat-file", "blob", f"{current}:{path}"], cwd=wt,
                    capture_output=True, check=True).stdout
        if data is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written.append(dest)
        elif dest.exists():
            dest.unlink()
            removed.append(dest)
    for d in removed:
        # prune now-empty directories inside the change roots
        parent = d.parent
        while parent != cfg.repo and parent.name not in ("",) and \
                parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    check = change_commit(cfg, wt, base)
    if check != current:
        raise CarryError("internal error: exported change does not reproduce "
                         "the worktree (please report)")
    git(wt, "reset", "-q", current)  # amend: HEAD = base + change, files untouched
    state = load_state(wt)
    save_state(wt, {**state, "synced": current})
    for f in written:
        info(f"wrote   {f.relative_to(cfg.repo)}")
    for f in removed:
        info(f"removed {f.relative_to(cfg.repo)}")
    if not written and not removed:
        info("nothing to export: the repository already has the change")
    info(f"change commit is now {current[:12]}")
    if outside:
        warn("edits outside the change roots are not exported: "
             + ", ".join(outside[:10]))
    return 0


def cmd_status(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    current, outside = worktree_commit(cfg, wt, base)
    repo_commit = change_commit(cfg, wt, base)
    head = git_out(wt, "rev-parse", "HEAD")
    paths = changed_paths(wt, repo_commit, current)
    if outside:
        warn("edits outside the change roots (ignored): " + ", ".join(outside[:10]))
    if not paths:
        info(f"in sync: {wt} and the repository agree")
        return 0
    edited = set(changed_paths(wt, head, current))
    print(f"{PROG}: {wt} and the repository differ:")
    for p in paths:
        where = ("edited in build/cpython: run export" if p in edited
                 else "changed in the repository: run checkout")
        print(f"  {p}  ({where})")
    return 1


# --------------------------------------------------------------------------
# patch / apply

def make_patch(cfg: Config, dest: Path) -> Path:
    wt = require_worktree(cfg)
    base = worktree_base(wt)
    commit = change_commit(cfg, wt, base)
    current, _ = worktree_commit(cfg, wt, base)
    if current != commit:
        warn("build/cpython has edits not exported; the patch is made from "
             "the repository (run `carry.py export` first to include them)")
    out = git(wt, "format-patch", "-1", "--stdout", "--full-index",
              "--no-signature", "--zero-commit", "--no-renames", commit).stdout
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(out)
    return dest


def cmd_patch(cfg: Config, args) -> int:
    dest = make_patch(cfg, cfg.dist / PATCH_NAME)
    info(f"wrote {dest} (apply with `git am` onto CPython {cfg.base['version']})")
    return 0


def cmd_apply(cfg: Config, args) -> int:
    target = Path(args.to).expanduser()
    if not target.is_dir():
        raise CarryError(f"--to {target}: no such directory")
    target = target.resolve()
    top = run(["git", "rev-parse", "--show-toplevel"], cwd=target, check=False)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != target:
        raise CarryError(f"--to {target}: not the top of a git checkout")
    check_cpython_tree(target, f"--to {target}")
    gitdir = Path(git_out(target, "rev-parse", "--absolute-git-dir"))
    for marker in ("rebase-apply", "rebase-merge", "MERGE_HEAD",
                   "CHERRY_PICK_HEAD"):
        if (gitdir / marker).exists():
            raise CarryError(f"--to {target}: a git operation is in progress "
                             f"({marker}): finish or abort it first")
    dirty = worktree_dirty(target)
    if dirty:
        raise CarryError(f"--to {target}: not a clean checkout "
                         f"({', '.join(dirty[:5])}): commit or stash first")
    head = git(target, "rev-parse", "-q", "--verify", "HEAD",
               check=False).stdout.strip()
    if not head:
        raise CarryError(f"--to {target}: has no commits")
    patch = make_patch(cfg, cfg.dist / PATCH_NAME)
    env = {}
    if git(target, "config", "user.email", check=False).returncode != 0:
        name, email = cfg.identity
        env = {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    p = git(target, "am", "-3", "--keep-cr", str(patch), env=env, check=False)
    if p.returncode == 0:
        new = git_out(target, "rev-parse", "--short", "HEAD")
        info(f"applied the change onto {target} as commit {new}")
        return 0
    text = p.stdout + "\n" + p.stderr
    files = set(git(target, "diff", "--name-only", "--diff-filter=U",
                    check=False).stdout.split())
    files |= set(re.findall(r"Merge conflict in (\S+)", text))
    files |= set(re.findall(r"^error: patch failed: (\S+?):\d+", text, re.M))
    files |= set(re.findall(r"^error: (\S+): (?:does not exist in index|"
                            r"already exists in (?:index|working directory)|"
                            r"patch does not apply)", text, re.M))
    git(target, "am", "--abort", check=False)
    if git_out(target, "rev-parse", "HEAD") != head or worktree_dirty(target):
        git(target, "reset", "-q", "--hard", head)
    for f in sorted(files):
        print(f"{PROG}: conflict: {f}", file=sys.stderr)
    raise CarryError(f"the change does not apply to {target} "
                     f"({', '.join(sorted(files)) or 'see git am output'}); "
                     f"{target} left unchanged at {head[:12]}")


# --------------------------------------------------------------------------
# build / test

def missing_build_deps(tools=BUILD_TOOLS, headers=BUILD_HEADERS, path=None):
    """Return [(what, debian_package)] for each missing build dependency."""
    missing = []
    cc = (os.environ.get("CC") or "cc").split()
    have_cc = shutil.which(cc[0], path=path) is not None
    for prog, pkg in tools:
        name = cc[0] if prog == "cc" else prog
        if shutil.which(name, path=path) is None:
            missing.append((name, pkg))
    if not have_cc:
        if headers:
            print(f"{PROG}: note: C headers are checked once a C compiler is "
                  "installed", file=sys.stderr)
        return missing
    with tempfile.TemporaryDirectory(prefix="carry-deps-") as tmp:
        for header, pkg in headers:
            src = Path(tmp) / "t.c"
            src.write_text(f"#include <{header}>\n")
            env = dict(os.environ)
            if path is not None:
                env["PATH"] = path
            p = subprocess.run([*cc, "-fsyntax-only", "-c", str(src)],
                               capture_output=True, env=env)
            if p.returncode != 0:
                missing.append((f"<{header}>", pkg))
    return missing


def check_build_deps():
    missing = missing_build_deps()
    if missing:
        for what, pkg in missing:
            print(f"{PROG}: missing {what}: install the Debian package {pkg}",
                  file=sys.stderr)
        pkgs = " ".join(sorted({p for _, p in missing}))
        raise CarryError(f"missing build dependencies: apt-get install {pkgs}")


def variant_of(args) -> str:
    if getattr(args, "debug", False):
        return "debug"
    if getattr(args, "freethreading", False):
        return "freethreading"
    return "release"


def tail(path: Path, n=40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def cmd_build(cfg: Config, args) -> int:
    check_build_deps()
    wt = require_worktree(cfg)
    variant = variant_of(args)
    bdir = cfg.build / variant
    bdir.mkdir(parents=True, exist_ok=True)
    log = bdir / "build.log"
    makefile = bdir / "Makefile"
    configure = wt / "configure"
    t0 = time.monotonic()
    with open(log, "a") as logf:
        logf.write(f"\n===== carry build {variant} {time.ctime()} =====\n")
        logf.flush()
        if not makefile.exists() or configure.stat().st_mtime > makefile.stat().st_mtime:
            cmd = [str(configure), *VARIANTS[variant]]
            extra = os.environ.get("CARRY_CONFIGURE_ARGS", "").split()
            cmd += extra
            info(f"configure {' '.join(cmd[1:]) or '(no options)'} in {bdir} "
                 f"(log: {log})")
            p = subprocess.run(cmd, cwd=bdir, stdout=logf, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                print(tail(log), file=sys.stderr)
                raise CarryError(f"configure failed (exit {p.returncode}); "
                                 f"full log: {log}")
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
        info(f"make -j{jobs} in {bdir} (log: {log})")
        logf.flush()
        p = subprocess.run(["make", f"-j{jobs}"], cwd=bdir, stdout=logf,
                           stderr=subprocess.STDOUT)
    if p.returncode != 0:
        print(tail(log), file=sys.stderr)
        raise CarryError(f"make failed (exit {p.returncode}); full log: {log}")
    python = bdir / "python"
    if not python.exists():
        raise CarryError(f"make succeeded but {python} is missing; see {log}")
    info(f"build {variant} done in {time.monotonic() - t0:.1f}s")
    print(f"interpreter: {python}")
    return 0


# regrtest options that take a value (so their value is not a test name)
REGRTEST_VALUE_OPTS = {"-m", "--match", "-i", "--ignore", "-R", "--huntrleaks",
                       "-j", "--multiprocess", "-u", "--use", "-M", "--memlimit",
                       "--timeout", "-f", "--fromfile", "--junit-xml",
                       "--matchfile", "--ignorefile", "--tempdir", "--testdir",
                       "-p", "--python", "--randseed"}


def regrtest_command(python: Path, extra: list[str]) -> list[str]:
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)
    if not extra:
        return [str(python), "-m", "test", "test_asyncio", f"-j{jobs}"]
    has_test = False
    skip = False
    for a in extra:
        if skip:
            skip = False
            continue
        if a in REGRTEST_VALUE_OPTS:
            skip = True
        elif not a.startswith("-"):
            has_test = True
    args = list(extra)
    if not has_test:
        args.append("test_asyncio")
    return [str(python), "-m", "test", *args]


UPSTREAM_URL = "https://github.com/python/cpython"
# Lines of patchcheck's report and the endings that mean "nothing to fix".
PATCHCHECK_CLEAN = {
    "Fixing Python file whitespace": "... 0 files",
    "Fixing C file whitespace": "... 0 files",
    "Fixing docs whitespace": "... 0 files",
    "Misc/NEWS.d updated with `blurb`": "... yes",
}


def patchcheck_problems(report: str) -> list[str]:
    """The lines of a patchcheck report that must be fixed before a PR."""
    return [line for line in report.splitlines()
            for check, clean in PATCHCHECK_CLEAN.items()
            if line.startswith(check) and not line.endswith(clean)]


def cmd_patchcheck(cfg: Config, args) -> int:
    wt = require_worktree(cfg)
    bdir = cfg.build / "release"
    if not (bdir / "python").exists():
        raise CarryError(f"no interpreter in {bdir}: run `carry.py build` first")
    # patchcheck diffs against upstream/<major.minor> of the remote whose URL
    # names python/cpython, and never fetches: point that ref at the base.
    if "upstream" not in git_out(wt, "remote").split():
        git(wt, "remote", "add", "upstream", UPSTREAM_URL)
    branch = ".".join(read_version(wt).split(".")[:2])
    git(wt, "update-ref", f"refs/remotes/upstream/{branch}", worktree_base(wt))
    p = subprocess.run(["make", "patchcheck"], cwd=bdir, capture_output=True,
                       text=True)
    report = p.stdout[p.stdout.find("Getting base branch"):]
    print(report, end="")
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr, end="")
        raise CarryError(f"make patchcheck failed (exit {p.returncode})")
    problems = patchcheck_problems(report)
    for problem in problems:
        warn(f"patchcheck: {problem}")
    return 1 if problems else 0


def cmd_test(cfg: Config, args) -> int:
    variant = variant_of(args)
    bdir = cfg.build / variant
    python = bdir / "python"
    if not python.exists():
        flag = "" if variant == "release" else f" --{variant}"
        raise CarryError(f"no interpreter at {python}: run `carry.py build{flag}` first")
    cmd = regrtest_command(python, args.regrtest_args)
    info("running " + " ".join(cmd))
    sys.stdout.flush()
    return subprocess.run(cmd, cwd=bdir).returncode


# --------------------------------------------------------------------------
# command line

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Keep the asyncio.as_completed(limit=) change out of tree: "
                    "obtain CPython, apply the change, build, test, export, "
                    "and submit.")
    parser.add_argument("--repo", help="repository root (env CARRY_REPO)")
    parser.add_argument("--build-dir", help="build directory (env CARRY_BUILD_DIR; "
                        "default REPO/build)")
    parser.add_argument("--cache-dir", help="cache (env CARRY_CACHE_DIR; default "
                        f"$XDG_CACHE_HOME/{CACHE_NAME})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("source", help="obtain the CPython source (cached)")
    p.add_argument("--source", metavar="PATH",
                   help="release tarball, unpacked CPython tree or git checkout "
                        "(default: Debian's python3.13 source package)")
    p.set_defaults(func=cmd_source)

    p = sub.add_parser("checkout", help="create/update build/cpython "
                       "(pristine base + the change)")
    p.set_defaults(func=cmd_checkout)

    def variant_opts(p):
        g = p.add_mutually_exclusive_group()
        g.add_argument("--debug", action="store_true",
                       help="build/debug (--with-pydebug)")
        g.add_argument("--freethreading", action="store_true",
                       help="build/freethreading (--disable-gil)")

    p = sub.add_parser("build", help="out-of-tree build (incremental)")
    variant_opts(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "test", help="run regrtest with the built interpreter",
        description="Run `python -m test` with the built interpreter: all of "
                    "test_asyncio by default. Other arguments go to regrtest "
                    "(put them after `--` if in doubt); test_asyncio is added "
                    "when they name no test.")
    variant_opts(p)
    p.add_argument("regrtest_args", nargs="*", metavar="REGRTEST_ARGS")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("patchcheck", help="CPython's `make patchcheck` on the "
                       "change, offline; fails on whitespace or a missing NEWS")
    p.set_defaults(func=cmd_patchcheck)

    p = sub.add_parser("export", help="write build/cpython edits back into "
                       "the repository and amend the change commit")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("status", help="do build/cpython and the repository "
                       "agree? (exit 0 yes, 1 no)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("patch", help=f"write dist/{PATCH_NAME}")
    p.set_defaults(func=cmd_patch)

    p = sub.add_parser("apply", help="apply the change onto a clean CPython "
                       "git checkout (3-way merge)")
    p.add_argument("--to", required=True, metavar="DIR")
    p.set_defaults(func=cmd_apply)
    return parser


def parse_args(argv):
    """argparse, except that `test` passes everything unknown to regrtest."""
    parser = build_parser()
    if "test" in argv:
        i = argv.index("test")
        head, tail_ = argv[:i + 1], argv[i + 1:]
        own, rest = [], []
        for j, a in enumerate(tail_):
            if a == "--":
                rest = tail_[j + 1:]
                break
            if a in ("--debug", "--freethreading", "-h", "--help"):
                own.append(a)
                continue
            rest = tail_[j:]
            break
        ns = parser.parse_args(head + own)
        if ns.command == "test":
            ns.regrtest_args = rest
            return ns
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        cfg = Config(args.repo, args.build_dir, args.cache_dir)
        return args.func(cfg, args)
    except CarryError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
