"""Training-set events: integer-built grids, seeded events, splits by event and hold-out block."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.locate.dataset import (
    HOLDOUT,
    HoldoutBox,
    HypocentreVolume,
    assign_splits,
    grid_axis_deg,
    jittered_hypocentres,
    make_events,
    nearest_train_distance_km,
    uniform_hypocentres,
)

PROJECTION = LocalProjection(35.0, 139.0)
VOLUME = HypocentreVolume(34.9, 35.1, 138.9, 139.1, 0.0, 4.0)


def _events(n_events: int, seed: int = 1, sampling: str = "uniform", **changes: object):
    rng = np.random.default_rng(seed)
    if sampling == "jitter":
        hypocentres = jittered_hypocentres(VOLUME, n_events, 0.02, 2.0, rng)
    else:
        hypocentres = uniform_hypocentres(VOLUME, n_events, rng)
    settings = dict(
        magnitude_range=(2.2, 4.5),
        mechanism="reverse",
        strike_dip_rake_deg=(45.0, 45.0, 90.0),
        origin_time_range_s=(1.0, 5.0),
        fractions=(0.8, 0.1, 0.1),
        holdout=None,
        rng=rng,
    )
    settings.update(changes)
    return make_events(hypocentres, PROJECTION, **settings)


def test_axis_includes_the_upper_bound_despite_rounding() -> None:
    axis = grid_axis_deg(35.0, 35.3, 0.1)
    assert len(axis) == 4
    assert axis[-1] == pytest.approx(35.3)


def test_events_fill_the_volume_with_columns() -> None:
    events = _events(300)
    assert len(events) == 300
    assert events["latitude_deg"].between(34.9, 35.1).all()
    assert events["depth_km"].between(0.0, 4.0).all()
    # continuous draws: depths spread over the range, not a few grid levels
    assert events["depth_km"].nunique() == 300
    assert {
        "event_id",
        "latitude_deg",
        "longitude_deg",
        "depth_km",
        "magnitude",
        "origin_time_s",
        "x_km",
        "y_km",
        "strike_deg",
        "dip_deg",
        "rake_deg",
        "split",
    } <= set(events.columns)
    assert events["magnitude"].between(2.2, 4.5).all()
    assert (events["rake_deg"] == 90.0).all()
    assert events["event_id"].is_unique


def test_same_seed_same_events_other_seed_differs() -> None:
    assert _events(30, seed=3).equals(_events(30, seed=3))
    assert not _events(30, seed=3).equals(_events(30, seed=4))


def test_random_mechanisms_vary() -> None:
    events = _events(50, mechanism="random")
    assert events["strike_deg"].nunique() == 50
    assert events["dip_deg"].between(20, 90).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 400), st.integers(0, 10_000))
def test_every_event_in_exactly_one_split(n: int, seed: int) -> None:
    labels = assign_splits(n, (0.8, 0.1, 0.1), np.random.default_rng(seed))
    assert set(labels) <= {"train", "val", "test"}
    assert abs((labels == "train").sum() - 0.8 * n) <= 1


def test_holdout_block_is_a_second_test_set() -> None:
    box = HoldoutBox(0.0, 20.0, 0.0, 20.0)
    events = _events(400, holdout=box)
    inside = box.contains(events["x_km"].to_numpy(), events["y_km"].to_numpy())
    assert inside.any()
    assert (events.loc[inside, "split"] == HOLDOUT).all()
    assert (events.loc[~inside, "split"] != HOLDOUT).all()
    assert (events.loc[~inside, "split"] == "train").mean() == pytest.approx(0.8, abs=0.02)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["uniform", "jitter"]))
def test_no_test_hypocentre_coincides_with_a_training_one(seed: int, sampling: str) -> None:
    events = _events(600, seed=seed, sampling=sampling, holdout=HoldoutBox(0, 5, 0, 5))
    for split in ("val", "test", HOLDOUT):
        distance = nearest_train_distance_km(events, split)
        assert distance.size and distance.min() > 1e-3


def test_jitter_stays_in_the_volume_and_off_the_nodes() -> None:
    frame = jittered_hypocentres(VOLUME, 500, 0.02, 2.0, np.random.default_rng(0))
    assert frame["latitude_deg"].between(34.9, 35.1).all()
    assert frame["depth_km"].between(0.0, 4.0).all()
    assert not np.isin(frame["depth_km"], [0.0, 2.0, 4.0]).any()


def test_coinciding_hypocentres_are_refused() -> None:
    repeated = uniform_hypocentres(VOLUME, 5, np.random.default_rng(0))
    repeated = repeated.iloc[np.tile(np.arange(5), 40)]
    with pytest.raises(InputError, match="coincides with a training one"):
        make_events(
            repeated,
            PROJECTION,
            magnitude_range=(2, 3),
            mechanism="reverse",
            strike_dip_rake_deg=(0, 45, 90),
            origin_time_range_s=(1, 2),
            fractions=(0.8, 0.1, 0.1),
            holdout=None,
            rng=np.random.default_rng(0),
        )


def test_no_hypocentre_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no hypocentre"):
        make_events(
            uniform_hypocentres(VOLUME, 0, np.random.default_rng(0)),
            PROJECTION,
            magnitude_range=(2, 3),
            mechanism="reverse",
            strike_dip_rake_deg=(0, 45, 90),
            origin_time_range_s=(1, 2),
            fractions=(0.8, 0.1, 0.1),
            holdout=None,
            rng=np.random.default_rng(0),
        )


@settings(max_examples=10, deadline=None)
@given(isotropic_max=st.floats(0.01, 2.0), seed=st.integers(0, 100))
def test_isotropic_parts_stay_in_bounds_and_leave_the_rest_alone(
    isotropic_max: float, seed: int
) -> None:
    """The isotropic part is drawn after everything else: the same hypocentres, mechanisms
    and splits as a run without it."""
    plain = _events(60, seed=seed, mechanism="random")
    mixed = _events(60, seed=seed, mechanism="random", isotropic_max=isotropic_max)
    assert (plain["isotropic"] == 0.0).all()
    assert mixed["isotropic"].abs().max() <= isotropic_max and mixed["isotropic"].nunique() == 60
    pd_columns = [c for c in plain.columns if c != "isotropic"]
    assert plain[pd_columns].equals(mixed[pd_columns])
