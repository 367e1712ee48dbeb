"""Gridding: integer-indexed cells, daily max magnitude and counts in Zarr, purged targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.forecast.grid import (
    EventGrid,
    GridSpec,
    grid_events,
    open_grid,
    target_maps,
    write_grid,
)
from quakesense.io.catalog import Region

REGION = Region.from_bbox(35.0, 37.0, 139.0, 141.0)
START = pd.Timestamp("2020-01-01", tz="UTC")


def make_catalog(rng: np.random.Generator, n: int, n_days: int = 30) -> pd.DataFrame:
    seconds = np.sort(rng.uniform(0, n_days * 86_400, n))
    return pd.DataFrame(
        {
            "time": START + pd.to_timedelta(seconds, unit="s"),
            "latitude_deg": rng.uniform(35.05, 36.95, n),
            "longitude_deg": rng.uniform(139.05, 140.95, n),
            "magnitude": np.round(rng.uniform(2.0, 6.0, n), 1),
        }
    )


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200))
def test_grid_store_matches_a_direct_histogram(tmp_path_factory, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng, n)
    spec = GridSpec.from_region(REGION, 20.0, START, START + pd.Timedelta(days=30))
    events, dropped = grid_events(catalog, spec)
    assert len(events) + sum(dropped.values()) == n
    path = tmp_path_factory.mktemp("grid") / "grid.zarr"
    group, _ = open_grid(write_grid(events, spec, path, chunk_days=7, progress=False))
    count = np.asarray(group["count"][:])
    max_mag = np.asarray(group["max_magnitude"][:])
    assert count.sum() == len(events)
    expected = np.zeros_like(max_mag)
    for d, iy, ix, m in zip(events.day, events.iy, events.ix, events.magnitude, strict=True):
        expected[d, iy, ix] = max(expected[d, iy, ix], m)
    np.testing.assert_allclose(max_mag, expected)
    in_memory = EventGrid(events, spec)
    assert in_memory["count"].shape == count.shape
    np.testing.assert_array_equal(in_memory["count"][3:17], count[3:17])
    np.testing.assert_array_equal(in_memory["max_magnitude"][:], max_mag)


def test_japan_like_box_gives_cells_of_the_requested_size() -> None:
    spec = GridSpec.from_region(
        Region.from_bbox(22, 46, 122, 150), 10.0, START, START + pd.Timedelta(days=1)
    )
    assert spec.x.step == 10.0 and spec.y.step == 10.0
    assert 200 <= spec.shape[0] <= 300 and 200 <= spec.shape[1] <= 300
    edges = spec.x.edges
    assert np.all(np.diff(edges) == 10.0)


def test_event_on_a_cell_edge_goes_to_the_cell_it_starts() -> None:
    spec = GridSpec.from_region(REGION, 10.0, START, START + pd.Timedelta(days=2))
    edge_x = spec.x.edges[3]
    lat, lon = spec.projection.to_latlon(np.array([edge_x]), np.array([spec.y.centres[2]]))
    catalog = pd.DataFrame(
        {"time": [START], "latitude_deg": lat, "longitude_deg": lon, "magnitude": [4.0]}
    )
    events, _ = grid_events(catalog, spec)
    assert events.ix[0] == 3 and events.iy[0] == 2


def test_targets_cover_days_t_plus_h0_to_t_plus_h1_exclusive() -> None:
    spec = GridSpec.from_region(REGION, 20.0, START, START + pd.Timedelta(days=100))
    days = np.array([30.5, 80.2])
    catalog = pd.DataFrame(
        {
            "time": START + pd.to_timedelta(days, unit="D"),
            "latitude_deg": [36.0, 36.0],
            "longitude_deg": [140.0, 140.0],
            "magnitude": [5.5, 4.0],
        }
    )
    events, _ = grid_events(catalog, spec)
    y = target_maps(events, spec.shape, np.arange(0, 50), (10, 50), mc=5.0)
    hit_times = np.flatnonzero(y.any(axis=(1, 2)))
    # Event on day 30: T + 10 <= 30 < T + 50, so T in 0 .. 20.
    assert list(hit_times) == list(range(0, 21))
    y_low = target_maps(events, spec.shape, np.arange(0, 50), (10, 50), mc=4.0)
    expected = set(range(0, 21)) | set(range(31, 50))
    assert set(np.flatnonzero(y_low.any(axis=(1, 2)))) == expected


def test_unsorted_or_nan_catalog_is_refused() -> None:
    spec = GridSpec.from_region(REGION, 20.0, START, START + pd.Timedelta(days=10))
    catalog = make_catalog(np.random.default_rng(0), 5, n_days=10)
    with pytest.raises(InputError, match="not sorted"):
        grid_events(catalog.iloc[::-1].reset_index(drop=True), spec)
    catalog.loc[2, "latitude_deg"] = np.nan
    with pytest.raises(InputError, match="row 2"):
        grid_events(catalog, spec)


def test_interrupted_store_is_refused_until_complete(tmp_path: Path) -> None:
    from quakesense.core.store import ChunkedZarrWriter

    spec = GridSpec.from_region(REGION, 20.0, START, START + pd.Timedelta(days=20))
    events, _ = grid_events(make_catalog(np.random.default_rng(1), 50, 20), spec)
    path = tmp_path / "grid.zarr"
    writer = ChunkedZarrWriter(
        path,
        {"max_magnitude": (spec.shape, "float32"), "count": (spec.shape, "uint16")},
        n_records=spec.n_days,
        chunk_records=7,
        attrs={"grid": spec.to_dict(), "n_events": len(events)},
    )
    assert not writer.complete
    with pytest.raises(InputError, match="incomplete"):
        open_grid(path)
    write_grid(events, spec, path, chunk_days=7, progress=False)
    group, _ = open_grid(path)
    assert int(np.asarray(group["count"][:]).sum()) == len(events)
