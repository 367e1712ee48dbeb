"""Tests of arrival-time profiles and their model features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quakesense.aeclass.profiles import arrival_time_profiles, pick_matrix, profile_features

times = arrays(  # distinct values: repeated ones made `assume` below reject most draws
    float,
    (3, 8, 2),
    elements=st.floats(1e-4, 1e-2, allow_nan=False, allow_infinity=False),
    unique=True,
)


@settings(max_examples=40, deadline=None)
@given(times, st.floats(-5.0, 5.0), st.floats(0.2, 5.0))
def test_profile_ignores_origin_time_and_time_scale(t: np.ndarray, shift: float, factor: float):
    # arrival-time spreads of at least 10 us: far above float64 rounding at a 15 s offset
    assume(np.ptp(t, axis=1).min() > 1e-5)
    base = arrival_time_profiles(t, scale="event")
    moved = arrival_time_profiles(t * factor + shift + 10.0, scale="event")
    usable = np.isfinite(base)
    np.testing.assert_allclose(moved[usable], base[usable], atol=1e-6)
    centred = arrival_time_profiles(t + shift + 10.0, scale="none")
    np.testing.assert_allclose(np.nanmean(centred, axis=1), 0.0, atol=1e-9)


def test_missing_picks_stay_missing_and_are_flagged() -> None:
    t = np.random.default_rng(0).uniform(0, 1e-3, (2, 8, 2))
    t[0, 3, 0] = np.nan
    t[1, 5, :] = np.nan
    profile = arrival_time_profiles(t)
    assert np.isnan(profile[0, 3, 0]) and np.isfinite(profile[0, 3, 1])
    features = profile_features(profile)
    assert features.shape == (2, 32) and np.isfinite(features).all()
    mask = features[:, 16:]
    assert mask[0, 3] == 1 and mask[1, 5] == 1 and mask[1, 13] == 1 and mask.sum() == 3
    # missing P is filled from the same sensor's S value, a missing pair with the event mean 0
    assert features[0, 3] == profile[0, 3, 1]
    assert features[1, 5] == 0.0 and features[1, 13] == 0.0


def test_p_and_s_profiles_coincide_in_a_homogeneous_medium() -> None:
    distance = np.random.default_rng(1).uniform(1, 5, (4, 8))
    t = np.stack([2.0 + distance / 5900, 2.0 + distance / 3400], axis=2)
    profile = arrival_time_profiles(t)
    np.testing.assert_allclose(profile[:, :, 0], profile[:, :, 1], atol=1e-9)


def test_pick_matrix_orders_sensors_and_phases() -> None:
    picks = pd.DataFrame(
        {
            "event_id": ["b", "b", "a"],
            "sensor": ["S2", "S1", "S2"],
            "phase": ["S", "P", "P"],
            "time_s": [3.0, 1.0, 2.0],
        }
    )
    matrix = pick_matrix(picks, ["S1", "S2"])
    assert matrix.event_ids == ["b", "a"]
    assert matrix.feature_names == ["P_S1", "P_S2", "S_S1", "S_S2"]
    assert matrix.time_s[0, 0, 0] == 1.0 and matrix.time_s[0, 1, 1] == 3.0
    assert matrix.time_s[1, 1, 0] == 2.0 and np.isnan(matrix.time_s[1, 0, 0])
