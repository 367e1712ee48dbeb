"""Located events out: a CSV table (one row per event) and QuakeML through ObsPy.

Depths are km below sea level (QuakeML's own datum for `Origin.depth`, written in m). Every
origin is `evaluationMode="automatic"`, names its method in `methodID` and carries its
uncertainty (the 68 % horizontal ellipse, depth and time errors) where the method gave one.
Magnitudes of the networks are trained on synthetic source sizes, not calibrated on the
network, so their type is the generic `M`, never `Mw`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.store import atomic_path, write_table

LOCATION_COLUMNS: tuple[str, ...] = (
    "event_id",
    "origin_time",
    "latitude_deg",
    "longitude_deg",
    "depth_km",
    "magnitude",
    "method",
    "horizontal_uncertainty_km",
    "semi_minor_km",
    "ellipse_azimuth_deg",
    "depth_uncertainty_km",
    "origin_time_uncertainty_s",
    "n_stations",
    "missing_stations",
    "status",
)
"""Columns of a location table; `status` is `ok` or why an event could not be located.

`horizontal_uncertainty_km` and `semi_minor_km` are the semi-axes of the 68 % horizontal
ellipse (major axis at `ellipse_azimuth_deg` clockwise from north); depth and origin-time
uncertainties are one standard deviation; `depth_km` is below sea level."""


def location_table(rows: list[dict]) -> pd.DataFrame:
    """Rows -> a table with the location columns first, in order (extra columns kept after)."""
    frame = pd.DataFrame(rows)
    for column in LOCATION_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    extras = [c for c in frame.columns if c not in LOCATION_COLUMNS]
    return frame[[*LOCATION_COLUMNS, *extras]]


def _value(row: object, name: str) -> float:
    value = getattr(row, name, np.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _origin(row: object, method: str) -> object:
    from obspy import UTCDateTime
    from obspy.core.event import (
        CreationInfo,
        Origin,
        OriginQuality,
        OriginUncertainty,
        QuantityError,
        ResourceIdentifier,
    )

    def error(value: float) -> QuantityError | None:
        return QuantityError(uncertainty=value) if np.isfinite(value) else None

    major_km = _value(row, "horizontal_uncertainty_km")
    origin = Origin(
        resource_id=ResourceIdentifier(f"smi:local/quakesense/origin/{row.event_id}"),
        time=UTCDateTime(str(row.origin_time)),
        latitude=float(row.latitude_deg),
        longitude=float(row.longitude_deg),
        depth=float(row.depth_km) * 1000.0,
        method_id=ResourceIdentifier(f"smi:local/quakesense/locate/{method}"),
        evaluation_mode="automatic",
        evaluation_status="preliminary",
        creation_info=CreationInfo(author="quakesense"),
    )
    if np.isfinite(_value(row, "origin_time_uncertainty_s")):
        origin.time_errors = error(_value(row, "origin_time_uncertainty_s"))
    if np.isfinite(_value(row, "depth_uncertainty_km")):
        origin.depth_errors = error(_value(row, "depth_uncertainty_km") * 1000.0)
    if np.isfinite(major_km):
        origin.origin_uncertainty = OriginUncertainty(
            horizontal_uncertainty=major_km * 1000.0,
            min_horizontal_uncertainty=_value(row, "semi_minor_km") * 1000.0,
            max_horizontal_uncertainty=major_km * 1000.0,
            azimuth_max_horizontal_uncertainty=_value(row, "ellipse_azimuth_deg"),
            preferred_description="uncertainty ellipse",
            confidence_level=68.0,
        )
    quality = OriginQuality()
    for name, attribute in (
        ("n_picks", "used_phase_count"),
        ("n_stations", "used_station_count"),
        ("rms_s", "standard_error"),
        ("azimuthal_gap_deg", "azimuthal_gap"),
    ):
        value = _value(row, name)
        if np.isfinite(value):
            setattr(quality, attribute, int(value) if "count" in attribute else value)
    origin.quality = quality
    return origin


def write_quakeml(table: pd.DataFrame, path: str | Path, *, method: str) -> Path:
    """Write the located rows (status `ok`) as QuakeML with ObsPy, atomically."""
    catalog = quakeml_catalog(table, method=method)
    with atomic_path(path) as tmp:
        catalog.write(str(tmp), format="QUAKEML")
    return Path(path)


def quakeml_catalog(table: pd.DataFrame, *, method: str) -> Any:
    """The located rows (status `ok`) as an ObsPy `Catalog`: each event gets its origin (and
    magnitude, when the method gives one) as preferred."""
    from obspy.core.event import Catalog, CreationInfo, Event, Magnitude, ResourceIdentifier

    catalog = Catalog(creation_info=CreationInfo(author=f"quakesense locate ({method})"))
    for row in table.itertuples(index=False):
        if row.status != "ok":
            continue
        origin = _origin(row, method)
        event = Event(resource_id=ResourceIdentifier(f"smi:local/quakesense/event/{row.event_id}"))
        event.origins.append(origin)
        event.preferred_origin_id = origin.resource_id
        if np.isfinite(_value(row, "magnitude")):
            magnitude = Magnitude(
                resource_id=ResourceIdentifier(f"smi:local/quakesense/magnitude/{row.event_id}"),
                mag=float(row.magnitude),
                magnitude_type="M",
                origin_id=origin.resource_id,
                method_id=ResourceIdentifier(
                    f"smi:local/quakesense/locate/{method}/synthetic-trained-uncalibrated"
                ),
                evaluation_mode="automatic",
            )
            event.magnitudes.append(magnitude)
            event.preferred_magnitude_id = magnitude.resource_id
        catalog.append(event)
    return catalog


def write_locations(table: pd.DataFrame, csv_path: str | Path, *, method: str) -> tuple[Path, Path]:
    """Write the CSV and, beside it, the QuakeML file (same name, `.xml`)."""
    csv_path = Path(csv_path)
    xml_path = csv_path.with_suffix(".xml")
    write_table(table, csv_path)
    write_quakeml(table, xml_path, method=method)
    return csv_path, xml_path
