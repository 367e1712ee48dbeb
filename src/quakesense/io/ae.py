"""Readers of acoustic-emission files into the canonical `AE_HITS` table and waveform frames.

Vallen `.pridb` (hits) and `.tradb` (transient waveforms) are read with `vallenae`, MISTRAS AEwin
`.DTA` with `MistrasDTA`, and plain CSV/Parquet hit tables with pandas. Every failure of the
underlying library (corrupt SQLite, truncated binary) becomes one `InputError` naming the file.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.store import read_table
from quakesense.core.tables import AE_HITS

REFERENCE_V = 1e-6
"""dB_AE reference: 0 dB_AE is 1 uV at the sensor."""


def volts_to_db(amplitude_v: np.ndarray | float) -> np.ndarray:
    """Peak amplitude in volts -> dB_AE (re 1 uV)."""
    return 20.0 * np.log10(np.maximum(np.asarray(amplitude_v, dtype=float), 1e-30) / REFERENCE_V)


def db_to_volts(amplitude_db: np.ndarray | float) -> np.ndarray:
    """dB_AE (re 1 uV) -> volts."""
    return REFERENCE_V * 10.0 ** (np.asarray(amplitude_db, dtype=float) / 20.0)


def _existing(path: str | Path, suffix: str | None = None) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=path)
    if suffix is not None and path.suffix.lower() != suffix:
        raise InputError(f"expected a '{suffix}' file", source=path)
    return path


def read_tradb(path: str | Path, trai: list[int] | None = None) -> pd.DataFrame:
    """Read transient waveforms of a Vallen `.tradb`, in volts.

    Args:
        path: The `.tradb` file.
        trai: Transient recorder indices to read (default: all).

    Returns:
        Columns trai, channel, time_s (hit time; the first sample lies `pretrigger_samples`
        earlier),
        samplerate_hz, pretrigger_samples, threshold_v and data_v (one float64 array per row).
    """
    import vallenae.io as vio

    path = _existing(path, ".tradb")
    try:
        with vio.TraDatabase(str(path)) as db:
            records = list(db.iread(trai=trai))
    except (sqlite3.Error, ValueError, KeyError, OSError) as exc:
        raise InputError(f"cannot read Vallen tradb ({exc})", source=path) from exc
    frame = pd.DataFrame(
        {
            "trai": np.array([r.trai for r in records], dtype=np.int64),
            "channel": np.array([r.channel for r in records], dtype=np.int64),
            "time_s": np.array([r.time for r in records], dtype=float),
            "samplerate_hz": np.array([r.samplerate for r in records], dtype=float),
            "pretrigger_samples": np.array([r.pretrigger for r in records], dtype=np.int64),
            "threshold_v": np.array([r.threshold for r in records], dtype=float),
        }
    )
    frame["data_v"] = pd.Series(
        [np.asarray(r.data, dtype=np.float64) for r in records], dtype=object
    )
    if trai is not None:
        missing = sorted(set(trai) - set(frame["trai"].tolist()))
        if missing:
            raise InputError(f"no waveform with TRAI {missing[:5]}", source=path, field="trai")
    return frame


def read_pridb(path: str | Path, *, after_set_id: int = 0) -> pd.DataFrame:
    """Read the hits of a Vallen `.pridb` as an `AE_HITS` table.

    Args:
        path: The `.pridb` file.
        after_set_id: Read only hits with a larger SetID (to follow a growing file).

    Returns:
        The canonical hit table plus `set_id` and `trai` columns.
    """
    import vallenae.io as vio

    path = _existing(path, ".pridb")
    try:
        with vio.PriDatabase(str(path)) as db:
            hits = list(db.iread_hits(query_filter=f"SetID > {int(after_set_id)}"))
    except (sqlite3.Error, ValueError, KeyError, OSError) as exc:
        raise InputError(f"cannot read Vallen pridb ({exc})", source=path) from exc
    amplitude_v = np.array([h.amplitude for h in hits], dtype=float)
    frame = pd.DataFrame(
        {
            "time_s": np.array([h.time for h in hits], dtype=float),
            "channel": np.array([h.channel for h in hits], dtype=np.int64),
            "amplitude_v": amplitude_v,
            "amplitude_db": volts_to_db(amplitude_v),
            "duration_s": np.array([h.duration for h in hits], dtype=float),
            "rise_time_s": np.array([h.rise_time for h in hits], dtype=float),
            "counts": np.array([h.counts for h in hits], dtype=float),
            "energy_eu": np.array([h.energy for h in hits], dtype=float),
            "rms_v": np.array([h.rms for h in hits], dtype=float),
            "threshold_v": np.array([h.threshold for h in hits], dtype=float),
            "set_id": np.array([h.set_id for h in hits], dtype=np.int64),
            "trai": np.array([-1 if h.trai is None else h.trai for h in hits], dtype=np.int64),
        }
    )
    return AE_HITS.validate(frame, source=str(path), sort=True)


def read_dta(path: str | Path) -> pd.DataFrame:
    """Read the hits of a MISTRAS AEwin `.DTA` file as an `AE_HITS` table.

    MISTRAS reports amplitude in dB_AE, rise time and duration in microseconds and absolute
    energy in attojoules (kept as `abs_energy_aj`; it has no conversion to Vallen eu).
    """
    import MistrasDTA

    path = _existing(path, ".dta")
    _check_dta_framing(path)
    try:
        rec, _ = MistrasDTA.read_bin(str(path), skip_wfm=True)
    except Exception as exc:  # the reader raises struct/index/value errors on damaged files
        raise InputError(
            f"cannot read MISTRAS DTA ({type(exc).__name__}: {exc})", source=path
        ) from exc
    if not isinstance(rec, np.ndarray) or rec.size == 0:
        raise InputError("no complete hit record (truncated or not an AEwin DTA file)", source=path)
    names = set(rec.dtype.names or ())
    needed = {"SSSSSSSS.mmmuuun", "CH", "AMP"}
    if not needed <= names:
        raise InputError(
            f"DTA hit records lack {sorted(needed - names)}", source=path, field="hit record"
        )

    def column(name: str, scale: float = 1.0) -> np.ndarray:
        if name not in names:
            return np.full(len(rec), np.nan)
        return np.asarray(rec[name], dtype=float) * scale

    amplitude_db = column("AMP")
    frame = pd.DataFrame(
        {
            "time_s": column("SSSSSSSS.mmmuuun"),
            "channel": np.asarray(rec["CH"], dtype=np.int64),
            "amplitude_v": db_to_volts(amplitude_db),
            "amplitude_db": amplitude_db,
            "duration_s": column("DURATION", 1e-6),
            "rise_time_s": column("RISE", 1e-6),
            "counts": column("COUN"),
            "abs_energy_aj": column("ABS-ENERGY"),
        }
    )
    return AE_HITS.validate(frame, source=str(path), sort=True)


def _check_dta_framing(path: Path) -> None:
    """Walk the length-prefixed AEwin messages; a last message running past the end means a
    truncated file (MistrasDTA itself stops early and returns the records read so far)."""
    data = path.read_bytes()
    position = 0
    while position + 3 <= len(data):
        (length,) = struct.unpack_from("<H", data, position)
        # message 8 (time mark) carries 8 bytes and is followed by a message without its own length
        position += 11 if data[position + 2] == 8 else 2 + length
    if position != len(data):
        raise InputError(
            f"truncated or corrupt: last message ends at byte {position}, file has {len(data)}",
            source=path,
        )


def read_hits_csv(path: str | Path, *, repair: bool = False) -> pd.DataFrame:
    """Read a plain hit table (CSV or Parquet) with `AE_HITS` columns.

    `amplitude_db` may be replaced by `amplitude_v` (converted). Unsorted times or exact duplicate
    rows are an error unless `repair` is set, which sorts by time and drops exact duplicates.
    """
    path = _existing(path)
    frame = read_table(path)
    return hits_from_frame(frame, source=str(path), repair=repair)


def hits_from_frame(
    frame: pd.DataFrame, *, source: str | None = None, repair: bool = False
) -> pd.DataFrame:
    """Validate a hit table given as a data frame (see `read_hits_csv`)."""
    frame = frame.copy()
    if "amplitude_db" not in frame.columns and "amplitude_v" in frame.columns:
        values = pd.to_numeric(frame["amplitude_v"], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
        if bad.size:
            raise InputError(
                f"amplitude {values[bad[0]]} is not a positive number",
                source=source,
                field="amplitude_v",
                row=int(bad[0]),
            )
        frame["amplitude_db"] = volts_to_db(values)
    if not repair and "time_s" in frame.columns:
        times = pd.to_numeric(frame["time_s"], errors="coerce").to_numpy(dtype=float)
        back = np.flatnonzero(np.diff(times) < 0)
        if back.size:
            raise InputError(
                "hit times are not sorted; sort the file or pass --repair to sort hits and "
                "drop duplicates",
                source=source,
                field="time_s",
                row=int(back[0]) + 1,
            )
    hits = AE_HITS.validate(frame, source=source, sort=repair)
    duplicated = hits.duplicated(subset=["time_s", "channel"], keep="first").to_numpy()
    if duplicated.any():
        if not repair:
            raise InputError(
                "duplicated hit (same time and channel as an earlier row); "
                "remove it or pass --repair to drop duplicates",
                source=source,
                field="time_s",
                row=int(np.flatnonzero(duplicated)[0]),
            )
        hits = hits.loc[~duplicated].reset_index(drop=True)
    return hits


def read_hits(path: str | Path, *, repair: bool = False) -> pd.DataFrame:
    """Read hits from any supported file, chosen by suffix (.pridb, .dta, .csv, .parquet)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pridb":
        return read_pridb(path)
    if suffix == ".dta":
        return read_dta(path)
    return read_hits_csv(path, repair=repair)
