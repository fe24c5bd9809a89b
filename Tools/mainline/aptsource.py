"""The machine's own Debian mirror, read from its apt sources.

Both formats are read: deb822 ``*.sources`` files and one-line ``*.list``
files (and ``/etc/apt/sources.list``).  The mirror is the URI of the first
enabled ``deb`` entry whose path ends in ``/debian`` (so not
``debian-security``, ``debian-debug`` or a third-party repository).
"""

from pathlib import Path
from urllib.parse import urlsplit

from mainline.errors import MainlineError

APT_DIR = Path("/etc/apt")


def parse_deb822(text: str) -> list[dict[str, list[str]]]:
    """Stanzas of a deb822 file: {field (lower case): words}."""
    stanzas = []
    fields: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                fields[last].extend(line.split())
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip().lower()
            fields[last] = value.split()
    if fields:
        stanzas.append(fields)
    return stanzas


def deb822_entries(text: str) -> list[tuple[str, str]]:
    """(type, URI) of the enabled entries of a deb822 ``.sources`` file."""
    entries = []
    for stanza in parse_deb822(text):
        if stanza.get("enabled", ["yes"])[0].lower() == "no":
            continue
        for kind in stanza.get("types", []):
            entries.extend((kind, uri) for uri in stanza.get("uris", []))
    return entries


def one_line_entries(text: str) -> list[tuple[str, str]]:
    """(type, URI) of the entries of a one-line ``.list`` file."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2 or words[0] not in ("deb", "deb-src"):
            continue
        rest = words[1:]
        if rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if rest:
            entries.append((words[0], rest[0]))
    return entries


def is_debian_archive(uri: str) -> bool:
    return urlsplit(uri).path.rstrip("/").endswith("/debian")


def source_files(apt_dir: Path) -> list[Path]:
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir()
                        if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """The machine's Debian mirror URI, without a trailing slash."""
    files = source_files(apt_dir)
    for path in files:
        text = path.read_text()
        entries = (deb822_entries(text) if path.suffix == ".sources"
                   else one_line_entries(text))
        for kind, uri in entries:
            if kind == "deb" and is_debian_archive(uri):
                return uri.rstrip("/")
    read = ", ".join(str(f) for f in files) or f"nothing under {apt_dir}"
    raise MainlineError(
        f"no Debian apt entry (a `deb` line whose URI ends in /debian) in "
        f"{read}; pass the mirror with --mirror URI")
