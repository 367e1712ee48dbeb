"""The output-folder contract: never lose a user's files, replace only quakesense runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from quakesense.core.errors import InputError
from quakesense.core.report import RunFolder
from quakesense.core.store import (
    RUN_MARKER,
    atomic_dir,
    atomic_path,
    check_output_dir,
    is_quakesense_dir,
    read_table,
    write_json,
)


def _write_run(out: Path, marker_text: str, *, force: bool = False) -> None:
    with atomic_dir(out, force=force) as tmp:
        (tmp / "result.txt").write_text(marker_text)


def test_new_run_is_marked_and_readable_by_group(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        out = tmp_path / "run"
        _write_run(out, "one")
        write_json({"a": 1}, out / "metrics.json")
    finally:
        os.umask(old_umask)
    assert is_quakesense_dir(out)
    assert (out / "result.txt").read_text() == "one"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "metrics.json").stat().st_mode) == 0o644


def test_foreign_files_are_never_touched(tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    for force in (False, True):
        with pytest.raises(InputError, match="did not write"):
            _write_run(out, "x", force=force)
    assert (out / "chapter1.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]


def test_working_folder_and_its_parents_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for target in (Path("."), Path(".."), tmp_path):
        with pytest.raises(InputError, match="working folder"):
            check_output_dir(target, force=True)


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep")
    with pytest.raises(InputError, match="not a folder"):
        _write_run(target, "x")
    assert target.read_text() == "keep"


def test_earlier_run_needs_force_and_survives_a_failed_rerun(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _write_run(out, "good")
    with pytest.raises(InputError, match="--force"):
        _write_run(out, "second")
    with pytest.raises(RuntimeError), atomic_dir(out, force=True) as tmp:
        (tmp / "result.txt").write_text("half")
        raise RuntimeError("the verb failed")
    assert (out / "result.txt").read_text() == "good"
    _write_run(out, "better", force=True)
    assert (out / "result.txt").read_text() == "better"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_interrupted_run_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), atomic_dir(out) as tmp:
        (tmp / "partial.bin").write_bytes(b"x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_empty_existing_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    _write_run(out, "x")
    assert (out / RUN_MARKER).is_file()


def test_atomic_path_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_path(tmp_path / "table.csv") as tmp:
        tmp.write_text("half")
        raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_run_folder_create_builds_in_place_of_out(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RunFolder.create(out, "title") as run:
        assert run.path != out
        assert run.out == out
        run.text("hello")
        report = run.write_report()
    assert report == out / "report.html"
    assert report.is_file()
    assert is_quakesense_dir(out)


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("time\n2020-01-01T00:00:00\n2020-01-02T00:00:00\n", ["time"]),
        ("time;magnitude\n2020-01-01;3.1\n", ["time", "magnitude"]),
        ("time\tmagnitude\n2020-01-01\t3.1\n", ["time", "magnitude"]),
        ("time|magnitude\n2020-01-01|3.1\n", ["time", "magnitude"]),
        ("time magnitude\n2020-01-01 3.1\n", ["time", "magnitude"]),
        ("# comment, with comma\ntime,magnitude\n2020-01-01,3.1\n", ["time", "magnitude"]),
    ],
)
def test_read_table_delimiters(tmp_path: Path, text: str, columns: list[str]) -> None:
    path = tmp_path / "events.csv"
    path.write_text(text)
    assert list(read_table(path).columns) == columns
