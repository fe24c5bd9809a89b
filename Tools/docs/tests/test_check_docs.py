"""Fast tests of Tools/docs/check_docs.py: its pure logic, no Sphinx build,
no venv, no Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import check_docs  # noqa: E402

REPO = HERE.parents[2]
REAL_NEWS = sorted((REPO / "Misc" / "NEWS.d" / "next").glob("*/*.rst"))


# --------------------------------------------------------------------------
# NEWS file names

def test_real_news_entry_is_valid():
    assert REAL_NEWS, "the repository has no Misc/NEWS.d/next entry"
    ours = [p for p in REAL_NEWS if ".gh-issue-74965." in p.name]
    assert len(ours) == 1
    assert check_docs.validate_news_name(ours[0], issue=74965) == []


@pytest.mark.parametrize("name", [
    "2026-11-21-23-15-53.gh-issue-74965.qnCcaB.rst",
    "2024-01-02-03-04-05.gh-issue-1.a-b_C9.rst",
])
def test_good_names(name):
    assert check_docs.validate_news_name(f"next/Library/{name}") == []


@pytest.mark.parametrize("name", [
    "2026-11-21.gh-issue-74965.qnCcaB.rst",             # date too short
    "2026-11-21-23-15-53.gh-74965.qnCcaB.rst",           # gh- not gh-issue-
    "2026-11-21-23-15-53.bpo-74965.qnCcaB.rst",          # legacy bpo
    "2026-11-21-23-15-53.gh-issue-74965.qnCc.rst",       # nonce too short
    "2026-11-21-23-15-53.gh-issue-74965.qnCcaB.txt",     # not .rst
    "2026-11-21-23-15-53.gh-issue-74965.qn+caB.rst",     # not base64url
    "2026-11-21-23-15-53.gh-issue-0.qnCcaB.rst",         # no issue
    "2026-13-40-23-15-53.gh-issue-74965.qnCcaB.rst",     # not a date
    "gh-issue-74965.rst",
])
def test_bad_names(name):
    assert check_docs.validate_news_name(f"next/Library/{name}")


def test_bad_section():
    problems = check_docs.validate_news_name(
        "next/Libraries/2026-11-21-23-15-53.gh-issue-74965.qnCcaB.rst")
    assert len(problems) == 1 and "not a blurb section" in problems[0]


def test_other_issue():
    problems = check_docs.validate_news_name(
        "next/Library/2026-11-21-23-15-53.gh-issue-1234.qnCcaB.rst",
        issue=74965)
    assert problems == ["'2026-11-21-23-15-53.gh-issue-1234.qnCcaB.rst' is "
                        "for gh-1234, not gh-74965"]


# --------------------------------------------------------------------------
# the DOM check (markup as Sphinx 8 + python-docs-theme render it)

SIG = ('<dt class="sig sig-object py" id="asyncio.as_completed">'
       '<span class="sig-prename descclassname"><span class="pre">asyncio.'
       '</span></span><span class="sig-name descname"><span class="pre">'
       'as_completed</span></span><span class="sig-paren">(</span>'
       '<em class="sig-param"><span class="n"><span class="pre">aws</span>'
       '</span></em>, <em class="sig-param"><span class="o"><abbr><span '
       'class="pre">*</span></abbr></span></em>, <em class="sig-param"><span '
       'class="n"><span class="pre">timeout</span></span><span class="o">'
       '<span class="pre">=</span></span><span class="default_value"><span '
       'class="pre">None</span></span></em>{extra}<span class="sig-paren">)'
       '</span><a class="headerlink" href="#asyncio.as_completed">\u00b6</a>'
       '</dt>')
LIMIT_PARAM = (', <em class="sig-param"><span class="n"><span class="pre">'
               'limit</span></span><span class="o"><span class="pre">=</span>'
               '</span><span class="default_value"><span class="pre">None'
               '</span></span></em>')
PARA = ('<p>If <em>limit</em> is given, at most <em>limit</em> awaitables are '
        'in flight at once: started, with their result not yet handed out.</p>')
OTHER_PARA = '<p>Run awaitable objects in the <em>aws</em> iterable.</p>'
NOTE = ('<div class="versionchanged"><p><span class="versionmodified changed">'
        'Changed in version {version}: </span>Added the <em>limit</em> '
        'parameter.</p></div>')
OLD_NOTE = ('<div class="versionchanged"><p><span class="versionmodified '
            'changed">Changed in version 3.10: </span>Removed the <em>loop'
            '</em> parameter.</p></div>')


def page(sig=True, para=True, note="3.13.15 (unreleased)"):
    body = [OTHER_PARA]
    if para:
        body.append(PARA)
    body.append(OLD_NOTE)
    if note:
        body.append(NOTE.format(version=note))
    entry = ('<dl class="py function">' + SIG.format(
        extra=LIMIT_PARAM if sig else "") + '<dd>' + "".join(body)
        + '</dd></dl>')
    # A paragraph and a note outside the entry must not count.
    outside = PARA + NOTE.format(version="next")
    return ('<html><head><meta charset="utf-8"><link rel="x" href="y">'
            '</head><body><section><h2>Waiting primitives</h2>'
            '<dl class="py function"><dt id="asyncio.wait">w</dt><dd>'
            '<p>other</p></dd></dl>' + entry + '<br><img src="z">'
            '</section><section>' + (outside if not (para and note) else "")
            + '</section></body></html>')


def test_dom_all_markers():
    found, problems = check_docs.check_section_dom(page())
    assert problems == []
    assert found["signature"] == \
        "asyncio.as_completed(aws, *, timeout=None, limit=None)"
    assert found["paragraph"].startswith("If limit is given, at most limit")
    assert found["note"] == \
        "Changed in version 3.13.15 (unreleased): Added the limit parameter."


def test_dom_note_next_literal():
    found, problems = check_docs.check_section_dom(page(note="next"))
    assert problems == []
    assert found["note"] == "Changed in version next: Added the limit parameter."


def test_dom_missing_signature_param():
    _, problems = check_docs.check_section_dom(page(sig=False))
    assert len(problems) == 1 and "limit=None" in problems[0]


def test_dom_missing_paragraph():
    _, problems = check_docs.check_section_dom(page(para=False))
    assert len(problems) == 1 and "in flight" in problems[0]


def test_dom_missing_note():
    _, problems = check_docs.check_section_dom(page(note=None))
    assert len(problems) == 1 and "Added the limit" in problems[0]


def test_dom_missing_everything():
    _, problems = check_docs.check_section_dom(page(False, False, None))
    assert len(problems) == 3


def test_dom_no_anchor():
    _, problems = check_docs.check_section_dom("<html><body><p>at most limit "
                                               "in flight</p></body></html>")
    assert problems == ["no element with id='asyncio.as_completed' in the page"]


# --------------------------------------------------------------------------
# other pure helpers

def test_parse_warnings(tmp_path):
    text = (f"{tmp_path}/Doc/library/asyncio-task.rst:1010: WARNING: py:class "
            "reference target not found: Nope [ref.class]\n"
            "some other line\n"
            f"{tmp_path}/Doc/build/NEWS:17: WARNING: undefined label\n")
    assert check_docs.parse_warnings(text, tmp_path) == [
        ("Doc/library/asyncio-task.rst", 1010,
         "py:class reference target not found: Nope [ref.class]"),
        ("Doc/build/NEWS", 17, "undefined label"),
    ]


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


def test_missing_chromium_names_the_package(monkeypatch):
    monkeypatch.setattr(check_docs.shutil, "which", lambda name: None)
    with pytest.raises(check_docs.UsageError, match="apt-get install chromium"):
        check_docs.find_chromium()


# --------------------------------------------------------------------------
# command line: bad input exits 2 with one clear line

def fake_tree(root: Path) -> Path:
    for rel in ("Doc/conf.py", "Doc/requirements.txt",
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
