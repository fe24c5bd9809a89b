#!/usr/bin/env python3
"""check_docs: the ``docs`` check of the carried asyncio.as_completed(limit=) change.

Runs against a patched CPython source tree (default ``build/cpython``, made by
``Tools/carry/carry.py checkout``) and an interpreter (default
``build/release/python``).  One job per subcommand:

  build    HTML docs as CPython's CI builds them: a cached venv of --python with
           Doc/requirements.txt, sphinx-build html --nitpicky with a warning
           file, then the tree's own Doc/tools/check-warnings.py with the
           options of .github/workflows/reusable-docs.yml (3.13)
  lint     sphinx-lint (the version and options of the tree's
           .pre-commit-config.yaml) on Doc/library/asyncio-task.rst and the
           NEWS entries in Misc/NEWS.d/next/
  news     NEWS entries: blurb's file-name pattern and section, ``blurb merge``
           succeeds and the merged text names the issue (gh-74965)
  render   headless Chromium on the built library/asyncio-task.html: the DOM
           of the as_completed section must show limit=None, the new
           paragraph and the versionchanged note; screenshot of the section to
           build/docs/as_completed.png
  all      news, lint, build, render (all of them run; exit 1 if any failed)

Exit status: 0 all checks passed, 1 a check failed, 2 bad input or a missing
prerequisite (one line ``check_docs: error: ...`` on stderr).

Stdlib only; Python >= 3.11.
"""

from __future__ import annotations

import argparse
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROG = "check_docs"
REPO = Path(__file__).resolve().parents[2]
DOC_FILE = "Doc/library/asyncio-task.rst"
HTML_PAGE = "library/asyncio-task.html"
ANCHOR = "asyncio.as_completed"
ISSUE = 74965
# The options CPython's CI passes to "make -C Doc html" in
# .github/workflows/reusable-docs.yml (3.13 branch):
#   make -C Doc/ PYTHON=../python \
#       SPHINXOPTS="--quiet --nitpicky --warning-file sphinx-warnings.txt" html
# and then, from the repository root:
#   python Doc/tools/check-warnings.py --annotate-diff BASE PR \
#       --fail-if-regression --fail-if-improved --fail-if-new-news-nit
CI_SPHINXOPTS = ["--quiet", "--nitpicky"]
CHECK_WARNINGS_OPTS = ["--fail-if-regression", "--fail-if-improved",
                       "--fail-if-new-news-nit"]
# blurb's sections (blurb/_template.py), as directory names (sanitized).
BLURB_SECTIONS = (
    "Security", "Core_and_Builtins", "Library", "Documentation", "Tests",
    "Build", "Windows", "macOS", "iOS", "Android", "FreeBSD", "WASI",
    "Emscripten", "Unsupported_platforms", "IDLE", "Tools-Demos", "C_API",
)
# blurb writes next/<section>/<YYYY-MM-DD-HH-MM-SS>.gh-issue-<N>.<nonce>.rst,
# the nonce being 6 characters of urlsafe base64.
NEWS_NAME_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})"
    r"\.gh-issue-(?P<issue>[1-9]\d*)"
    r"\.(?P<nonce>[A-Za-z0-9_-]{6})\.rst")
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]
VENV_STAMP = ".check_docs.json"


class UsageError(Exception):
    """Bad input or a missing prerequisite: one line on stderr, exit 2."""


class CheckFailed(Exception):
    """A check ran and failed: exit 1."""


def info(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


def run(cmd, *, cwd=None, env=None, check=True, capture=False,
        timeout=None) -> subprocess.CompletedProcess:
    shown = " ".join(str(c) for c in cmd)
    info(f"$ {shown}" + (f"   (in {cwd})" if cwd else ""))
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                              text=True, stdin=subprocess.DEVNULL,
                              capture_output=capture, timeout=timeout)
    except FileNotFoundError as e:
        raise UsageError(f"cannot run {cmd[0]}: {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"timed out after {timeout} s: {shown}") from None
    if check and proc.returncode != 0:
        detail = ""
        if capture:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()
            detail = f": {tail[-1]}" if tail else ""
        raise CheckFailed(f"exit {proc.returncode} from {Path(str(cmd[0])).name}"
                          f"{detail}")
    return proc


# --------------------------------------------------------------------------
# inputs

def resolve_path(value: str | None, default: str) -> Path:
    """An explicit path is taken relative to the current directory, a
    default one relative to the repository root."""
    if value is None:
        return (REPO / default).absolute()
    return Path(value).expanduser().absolute()


def check_tree(tree: Path) -> Path:
    if not tree.is_dir():
        raise UsageError(f"--tree {tree}: no such directory (make it with "
                         "`python Tools/carry/carry.py checkout`)")
    missing = [p for p in ("Doc/conf.py", "Doc/requirements.txt", DOC_FILE)
               if not (tree / p).is_file()]
    if missing:
        raise UsageError(f"--tree {tree}: not a CPython source tree "
                         f"(missing {', '.join(missing)})")
    return tree.resolve()


def check_python(python: Path) -> Path:
    if not python.is_file() or not os.access(python, os.X_OK):
        raise UsageError(f"--python {python}: no such executable (build it "
                         "with `python Tools/carry/carry.py build`)")
    return python


def news_entries(tree: Path) -> list[Path]:
    nxt = tree / "Misc" / "NEWS.d" / "next"
    if not nxt.is_dir():
        return []
    return sorted(p for p in nxt.glob("*/*.rst") if p.name != "README.rst")


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError("chromium not found: install Debian's package "
                     "(apt-get install chromium)")


# --------------------------------------------------------------------------
# news

def validate_news_name(path: Path | str, issue: int | None = None) -> list[str]:
    """Problems with a NEWS.d/next entry's path (empty list: fine)."""
    path = Path(path)
    problems = []
    if path.parent.name not in BLURB_SECTIONS:
        problems.append(f"{path.parent.name!r} is not a blurb section "
                        f"({', '.join(BLURB_SECTIONS)})")
    m = NEWS_NAME_RE.fullmatch(path.name)
    if not m:
        problems.append(f"{path.name!r} does not match blurb's "
                        "YYYY-MM-DD-HH-MM-SS.gh-issue-N.NONCE.rst")
        return problems
    try:
        time.strptime(m["date"], "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        problems.append(f"{path.name!r}: {m['date']} is not a date and time")
    if issue is not None and int(m["issue"]) != issue:
        problems.append(f"{path.name!r} is for gh-{m['issue']}, not gh-{issue}")
    return problems


def cmd_news(a) -> None:
    tree = check_tree(a.tree)
    entries = news_entries(tree)
    if not entries:
        raise CheckFailed(f"no NEWS entry in {tree}/Misc/NEWS.d/next/")
    problems = []
    ours = []
    for e in entries:
        rel = e.relative_to(tree)
        p = validate_news_name(e)
        problems += [f"{rel}: {x}" for x in p]
        if not p:
            info(f"file name ok: {rel}")
        m = NEWS_NAME_RE.fullmatch(e.name)
        if m and int(m["issue"]) == a.issue:
            ours.append(e)
    if not ours:
        problems.append(f"no entry for gh-{a.issue} in Misc/NEWS.d/next/")
    py = ensure_venv(a)
    blurb = py.parent / "blurb"
    (tree / "Doc" / "build").mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="NEWS-blurb-", suffix=".txt",
                               dir=tree / "Doc" / "build")
    os.close(fd)
    try:
        proc = run([blurb, "merge", "-f", tmp], cwd=tree, check=False,
                   capture=True)
        if proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip().splitlines()
            problems.append(f"blurb merge failed (exit {proc.returncode})"
                            + (f": {out[-1]}" if out else ""))
        else:
            merged = Path(tmp).read_text(encoding="utf-8")
            if f"gh-{a.issue}" not in merged:
                problems.append(f"blurb merge output does not contain "
                                f"gh-{a.issue}")
            else:
                lines = [ln for ln in merged.splitlines()
                         if f"gh-{a.issue}" in ln]
                info(f"blurb merge ok: {lines[0].strip()}")
    finally:
        Path(tmp).unlink(missing_ok=True)
    if problems:
        raise CheckFailed("; ".join(problems))
    info("news: ok")


# --------------------------------------------------------------------------
# venv (shared by build, lint, news)

def sphinx_lint_pin(tree: Path) -> tuple[str, list[str]]:
    """Requirement and arguments for sphinx-lint from the tree's pre-commit
    config (``rev: ... # frozen: vX.Y.Z`` and ``args: [...]``)."""
    cfg = tree / ".pre-commit-config.yaml"
    req, args = "sphinx-lint", ["--enable=default-role"]
    try:
        text = cfg.read_text(encoding="utf-8")
    except OSError:
        return req, args
    m = re.search(r"repo: \S*sphinx-lint\s*\n(?P<body>(?:[ \t]+.*\n?)*)", text)
    if m:
        body = m["body"]
        v = re.search(r"rev:\s*(?:\S+\s*#\s*frozen:\s*)?v?(\d+(?:\.\d+)+)", body)
        if v:
            req = f"sphinx-lint=={v[1]}"
        g = re.search(r"args:\s*\[([^\]]*)\]", body)
        if g:
            args = [x.strip().strip("'\"") for x in g[1].split(",") if x.strip()]
    return req, args


def ensure_venv(a) -> Path:
    """build/docs-venv: python -m venv with --python, then Doc/requirements.txt
    and sphinx-lint.  Recreated when the interpreter or the requirements
    change; reused otherwise.  Returns the venv's python."""
    tree = a.tree
    python = check_python(a.python)
    venv = a.venv
    reqs = tree / "Doc" / "requirements.txt"
    lint_req, _ = sphinx_lint_pin(tree)
    h = hashlib.sha256()
    for f in (reqs, tree / "Doc" / "constraints.txt"):
        if f.is_file():
            h.update(f.read_bytes())
    want = {"python": str(python.resolve()),
            "requirements": h.hexdigest(), "extra": [lint_req]}
    stamp = venv / VENV_STAMP
    vpy = venv / "bin" / "python"
    try:
        have = json.loads(stamp.read_text())
    except (OSError, ValueError):
        have = None
    if have == want and vpy.exists():
        return vpy
    if venv.exists():
        if not (venv / "pyvenv.cfg").is_file() and any(venv.iterdir()):
            raise UsageError(f"--venv {venv}: exists and is not a venv")
        info(f"recreating {venv} (interpreter or requirements changed)")
        shutil.rmtree(venv)
    t0 = time.monotonic()
    run([python, "-m", "venv", venv])
    # Doc/Makefile's venv target: upgrade pip, then -r requirements.txt
    # (which pulls constraints.txt with -c).
    run([vpy, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([vpy, "-m", "pip", "install", "--quiet", "-r", reqs, lint_req],
        cwd=reqs.parent)
    stamp.write_text(json.dumps(want, indent=2) + "\n")
    info(f"venv ready in {time.monotonic() - t0:.0f} s: {venv}")
    return vpy


# --------------------------------------------------------------------------
# lint

def cmd_lint(a) -> None:
    tree = check_tree(a.tree)
    py = ensure_venv(a)
    _, args = sphinx_lint_pin(tree)
    files = [DOC_FILE] + [str(e.relative_to(tree)) for e in news_entries(tree)]
    proc = run([py.parent / "sphinx-lint", *args, *files], cwd=tree,
               check=False)
    if proc.returncode != 0:
        raise CheckFailed(f"sphinx-lint found problems in {', '.join(files)}")
    info(f"lint: ok ({len(files)} files)")


# --------------------------------------------------------------------------
# build

def compose_news(tree: Path, blurb: Path, dest: Path) -> str:
    """Doc/build/NEWS, as Doc/Makefile's "build" target makes it.

    The Makefile copies Misc/NEWS when it exists (a release tarball), else
    runs ``blurb merge`` over Misc/NEWS.d (a git checkout).  A release tarball
    with the change applied has both Misc/NEWS and Misc/NEWS.d/next/: then the
    merged "next" section goes on top of Misc/NEWS, which is what a CPython
    checkout's merged NEWS looks like, so the new entry is built (and nits in
    it are caught by --fail-if-new-news-nit) as in CPython's CI.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    misc_news = tree / "Misc" / "NEWS"
    has_next = bool(news_entries(tree))
    if misc_news.is_file() and not has_next:
        shutil.copyfile(misc_news, dest)
        return "copied Misc/NEWS"
    if not (tree / "Misc" / "NEWS.d").is_dir():
        raise UsageError(f"{tree}: neither Misc/NEWS.d nor Misc/NEWS found; "
                         "cannot build docs")
    run([blurb, "merge", "-f", dest], cwd=tree, capture=True)
    if not misc_news.is_file():
        return "blurb merge of Misc/NEWS.d"
    merged = dest.read_text(encoding="utf-8")
    cut = merged.find("**(For information about older versions")
    if cut != -1:
        merged = merged[:cut]
    released = misc_news.read_text(encoding="utf-8")
    start = released.find("What's New in Python")
    dest.write_text(merged.rstrip() + "\n\n\n" + released[max(start, 0):],
                    encoding="utf-8")
    return "blurb merge of Misc/NEWS.d/next on top of Misc/NEWS"


def git_ref_ok(tree: Path, ref: str) -> bool:
    if not (tree / ".git").exists() or shutil.which("git") is None:
        return False
    return subprocess.run(["git", "rev-parse", "-q", "--verify",
                           f"{ref}^{{commit}}"], cwd=tree,
                          capture_output=True).returncode == 0


def parse_warnings(text: str, tree: Path) -> list[tuple[str, int, str]]:
    """(path relative to the tree, line, message) of Sphinx warnings."""
    out = []
    prefix = str(tree) + os.sep
    for line in text.splitlines():
        m = re.match(r"(?P<file>[^:]+):(?P<line>\d+): WARNING: (?P<msg>.*)",
                     line.strip())
        if m:
            out.append((m["file"].removeprefix(prefix), int(m["line"]),
                        m["msg"]))
    return out


def cmd_build(a) -> None:
    tree = check_tree(a.tree)
    checker = tree / "Doc" / "tools" / "check-warnings.py"
    if not checker.is_file():
        raise UsageError(f"--tree {tree}: no Doc/tools/check-warnings.py")
    t_all = time.monotonic()
    py = ensure_venv(a)
    bindir = py.parent
    doc = tree / "Doc"
    news_how = compose_news(tree, bindir / "blurb", doc / "build" / "NEWS")
    info(f"Doc/build/NEWS: {news_how}")
    # Sphinx writes its warnings to Doc/build/ (ignored by build/cpython's
    # git); Doc/sphinx-warnings.txt, where check-warnings.py reads them, is a
    # copy that exists only while check-warnings.py runs, so that no stray
    # file under Doc/ is picked up by `carry.py export`.
    warn_file = doc / "build" / "sphinx-warnings.txt"
    warn_file.unlink(missing_ok=True)
    # Doc/Makefile: ALLSPHINXOPTS = --builder html --doctree-dir
    # build/doctrees --jobs $(JOBS) $(SPHINXOPTS) $(SPHINXERRORHANDLING)
    # . build/html, with SPHINXERRORHANDLING = --fail-on-warning.
    cmd = [bindir / "sphinx-build", "--builder", "html",
           "--doctree-dir", "build/doctrees", "--jobs", a.jobs,
           *CI_SPHINXOPTS, "--warning-file", warn_file]
    if not a.incremental:
        # CI builds a fresh checkout; an incremental build would not
        # re-emit warnings of unchanged pages (and --fail-if-improved would
        # then complain wrongly).
        cmd += ["--fresh-env", "--write-all"]
    cmd += ["--fail-on-warning", ".", "build/html"]
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    a.out.mkdir(parents=True, exist_ok=True)
    log = a.out / "sphinx-build.log"
    info(f"sphinx-build output goes to {log} (a full build takes 3-6 "
         "minutes on 2 cores)")
    t0 = time.monotonic()
    with open(log, "w", encoding="utf-8") as logf:
        info(f"$ {' '.join(map(str, cmd))}   (in {doc})")
        proc = subprocess.run([str(c) for c in cmd], cwd=doc, env=env,
                              stdin=subprocess.DEVNULL, stdout=logf,
                              stderr=subprocess.STDOUT)
    t_sphinx = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines[-25:]:
            print(f"  | {line}")
    page = doc / "build" / "html" / HTML_PAGE
    # sphinx-build exits 1 when warnings were raised (--fail-on-warning):
    # CI's build step has continue-on-error: true and leaves the verdict to
    # check-warnings.py.  Anything else is a broken build.
    stale = not a.incremental and page.is_file() and \
        page.stat().st_mtime < time.time() - t_sphinx - 60
    if proc.returncode not in (0, 1) or not page.is_file() or stale:
        raise CheckFailed(f"sphinx-build failed (exit {proc.returncode}, "
                          f"{t_sphinx:.0f} s)")
    text = warn_file.read_text(encoding="utf-8") if warn_file.exists() else ""
    warnings = parse_warnings(text, tree)
    if warn_file.exists():
        shutil.copyfile(warn_file, a.out / "sphinx-warnings.txt")
    info(f"sphinx-build html: {t_sphinx:.0f} s, exit {proc.returncode}, "
         f"{len(warnings)} warnings (all in {a.out / 'sphinx-warnings.txt'})")
    ours = [w for w in warnings if w[0] == DOC_FILE]
    news_ours = [w for w in warnings if w[0].endswith("build/NEWS")
                 and w[1] <= 40]
    for f, ln, msg in ours + news_ours:
        info(f"  warning: {f}:{ln}: {msg}")
    # check-warnings.py, as .github/workflows/reusable-docs.yml runs it.
    opts = list(CHECK_WARNINGS_OPTS)
    if a.incremental:
        opts.remove("--fail-if-improved")
        info("incremental build: --fail-if-improved skipped")
    if git_ref_ok(tree, a.base_ref):
        opts = ["--annotate-diff", a.base_ref, "HEAD"] + opts
    else:
        info(f"no git ref {a.base_ref!r} in the tree: --annotate-diff skipped")
    ci_warn_file = doc / "sphinx-warnings.txt"
    shutil.copyfile(warn_file, ci_warn_file) if warn_file.exists() \
        else ci_warn_file.write_text("")
    try:
        chk = run([py, checker, *opts], cwd=tree, check=False)
    finally:
        ci_warn_file.unlink(missing_ok=True)
    info(f"build: {time.monotonic() - t_all:.0f} s in all")
    if chk.returncode != 0:
        raise CheckFailed(f"Doc/tools/check-warnings.py failed (exit "
                          f"{chk.returncode}): see its output above")
    if ours:
        # Not reachable while asyncio-task.rst is not in .nitignore
        # (--fail-if-regression fails first); kept for a tree that lists it.
        raise CheckFailed(f"{len(ours)} warning(s) in {DOC_FILE}")
    info("build: ok")


# --------------------------------------------------------------------------
# render

class _SectionParser(html.parser.HTMLParser):
    """Text of the <dl> holding the element with id=ANCHOR: the signature
    (text of that element), the paragraphs and the version notes."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input",
            "link", "meta", "source", "track", "wbr"}

    def __init__(self, anchor: str):
        super().__init__(convert_charrefs=True)
        self.anchor = anchor
        self.stack: list[tuple[str, set[str]]] = []
        self.root_depth = None      # depth of the <dl> being captured
        self.sig_depth = None
        self.block_depth = None
        self.block_kind = None
        self.found = False
        self.signature = []
        self.blocks: list[tuple[str, list[str]]] = []  # (kind, text parts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        if tag in self.VOID:
            return
        self.stack.append((tag, classes))
        depth = len(self.stack)
        if attrs.get("id") == self.anchor and self.root_depth is None \
                and not self.found:
            self.found = True
            self.sig_depth = depth
            for i in range(depth - 2, -1, -1):
                if self.stack[i][0] == "dl":
                    self.root_depth = i + 1
                    break
            else:
                self.root_depth = depth
            return
        if self.root_depth is None or self.block_depth is not None:
            return
        if tag == "div" and classes & {"versionchanged", "versionadded",
                                       "deprecated", "versionremoved"}:
            self.block_depth, self.block_kind = depth, "version"
            self.blocks.append(("version", []))
        elif tag == "p":
            self.block_depth, self.block_kind = depth, "p"
            self.blocks.append(("p", []))

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.stack:
            return
        # pop to the matching open tag (tolerates sloppy markup)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                break
        else:
            return
        while len(self.stack) > i:
            depth = len(self.stack)
            if self.sig_depth == depth:
                self.sig_depth = None
            if self.block_depth == depth:
                self.block_depth = None
            if self.root_depth == depth:
                self.root_depth = None
            self.stack.pop()

    def handle_data(self, data):
        if self.sig_depth is not None:
            self.signature.append(data)
        if self.root_depth is not None and self.block_depth is not None:
            self.blocks[-1][1].append(data)


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00b6", " ").split())


PARA_RE = re.compile(r"\bat most\b.*\blimit\b.*\bin flight\b")
NOTE_RE = re.compile(r"Changed in version (?P<version>next|\S+ \(unreleased\)"
                     r"|\d+\.\d+\S*): Added the limit parameter\.")


def check_section_dom(dom: str, anchor: str = ANCHOR) -> tuple[dict, list[str]]:
    """Parse the rendered page; return (what was found, problems)."""
    p = _SectionParser(anchor)
    p.feed(dom)
    p.close()
    found = {"signature": _norm("".join(p.signature)), "paragraph": None,
             "note": None}
    if not p.found:
        return found, [f"no element with id={anchor!r} in the page"]
    problems = []
    if "limit=None" not in found["signature"].replace(" = ", "="):
        problems.append(f"signature lacks limit=None: {found['signature']!r}")
    paras = [_norm("".join(t)) for k, t in p.blocks if k == "p"]
    notes = [_norm("".join(t)) for k, t in p.blocks if k == "version"]
    for text in paras:
        if PARA_RE.search(text):
            found["paragraph"] = text
            break
    else:
        problems.append("no paragraph saying at most *limit* awaitables are "
                        "in flight")
    for text in notes:
        m = NOTE_RE.search(text)
        if m:
            found["note"] = m[0]
            break
    else:
        problems.append("no 'Changed in version ...: Added the limit "
                        f"parameter.' note (notes: {notes!r})")
    return found, problems


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4),
    so no websocket client is needed."""

    def __init__(self, chromium: str, profile: str, log: Path,
                 timeout: float = 120):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--remote-debugging-pipe", "about:blank"]
        info("$ " + " ".join(cmd))
        self.log = log
        self._logf = open(log, "wb")
        # sh puts the pipe ends on fds 3 and 4 for Chromium
        self.proc = subprocess.Popen(
            ["sh", "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}',
             *cmd],
            pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
            stdout=self._logf, stderr=subprocess.STDOUT)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.deadline = time.monotonic() + timeout
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session = None

    def close(self) -> None:
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_message(self) -> dict:
        import select
        while b"\0" not in self._buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"chromium did not answer in time (see "
                                  f"{self.log})")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CheckFailed(f"chromium exited (exit "
                                      f"{self.proc.poll()}; see {self.log})")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None,
             session: bool = True) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._w, data):]
        while True:
            reply = self._read_message()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise CheckFailed(f"chromium: {method}: "
                                      f"{reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read_message()
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def open(self, url: str, width: int, height: int) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})
        self.session = self.send("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True})["sessionId"]
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": False})
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        res = self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True})
        if "exceptionDetails" in res:
            raise CheckFailed(f"chromium: evaluating {expression[:40]!r}: "
                              f"{res['exceptionDetails'].get('text')}")
        return res["result"].get("value")


# The <dl> of the as_completed entry (signature + body), in page coordinates.
SECTION_BOX_JS = """(() => {
  const dt = document.getElementById(%s);
  if (!dt) return null;
  const dl = dt.closest('dl') || dt;
  dl.scrollIntoView();
  const r = dl.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY,
          width: r.width, height: r.height};
})()"""


def cmd_render(a) -> None:
    tree = check_tree(a.tree)
    page = tree / "Doc" / "build" / "html" / HTML_PAGE
    if not page.is_file():
        raise UsageError(f"{page} not found: run `check_docs.py build` first")
    chromium = find_chromium()
    a.out.mkdir(parents=True, exist_ok=True)
    png = a.out / "as_completed.png"
    png.unlink(missing_ok=True)
    width, height = (int(x) for x in a.window_size.split(","))
    url = page.as_uri()
    with tempfile.TemporaryDirectory(prefix="check-docs-chromium-") as prof, \
            DevTools(chromium, prof, a.out / "chromium.log") as dt:
        dt.open(url, width, height)
        dom = dt.evaluate("document.documentElement.outerHTML")
        box = dt.evaluate(SECTION_BOX_JS % json.dumps(ANCHOR))
        shot = None
        if box and box["width"] > 0 and box["height"] > 0:
            pad = 12
            clip = {"x": max(box["x"] - pad, 0), "y": max(box["y"] - pad, 0),
                    "width": box["width"] + 2 * pad,
                    "height": box["height"] + 2 * pad, "scale": 1}
            shot = dt.send("Page.captureScreenshot", {
                "format": "png", "clip": clip,
                "captureBeyondViewport": True})["data"]
    (a.out / "asyncio-task.dom.html").write_text(dom or "", encoding="utf-8")
    found, problems = check_section_dom(dom or "")
    for key in ("signature", "paragraph", "note"):
        info(f"rendered {key}: {found[key]!r}")
    if shot:
        import base64
        png.write_bytes(base64.b64decode(shot))
        info(f"screenshot of #{ANCHOR} ({box['width']:.0f}x"
             f"{box['height']:.0f} CSS px): {png}")
    else:
        problems.append(f"no box for #{ANCHOR} to take a screenshot of")
    if problems:
        raise CheckFailed("; ".join(problems))
    info("render: ok")


# --------------------------------------------------------------------------
# all / main

def cmd_all(a) -> None:
    failed = []
    for name, fn in (("news", cmd_news), ("lint", cmd_lint),
                     ("build", cmd_build), ("render", cmd_render)):
        info(f"=== {name}")
        try:
            fn(a)
        except CheckFailed as e:
            print(f"{PROG}: {name} FAILED: {e}", file=sys.stderr, flush=True)
            failed.append(name)
        except UsageError as e:
            if name == "render" and "build" in failed:
                print(f"{PROG}: render not run: {e}", file=sys.stderr)
                failed.append(name)
                continue
            raise
    if failed:
        raise CheckFailed(f"failed: {', '.join(failed)}")
    info("all docs checks passed")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tree", help="patched CPython source tree "
                        "(default: build/cpython)")
    common.add_argument("--python", help="interpreter for the docs venv "
                        "(default: build/release/python)")
    common.add_argument("--venv", help="docs venv, cached "
                        "(default: build/docs-venv)")
    common.add_argument("--out", help="where the screenshot, the DOM and the "
                        "warnings go (default: build/docs)")
    common.add_argument("--issue", type=int, default=ISSUE,
                        help=f"GitHub issue of the NEWS entry (default {ISSUE})")
    common.add_argument("--jobs", default="auto",
                        help="sphinx-build --jobs (default: auto, as Doc/Makefile)")
    common.add_argument("--incremental", action="store_true",
                        help="reuse Doc/build/doctrees (faster; skips "
                        "--fail-if-improved)")
    common.add_argument("--base-ref", default="HEAD~1",
                        help="git ref of the pristine base in the tree, for "
                        "check-warnings.py --annotate-diff (default HEAD~1)")
    common.add_argument("--window-size", default="1280,1000",
                        help="Chromium viewport W,H in CSS px; the screenshot "
                        "is the whole as_completed entry (default 1280,1000)")
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 ok, 1 a check failed, 2 bad input or a "
               "missing prerequisite.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, fn, help_ in (
            ("build", cmd_build, "HTML build + Doc/tools/check-warnings.py"),
            ("lint", cmd_lint, "sphinx-lint on asyncio-task.rst and NEWS"),
            ("news", cmd_news, "NEWS entry: file name and blurb merge"),
            ("render", cmd_render, "headless Chromium: DOM check + screenshot"),
            ("all", cmd_all, "news, lint, build, render")):
        sp = sub.add_parser(name, parents=[common], help=help_)
        sp.set_defaults(func=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not re.fullmatch(r"\d+,\d+", a.window_size):
        parser.error(f"--window-size {a.window_size!r}: expected W,H")
    if a.jobs != "auto" and not a.jobs.isdigit():
        parser.error(f"--jobs {a.jobs!r}: expected a number or auto")
    a.tree = resolve_path(a.tree, "build/cpython")
    a.python = resolve_path(a.python, "build/release/python")
    a.venv = resolve_path(a.venv, "build/docs-venv")
    a.out = resolve_path(a.out, "build/docs")
    try:
        a.func(a)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except CheckFailed as e:
        print(f"{PROG}: FAILED: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
