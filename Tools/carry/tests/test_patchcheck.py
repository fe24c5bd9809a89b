from carrylib import build as carry

CLEAN_REPORT = """\
Getting base branch for PR ... upstream/3.13
Getting the list of files that have been added/changed ... 4 files
Fixing Python file whitespace ... 0 files
Fixing C file whitespace ... 0 files
Docs modified ... yes
Misc/ACKS updated ... NO
Misc/NEWS.d updated with `blurb` ... yes
configure regenerated ... not needed
pyconfig.h.in regenerated ... not needed

Did you run the test suite?
"""


def test_clean_report_has_no_problems():
    assert carry.patchcheck_problems(CLEAN_REPORT) == []


def test_whitespace_and_missing_news_are_problems():
    report = (CLEAN_REPORT
              .replace("Fixing Python file whitespace ... 0 files",
                       "Fixing Python file whitespace ... 1 file")
              .replace("updated with `blurb` ... yes",
                       "updated with `blurb` ... NO"))
    assert carry.patchcheck_problems(report) == [
        "Fixing Python file whitespace ... 1 file",
        "Misc/NEWS.d updated with `blurb` ... NO",
    ]
