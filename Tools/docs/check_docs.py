#!/usr/bin/env python3
"""check_docs: the ``docs`` check of the carried asyncio.as_completed(limit=) change.

Glue around the tools CPython already uses, run on a patched CPython tree
(default ``build/cpython``, made by ``Tools/carry/carry.py checkout``) with
an interpreter (default ``build/release/python``).  One job per subcommand:

  news     ``blurb merge`` reads the NEWS entries (blurb checks their
           sections and names) and the merged text names the issue
  lint     sphinx-lint (the version and options of the tree's
           .pre-commit-config.yaml) on Doc/library/asyncio-task.rst and the
           NEWS entries
  build    the HTML docs as CPython's CI builds them: ``make -C Doc venv
           html`` with CI's SPHINXOPTS, then Doc/tools/check-warnings.py
  render   the built as_completed entry in headless Chromium, driven by
           Selenium with Debian's chromium-driver: its signature, the limit
           paragraph and the versionchanged note, and a screenshot of the
           entry to build/docs/as_completed.png
  all      render's prerequisites first, then news, lint, build, render (all
           of them run; exit 1 if any failed)

The docs venv (Doc/requirements.txt, blurb, sphinx-lint) is made by
``make -C Doc venv`` with --python, in --venv, once: delete it to renew it.
On a release tree (Misc/NEWS present, as in Debian's tarball) Doc/Makefile
builds the released Misc/NEWS, so the new entry is checked by news and lint,
not by the HTML build.

Exit status: 0 all checks passed, 1 a check failed, 2 bad input or a missing
prerequisite (one line ``check_docs: error: ...`` on stderr).

Python >= 3.11; render needs the selenium package (tox -e docs installs it).
"""

from __future__ import annotations

import argparse
import importlib.util
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
# .github/workflows/reusable-docs.yml (3.13): make -C Doc/ PYTHON=../python
# SPHINXOPTS="--quiet --nitpicky --fresh-env --warning-file
# sphinx-warnings.txt" html, then check-warnings.py with these options.
CI_SPHINXOPTS = "--quiet --nitpicky --fresh-env --warning-file sphinx-warnings.txt"
CHECK_WARNINGS_OPTS = ["--fail-if-regression", "--fail-if-improved",
                       "--fail-if-new-news-nit"]
CHROMIUM = ("chromium", "Debian package chromium")
CHROMEDRIVER = ("chromedriver", "Debian package chromium-driver")
PARA_RE = re.compile(r"\bat most limit awaitables are started and not yet "
                     r"yielded\b")
NOTE_RE = re.compile(r"Changed in version (?:next|\S+ \(unreleased\)"
                     r"|\d+\.\d+\S*): Added the limit parameter\.")


class UsageError(Exception):
    """Bad input or a missing prerequisite: one line on stderr, exit 2."""


class CheckFailed(Exception):
    """A check ran and failed: exit 1."""


def info(msg: str) -> None:
    print(f"{PROG}: {msg}", flush=True)


def run(cmd, *, cwd=None, check=True, capture=False):
    info("$ " + " ".join(map(str, cmd)) + (f"   (in {cwd})" if cwd else ""))
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, text=True,
                              stdin=subprocess.DEVNULL, capture_output=capture)
    except FileNotFoundError as e:
        raise UsageError(f"cannot run {cmd[0]}: {e.strerror}") from None
    if check and proc.returncode != 0:
        raise CheckFailed(f"exit {proc.returncode} from {Path(str(cmd[0])).name}")
    return proc


# --------------------------------------------------------------------------
# inputs and prerequisites

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
    missing = [p for p in ("Doc/Makefile", "Doc/requirements.txt", DOC_FILE)
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


def find_program(program: tuple[str, str]) -> str:
    name, package = program
    found = shutil.which(name)
    if not found:
        raise UsageError(f"{name} not found: install the {package} "
                         f"(apt-get install {package.split()[-1]})")
    return found


def check_render_prerequisites() -> tuple[str, str]:
    """Chromium, its driver and selenium, or a clear error naming them."""
    chromium, driver = find_program(CHROMIUM), find_program(CHROMEDRIVER)
    if importlib.util.find_spec("selenium") is None:
        raise UsageError("the selenium package is missing: run this with "
                         "`tox -e docs`, or pip install selenium")
    return chromium, driver


def news_entries(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "Misc" / "NEWS.d" / "next").glob("*/*.rst")
                  if p.name != "README.rst")


def sphinx_lint_pin(tree: Path) -> tuple[str, list[str]]:
    """Requirement and arguments for sphinx-lint from the tree's pre-commit
    config (``rev: ... # frozen: vX.Y.Z`` and ``args: [...]``)."""
    req, args = "sphinx-lint", ["--enable=default-role"]
    try:
        text = (tree / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    except OSError:
        return req, args
    m = re.search(r"repo: \S*sphinx-lint\s*\n(?P<body>(?:[ \t]+.*\n?)*)", text)
    if m:
        v = re.search(r"rev:\s*(?:\S+\s*#\s*frozen:\s*)?v?(\d+(?:\.\d+)+)",
                      m["body"])
        if v:
            req = f"sphinx-lint=={v[1]}"
        g = re.search(r"args:\s*\[([^\]]*)\]", m["body"])
        if g:
            args = [x.strip().strip("'\"") for x in g[1].split(",") if x.strip()]
    return req, args


def make_doc(a, *targets: str, **variables: str):
    """``make -C Doc`` with the venv and interpreter of the options."""
    assigns = [f"PYTHON={a.python}", f"VENVDIR={a.venv}",
               *(f"{k}={v}" for k, v in variables.items())]
    return run(["make", "-C", a.tree / "Doc", *assigns, *targets], check=False)


def ensure_venv(a) -> Path:
    """The docs venv (Doc/Makefile's venv target, plus sphinx-lint)."""
    check_python(a.python)
    vbin = a.venv / "bin"
    lint_req, _ = sphinx_lint_pin(a.tree)
    if not (vbin / "sphinx-lint").exists():
        if make_doc(a, "venv").returncode != 0:
            raise CheckFailed("make -C Doc venv failed")
        run([vbin / "python", "-m", "pip", "install", "--quiet", lint_req])
    return vbin


# --------------------------------------------------------------------------
# the checks

def cmd_news(a) -> None:
    tree = check_tree(a.tree)
    if not news_entries(tree):
        raise CheckFailed(f"no NEWS entry in {tree}/Misc/NEWS.d/next/")
    vbin = ensure_venv(a)
    with tempfile.TemporaryDirectory(prefix="check-docs-") as tmp:
        merged = Path(tmp) / "NEWS"
        proc = run([vbin / "blurb", "merge", "-f", merged], cwd=tree,
                   check=False, capture=True)
        if proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip().splitlines()
            raise CheckFailed(f"blurb merge failed (exit {proc.returncode})"
                              + (f": {out[-1]}" if out else ""))
        ours = [line.strip() for line in merged.read_text().splitlines()
                if f"gh-{a.issue}" in line]
    if not ours:
        raise CheckFailed(f"blurb merge output has no entry for gh-{a.issue} "
                          "(misnamed file or unknown section?)")
    info(f"news: ok ({ours[0]})")


def cmd_lint(a) -> None:
    tree = check_tree(a.tree)
    vbin = ensure_venv(a)
    _, args = sphinx_lint_pin(tree)
    files = [DOC_FILE] + [str(e.relative_to(tree)) for e in news_entries(tree)]
    if run([vbin / "sphinx-lint", *args, *files], cwd=tree,
           check=False).returncode != 0:
        raise CheckFailed(f"sphinx-lint found problems in {', '.join(files)}")
    info(f"lint: ok ({len(files)} files)")


def cmd_build(a) -> None:
    tree = check_tree(a.tree)
    checker = tree / "Doc" / "tools" / "check-warnings.py"
    if not checker.is_file():
        raise UsageError(f"--tree {tree}: no Doc/tools/check-warnings.py")
    vbin = ensure_venv(a)
    info("make html: a full build takes 3-6 minutes on 2 cores")
    started = time.time()
    proc = make_doc(a, "html", SPHINXOPTS=CI_SPHINXOPTS, JOBS=a.jobs)
    page = tree / "Doc" / "build" / "html" / HTML_PAGE
    # With warnings make exits 2 (--fail-on-warning); CI's build step goes on
    # and leaves the verdict to check-warnings.py.  No fresh page: broken.
    if not page.is_file() or page.stat().st_mtime < started:
        raise CheckFailed(f"make html failed (exit {proc.returncode})")
    opts = list(CHECK_WARNINGS_OPTS)
    if (tree / ".git").exists():
        opts = ["--annotate-diff", a.base_ref, "HEAD", *opts]
    if run([vbin / "python", checker, *opts], cwd=tree,
           check=False).returncode != 0:
        raise CheckFailed("Doc/tools/check-warnings.py failed: see its "
                          "output above")
    info("build: ok")


def check_section(signature: str, paragraphs: list[str],
                  notes: list[str]) -> list[str]:
    """Problems with the rendered as_completed entry's texts."""
    problems = []
    if "limit=None" not in signature.replace(" = ", "="):
        problems.append(f"signature lacks limit=None: {signature!r}")
    if not any(PARA_RE.search(p) for p in paragraphs):
        problems.append("no paragraph saying at most *limit* awaitables are "
                        "started and not yet yielded")
    if not any(NOTE_RE.search(n) for n in notes):
        problems.append("no 'Changed in version ...: Added the limit "
                        f"parameter.' note (notes: {notes!r})")
    return problems


def cmd_render(a) -> None:
    tree = check_tree(a.tree)
    page = tree / "Doc" / "build" / "html" / HTML_PAGE
    if not page.is_file():
        raise UsageError(f"{page} not found: run `check_docs.py build` first")
    chromium, driver_path = check_render_prerequisites()
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 f"--window-size={a.window_size}"):
        options.add_argument(flag)
    a.out.mkdir(parents=True, exist_ok=True)
    png = a.out / "as_completed.png"
    png.unlink(missing_ok=True)
    service = webdriver.ChromeService(executable_path=driver_path)
    with webdriver.Chrome(options=options, service=service) as browser:
        browser.get(page.as_uri())
        try:
            signature = browser.find_element(By.ID, ANCHOR)
        except NoSuchElementException:
            raise CheckFailed(f"no element with id={ANCHOR!r} in {page}") \
                from None
        entry = signature.find_element(By.XPATH, "./ancestor::dl[1]")
        texts = [" ".join(e.text.replace("\u00b6", " ").split()) for e in
                 (signature, *entry.find_elements(By.CSS_SELECTOR, "dd p"))]
        notes = [" ".join(e.text.split()) for e in entry.find_elements(
            By.CSS_SELECTOR, "div.versionchanged")]
        entry.screenshot(str(png))
    info(f"rendered signature: {texts[0]!r}")
    info(f"screenshot of #{ANCHOR}: {png}")
    problems = check_section(texts[0], texts[1:], notes)
    if problems:
        raise CheckFailed("; ".join(problems))
    info("render: ok")


def cmd_all(a) -> None:
    check_tree(a.tree)
    check_python(a.python)
    check_render_prerequisites()
    failed = []
    for name, check in (("news", cmd_news), ("lint", cmd_lint),
                        ("build", cmd_build), ("render", cmd_render)):
        if name == "render" and "build" in failed:
            failed.append("render (not run: no build)")
            continue
        info(f"=== {name}")
        try:
            check(a)
        except CheckFailed as e:
            print(f"{PROG}: {name} FAILED: {e}", file=sys.stderr, flush=True)
            failed.append(name)
    if failed:
        raise CheckFailed(f"failed: {', '.join(failed)}")
    info("all docs checks passed")


# --------------------------------------------------------------------------
# command line

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tree", help="patched CPython source tree "
                        "(default: build/cpython)")
    common.add_argument("--python", help="interpreter for the docs venv "
                        "(default: build/release/python)")
    common.add_argument("--venv", help="docs venv, made once "
                        "(default: build/docs-venv)")
    common.add_argument("--out", help="where the screenshot goes "
                        "(default: build/docs)")
    common.add_argument("--issue", type=int, default=ISSUE,
                        help=f"GitHub issue of the NEWS entry (default {ISSUE})")
    common.add_argument("--jobs", default="auto",
                        help="sphinx-build --jobs (default: auto, as Doc/Makefile)")
    common.add_argument("--base-ref", default="HEAD~1",
                        help="git ref of the pristine base in the tree, for "
                        "check-warnings.py --annotate-diff (default HEAD~1)")
    common.add_argument("--window-size", default="1280,1000",
                        help="Chromium window W,H in CSS px (default 1280,1000)")
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 ok, 1 a check failed, 2 bad input or a "
               "missing prerequisite.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, func, help_ in (
            ("build", cmd_build, "make -C Doc html + check-warnings.py"),
            ("lint", cmd_lint, "sphinx-lint on asyncio-task.rst and NEWS"),
            ("news", cmd_news, "the NEWS entry through blurb merge"),
            ("render", cmd_render, "headless Chromium: the entry + screenshot"),
            ("all", cmd_all, "news, lint, build, render")):
        sp = sub.add_parser(name, parents=[common], help=help_)
        sp.set_defaults(func=func)
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
