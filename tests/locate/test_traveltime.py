"""pykonal travel-time tables: homogeneous-model accuracy, reciprocity layout, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.locate.traveltime import TravelTimeTables, travel_time_tables
from quakesense.locate.velocity import GridModel


def _homogeneous(v_km_s: float = 5.0) -> GridModel:
    x = np.linspace(-4, 4, 17)
    z = np.linspace(0, 4, 9)
    shape = (17, 17, 9)
    return GridModel(x, x, z, np.full(shape, v_km_s), np.full(shape, v_km_s / 1.7))


def test_homogeneous_times_match_distance_over_speed() -> None:
    model = _homogeneous()
    stations = np.array([[-3.0, -2.0, 0.0], [2.5, 3.0, 0.0]])
    tables = travel_time_tables(model, stations)
    assert tables.times["P"].shape == (2, 17, 17, 9)
    assert tables.times["P"].dtype == np.float32
    points = np.array([[0.0, 0.0, 3.0], [1.3, -2.2, 1.7]])
    got = tables.at("S", points[:, 0], points[:, 1], points[:, 2])
    distance = np.linalg.norm(points[:, None, :] - stations[None, :, :], axis=-1)
    np.testing.assert_allclose(got, distance / (5.0 / 1.7), rtol=0.03)


def test_station_outside_model_is_named() -> None:
    with pytest.raises(InputError, match="station FAR"):
        travel_time_tables(
            _homogeneous(), np.array([[0.0, 0.0, 0.0], [9.0, 0.0, 0.0]]), station_names=["A", "FAR"]
        )


@settings(max_examples=30, deadline=None)
@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(0, 2), st.floats(0.1, 3), st.floats(-1, 1))
def test_interpolation_is_exact_for_linear_fields(
    x: float, y: float, z: float, a: float, b: float
) -> None:
    axis = np.linspace(-2, 2, 5)
    zaxis = np.linspace(0, 2, 3)
    gx, gy, gz = np.meshgrid(axis, axis, zaxis, indexing="ij")
    field = (a * gx + b * gy + 2 * gz + 10).astype(np.float32)
    tables = TravelTimeTables(axis, axis, zaxis, {"P": field[None]})
    got = tables.at("P", np.array([x]), np.array([y]), np.array([z]))
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(a * x + b * y + 2 * z + 10, rel=1e-5)
