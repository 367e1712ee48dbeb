"""Lon/lat maps with the coastline shipped in the package (Natural Earth 1:110m, public domain).

The coastline lives in `quakesense/data/coastline_ne_110m.npz` (see `data/SOURCE.md`); nothing is
downloaded at run time.
"""

from __future__ import annotations

import functools
from importlib import resources

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, QuadMesh

COASTLINE_FILE = "coastline_ne_110m.npz"


@functools.cache
def coastline_lonlat() -> tuple[np.ndarray, ...]:
    """The coastline polylines, each an (n, 2) array of (longitude_deg, latitude_deg)."""
    with resources.files("quakesense").joinpath("data", COASTLINE_FILE).open("rb") as handle:
        data = np.load(handle)
        lon, lat, starts = data["lon_deg"], data["lat_deg"], data["starts"]
    stops = np.append(starts[1:], lon.size)
    return tuple(
        np.column_stack([lon[a:b], lat[a:b]]).astype(float)
        for a, b in zip(starts, stops, strict=True)
    )


def unwrap_longitude(longitude_deg: np.ndarray, centre_deg: float) -> np.ndarray:
    """Longitudes shifted by multiples of 360 into [centre - 180, centre + 180).

    A map across the antimeridian (e.g. centred at 178 E) then has continuous longitudes.
    """
    return centre_deg + np.mod(np.asarray(longitude_deg, float) - centre_deg + 180.0, 360.0) - 180.0


def draw_coastline(ax: plt.Axes, *, color: str = "0.8", linewidth: float = 0.7) -> LineCollection:
    """Draw the coastline inside the axes' current lon/lat limits, leaving the limits unchanged.

    Copies shifted by -360 and +360 degrees are drawn where they fall inside the limits, so maps
    whose longitudes run past 180 get their coastline too.
    """
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())
    segments = []
    for line in coastline_lonlat():
        lat = line[:, 1]
        if lat.max() < y0 or lat.min() > y1:
            continue
        for shift in (-360.0, 0.0, 360.0):
            lon = line[:, 0] + shift
            if lon.max() >= x0 and lon.min() <= x1:
                segments.append(np.column_stack([lon, lat]))
    lines = LineCollection(segments, colors=color, linewidths=linewidth, zorder=3)
    ax.add_collection(lines, autolim=False)
    return lines


def lonlat_grid_map(
    ax: plt.Axes,
    corner_latitude_deg: np.ndarray,
    corner_longitude_deg: np.ndarray,
    values: np.ndarray,
    *,
    centre_longitude_deg: float,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> QuadMesh:
    """Cell values drawn on their lon/lat footprint, with the coastline and degree axes.

    Args:
        ax: the axes to draw in.
        corner_latitude_deg: cell corner latitudes, (ny + 1, nx + 1).
        corner_longitude_deg: cell corner longitudes, (ny + 1, nx + 1); unwrapped about
            `centre_longitude_deg` (use `unwrap_longitude` for points drawn on top).
        values: one value per cell, (ny, nx).
        centre_longitude_deg: the map's central longitude.
        cmap: colour map of the cells.
        vmin: lower end of the colour scale.
        vmax: upper end of the colour scale.

    Returns:
        The cells' mesh (for a colour bar).
    """
    lon = unwrap_longitude(corner_longitude_deg, centre_longitude_deg)
    lat = np.asarray(corner_latitude_deg, float)
    mesh = ax.pcolormesh(lon, lat, values, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    ax.set_xlim(lon.min(), lon.max())
    ax.set_ylim(lat.min(), lat.max())
    # Equal ground distance along both axes at the map's mean latitude.
    ax.set_aspect(1.0 / np.clip(np.cos(np.radians(lat.mean())), 0.1, 1.0))
    draw_coastline(ax)
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    return mesh
