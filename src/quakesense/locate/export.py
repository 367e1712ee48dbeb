"""Located events out: a CSV table (one row per event) and QuakeML through ObsPy."""

from __future__ import annotations

from pathlib import Path

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
    "n_stations",
    "missing_stations",
    "status",
)
"""Columns of a location table; `status` is `ok` or why an event could not be located."""


def location_table(rows: list[dict]) -> pd.DataFrame:
    """Rows -> a table with the location columns first, in order (extra columns kept after)."""
    frame = pd.DataFrame(rows)
    for column in LOCATION_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    extras = [c for c in frame.columns if c not in LOCATION_COLUMNS]
    return frame[[*LOCATION_COLUMNS, *extras]]


def write_quakeml(table: pd.DataFrame, path: str | Path, *, method: str) -> Path:
    """Write the located rows (status `ok`) as QuakeML with ObsPy, atomically."""
    from obspy import UTCDateTime
    from obspy.core.event import (
        Catalog,
        CreationInfo,
        Event,
        Magnitude,
        Origin,
        ResourceIdentifier,
    )

    catalog = Catalog(creation_info=CreationInfo(author=f"quakesense locate ({method})"))
    for row in table.itertuples(index=False):
        if row.status != "ok":
            continue
        origin = Origin(
            time=UTCDateTime(str(row.origin_time)),
            latitude=float(row.latitude_deg),
            longitude=float(row.longitude_deg),
            depth=float(row.depth_km) * 1000.0,
            method_id=ResourceIdentifier(f"smi:local/quakesense/locate/{method}"),
        )
        event = Event(resource_id=ResourceIdentifier(f"smi:local/quakesense/event/{row.event_id}"))
        event.origins.append(origin)
        if np.isfinite(float(row.magnitude)):
            event.magnitudes.append(
                Magnitude(
                    mag=float(row.magnitude), magnitude_type="Mw", origin_id=origin.resource_id
                )
            )
        catalog.append(event)
    with atomic_path(path) as tmp:
        catalog.write(str(tmp), format="QUAKEML")
    return Path(path)


def write_locations(table: pd.DataFrame, csv_path: str | Path, *, method: str) -> tuple[Path, Path]:
    """Write the CSV and, beside it, the QuakeML file (same name, `.xml`)."""
    csv_path = Path(csv_path)
    xml_path = csv_path.with_suffix(".xml")
    write_table(table, csv_path)
    write_quakeml(table, xml_path, method=method)
    return csv_path, xml_path
