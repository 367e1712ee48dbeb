"""Canonical tables shared by the pipelines: columns with units in their names, and validation.

Every reader in `quakesense.io` ends by calling `SCHEMA.validate(frame, source=path)`, so a pipeline
only ever sees a table whose columns, types, ranges and order are as declared here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError

ColumnKind = Literal["float", "int", "str", "time"]


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Attributes:
        name: Column name, with its unit as suffix (`depth_km`, `amplitude_v`).
        kind: Storage kind: float, int, str or time (UTC timestamps).
        required: Whether a table without it is rejected (optional columns are filled with NaN).
        min_value: Smallest allowed value (inclusive), if any.
        max_value: Largest allowed value (inclusive), if any.
        allow_nan: Whether missing values are allowed.
        choices: Allowed values for a str column.
        description: One line for documentation and error messages.
    """

    name: str
    kind: ColumnKind
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    allow_nan: bool = False
    choices: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    """A named set of columns, with an optional order key, that validates data frames."""

    name: str
    columns: tuple[Column, ...]
    sort_by: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """All column names in canonical order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]

    def validate(
        self, frame: pd.DataFrame, *, source: str | None = None, sort: bool = False
    ) -> pd.DataFrame:
        """Check and coerce `frame` to this schema; return a new frame.

        Args:
            frame: Input table; extra columns are kept after the canonical ones.
            source: File the table came from, for error messages.
            sort: Sort by `sort_by` when unsorted (a documented repair) instead of raising.

        Raises:
            InputError: naming the source, field and row of the first problem found.
        """
        missing = [name for name in self.required if name not in frame.columns]
        if missing:
            hints = []
            for name in missing:
                close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
                hints.append(f"'{name}'" + (f" (found '{close[0]}')" if close else ""))
            raise InputError(
                f"{self.name} table lacks required column(s) {', '.join(hints)}; "
                f"expected columns: {', '.join(self.names)}",
                source=source,
                field=missing[0],
            )
        out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
        for column in self.columns:
            if column.name in frame.columns:
                values = frame[column.name].reset_index(drop=True)
                out[column.name] = _coerce(values, column, source)
            else:
                out[column.name] = _empty(column, len(frame))
        extras = [c for c in frame.columns if c not in self.names]
        for name in extras:
            out[name] = frame[name].reset_index(drop=True)
        if self.sort_by:
            out = self._ordered(out, source=source, sort=sort)
        return out

    def empty(self) -> pd.DataFrame:
        """A zero-row table with this schema's columns and dtypes."""
        return pd.DataFrame({c.name: _empty(c, 0) for c in self.columns})

    def _ordered(self, frame: pd.DataFrame, *, source: str | None, sort: bool) -> pd.DataFrame:
        key = frame[self.sort_by[0]]
        if len(frame) < 2 or key.is_monotonic_increasing:
            return frame
        if sort:
            return frame.sort_values(list(self.sort_by), kind="stable").reset_index(drop=True)
        values = key.to_numpy()
        row = int(np.flatnonzero(values[1:] < values[:-1])[0]) + 1
        raise InputError(
            f"{self.name} table is not sorted by '{self.sort_by[0]}' (value decreases here); "
            "sort it first or pass sort=True / --sort",
            source=source,
            field=self.sort_by[0],
            row=row,
        )


def _empty(column: Column, n: int) -> pd.Series:
    if column.kind == "time":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    if column.kind == "str":
        return pd.Series([None] * n, dtype="object")
    return pd.Series(np.full(n, np.nan), dtype=float)


def _coerce(values: pd.Series, column: Column, source: str | None) -> pd.Series:
    if column.kind == "time":
        return _coerce_time(values, column, source)
    if column.kind == "str":
        result = values.astype("object").where(values.notna(), None)
        result = result.map(lambda v: v if v is None else str(v).strip())
        if not column.allow_nan:
            _reject_missing(result.isna().to_numpy(), column, source)
        if column.choices is not None:
            bad = ~result.isin(column.choices) & result.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    f"value '{result.iloc[row]}' is not one of {', '.join(column.choices)}",
                    source=source,
                    field=column.name,
                    row=row,
                )
        return result
    numeric = pd.to_numeric(values, errors="coerce")
    unparsable = numeric.isna().to_numpy() & values.notna().to_numpy()
    if unparsable.any():
        row = int(np.flatnonzero(unparsable)[0])
        raise InputError(
            f"value '{values.iloc[row]}' is not a number", source=source, field=column.name, row=row
        )
    array = numeric.to_numpy(dtype=float)
    if not column.allow_nan:
        _reject_missing(~np.isfinite(array), column, source)
    finite = np.isfinite(array)
    if column.min_value is not None:
        _reject_range(finite & (array < column.min_value), array, column, source, ">=")
    if column.max_value is not None:
        _reject_range(finite & (array > column.max_value), array, column, source, "<=")
    if column.kind == "int":
        if not column.allow_nan:
            nonint = array != np.round(array)
            if nonint.any():
                row = int(np.flatnonzero(nonint)[0])
                raise InputError(
                    f"value {array[row]} is not a whole number",
                    source=source,
                    field=column.name,
                    row=row,
                )
            return pd.Series(array.astype(np.int64))
        return pd.Series(array)
    return pd.Series(array)


def _coerce_time(values: pd.Series, column: Column, source: str | None) -> pd.Series:
    try:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        stamps = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    bad = stamps.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"value '{values.iloc[row]}' is not a UTC time (ISO 8601 expected)",
            source=source,
            field=column.name,
            row=row,
        )
    if not column.allow_nan:
        _reject_missing(stamps.isna().to_numpy(), column, source)
    return stamps.astype("datetime64[ns, UTC]")


def _reject_missing(mask: np.ndarray, column: Column, source: str | None) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise InputError(
            "value is missing or not finite", source=source, field=column.name, row=row
        )


def _reject_range(
    mask: np.ndarray, array: np.ndarray, column: Column, source: str | None, relation: str
) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        bound = column.min_value if relation == ">=" else column.max_value
        raise InputError(
            f"value {array[row]} out of range (expected {relation} {bound})",
            source=source,
            field=column.name,
            row=row,
        )


AE_HITS = TableSchema(
    name="AE hits",
    columns=(
        Column("time_s", "float", min_value=0.0, description="hit arrival time since record start"),
        Column("channel", "int", min_value=0, description="sensor channel number"),
        Column("amplitude_v", "float", required=False, allow_nan=True, min_value=0.0),
        Column("amplitude_db", "float", description="peak amplitude in dB_AE (re 1 uV at sensor)"),
        Column("duration_s", "float", required=False, allow_nan=True, min_value=0.0),
        Column("rise_time_s", "float", required=False, allow_nan=True, min_value=0.0),
        Column("counts", "float", required=False, allow_nan=True, min_value=0.0),
        Column(
            "energy_eu",
            "float",
            required=False,
            allow_nan=True,
            min_value=0.0,
            description="signal energy in Vallen energy units (1 eu = 1e-14 V^2 s)",
        ),
        Column("rms_v", "float", required=False, allow_nan=True, min_value=0.0),
        Column("threshold_v", "float", required=False, allow_nan=True, min_value=0.0),
    ),
    sort_by=("time_s",),
)
"""Acoustic-emission hits: one row per threshold crossing on one channel."""

CATALOG = TableSchema(
    name="catalog",
    columns=(
        Column("time", "time", description="origin time, UTC"),
        Column("latitude_deg", "float", min_value=-90.0, max_value=90.0),
        Column("longitude_deg", "float", min_value=-180.0, max_value=360.0),
        Column("depth_km", "float", required=False, allow_nan=True, min_value=-10.0),
        Column("magnitude", "float", min_value=-5.0, max_value=10.0),
        Column("magnitude_type", "str", required=False, allow_nan=True),
        Column("event_id", "str", required=False, allow_nan=True),
    ),
    sort_by=("time",),
)
"""Earthquake catalog: one row per event."""

PICKS = TableSchema(
    name="picks",
    columns=(
        Column("event_id", "str"),
        Column("sensor", "str", description="sensor or station code"),
        Column("phase", "str", choices=("P", "S")),
        Column("time_s", "float", min_value=0.0, description="arrival time, seconds"),
    ),
)
"""Phase arrival picks: one row per event, sensor and phase."""

SENSORS = TableSchema(
    name="sensors",
    columns=(
        Column("sensor", "str"),
        Column("x_m", "float"),
        Column("y_m", "float"),
        Column("z_m", "float"),
    ),
)
"""Sensor positions in a local Cartesian frame, metres."""

STATIONS = TableSchema(
    name="stations",
    columns=(
        Column("station", "str"),
        Column("latitude_deg", "float", min_value=-90.0, max_value=90.0),
        Column("longitude_deg", "float", min_value=-180.0, max_value=360.0),
        Column("elevation_m", "float", required=False, allow_nan=True),
    ),
)
"""Seismic stations in geographic coordinates."""
