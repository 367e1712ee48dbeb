"""Files on disk: Parquet tables, JSON documents and Zarr arrays, written atomically.

A reader never sees a half-written file: every writer goes to a temporary sibling and renames it
into place (`os.replace` is atomic on one filesystem). Zarr stores grow chunk by chunk and record
which chunks are complete, so an interrupted job resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import quakesense
from quakesense.core.errors import InputError

RUN_MARKER = ".quakesense-run.json"
"""File that marks a folder as written by quakesense; only such folders are ever replaced."""


def _sibling(target: Path, tag: str) -> Path:
    """A fresh hidden name beside `target` (not created), unique per call."""
    return target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    The temporary file is created by the writer, so it gets the umask's permissions (a group or a
    web server can read the result), unlike `mkstemp`'s private 0600 files.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def is_quakesense_dir(path: str | Path) -> bool:
    """Whether `path` is a folder that holds a quakesense run marker."""
    return (Path(path) / RUN_MARKER).is_file()


def check_output_dir(path: str | Path, *, force: bool = False) -> Path:
    """Refuse an output folder whose replacement could lose files quakesense did not write.

    Refused with a one-line `InputError`: an existing file; the working folder or any folder
    above it; an existing non-empty folder without the run marker; a folder that holds an
    earlier quakesense run unless `force`.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a folder; --out must name a folder", source=target)
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        raise InputError(
            "is the working folder, a folder above it or the home folder; "
            "give --out a new sub-folder",
            source=target,
        )
    if target.is_dir() and any(target.iterdir()):
        if not is_quakesense_dir(target):
            raise InputError(
                "folder exists and holds files quakesense did not write; "
                "choose a new or empty folder for --out",
                source=target,
            )
        if not force:
            raise InputError(
                "holds an earlier quakesense run; pass --force to replace it", source=target
            )
    return target


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it becomes `path` only if the block succeeds.

    `path` is first checked with `check_output_dir`. On success the run marker is written and
    the folder swapped into place; an earlier run there is removed only once the new one is in
    place. On any exception (Ctrl-C included) the temporary folder is deleted and `path` is left
    as it was, so a failed re-run keeps the earlier good run.
    """
    target = check_output_dir(path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(target, "partial")
    tmp.mkdir()
    try:
        yield tmp
        (tmp / RUN_MARKER).write_text(
            json.dumps({"quakesense_version": quakesense.__version__, "folder": target.name}) + "\n"
        )
        check_output_dir(target, force=force)
        old = _sibling(target, "old")
        if target.is_dir():
            os.replace(target, old)
        os.replace(tmp, target)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table to Parquet atomically and return the path."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def read_table(path: str | Path, *, only_empty_missing: bool = False) -> pd.DataFrame:
    """Read a Parquet or CSV table, with a clear error for a missing or unreadable file.

    `only_empty_missing`: only empty CSV cells are missing values; text such as `n/a` or `NA`
    stays text, so that a reader can refuse it instead of treating it as a gap.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=path)
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".csv", ".txt", ".tsv"}:
            missing = {"keep_default_na": False, "na_values": [""]} if only_empty_missing else {}
            return pd.read_csv(
                path, sep=csv_separator(path), engine="python", comment="#", **missing
            )
    except Exception as exc:  # the parsers raise many unrelated types; report them uniformly
        raise InputError(f"cannot read table ({type(exc).__name__}: {exc})", source=path) from exc
    raise InputError(f"unknown table format '{suffix}' (expected .parquet or .csv)", source=path)


_SEPARATORS = ",;\t|"


def csv_separator(path: Path) -> str:
    """The delimiter of a text table, chosen only among `, ; \\t |` and white space.

    pandas' own sniffer may pick any character: a one-column file `time` was split on the letter
    `t`. Here the first non-comment line decides; a line with none of these is one column.
    """
    with path.open(errors="replace") as handle:
        header = next((line for line in handle if line.strip() and not line.startswith("#")), "")
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] > 0:
        return best
    return r"\s+" if len(header.split()) > 1 else ","


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table atomically as Parquet or CSV, chosen by the file suffix."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        return path
    return write_parquet(frame, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def to_json_text(document: Any) -> str:
    """Serialise to indented JSON, turning NaN into null and numpy values into plain ones."""
    return json.dumps(_nan_to_none(document), indent=2, default=_json_default, allow_nan=False)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def write_json(document: Any, path: str | Path) -> Path:
    """Write a JSON document atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(to_json_text(document) + "\n")
    return Path(path)


def read_json(path: str | Path) -> Any:
    """Read a JSON document with a clear error when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", source=path) from exc


class ChunkedZarrWriter:
    """A resumable writer of fixed-shape records into Zarr arrays, one chunk of records at a time.

    Records are grouped in chunks of `chunk_records` along axis 0; a chunk is written whole and then
    marked done in the group's attributes, so a restarted job skips finished chunks and rewrites a
    partly written one. Given the same inputs, the finished store is byte-identical however often
    the job was interrupted.

    Args:
        path: Zarr store directory.
        arrays: Name -> (record shape, dtype) of each array.
        n_records: Total number of records.
        chunk_records: Records per chunk along axis 0.
        attrs: Attributes that identify the job; a resume with other attributes is refused.
    """

    def __init__(
        self,
        path: str | Path,
        arrays: dict[str, tuple[tuple[int, ...], str]],
        n_records: int,
        chunk_records: int,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        import zarr

        if n_records <= 0:
            raise InputError("nothing to write: zero records", field="n_records")
        self.path = Path(path)
        self.n_records = n_records
        self.chunk_records = chunk_records
        self.n_chunks = -(-n_records // chunk_records)
        attrs = json.loads(to_json_text(attrs or {}))
        if (self.path / "zarr.json").exists() or (self.path / ".zgroup").exists():
            self.group = zarr.open_group(str(self.path), mode="r+")
            stored = dict(self.group.attrs).get("job", {})
            if stored != attrs:
                raise InputError(
                    "store made by a different job; choose another output or delete it",
                    source=self.path,
                )
        else:
            self.group = zarr.open_group(str(self.path), mode="w")
            self.group.attrs["job"] = attrs
            self.group.attrs["chunks_done"] = []
            for name, (shape, dtype) in arrays.items():
                self.group.create_array(
                    name,
                    shape=(n_records, *shape),
                    chunks=(chunk_records, *shape),
                    dtype=dtype,
                    fill_value=0,
                )

    def done_chunks(self) -> set[int]:
        """Indices of chunks already complete."""
        return set(self.group.attrs.get("chunks_done", []))

    def chunk_bounds(self, chunk: int) -> tuple[int, int]:
        """First and one-past-last record index of `chunk`."""
        start = chunk * self.chunk_records
        return start, min(start + self.chunk_records, self.n_records)

    def write_chunk(self, chunk: int, data: dict[str, np.ndarray]) -> None:
        """Write every array's records of `chunk`, then mark the chunk done."""
        start, stop = self.chunk_bounds(chunk)
        for name, values in data.items():
            self.group[name][start:stop] = values
        done = sorted(self.done_chunks() | {chunk})
        self.group.attrs["chunks_done"] = done

    @property
    def complete(self) -> bool:
        """Whether every chunk is written."""
        return len(self.done_chunks()) == self.n_chunks
