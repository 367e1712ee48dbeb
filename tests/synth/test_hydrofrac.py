"""Tests of the hydraulic-fracturing AE pick simulator."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from quakesense.aeclass.profiles import arrival_time_profiles, pick_matrix
from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac


@pytest.fixture(scope="module")
def default():
    return simulate_hydrofrac(HydrofracConfig(seed=3))


def test_default_matches_the_paper_test(default) -> None:
    counts = default.events["label"].value_counts().sort_index()
    assert counts.tolist() == [149, 166, 88, 129, 150, 83]
    assert len(default.sensors) == 8
    assert set(default.picks["phase"]) == {"P", "S"}
    assert (default.picks["time_s"] > 0).all()


def test_missed_picks_follow_the_configured_rates(default) -> None:
    n_events, n_sensors = len(default.events), len(default.sensors)
    for phase, rate in (("P", 0.03), ("S", 0.10)):
        kept = (default.picks["phase"] == phase).sum() / (n_events * n_sensors)
        assert abs((1 - kept) - rate) < 0.02


def test_seeded_and_reproducible() -> None:
    small = {"events_per_stage": [5, 5, 5, 5, 5, 5]}
    a = simulate_hydrofrac(HydrofracConfig(seed=1, **small)).picks
    b = simulate_hydrofrac(HydrofracConfig(seed=1, **small)).picks
    c = simulate_hydrofrac(HydrofracConfig(seed=2, **small)).picks
    assert a.equals(b)
    assert not a["time_s"].equals(c["time_s"])


def test_first_two_stages_have_the_closest_profiles(default) -> None:
    matrix = pick_matrix(default.picks, list(default.sensors["sensor"]))
    profile = arrival_time_profiles(matrix.time_s, scale="event")[:, :, 0]
    labels = default.events.set_index("event_id").loc[matrix.event_ids, "label"].to_numpy()
    means = np.array([np.nanmean(profile[labels == f"C{k}"], axis=0) for k in range(1, 7)])
    distance = np.linalg.norm(means[:, None] - means[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    assert np.unravel_index(np.argmin(distance), distance.shape) in {(0, 1), (1, 0)}


def test_config_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValidationError):
        HydrofracConfig(stage_depths_m=[1.0, 2.0], events_per_stage=[3, 3, 3])
    with pytest.raises(ValidationError):
        HydrofracConfig(vp_m_s=3000.0, vs_m_s=3500.0)
