"""Lon/lat maps: the shipped Natural Earth coastline loads, is land-shaped, and maps render."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.path import Path as PolygonPath

from quakesense.core.maps import coastline_lonlat, draw_coastline, unwrap_longitude
from quakesense.forecast.figures import event_count_figure, forecast_maps_figure
from quakesense.forecast.grid import GridSpec, grid_events
from quakesense.io.catalog import Region


def rings_around(latitude_deg: float, longitude_deg: float) -> int:
    """How many coastline rings enclose the point (odd: land, even: sea)."""
    return sum(
        PolygonPath(line).contains_point((longitude_deg, latitude_deg))
        for line in coastline_lonlat()
    )


def test_coastline_is_the_natural_earth_land_outline() -> None:
    lines = coastline_lonlat()
    assert len(lines) > 100
    points = np.concatenate(lines)
    assert 5_000 < len(points) < 6_000
    assert np.all(np.abs(points[:, 0]) <= 180) and np.all(np.abs(points[:, 1]) <= 90)
    assert all(np.array_equal(line[0], line[-1]) for line in lines)
    # Land inside an odd number of rings, sea (the Caspian is a ring inside Eurasia) in an even.
    assert rings_around(35.68, 139.77) % 2 == 1  # Tokyo
    assert rings_around(48.86, 2.35) % 2 == 1  # Paris
    assert rings_around(30.0, -150.0) == 0  # North Pacific
    assert rings_around(42.0, 51.0) == 2  # Caspian Sea


def test_unwrap_longitude_makes_antimeridian_maps_continuous() -> None:
    np.testing.assert_allclose(
        unwrap_longitude(np.array([-179.0, 179.0, 10.0]), 178.0), [181.0, 179.0, 10.0]
    )


def test_coastline_across_the_antimeridian_is_drawn_shifted() -> None:
    fig, ax = plt.subplots()
    ax.set_xlim(176.0, 184.0)
    ax.set_ylim(-20.0, -15.0)
    lines = draw_coastline(ax)
    lon = np.concatenate([segment[:, 0] for segment in lines.get_segments()])
    assert lon.max() > 180.0  # Fiji east of 180 drawn at 180..182, not at -180
    assert ax.get_xlim() == (176.0, 184.0)
    plt.close(fig)


def test_forecast_and_count_maps_render_in_lonlat_with_coastline() -> None:
    start = pd.Timestamp("2020-01-01", tz="UTC")
    spec = GridSpec.from_region(
        Region.from_bbox(33.0, 37.0, 136.0, 142.0), 25.0, start, start + pd.Timedelta(days=10)
    )
    rng = np.random.default_rng(0)
    catalog = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(np.sort(rng.uniform(0, 9 * 86_400, 20)), unit="s"),
            "latitude_deg": rng.uniform(33.5, 36.5, 20),
            "longitude_deg": rng.uniform(136.5, 141.5, 20),
            "magnitude": np.full(20, 5.0),
        }
    )
    events, _ = grid_events(catalog, spec)
    forecast = forecast_maps_figure({"a": rng.uniform(0, 0.1, spec.shape)}, spec, events, "test")
    counts = event_count_figure(events.count_map(spec.shape), spec, "counts")
    for fig in (forecast, counts):
        ax = fig.axes[0]
        assert ax.get_xlabel().startswith("longitude") and ax.get_ylabel().startswith("latitude")
        x0, x1 = ax.get_xlim()
        assert 135.0 < x0 < 136.5 and 141.5 < x1 < 143.0
        coast = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert coast and sum(len(s) for s in coast[0].get_segments()) > 20  # Honshu's shore
    observed = forecast.axes[0].collections[-1].get_offsets()
    np.testing.assert_allclose(
        np.sort(observed[:, 0]), np.sort(catalog["longitude_deg"]), atol=1e-6
    )
    np.testing.assert_allclose(np.sort(observed[:, 1]), np.sort(catalog["latitude_deg"]), atol=1e-6)
    buffer = io.BytesIO()
    forecast.savefig(buffer, format="png", dpi=50)
    assert buffer.getbuffer().nbytes > 5_000
    plt.close("all")
