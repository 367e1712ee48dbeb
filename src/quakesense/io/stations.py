"""Station lists: StationXML (via ObsPy), CSV tables, or whitespace `name lat lon elev_km` files.

Every reader ends in `core.tables.STATIONS.validate`, so callers get the canonical columns
`station, latitude_deg, longitude_deg, elevation_m` whatever the file looked like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import haversine_km
from quakesense.core.store import read_table
from quakesense.core.tables import STATIONS

# Common spellings in station CSVs, mapped onto the canonical column names.
_ALIASES: dict[str, str] = {
    "code": "station",
    "name": "station",
    "sta": "station",
    "lat": "latitude_deg",
    "latitude": "latitude_deg",
    "lon": "longitude_deg",
    "lng": "longitude_deg",
    "longitude": "longitude_deg",
    "elevation": "elevation_m",
    "elev": "elevation_m",
    "elev_m": "elevation_m",
}

_XML_SUFFIXES = {".xml", ".stationxml"}


def read_stations(path: str | Path | pd.DataFrame | Any) -> pd.DataFrame:
    """Read a station list into the canonical STATIONS table.

    Accepted formats: StationXML (`.xml`, read with ObsPy; one row per network.station),
    CSV with a header (`station, latitude_deg, longitude_deg, elevation_m`, or the aliases
    code/lat/lon/elevation), and headerless whitespace files `name lat lon elevation_km`
    (the Rquake `*_sta_LLZ.txt` layout). In memory: an ObsPy `Inventory` or a table with the
    CSV's columns, checked the same way.

    Raises:
        InputError: unreadable file, missing columns, bad values or duplicate station names.
    """
    if isinstance(path, pd.DataFrame):
        frame, path = _renamed(path), "<station table>"
    elif hasattr(path, "networks"):
        frame, path = _inventory_stations(path, "<inventory>"), "<inventory>"
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError("station file not found", source=path)
        if path.suffix.lower() in _XML_SUFFIXES:
            frame = _read_stationxml(path)
        elif _is_llz(path):
            frame = _read_llz(path)
        else:
            frame = _renamed(read_table(path))
    stations = STATIONS.validate(frame, source=str(path))
    return _reject_duplicates(stations, path)


def _renamed(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with the known column aliases renamed to the canonical names."""
    return frame.rename(columns={c: _ALIASES.get(str(c).strip().lower(), c) for c in frame})


def _read_stationxml(path: Path) -> pd.DataFrame:
    from obspy import read_inventory

    try:
        inventory = read_inventory(str(path))
    except Exception as exc:  # ObsPy raises many types for malformed XML; report them uniformly
        raise InputError(
            f"cannot read StationXML ({type(exc).__name__}: {exc})", source=path
        ) from exc
    return _inventory_stations(inventory, path)


def _inventory_stations(inventory: Any, source: Any) -> pd.DataFrame:
    """One row per network.station of an ObsPy Inventory."""
    rows = [
        {
            "station": f"{network.code}.{station.code}",
            "latitude_deg": station.latitude,
            "longitude_deg": station.longitude,
            "elevation_m": station.elevation,
        }
        for network in inventory
        for station in network
    ]
    if not rows:
        raise InputError("StationXML holds no stations", source=source)
    return pd.DataFrame(rows)


def _is_llz(path: Path) -> bool:
    """Whether the first data line is `name lat lon elev` with three numbers (no header)."""
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 4 or "," in line:
            return False
        try:
            [float(p) for p in parts[1:]]
        except ValueError:
            return False
        return True
    return False


def _read_llz(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines()):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 4:
            raise InputError(
                f"expected 'name latitude longitude elevation_km', got {line!r}",
                source=path,
                row=number,
            )
        rows.append(parts)
    frame = pd.DataFrame(rows, columns=["station", "latitude_deg", "longitude_deg", "elev_km"])
    elevation_km = pd.to_numeric(frame.pop("elev_km"), errors="coerce")
    frame["elevation_m"] = elevation_km * 1000.0
    return frame


def _reject_duplicates(stations: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    duplicated = stations["station"].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise InputError(
            f"station name '{stations['station'].iloc[row]}' appears twice; names must be unique",
            source=path,
            field="station",
            row=row,
        )
    return stations


def station_code(name: str) -> str:
    """The station code of `NET.STA` or `STA` (StationXML names carry the network)."""
    return str(name).rsplit(".", 1)[-1]


def match_station_names(wanted: list[str], available: list[str]) -> dict[str, str]:
    """Map each name of `wanted` onto a name of `available`: exactly, else by station code.

    `NET.STA` and `STA` match when the code is unique on both sides, so a model trained on a
    CSV's `STA` accepts a StationXML's `NET.STA` and the reverse; two networks sharing a code
    need the full names. Names without a match are left out of the mapping.
    """
    exact = set(available)
    by_code: dict[str, list[str]] = {}
    for name in available:
        by_code.setdefault(station_code(name), []).append(name)
    wanted_codes = pd.Series([station_code(w) for w in wanted]).value_counts()
    mapping = {}
    for name in wanted:
        if name in exact:
            mapping[name] = name
            continue
        code = station_code(name)
        candidates = by_code.get(code, [])
        if len(candidates) == 1 and wanted_codes[code] == 1:
            mapping[name] = candidates[0]
    return mapping


def check_network_extent(
    stations: pd.DataFrame, *, source: str | Path | None = None, max_factor: float = 10.0
) -> None:
    """Refuse a station far outside the rest of the network (a coordinate typo, another net).

    A station is refused when its distance from the network's median position exceeds both
    50 km and `max_factor` times the median such distance of the stations.

    Raises:
        InputError: naming the first such station and its distance.
    """
    if len(stations) < 3:
        return
    lat = stations["latitude_deg"].to_numpy(float)
    lon = stations["longitude_deg"].to_numpy(float)
    distance_km = haversine_km(np.median(lat), np.median(lon), lat, lon)
    limit_km = max(50.0, max_factor * float(np.median(distance_km)))
    far = np.flatnonzero(distance_km > limit_km)
    if far.size:
        row = int(far[np.argmax(distance_km[far])])
        raise InputError(
            f"station {stations['station'].iloc[row]} is {distance_km[row]:,.0f} km from the "
            f"network's median position (limit {limit_km:,.0f} km); fix its coordinates or "
            "remove it from the station list",
            source=source,
            field="station",
            row=row,
        )
