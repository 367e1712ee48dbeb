"""Geography: projections invert, grid cells come from integer indices."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from quakesense.core.geo import Axis, LocalProjection, haversine_km


def test_projection_round_trip_and_distance() -> None:
    proj = LocalProjection(35.2, 139.0)
    lat = np.array([35.2, 35.3, 35.0])
    lon = np.array([139.0, 139.1, 138.8])
    x, y = proj.to_xy_km(lat, lon)
    back_lat, back_lon = proj.to_latlon(x, y)
    np.testing.assert_allclose(back_lat, lat, atol=1e-9)
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)
    assert abs(x[0]) < 1e-9 and abs(y[0]) < 1e-9
    assert np.hypot(x[1], y[1]) == np.float64(np.hypot(x[1], y[1]))
    np.testing.assert_allclose(
        np.hypot(x[1:], y[1:]), haversine_km(35.2, 139.0, lat[1:], lon[1:]), rtol=5e-3
    )


def test_axis_edges_have_no_float_drift() -> None:
    axis = Axis(origin=0.0, step=0.1, n=1000)
    assert axis.edges[-1] == 100.0
    # An event exactly on an edge goes to the cell the edge starts, however far along the axis.
    assert axis.index(np.array([0.3, 99.9, 100.0])).tolist() == [3, 999, -1]


@given(
    origin=st.floats(-500, 500),
    step=st.floats(0.01, 50),
    n=st.integers(1, 500),
    k=st.integers(0, 499),
    frac=st.floats(0, 0.999),
)
def test_value_inside_cell_k_maps_to_k(
    origin: float, step: float, n: int, k: int, frac: float
) -> None:
    axis = Axis(origin=origin, step=step, n=n)
    k = k % n
    value = origin + (k + frac) * step
    index = int(axis.index(np.array([value]))[0])
    assert index in (k, k + 1 if frac > 0.99 and k + 1 < n else k)
    assert axis.edges[index] <= value + 1e-9 * step


def test_covering_axis_covers_range() -> None:
    axis = Axis.covering(10.0, 20.05, 0.5)
    assert axis.edges[0] == 10.0 and axis.edges[-1] >= 20.05
    assert axis.n == 21
