"""Earthquake catalogs from outside formats into the canonical `CATALOG` table.

Readers: CSV (ComCat, pyCSEP, JMA-like, any layout through a column mapping) and QuakeML (ObsPy).
Every reader returns the validated table and a `CatalogReport` that says what was repaired or
dropped (time strings with second 60 or hour 24, duplicates, events outside the region, mixed
magnitude types), so that nothing is changed silently.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import haversine_km
from quakesense.core.store import csv_separator
from quakesense.core.tables import CATALOG

CANONICAL_KEYS = (
    "time",
    "latitude",
    "longitude",
    "depth",
    "magnitude",
    "magnitude_type",
    "event_id",
)
SPLIT_TIME_KEYS = ("year", "month", "day", "hour", "minute", "second")
_TARGET = {
    "time": "time",
    "latitude": "latitude_deg",
    "longitude": "longitude_deg",
    "depth": "depth_km",
    "magnitude": "magnitude",
    "magnitude_type": "magnitude_type",
    "event_id": "event_id",
}
# Header spellings of the common layouts (ComCat, pyCSEP, JMA-like exports), tried in order.
_ALIASES = {
    "time": ("time", "time_string", "origin_time", "datetime", "date_time"),
    "latitude": ("latitude", "lat", "latitude_deg"),
    "longitude": ("longitude", "lon", "long", "longitude_deg"),
    "depth": ("depth", "depth_km"),
    "magnitude": ("magnitude", "mag", "m"),
    "magnitude_type": ("magtype", "magnitude_type", "mag_type"),
    "event_id": ("id", "event_id", "eventid"),
}
_TIME_RE = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*(Z|[+-]00:?00)?\s*$"
)


@dataclass
class CatalogReport:
    """What reading a catalog found and repaired; shown in every run's report.

    Attributes:
        source: File read.
        n_read: Rows in the file.
        n_kept: Rows in the returned table.
        n_time_normalised: Time strings with second 60 or hour 24 rolled over to the next unit.
        n_outside_region: Events dropped because they lie outside the region.
        n_duplicates: Events dropped as duplicates of the previous event.
        duplicate_rows: File rows (zero-based) of the first dropped duplicates (at most 20).
        n_resorted: Whether and how many rows were out of time order (only with `sort=True`).
        magnitude_types: Count of each magnitude type (mixed types are a warning).
        warnings: One line per problem a user should know about.
    """

    source: str
    n_read: int = 0
    n_kept: int = 0
    n_time_normalised: int = 0
    n_outside_region: int = 0
    n_duplicates: int = 0
    duplicate_rows: list[int] = field(default_factory=list)
    n_resorted: int = 0
    magnitude_types: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Region:
    """A geographic region: a polygon of (latitude, longitude) vertices; a bbox is a rectangle.

    Args:
        latitude_deg: Vertex latitudes (the polygon closes itself).
        longitude_deg: Vertex longitudes.
        name: Label for reports.
    """

    def __init__(
        self, latitude_deg: np.ndarray, longitude_deg: np.ndarray, name: str = "region"
    ) -> None:
        self.latitude_deg = np.asarray(latitude_deg, dtype=float)
        self.longitude_deg = np.asarray(longitude_deg, dtype=float)
        self.name = name
        if self.latitude_deg.size < 3 or self.latitude_deg.shape != self.longitude_deg.shape:
            raise InputError("a region polygon needs at least 3 (latitude, longitude) vertices")
        if not (np.all(np.isfinite(self.latitude_deg)) and np.all(np.isfinite(self.longitude_deg))):
            raise InputError("region vertices must be finite numbers")

    @classmethod
    def from_bbox(cls, lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> Region:
        """Rectangle in latitude and longitude."""
        if not (lat_min < lat_max and lon_min < lon_max):
            raise InputError(
                f"region box {lat_min},{lat_max},{lon_min},{lon_max} is empty; "
                "expected LAT_MIN < LAT_MAX and LON_MIN < LON_MAX",
                field="--region",
            )
        lat = [lat_min, lat_min, lat_max, lat_max]
        lon = [lon_min, lon_max, lon_max, lon_min]
        return cls(
            np.array(lat), np.array(lon), name=f"box {lat_min},{lat_max},{lon_min},{lon_max}"
        )

    @classmethod
    def parse(cls, text: str) -> Region:
        """`LAT_MIN,LAT_MAX,LON_MIN,LON_MAX` or the path of a polygon file (see `from_file`)."""
        parts = str(text).split(",")
        if len(parts) == 4:
            try:
                values = [float(p) for p in parts]
            except ValueError:
                values = []
            if values:
                return cls.from_bbox(*values)
        path = Path(text)
        if not path.is_file():
            raise InputError(
                f"'{text}' is neither LAT_MIN,LAT_MAX,LON_MIN,LON_MAX nor a polygon file",
                field="--region",
            )
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: str | Path) -> Region:
        """Polygon file: CSV with `latitude`/`longitude` (or `lat`/`lon`) columns, or a
        two-column whitespace text file `lon lat` per line (the pyCSEP/GMT convention)."""
        path = Path(path)
        text = path.read_text()
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        if any(c.isalpha() for c in first):
            frame = pd.read_csv(path, sep=None, engine="python")
            lat_col = _find_column(frame, ("latitude", "lat"))
            lon_col = _find_column(frame, ("longitude", "lon"))
            if lat_col is None or lon_col is None:
                raise InputError("polygon file needs latitude and longitude columns", source=path)
            lat, lon = frame[lat_col].to_numpy(float), frame[lon_col].to_numpy(float)
        else:
            try:
                values = np.loadtxt(path, ndmin=2, delimiter=None if "," not in first else ",")
            except ValueError as exc:
                raise InputError(f"cannot read polygon ({exc})", source=path) from exc
            if values.shape[1] != 2:
                raise InputError("polygon file needs two columns: lon lat", source=path)
            lon, lat = values[:, 0], values[:, 1]
        try:
            return cls(lat, lon, name=path.name)
        except InputError as exc:
            raise InputError(str(exc), source=path) from exc

    def contains(self, latitude_deg: np.ndarray, longitude_deg: np.ndarray) -> np.ndarray:
        """Boolean mask of points inside (or on the boundary of) the polygon."""
        from matplotlib.path import Path as MplPath

        polygon = MplPath(np.column_stack([self.longitude_deg, self.latitude_deg]))
        points = np.column_stack(
            [np.asarray(longitude_deg, float), np.asarray(latitude_deg, float)]
        )
        if points.size == 0:
            return np.zeros(0, dtype=bool)
        # A small positive radius counts points on the edges of a box as inside.
        return polygon.contains_points(points, radius=1e-9) | polygon.contains_points(
            points, radius=-1e-9
        )

    @property
    def centre(self) -> tuple[float, float]:
        """(latitude, longitude) of the bounding-box centre, for the local projection."""
        return (
            float((self.latitude_deg.min() + self.latitude_deg.max()) / 2),
            float((self.longitude_deg.min() + self.longitude_deg.max()) / 2),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "latitude_deg": self.latitude_deg.tolist(),
            "longitude_deg": self.longitude_deg.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Region:
        """Inverse of `to_dict`."""
        return cls(
            np.asarray(data["latitude_deg"]), np.asarray(data["longitude_deg"]), data["name"]
        )


def parse_column_mapping(text: str | None) -> dict[str, str]:
    """Parse `time=origin,latitude=lat,...` into a dict; a `-` before a name negates the column.

    Keys are the canonical names (time, latitude, longitude, depth, magnitude, magnitude_type,
    event_id) or split-time parts (year, month, day, hour, minute, second) for JMA-like files.
    """
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in str(text).split(","):
        if "=" not in item:
            raise InputError(f"'{item}' is not KEY=COLUMN", field="--columns")
        key, value = (part.strip() for part in item.split("=", 1))
        if key not in CANONICAL_KEYS + SPLIT_TIME_KEYS:
            raise InputError(
                f"unknown key '{key}'; use {', '.join(CANONICAL_KEYS + SPLIT_TIME_KEYS)}",
                field="--columns",
            )
        mapping[key] = value
    return mapping


def _find_column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def normalise_time_strings(values: pd.Series, source: str = "<table>") -> tuple[pd.Series, int]:
    """Roll over `hh:mm:60` and `24:00:00` style times, which `pandas.to_datetime` rejects.

    Returns:
        The series with those entries as UTC timestamps (others untouched) and their number.

    Raises:
        InputError: such an entry whose date part is not a calendar date (row and field named).
    """
    text = values.astype("string")
    parts = text.str.extract(_TIME_RE)
    hour = pd.to_numeric(parts[1], errors="coerce")
    minute = pd.to_numeric(parts[2], errors="coerce")
    second = pd.to_numeric(parts[3], errors="coerce")
    odd = ((hour >= 24) | (minute >= 60) | (second >= 60)).fillna(False).to_numpy(bool)
    if not odd.any():
        return values, 0
    dates = pd.to_datetime(parts.loc[odd, 0], utc=True, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(odd)[np.flatnonzero(dates.isna().to_numpy())[0]])
        raise InputError(
            f"value '{values.iloc[row]}' is not a UTC time (no such calendar date)",
            source=source,
            field="time",
            row=row,
        )
    fixed = (
        dates
        + pd.to_timedelta(hour[odd], unit="h")
        + pd.to_timedelta(minute[odd], unit="m")
        + pd.to_timedelta(second[odd], unit="s")
    )
    out = values.astype(object).copy()
    out.loc[odd] = fixed.to_numpy()
    return out, int(odd.sum())


def _column(frame: pd.DataFrame, spec: str, source: str, key: str) -> pd.Series:
    negate = spec.startswith("-") and spec not in frame.columns
    name = spec[1:] if negate else spec
    if name not in frame.columns:
        raise InputError(
            f"mapped column '{name}' not in file (columns: {', '.join(map(str, frame.columns))})",
            source=source,
            field=key,
        )
    column = frame[name]
    return -pd.to_numeric(column, errors="coerce") if negate else column


def catalog_from_frame(
    frame: pd.DataFrame,
    *,
    columns: dict[str, str] | None = None,
    source: str = "<table>",
) -> tuple[pd.DataFrame, int]:
    """Map a raw table onto canonical columns (without validation); return it and the number of
    normalised time strings."""
    columns = dict(columns or {})
    for key in CANONICAL_KEYS:
        if key not in columns and not (key == "time" and "year" in columns):
            found = _find_column(frame, _ALIASES[key])
            if found is not None:
                columns[key] = str(found)
    out = pd.DataFrame(index=frame.index)
    n_fixed = 0
    if "year" in columns:
        parts = {
            k: pd.to_numeric(_column(frame, columns[k], source, k), errors="coerce")
            for k in SPLIT_TIME_KEYS
            if k in columns
        }
        missing = [k for k in ("year", "month", "day") if k not in parts]
        if missing:
            raise InputError(
                f"split time needs year, month and day; missing {missing}",
                source=source,
                field="--columns",
            )
        ymd = pd.DataFrame({k: parts[k] for k in ("year", "month", "day")})
        base = pd.to_datetime(ymd, utc=True, errors="coerce")
        bad = base.isna().to_numpy() & ymd.notna().all(axis=1).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            y, m, d = (ymd[k].iloc[row] for k in ("year", "month", "day"))
            raise InputError(
                f"year/month/day {y:g}/{m:g}/{d:g} is not a calendar date",
                source=source,
                field="time",
                row=row,
            )
        for key, unit in (("hour", "h"), ("minute", "m"), ("second", "s")):
            if key in parts:
                base = base + pd.to_timedelta(parts[key].fillna(0), unit=unit)
        out["time"] = base
    elif "time" in columns:
        raw = _column(frame, columns["time"], source, "time")
        if pd.api.types.is_numeric_dtype(raw):
            raise InputError(
                "time column is numeric; give a column of UTC date-time strings "
                "or split columns year=...,month=...,day=...,hour=...,minute=...,second=...",
                source=source,
                field="time",
            )
        out["time"], n_fixed = normalise_time_strings(raw, source)
    for key in CANONICAL_KEYS[1:]:
        if key in columns:
            out[_TARGET[key]] = _column(frame, columns[key], source, key).to_numpy()
    return out, n_fixed


def read_catalog(
    path: str | Path | pd.DataFrame,
    *,
    columns: dict[str, str] | str | None = None,
    region: Region | None = None,
    sort: bool = False,
    drop_duplicates: bool = True,
    duplicate_time_s: float = 1.0,
    duplicate_distance_km: float = 10.0,
) -> tuple[pd.DataFrame, CatalogReport]:
    """Read a CSV or QuakeML catalog (or take a table in memory) into the canonical `CATALOG`
    table.

    Args:
        path: `.csv`/`.txt` (any layout; common headers are recognised) or `.xml`/`.quakeml`,
            or a `DataFrame` in any such CSV layout (checked and reported the same way).
        columns: Mapping of canonical keys to file columns (dict or `key=col,...` text).
        region: Keep only events inside; the number dropped goes to the report.
        sort: Sort rows by time (reported) instead of rejecting an unsorted file.
        drop_duplicates: Drop events within `duplicate_time_s` and `duplicate_distance_km` of
            the previous event (reported with their rows); False keeps them (still reported).
        duplicate_time_s: Time tolerance of the duplicate test.
        duplicate_distance_km: Distance tolerance of the duplicate test.

    Raises:
        InputError: Missing columns, NaN coordinates, unparsable times, unsorted times
            (without `sort`), an empty catalog.
    """
    mapping = parse_column_mapping(columns) if isinstance(columns, str) else dict(columns or {})
    if isinstance(path, pd.DataFrame):
        source = "<table>"
        mapped, n_fixed = catalog_from_frame(path, columns=mapping, source=source)
    else:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise InputError("catalog file not found", source=path)
        if path.suffix.lower() in {".xml", ".quakeml", ".qml"}:
            mapped, n_fixed = _read_quakeml(path), 0
        else:
            try:
                raw = pd.read_csv(path, sep=csv_separator(path), comment="#", skipinitialspace=True)
            except Exception as exc:  # pandas raises many parser error types; report uniformly
                raise InputError(
                    f"cannot read CSV ({type(exc).__name__}: {exc})", source=path
                ) from exc
            mapped, n_fixed = catalog_from_frame(raw, columns=mapping, source=source)
    report = CatalogReport(source=source)
    report.n_read = len(mapped)
    report.n_time_normalised = n_fixed
    if n_fixed:
        report.warnings.append(f"{n_fixed} time strings with second 60 or hour 24 rolled over")
    if len(mapped) == 0:
        raise InputError("catalog has no events", source=source)
    mapped = mapped.assign(row=np.arange(len(mapped)))
    table = CATALOG.validate(mapped, source=source, sort=sort)
    breaks = int(np.sum(np.diff(table["row"].to_numpy()) < 0))
    report.n_resorted = breaks
    if breaks:
        report.warnings.append(f"catalog was not in time order ({breaks} breaks): sorted")
    if region is not None:
        inside = region.contains(
            table["latitude_deg"].to_numpy(), table["longitude_deg"].to_numpy()
        )
        report.n_outside_region = int((~inside).sum())
        if report.n_outside_region:
            report.warnings.append(
                f"{report.n_outside_region} events outside {region.name} dropped"
            )
        table = table[inside].reset_index(drop=True)
    duplicate = find_duplicates(table, duplicate_time_s, duplicate_distance_km)
    report.n_duplicates = int(duplicate.sum())
    report.duplicate_rows = [int(r) for r in table["row"].to_numpy()[duplicate][:20]]
    if report.n_duplicates:
        action = "dropped" if drop_duplicates else "kept"
        report.warnings.append(
            f"{report.n_duplicates} probable duplicate events (within {duplicate_time_s:g} s and "
            f"{duplicate_distance_km:g} km of the previous one) {action}; first rows "
            f"{report.duplicate_rows[:5]}"
        )
        if drop_duplicates:
            table = table[~duplicate].reset_index(drop=True)
    types = table["magnitude_type"].fillna("unknown").astype(str).str.lower()
    report.magnitude_types = {str(k): int(v) for k, v in types.value_counts().items()}
    known = [k for k in report.magnitude_types if k != "unknown"]
    if len(known) > 1:
        report.warnings.append(
            f"mixed magnitude types {report.magnitude_types}: magnitudes are used as they are, "
            "without conversion"
        )
    table = table.drop(columns=["row"])
    report.n_kept = len(table)
    if report.n_kept == 0:
        raise InputError("no events left after the region filter", source=source, field="--region")
    return table, report


def find_duplicates(table: pd.DataFrame, time_s: float, distance_km: float) -> np.ndarray:
    """Mask of events within `time_s` and `distance_km` of the previous event (time-sorted)."""
    if len(table) < 2:
        return np.zeros(len(table), dtype=bool)
    t_ns = table["time"].dt.tz_convert(None).to_numpy("datetime64[ns]").view(np.int64)
    lat, lon = table["latitude_deg"].to_numpy(), table["longitude_deg"].to_numpy()
    close_t = np.abs(np.diff(t_ns)) <= time_s * 1e9
    close_x = haversine_km(lat[1:], lon[1:], lat[:-1], lon[:-1]) <= distance_km
    return np.concatenate([[False], close_t & close_x])


def _read_quakeml(path: Path) -> pd.DataFrame:
    """Preferred origin and magnitude of every event of a QuakeML file (ObsPy)."""
    from obspy import read_events

    try:
        events = read_events(str(path))
    except Exception as exc:  # ObsPy raises format-specific types; report them uniformly
        raise InputError(f"cannot read QuakeML ({type(exc).__name__}: {exc})", source=path) from exc
    rows = []
    for number, event in enumerate(events):
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        magnitude = event.preferred_magnitude() or (
            event.magnitudes[0] if event.magnitudes else None
        )
        if origin is None or magnitude is None:
            raise InputError("event has no origin or no magnitude", source=path, row=number)
        rows.append(
            {
                "time": pd.Timestamp(origin.time.datetime, tz="UTC"),
                "latitude_deg": origin.latitude,
                "longitude_deg": origin.longitude,
                "depth_km": np.nan if origin.depth is None else origin.depth / 1000.0,
                "magnitude": magnitude.mag,
                "magnitude_type": magnitude.magnitude_type,
                "event_id": str(event.resource_id).split("/")[-1],
            }
        )
    return pd.DataFrame(rows)
