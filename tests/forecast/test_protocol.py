"""Chronological split: the label horizon is purged at each boundary; empty periods are errors."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.core.geo import Axis
from quakesense.forecast.grid import GridSpec
from quakesense.forecast.protocol import chronological_split, last_days_split

SPEC = GridSpec(
    36.0, 140.0, Axis(0, 10, 5), Axis(0, 10, 5), pd.Timestamp("2000-01-01", tz="UTC"), 3000
)


@settings(max_examples=30, deadline=None)
@given(
    train_end=st.integers(600, 1500),
    valid_len=st.integers(100, 800),
    h0=st.integers(0, 20),
    width=st.integers(1, 60),
    stride=st.integers(1, 15),
)
def test_no_label_window_crosses_a_boundary(
    train_end: int, valid_len: int, h0: int, width: int, stride: int
) -> None:
    horizon = (h0, h0 + width)
    split = chronological_split(
        SPEC,
        SPEC.date(train_end),
        SPEC.date(train_end + valid_len),
        horizon,
        history_days=100,
        train_stride_days=stride,
        eval_stride_days=stride,
    )
    assert split.train_days.max() + horizon[1] <= split.train_end_day
    assert split.valid_days.min() >= split.train_end_day
    assert split.valid_days.max() + horizon[1] <= split.valid_end_day
    assert split.test_days.min() >= split.valid_end_day
    assert split.test_days.max() + horizon[1] <= SPEC.n_days


def test_empty_training_period_is_an_error() -> None:
    with pytest.raises(InputError, match="train period holds no forecast time"):
        chronological_split(SPEC, SPEC.date(400), SPEC.date(1000), (10, 50), history_days=365)


def test_paper_split_is_labelled_and_tests_the_last_1000_days() -> None:
    split = last_days_split(SPEC, (10, 50))
    assert split.name == "paper_last_1000_days"
    assert split.valid_end_day == SPEC.n_days - 1000
    assert split.describe(SPEC)["test"]["first_forecast"] == SPEC.date(2000).date().isoformat()


def test_completeness_and_b_value_of_a_gutenberg_richter_sample() -> None:
    import numpy as np

    from quakesense.forecast.prepare import estimate_completeness

    rng = np.random.default_rng(0)
    complete = 3.0 + rng.exponential(1 / np.log(10), 20_000)
    incomplete = rng.uniform(2.0, 3.0, 3_000)
    magnitude = np.round(np.concatenate([complete, incomplete]) - 0.05, 1)
    info, notes = estimate_completeness(magnitude, mc=4.0)
    assert 2.9 <= info["mc_maxc"] <= 3.4
    assert abs(info["b_value"] - 1.0) < 0.1
    assert notes == []
    assert estimate_completeness(magnitude, mc=2.5)[1]
