"""venvtest.py's checks of its input, before any venv is made."""

import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import venvtest  # noqa: E402


def test_the_dist_must_hold_one_wheel(tmp_path):
    with pytest.raises(venvtest.VenvTestError, match="holds 0 wheels"):
        venvtest.find_wheel(tmp_path)
    for name in "a-1-py3-none-any.whl", "b-1-py3-none-any.whl":
        (tmp_path / name).write_text("")
        (tmp_path / "a-1.tar.gz").write_text("")
    with pytest.raises(venvtest.VenvTestError, match="holds 2 wheels"):
        venvtest.find_wheel(tmp_path)
    (tmp_path / "b-1-py3-none-any.whl").unlink()
    assert venvtest.find_wheel(tmp_path).name == "a-1-py3-none-any.whl"


def make_archive(tmp_path, member):
    source = tmp_path / "src" / member
    source.parent.mkdir(parents=True)
    source.write_text("")
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "src" / "Lib", "Lib")
    return archive


def test_the_released_asyncio_goes_ahead_on_the_path(tmp_path):
    archive = make_archive(tmp_path, "Lib/asyncio/__init__.py")
    lib = venvtest.released_asyncio(archive, tmp_path / "work")
    assert (lib / "asyncio" / "__init__.py").is_file()


def test_an_archive_without_asyncio_is_refused(tmp_path):
    archive = make_archive(tmp_path, "Lib/other/__init__.py")
    with pytest.raises(venvtest.VenvTestError, match="holds no Lib/asyncio"):
        venvtest.released_asyncio(archive, tmp_path / "work")


def test_a_missing_input_is_a_clear_error_and_makes_nothing(tmp_path, capsys):
    work = tmp_path / "work"
    assert venvtest.main([str(tmp_path / "python9"), "--dist", str(tmp_path),
                          "--work", str(work), "--expect", "backport"]) == 2
    assert "python9: no such file or directory" in capsys.readouterr().err
    assert not work.exists()
    assert venvtest.main([sys.executable, "--dist", str(tmp_path),
                          "--work", str(work), "--expect", "backport"]) == 2
    assert "holds 0 wheels" in capsys.readouterr().err
    assert not work.exists()
