"""A user's window-feature table and event list, read and checked before anything is trained.

Both are refused with one `InputError` naming file, row and column when a cell is unusable:
text in a feature column, unsorted window times, a text magnitude, `min_magnitude` without a
magnitude column. Event lists go through the project's catalog reader (`io.catalog`) so that
ComCat CSV (`mag` column) and QuakeML work as in `forecast`; a list of times in seconds (a lab
record) needs no magnitude or position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.store import read_table
from quakesense.core.units import time_column_to_seconds

QUAKEML_SUFFIXES = {".xml", ".quakeml", ".qml"}


def numeric_columns(table: pd.DataFrame, names: list[str], source: str | None) -> pd.DataFrame:
    """`table[names]` as floats; a text cell is an error naming its row and column.

    Empty cells are missing values (NaN, imputed by the models); anything else that is not a
    number would otherwise turn silently into NaN or drop the whole column.
    """
    out = {}
    for name in names:
        values = table[name]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            numeric = pd.to_numeric(values, errors="coerce")
            text = values.astype("object").map(lambda v: isinstance(v, str) and v.strip() != "")
            bad = np.flatnonzero(numeric.isna().to_numpy() & text.to_numpy())
            if bad.size:
                raise InputError(
                    f"value '{values.iloc[bad[0]]}' is not a number (window features must be "
                    "numbers; leave a cell empty for a missing value, or list the feature "
                    "columns to use in the config's 'features')",
                    source=source,
                    field=str(name),
                    row=int(bad[0]),
                )
            values = numeric
        out[name] = values.to_numpy(dtype=float)
    return pd.DataFrame(out, index=table.index)


@dataclass
class WindowTable:
    """Windows with `start_s`, `end_s` and feature columns; `origin` is the UTC time of 0 s
    when the table's times were ISO 8601 (seconds are then since the Unix epoch), else None."""

    windows: pd.DataFrame
    origin: pd.Timestamp | None


def read_window_table(path: str | Path, features: list[str] | None = None) -> WindowTable:
    """Read a window table: `time` (window end, ISO 8601 or seconds) + numeric features.

    Args:
        path: CSV or Parquet file.
        features: Columns the model will use (None: every column but `time` must be numeric).
    """
    source = str(path)
    table = read_table(path, only_empty_missing=True)
    if "time" not in table.columns:
        raise InputError(
            "window table needs a 'time' column (window end)", source=path, field="time"
        )
    if table.empty:
        raise InputError("window table has no rows", source=path, field="time")
    end_s, origin = time_column_to_seconds(table["time"], source=source)
    steps = np.diff(end_s)
    if (steps <= 0).any():
        raise InputError(
            "times must increase strictly (unsorted or duplicated)",
            source=path,
            field="time",
            row=int(np.flatnonzero(steps <= 0)[0]) + 1,
        )
    names = [c for c in table.columns if c != "time"] if features is None else list(features)
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise InputError(
            f"feature column(s) {missing} absent (have: {', '.join(map(str, table.columns))})",
            source=path,
            field=missing[0],
        )
    values = numeric_columns(table, names, source)
    step = float(np.median(steps)) if steps.size else 1.0
    values.insert(0, "start_s", end_s - step)
    values.insert(1, "end_s", end_s)
    return WindowTable(values.reset_index(drop=True), origin)


@dataclass
class EventList:
    """Event times (seconds, same clock as the window table) and what is known about them."""

    time_s: np.ndarray
    magnitude: np.ndarray | None
    distance_km: np.ndarray | None
    notes: list[str]


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def read_event_list(
    path: str | Path,
    *,
    numeric_time: bool,
    station_lat_deg: float | None = None,
    station_lon_deg: float | None = None,
) -> EventList:
    """Read an event list: plain `time` (+ optional `magnitude`/`mag`) CSV, ComCat CSV, QuakeML.

    Args:
        path: The file.
        numeric_time: Whether the window table's times are seconds (then the event times must
            be seconds too); else they are UTC times.
        station_lat_deg: Station latitude, for distances (needs event latitude/longitude).
        station_lon_deg: Station longitude.
    """
    from quakesense.core.geo import haversine_km
    from quakesense.io.catalog import catalog_from_frame, read_catalog

    path = Path(path)
    source = str(path)
    notes: list[str] = []
    if path.suffix.lower() in QUAKEML_SUFFIXES:
        mapped, report = read_catalog(path)
        notes += report.warnings
    else:
        raw = read_table(path, only_empty_missing=True)
        time_name = _column(raw, ("time",))
        if time_name is None:
            raise InputError(
                f"event list needs a 'time' column (have: {', '.join(map(str, raw.columns))})",
                source=path,
                field="time",
            )
        if pd.api.types.is_numeric_dtype(raw[time_name]):
            mapped, _ = catalog_from_frame(raw.drop(columns=time_name), source=source)
            mapped.insert(0, "time", raw[time_name].to_numpy(dtype=float))
        elif {"latitude_deg", "longitude_deg", "magnitude"} <= set(
            catalog_from_frame(raw.head(0), source=source)[0].columns
        ):
            mapped, report = read_catalog(path, sort=True)
            notes += report.warnings
        else:
            mapped, _ = catalog_from_frame(raw, source=source)
    if len(mapped) == 0:
        raise InputError("event list has no events", source=path)
    if pd.api.types.is_numeric_dtype(mapped["time"]):
        if not numeric_time:
            raise InputError(
                "event times are seconds but the window times are ISO 8601",
                source=path,
                field="time",
            )
        time_s, _ = time_column_to_seconds(mapped["time"], source=source)
    else:
        if numeric_time:
            raise InputError(
                "event times are ISO 8601 but the window times are seconds",
                source=path,
                field="time",
            )
        stamps = pd.to_datetime(mapped["time"], utc=True, errors="coerce", format="mixed")
        bad = np.flatnonzero(stamps.isna().to_numpy())
        if bad.size:
            raise InputError(
                f"value '{mapped['time'].iloc[bad[0]]}' is not a UTC time (ISO 8601 expected)",
                source=path,
                field="time",
                row=int(bad[0]),
            )
        time_s = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
    magnitude = None
    if "magnitude" in mapped.columns:
        magnitude = numeric_columns(mapped, ["magnitude"], source)["magnitude"].to_numpy()
    distance = None
    if station_lat_deg is not None and station_lon_deg is not None:
        if not {"latitude_deg", "longitude_deg"} <= set(mapped.columns):
            raise InputError(
                "distances need event latitude and longitude columns",
                source=path,
                field="latitude",
            )
        position = numeric_columns(mapped, ["latitude_deg", "longitude_deg"], source)
        distance = haversine_km(
            station_lat_deg,
            station_lon_deg,
            position["latitude_deg"].to_numpy(),
            position["longitude_deg"].to_numpy(),
        )
    return EventList(time_s, magnitude, distance, notes)
