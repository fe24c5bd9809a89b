"""Stage 1, source: obtain the pinned CPython source, and say where from.

The source is Debian's python3.13 source package by default (cached), or
what ``--source`` names: a release tarball, an unpacked tree or a git
checkout.  ``apt-sources`` writes the deb-src entry that lets apt download
it, made from the machine's own Debian entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .common import (PROG, CarryError, Config, check_cpython_tree, git_out,
                     info, is_git_top, read_version, warn, write_if_changed)

TARBALL_RE = r"\.(tar\.xz|tgz|tar\.gz|tar\.bz2|tar)$"
# The deb-src entry: Debian's python3.13 source package is in sid and forky.
DEB_SRC_FILE = "apt/sources.list.d/debian-src.sources"   # under /etc
DEB_SRC_SUITES = ("sid", "forky")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------
# the deb-src entry, from the machine's own Debian entry

def os_codename(etc: Path) -> str | None:
    try:
        text = (etc / "os-release").read_text()
    except OSError:
        return None
    m = re.search(r"^VERSION_CODENAME=\"?([^\"\n]*)", text, re.M)
    return m.group(1) if m and m.group(1) else None


def parse_deb822(text: str) -> list[dict]:
    """The stanzas of a deb822 ``.sources`` file: {field (lower case): value};
    continuation lines are joined with newlines (" ." is an empty line)."""
    stanzas, fields, key = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, key = {}, None
        elif line[0] in " \t" and key:
            more = line.strip()
            fields[key] += "\n" + ("" if more == "." else more)
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return stanzas


def parse_one_line(text: str) -> list[dict]:
    """The entries of a one-line ``sources.list``, as deb822 fields."""
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)"
                         r"((?:\s+\S+)*)", line)
        if not m:
            continue
        entry = {"types": m[1], "uris": m[3], "suites": m[4],
                 "components": m[5].strip()}
        for option in (m[2] or "").split():
            name, _, value = option.partition("=")
            if name == "signed-by":
                entry["signed-by"] = value
        entries.append(entry)
    return entries


def apt_entries(etc: Path) -> list[dict]:
    entries = []
    apt = etc / "apt"
    one_line = [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]
    for f in one_line:
        if f.is_file():
            entries += parse_one_line(f.read_text(errors="replace"))
    for f in sorted(apt.glob("sources.list.d/*.sources")):
        entries += [s for s in parse_deb822(f.read_text(errors="replace"))
                    if s.get("enabled", "yes").lower() != "no"]
    return entries


def debian_entry(entries: list[dict], codename: str) -> dict | None:
    """The machine's Debian archive entry: type deb, its release's suite,
    component main."""
    for e in entries:
        if "deb" in e.get("types", "").split() and \
                codename in e.get("suites", "").split() and \
                "main" in e.get("components", "").split():
            return e
    return None


def deb822_field(name: str, value: str) -> str:
    first, *rest = value.split("\n")
    return "".join([f"{name}: {first}\n"] +
                   [f" {line or '.'}\n" for line in rest])


def deb_src_stanza(etc: Path = Path("/etc")) -> str:
    """The deb-src entry for Debian's python3.13: the URIs and keyring of the
    machine's Debian entry, the suites sid and forky."""
    codename = os_codename(etc)
    entry = debian_entry(apt_entries(etc), codename) if codename else None
    if entry is None:
        release = codename or f"no VERSION_CODENAME in {etc / 'os-release'}"
        raise CarryError(
            f"no Debian entry of type deb for this release ({release}) in "
            f"{etc / 'apt'}: write {etc / DEB_SRC_FILE} yourself (Types: "
            f"deb-src, the URIs of your Debian mirror, Suites: "
            f"{' '.join(DEB_SRC_SUITES)}, Components: main)")
    stanza = ("Types: deb-src\n" + deb822_field("URIs", entry["uris"])
              + f"Suites: {' '.join(DEB_SRC_SUITES)}\nComponents: main\n")
    if entry.get("signed-by"):
        stanza += deb822_field("Signed-By", entry["signed-by"])
    return stanza


def cmd_apt_sources(cfg: Config, args) -> int:
    etc = Path(args.etc)
    stanza = deb_src_stanza(etc)
    if not args.write:
        print(stanza, end="")
        return 0
    dest = etc / DEB_SRC_FILE
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(dest, stanza)
    except OSError as e:
        raise CarryError(f"cannot write {dest}: {e.strerror} (run as root)")
    info(f"wrote {dest}; now run `apt-get update`")
    return 0


# --------------------------------------------------------------------------
# obtaining the source

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
    name = re.sub(TARBALL_RE, "", tarball.name)
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
    try:
        stanza = deb_src_stanza()
    except CarryError:
        stanza = ("Types: deb-src\nURIs: (the URIs of your Debian entry)\n"
                  f"Suites: {' '.join(DEB_SRC_SUITES)}\nComponents: main\n"
                  "Signed-By: (its keyring)\n")
    stanza = "".join("    " + line + "\n" for line in stanza.splitlines())
    print(f"""\
{PROG}: could not download Debian's {detail}.
To use Debian's source package, as root run
    python3 Tools/carry/carry.py apt-sources --write
which writes /etc/{DEB_SRC_FILE} containing

{stanza}
then run `apt-get update` and try again.  Or give the source yourself:
    python3 Tools/carry/carry.py source --source Python-3.13.15.tar.xz
    (a release tarball, an unpacked CPython tree or a CPython git checkout)""",
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
        if not re.search(TARBALL_RE, path.name):
            raise CarryError(f"--source {path}: not a .tar.xz/.tgz/.tar.gz "
                             "tarball, a CPython tree or a git checkout")
        digest = sha256_file(path)
        tree = unpack_tarball(cfg, path, digest)
        return {"kind": "tarball", "origin": str(path), "path": str(path),
                "sha256": digest, "id": f"sha256:{digest}", "tree": str(tree)}
    check_cpython_tree(path, f"--source {path}")
    if is_git_top(path):
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
