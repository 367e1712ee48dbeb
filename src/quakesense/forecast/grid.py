"""Space-time gridding of a catalog: local projection, ~10 km cells, daily steps, Zarr store.

Day index `d` covers [origin + d days, origin + d + 1 days) in UTC. A forecast issued at the start
of day `T` may use events of days `< T`; its target is "an event with M >= Mc in days
[T + h_min, T + h_max)". Cells are built from integer indices (`core.geo.Axis`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import Axis, LocalProjection
from quakesense.core.store import ChunkedZarrWriter
from quakesense.io.catalog import Region

DAY_NS = 86_400 * 10**9


def days_since(times: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    """Float days of UTC timestamps after `origin` (exact to the nanosecond before division)."""
    ns = times.dt.tz_convert("UTC").dt.tz_convert(None).to_numpy("datetime64[ns]").view(np.int64)
    return (
        ns - origin.tz_convert(None).to_datetime64().astype("datetime64[ns]").view(np.int64)
    ) / DAY_NS


@dataclass(frozen=True)
class GridSpec:
    """The space-time grid: projection centre, x/y axes in km, first day and number of days."""

    centre_latitude_deg: float
    centre_longitude_deg: float
    x: Axis
    y: Axis
    origin: pd.Timestamp
    n_days: int

    @classmethod
    def from_region(
        cls, region: Region, cell_km: float, start: pd.Timestamp, end: pd.Timestamp
    ) -> GridSpec:
        """Grid covering the region's polygon with square cells, days from `start` to `end`."""
        if not cell_km > 0:
            raise InputError(f"cell size must be positive, got {cell_km}", field="--cell-km")
        lat0, lon0 = region.centre
        projection = LocalProjection(lat0, lon0)
        # Densify the polygon edges so that the projected bounding box holds the curved edges.
        lat, lon = densify_polygon(region.latitude_deg, region.longitude_deg)
        x, y = projection.to_xy_km(lat, lon)
        origin = pd.Timestamp(start).tz_convert("UTC").normalize()
        n_days = int(np.ceil((pd.Timestamp(end) - origin) / pd.Timedelta(days=1)))
        if n_days < 1:
            raise InputError(f"time span {start} .. {end} is empty", field="--start/--end")
        x0, y0 = np.floor(x.min() / cell_km) * cell_km, np.floor(y.min() / cell_km) * cell_km
        return cls(
            centre_latitude_deg=lat0,
            centre_longitude_deg=lon0,
            x=Axis.covering(float(x0), float(x.max()), cell_km),
            y=Axis.covering(float(y0), float(y.max()), cell_km),
            origin=origin,
            n_days=n_days,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx)."""
        return self.y.n, self.x.n

    @property
    def projection(self) -> LocalProjection:
        """The local azimuthal-equidistant projection of the grid."""
        return LocalProjection(self.centre_latitude_deg, self.centre_longitude_deg)

    def day_index(self, date: str | pd.Timestamp) -> int:
        """Index of the day that starts at `date` (rounded down to midnight UTC)."""
        stamp = pd.Timestamp(date)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return int(np.floor((stamp - self.origin) / pd.Timedelta(days=1)))

    def date(self, day: int) -> pd.Timestamp:
        """UTC start of day index `day`."""
        return self.origin + pd.Timedelta(days=int(day))

    def cell_centres_latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """(latitude, longitude) of every cell centre, each (ny, nx)."""
        xx, yy = np.meshgrid(self.x.centres, self.y.centres)
        return self.projection.to_latlon(xx, yy)

    def cell_corners_latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """(latitude, longitude) of every cell corner, each (ny + 1, nx + 1), for lon/lat maps."""
        xx, yy = np.meshgrid(self.x.edges, self.y.edges)
        return self.projection.to_latlon(xx, yy)

    def region_mask(self, region: Region) -> np.ndarray:
        """Cells whose centre lies in the region, (ny, nx) bool."""
        lat, lon = self.cell_centres_latlon()
        return region.contains(lat.ravel(), lon.ravel()).reshape(self.shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "centre_latitude_deg": self.centre_latitude_deg,
            "centre_longitude_deg": self.centre_longitude_deg,
            "x": {"origin": self.x.origin, "step": self.x.step, "n": self.x.n},
            "y": {"origin": self.y.origin, "step": self.y.step, "n": self.y.n},
            "origin": self.origin.isoformat(),
            "n_days": self.n_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GridSpec:
        """Inverse of `to_dict`."""
        return cls(
            centre_latitude_deg=float(data["centre_latitude_deg"]),
            centre_longitude_deg=float(data["centre_longitude_deg"]),
            x=Axis(**data["x"]),
            y=Axis(**data["y"]),
            origin=pd.Timestamp(data["origin"]),
            n_days=int(data["n_days"]),
        )


def densify_polygon(lat: np.ndarray, lon: np.ndarray, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Polygon vertices with `n` points per edge (integer-indexed fractions)."""
    closed_lat, closed_lon = np.append(lat, lat[0]), np.append(lon, lon[0])
    fraction = np.arange(n, dtype=np.int64) / n
    dense_lat = (closed_lat[:-1, None] + np.diff(closed_lat)[:, None] * fraction).ravel()
    dense_lon = (closed_lon[:-1, None] + np.diff(closed_lon)[:, None] * fraction).ravel()
    return dense_lat, dense_lon


@dataclass
class GriddedEvents:
    """Events as grid indices: day, row (y), column (x), with magnitude and exact day time.

    Sorted by time; only events inside the grid's space-time box.
    """

    day: np.ndarray
    iy: np.ndarray
    ix: np.ndarray
    magnitude: np.ndarray
    t_days: np.ndarray
    x_km: np.ndarray
    y_km: np.ndarray

    def __len__(self) -> int:
        return int(self.day.size)

    def select(self, mask: np.ndarray) -> GriddedEvents:
        """Subset by a boolean mask."""
        return GriddedEvents(**{k: v[mask] for k, v in self.__dict__.items()})

    def window(self, first_day: int, stop_day: int, m_min: float = -np.inf) -> GriddedEvents:
        """Events of days [first_day, stop_day) with magnitude >= m_min."""
        lo, hi = np.searchsorted(self.day, [first_day, stop_day], side="left")
        part = GriddedEvents(**{k: v[lo:hi] for k, v in self.__dict__.items()})
        return part if not np.isfinite(m_min) else part.select(part.magnitude >= m_min)

    def count_map(self, shape: tuple[int, int], weights: np.ndarray | None = None) -> np.ndarray:
        """Per-cell sum of `weights` (default: counts), (ny, nx)."""
        flat = np.bincount(
            self.iy * shape[1] + self.ix, weights=weights, minlength=shape[0] * shape[1]
        )
        return flat.reshape(shape).astype(float)


def grid_events(catalog: pd.DataFrame, spec: GridSpec) -> tuple[GriddedEvents, dict[str, int]]:
    """Index every catalog event on the grid; events outside the box are counted, not gridded.

    Returns:
        The gridded events and counts of events dropped outside space and time.
    """
    t_days = days_since(catalog["time"], spec.origin)
    if t_days.size > 1 and np.any(np.diff(t_days) < 0):
        row = int(np.flatnonzero(np.diff(t_days) < 0)[0]) + 1
        raise InputError("catalog times are not sorted", field="time", row=row)
    x_km, y_km = spec.projection.to_xy_km(
        catalog["latitude_deg"].to_numpy(), catalog["longitude_deg"].to_numpy()
    )
    if not (np.all(np.isfinite(x_km)) and np.all(np.isfinite(y_km))):
        row = int(np.flatnonzero(~(np.isfinite(x_km) & np.isfinite(y_km)))[0])
        raise InputError("coordinates are missing or not finite", field="latitude_deg", row=row)
    ix, iy = spec.x.index(x_km), spec.y.index(y_km)
    day = np.floor(t_days).astype(np.int64)
    in_space = (ix >= 0) & (iy >= 0)
    in_time = (day >= 0) & (day < spec.n_days)
    keep = in_space & in_time
    events = GriddedEvents(
        day=day[keep],
        iy=iy[keep],
        ix=ix[keep],
        magnitude=catalog["magnitude"].to_numpy(float)[keep],
        t_days=t_days[keep],
        x_km=np.asarray(x_km)[keep],
        y_km=np.asarray(y_km)[keep],
    )
    dropped = {
        "outside_grid": int((~in_space).sum()),
        "outside_time": int((in_space & ~in_time).sum()),
    }
    return events, dropped


def write_grid(
    events: GriddedEvents,
    spec: GridSpec,
    path: str | Path,
    *,
    chunk_days: int = 64,
    progress: bool = True,
) -> Path:
    """Write per-day, per-cell maximum magnitude and count to a resumable Zarr store.

    Arrays `max_magnitude` (float32; 0 where no event, as in the paper's heat maps; magnitudes
    <= 0 are stored as 0.01 so that an event is never mistaken for none) and `count` (uint16),
    both (n_days, ny, nx), chunked by `chunk_days` days.
    """
    from tqdm import tqdm

    ny, nx = spec.shape
    writer = ChunkedZarrWriter(
        path,
        {"max_magnitude": ((ny, nx), "float32"), "count": ((ny, nx), "uint16")},
        n_records=spec.n_days,
        chunk_records=chunk_days,
        attrs={"grid": spec.to_dict(), "n_events": len(events)},
    )
    done = writer.done_chunks()
    for chunk in tqdm(range(writer.n_chunks), desc="grid", unit="chunk", disable=not progress):
        if chunk in done:
            continue
        writer.write_chunk(chunk, day_maps(events, *writer.chunk_bounds(chunk), spec.shape))
    return Path(path)


def day_maps(
    events: GriddedEvents, start: int, stop: int, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """The grid arrays of days [start, stop): `max_magnitude` (float32) and `count` (uint16),
    each (stop - start, ny, nx), as `write_grid` stores them."""
    ny, nx = shape
    part = events.window(start, stop)
    flat = ((part.day - start) * ny + part.iy) * nx + part.ix
    size = (stop - start) * ny * nx
    max_mag = np.zeros(size, dtype=np.float32)
    np.maximum.at(max_mag, flat, np.maximum(part.magnitude, 0.01).astype(np.float32))
    count = np.minimum(np.bincount(flat, minlength=size), np.iinfo(np.uint16).max)
    return {
        "max_magnitude": max_mag.reshape(stop - start, ny, nx),
        "count": count.astype(np.uint16).reshape(stop - start, ny, nx),
    }


class EventGrid:
    """A grid store's arrays computed from gridded events when read, in memory: a read-only
    stand-in for the Zarr group of `write_grid` wherever days are read as
    `grid["count"][lo:hi]` (the network's inputs), without writing a store.

    Args:
        events: The gridded events.
        spec: Their grid (its `n_days` is the arrays' length).
    """

    def __init__(self, events: GriddedEvents, spec: GridSpec) -> None:
        self.events, self.spec = events, spec

    def __getitem__(self, name: str) -> _EventGridArray:
        return _EventGridArray(self, name)


@dataclass
class _EventGridArray:
    """One array of an `EventGrid`: its shape, and slices of whole days."""

    grid: EventGrid
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.grid.spec.n_days, *self.grid.spec.shape)

    def __getitem__(self, days: slice) -> np.ndarray:
        start, stop, step = days.indices(self.grid.spec.n_days)
        if step != 1:
            raise ValueError("an event grid is read in runs of consecutive days")
        grid = self.grid
        return day_maps(grid.events, start, max(stop, start), grid.spec.shape)[self.name]


def open_grid(path: str | Path) -> tuple[Any, GridSpec]:
    """Open a finished grid store read-only; return the Zarr group and its spec."""
    import zarr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise InputError(
            "not a grid store (no zarr.json); run `quakesense forecast grid`", source=path
        )
    group = zarr.open_group(str(path), mode="r")
    job = dict(group.attrs).get("job", {})
    if "grid" not in job:
        raise InputError("Zarr store holds no forecast grid", source=path)
    spec = GridSpec.from_dict(job["grid"])
    done = len(dict(group.attrs).get("chunks_done", []))
    if done * group["count"].chunks[0] < spec.n_days:
        raise InputError("grid store is incomplete; rerun `quakesense forecast grid`", source=path)
    return group, spec


def target_maps(
    events: GriddedEvents,
    shape: tuple[int, int],
    forecast_days: np.ndarray,
    horizon_days: tuple[int, int],
    mc: float,
) -> np.ndarray:
    """Binary targets (n_T, ny, nx): any event M >= mc in days [T + h_min, T + h_max)."""
    big = events.select(events.magnitude >= mc)
    out = np.zeros((len(forecast_days), *shape), dtype=bool)
    for k, day in enumerate(np.asarray(forecast_days, dtype=np.int64)):
        part = big.window(day + horizon_days[0], day + horizon_days[1])
        out[k].ravel()[part.iy * shape[1] + part.ix] = True
    return out
