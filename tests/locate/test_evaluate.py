"""Scores of `locate evaluate`: how estimates shrink toward the middle of the set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.locate.evaluate import compare, position_slopes


def _table(
    latitude_deg: np.ndarray, longitude_deg: np.ndarray, depth_km: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": np.arange(len(depth_km)),
            "latitude_deg": latitude_deg,
            "longitude_deg": longitude_deg,
            "depth_km": depth_km,
            "magnitude": 0.0,
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    factor=st.floats(0.0, 1.5),
    offset_km=st.floats(-3.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_slopes_measure_how_much_of_the_spread_the_estimates_keep(
    factor: float, offset_km: float, seed: int
) -> None:
    """Estimates `factor` of the way from the middle (plus a shift) have slope `factor`."""
    rng = np.random.default_rng(seed)
    north_km, east_km, depth_km = rng.uniform(-5.0, 5.0, (3, 20))
    truth = _table(43.7 + north_km / 111.19, -121.3 + east_km / 80.4, 2.0 + depth_km / 5)
    middle = truth[["latitude_deg", "longitude_deg", "depth_km"]].mean()
    estimate = truth.copy()
    for column in ("latitude_deg", "longitude_deg", "depth_km"):
        estimate[column] = middle[column] + factor * (truth[column] - middle[column])
    estimate["depth_km"] += offset_km
    slopes = position_slopes(compare(estimate, truth))
    assert slopes["slope_north"] == pytest.approx(factor, abs=1e-6)
    assert slopes["slope_east"] == pytest.approx(factor, abs=1e-6)
    assert slopes["slope_depth"] == pytest.approx(factor, abs=1e-6)


def test_slopes_of_one_point_and_of_no_spread() -> None:
    truth = _table(np.array([43.6, 43.7, 43.8]), np.array([-121.2, -121.3, -121.4]), np.ones(3))
    one_point = truth.assign(latitude_deg=43.7, longitude_deg=-121.3)
    slopes = position_slopes(compare(one_point, truth))
    assert slopes["slope_north"] == 0.0 and slopes["slope_east"] == 0.0
    assert np.isnan(slopes["slope_depth"])  # every true depth the same: no slope to measure
