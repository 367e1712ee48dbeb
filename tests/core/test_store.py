"""Storage: writes are atomic, Zarr jobs resume to identical bytes, JSON is strict."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.core.store import (
    ChunkedZarrWriter,
    atomic_path,
    read_json,
    read_table,
    write_json,
    write_parquet,
)


def test_failed_write_leaves_previous_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "table.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert read_table(target)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_json_turns_nan_into_null_and_numpy_into_plain(tmp_path: Path) -> None:
    path = write_json(
        {"x": np.float32(1.5), "y": float("nan"), "z": np.arange(2)}, tmp_path / "m.json"
    )
    assert json.loads(path.read_text()) == {"x": 1.5, "y": None, "z": [0, 1]}
    assert read_json(path)["x"] == 1.5


def test_read_table_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "absent.csv")
    odd = tmp_path / "t.xlsx"
    odd.write_text("x")
    with pytest.raises(InputError, match="unknown table format"):
        read_table(odd)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(path: Path, stop_after: int | None = None) -> ChunkedZarrWriter:
    writer = ChunkedZarrWriter(
        path, {"x": ((3,), "float32")}, n_records=10, chunk_records=4, attrs={"seed": 1}
    )
    for k, chunk in enumerate(sorted(set(range(writer.n_chunks)) - writer.done_chunks())):
        if stop_after is not None and k == stop_after:
            break
        start, stop = writer.chunk_bounds(chunk)
        values = np.arange(start * 3, stop * 3, dtype="float32").reshape(-1, 3)
        writer.write_chunk(chunk, {"x": values})
    return writer


def test_interrupted_zarr_job_resumes_to_identical_bytes(tmp_path: Path) -> None:
    straight = _run(tmp_path / "straight.zarr")
    assert straight.complete
    partial = _run(tmp_path / "resumed.zarr", stop_after=1)
    assert not partial.complete
    resumed = _run(tmp_path / "resumed.zarr")
    assert resumed.complete
    assert _digest(tmp_path / "straight.zarr") == _digest(tmp_path / "resumed.zarr")


def test_resume_with_other_job_attributes_is_refused(tmp_path: Path) -> None:
    _run(tmp_path / "s.zarr", stop_after=1)
    with pytest.raises(InputError, match="different job"):
        ChunkedZarrWriter(tmp_path / "s.zarr", {"x": ((3,), "float32")}, 10, 4, attrs={"seed": 2})
