"""Fast tests of Tools/docs/check_docs.py: its own logic and its errors; no
Sphinx build, no venv, no Chromium."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import check_docs  # noqa: E402

REPO = HERE.parents[2]
REAL_NEWS = sorted((REPO / "Misc" / "NEWS.d" / "next").glob("*/*.rst"))
# blurb of the interpreter running the tests (tox -e tools installs it)
BLURB = (shutil.which("blurb", path=str(Path(sys.executable).parent))
         or shutil.which("blurb"))


# --------------------------------------------------------------------------
# the rendered entry's texts (as Selenium reads them from Chromium)

SIGNATURE = "asyncio.as_completed(aws, *, timeout=None, limit=None)"
OTHER_PARA = "Run awaitable objects in the aws iterable concurrently."
PARA = ("If limit is given, the iterable is consumed lazily: at most limit "
        "awaitables are started and not yet yielded at any time, and each "
        "one yielded takes and starts the next.")
OLD_NOTE = "Changed in version 3.10: Removed the loop parameter."
NOTE = "Changed in version {}: Added the limit parameter."


@pytest.mark.parametrize("version", ["3.13.15 (unreleased)", "next", "3.16"])
def test_section_all_markers(version):
    assert check_docs.check_section(
        SIGNATURE, [OTHER_PARA, PARA], [OLD_NOTE, NOTE.format(version)]) == []


def test_section_missing_signature_param():
    problems = check_docs.check_section(
        SIGNATURE.replace(", limit=None", ""), [PARA], [NOTE.format("next")])
    assert len(problems) == 1 and "limit=None" in problems[0]


def test_section_missing_paragraph():
    problems = check_docs.check_section(SIGNATURE, [OTHER_PARA],
                                        [NOTE.format("next")])
    assert len(problems) == 1 and "not yet yielded" in problems[0]


def test_section_missing_note():
    problems = check_docs.check_section(SIGNATURE, [PARA], [OLD_NOTE])
    assert len(problems) == 1 and "Added the limit" in problems[0]


def test_section_missing_everything():
    assert len(check_docs.check_section("as_completed(aws)", [], [])) == 3


# --------------------------------------------------------------------------
# other pure helpers

def test_sphinx_lint_pin(tmp_path):
    (tmp_path / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        "  - repo: https://github.com/sphinx-contrib/sphinx-lint\n"
        "    rev: c883505f64b59c3c5c9375191e4ad9f98e727ccd  # frozen: v1.0.2\n"
        "    hooks:\n"
        "      - id: sphinx-lint\n"
        "        args: [--enable=default-role]\n"
        "        files: ^Doc/|^Misc/NEWS.d/\n"
        "\n  - repo: meta\n")
    assert check_docs.sphinx_lint_pin(tmp_path) == (
        "sphinx-lint==1.0.2", ["--enable=default-role"])


def test_sphinx_lint_pin_default(tmp_path):
    assert check_docs.sphinx_lint_pin(tmp_path) == (
        "sphinx-lint", ["--enable=default-role"])


@pytest.mark.parametrize("program, package", [
    (check_docs.CHROMIUM, "apt-get install chromium"),
    (check_docs.CHROMEDRIVER, "apt-get install chromium-driver")])
def test_missing_browser_names_the_package(program, package, monkeypatch):
    monkeypatch.setattr(check_docs.shutil, "which", lambda name: None)
    with pytest.raises(check_docs.UsageError, match=package):
        check_docs.find_program(program)


# --------------------------------------------------------------------------
# command line: bad input exits 2 with one clear line

def fake_tree(root: Path) -> Path:
    for rel in ("Doc/Makefile", "Doc/requirements.txt",
                "Doc/library/asyncio-task.rst",
                "Doc/tools/check-warnings.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("check_docs: error: ")
    return err[0]


@pytest.mark.parametrize("cmd", ["build", "lint", "news", "render", "all"])
def test_bad_tree_exits_2(cmd, tmp_path, capsys):
    missing = tmp_path / "no-such-tree"
    assert check_docs.main([cmd, "--tree", str(missing)]) == 2
    line = one_error_line(capsys)
    assert f"--tree {missing}: no such directory" in line


def test_tree_not_cpython_exits_2(tmp_path, capsys):
    assert check_docs.main(["lint", "--tree", str(tmp_path)]) == 2
    assert "not a CPython source tree" in one_error_line(capsys)


def test_bad_python_exits_2(tmp_path, capsys):
    tree = fake_tree(tmp_path / "tree")
    rc = check_docs.main(["build", "--tree", str(tree), "--python",
                          str(tmp_path / "nope"), "--venv",
                          str(tmp_path / "venv")])
    assert rc == 2
    assert "--python" in one_error_line(capsys)
    assert not (tmp_path / "venv").exists()


def test_render_without_build_exits_2(tmp_path, capsys):
    tree = fake_tree(tmp_path / "tree")
    assert check_docs.main(["render", "--tree", str(tree)]) == 2
    assert "run `check_docs.py build` first" in one_error_line(capsys)


def test_all_without_chromium_stops_before_the_build(tmp_path, capsys,
                                                    monkeypatch):
    tree = fake_tree(tmp_path / "tree")
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    rc = check_docs.main(["all", "--tree", str(tree), "--python", str(python),
                          "--venv", str(tmp_path / "venv")])
    assert rc == 2
    assert "apt-get install chromium" in one_error_line(capsys)
    assert not (tmp_path / "venv").exists()
    assert not (tree / "Doc" / "build").exists()


def test_news_without_entry_fails(tmp_path, capsys):
    tree = fake_tree(tmp_path / "tree")
    assert check_docs.main(["news", "--tree", str(tree)]) == 1
    assert "no NEWS entry" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    [], ["nope"], ["render", "--window-size", "big"],
    ["build", "--jobs", "many"], ["news", "--issue", "x"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        check_docs.main(argv)
    assert e.value.code == 2


# --------------------------------------------------------------------------
# news: blurb reads the entry (tox -e tools installs blurb)

def blurb_tree(root: Path, entry_path: str) -> Path:
    """A tree blurb takes for CPython's, holding the real NEWS entry at
    Misc/NEWS.d/next/<entry_path>, and a venv with the real blurb."""
    tree = fake_tree(root / "tree")
    for rel, text in (("README.rst", "This is Python version 3.13.15\n"),
                      ("LICENSE", "A. HISTORY OF THE SOFTWARE\n"),
                      ("Include/Python.h", ""), ("Python/ceval.c", "")):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    entry = tree / "Misc" / "NEWS.d" / "next" / entry_path
    entry.parent.mkdir(parents=True)
    entry.write_text(REAL_NEWS[0].read_text())
    vbin = root / "venv" / "bin"
    vbin.mkdir(parents=True)
    assert BLURB, "blurb is not installed (tox -e tools installs it)"
    (vbin / "blurb").symlink_to(BLURB)
    (vbin / "sphinx-lint").touch()
    python = root / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    return tree


def run_news(root: Path, entry_path: str) -> int:
    tree = blurb_tree(root, entry_path)
    return check_docs.main(["news", "--tree", str(tree), "--python",
                            str(root / "python"), "--venv", str(root / "venv")])


def test_news_real_entry_passes(tmp_path, capsys):
    assert len(REAL_NEWS) == 1
    name = f"{REAL_NEWS[0].parent.name}/{REAL_NEWS[0].name}"
    assert run_news(tmp_path, name) == 0, capsys.readouterr().err
    assert "news: ok" in capsys.readouterr().out


@pytest.mark.parametrize("entry_path, why", [
    ("Library/gh-issue-74965.rst", "blurb merge failed"),
    ("Libraries/2026-11-21-23-15-53.gh-issue-74965.qnCcaB.rst", "no entry"),
    ("Library/2026-11-21-23-15-53.gh-issue-99999.qnCcaB.rst", "no entry"),
])
def test_news_bad_entry_fails(entry_path, why, tmp_path, capsys):
    assert run_news(tmp_path, entry_path) == 1
    assert why in capsys.readouterr().err
