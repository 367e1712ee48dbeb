"""Parsing of durations and time columns given by users (`17h`, `2d`, ISO 8601, seconds)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError

_DURATION_UNITS_S = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 7 * 86400.0,
}
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]+)\s*$")


def parse_duration_s(text: str | float | int, *, field: str = "duration") -> float:
    """Return a duration given with a unit (`3s`, `17h`, `2d`, `30min`) in seconds.

    A bare number is rejected so that a unit is never guessed.
    """
    if isinstance(text, int | float):
        raise InputError(f"'{text}' has no unit; write e.g. '17h', '30min' or '2d'", field=field)
    match = _DURATION_RE.match(str(text))
    if not match or match.group(2).lower() not in _DURATION_UNITS_S:
        units = ", ".join(sorted(_DURATION_UNITS_S))
        raise InputError(f"'{text}' is not a duration with a unit ({units})", field=field)
    value = float(match.group(1)) * _DURATION_UNITS_S[match.group(2).lower()]
    if value <= 0:
        raise InputError(f"'{text}' must be positive", field=field)
    return value


def time_column_to_seconds(
    values: pd.Series, *, source: str | None = None, field: str = "time"
) -> tuple[np.ndarray, pd.Timestamp | None]:
    """Convert a time column (ISO 8601 strings or numeric seconds) to float seconds.

    Returns:
        Seconds (relative to the epoch 1970-01-01 UTC for ISO input) and the UTC origin used
        (None when the input was already numeric seconds).
    """
    if pd.api.types.is_numeric_dtype(values):
        seconds = values.to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(seconds))
        if bad.size:
            raise InputError("time is NaN or infinite", source=source, field=field, row=int(bad[0]))
        return seconds, None
    try:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"cannot parse as ISO 8601 time or seconds ({exc})", source=source, field=field
        ) from exc
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        raise InputError("time is missing", source=source, field=field, row=int(bad[0]))
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    seconds = (stamps - epoch).dt.total_seconds().to_numpy(dtype=float)
    return seconds, epoch
