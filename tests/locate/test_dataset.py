"""Training-set events: integer-built grids, seeded events, splits by event and hold-out block."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.locate.dataset import (
    HoldoutBox,
    assign_splits,
    grid_axis_deg,
    hypocentre_nodes,
    make_events,
)

PROJECTION = LocalProjection(35.0, 139.0)


def _events(n_events: int | None, seed: int = 1, **changes: object):
    nodes = hypocentre_nodes(
        grid_axis_deg(34.9, 35.1, 0.02), grid_axis_deg(138.9, 139.1, 0.02), np.array([2.0, 4.0])
    )
    settings = dict(
        n_events=n_events,
        magnitude_range=(2.2, 4.5),
        mechanism="reverse",
        strike_dip_rake_deg=(45.0, 45.0, 90.0),
        origin_time_range_s=(1.0, 5.0),
        fractions=(0.8, 0.1, 0.1),
        holdout=None,
        rng=np.random.default_rng(seed),
    )
    settings.update(changes)
    return make_events(nodes, PROJECTION, **settings)


def test_axis_includes_the_upper_bound_despite_rounding() -> None:
    axis = grid_axis_deg(35.0, 35.3, 0.1)
    assert len(axis) == 4
    assert axis[-1] == pytest.approx(35.3)


def test_full_grid_and_columns() -> None:
    events = _events(None)
    assert len(events) == 11 * 11 * 2
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


def test_holdout_block_goes_to_test() -> None:
    box = HoldoutBox(0.0, 20.0, 0.0, 20.0)
    events = _events(None, holdout=box)
    inside = box.contains(events["x_km"].to_numpy(), events["y_km"].to_numpy())
    assert inside.any()
    assert (events.loc[inside, "split"] == "test").all()
    assert (events.loc[~inside, "split"] == "train").mean() == pytest.approx(0.8, abs=0.02)


def test_empty_grid_is_an_input_error() -> None:
    nodes = hypocentre_nodes(np.array([]), np.array([139.0]), np.array([2.0]))
    with pytest.raises(InputError, match="empty"):
        make_events(
            nodes,
            PROJECTION,
            n_events=None,
            magnitude_range=(2, 3),
            mechanism="reverse",
            strike_dip_rake_deg=(0, 45, 90),
            origin_time_range_s=(1, 2),
            fractions=(0.8, 0.1, 0.1),
            holdout=None,
            rng=np.random.default_rng(0),
        )
