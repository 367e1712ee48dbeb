"""Scores: Molchan/ASS, recall at alarm fractions, information gain, pyCSEP tests."""

from __future__ import annotations

import numpy as np
import pytest

from quakesense.forecast.evaluation import (
    csep_consistency_tests,
    information_gain,
    molchan_curve,
    recall_at_alarm_fraction,
    score_model,
)


def test_molchan_area_skill_score_perfect_random_and_inverted() -> None:
    rng = np.random.default_rng(0)
    target = rng.random(20_000) < 0.05
    perfect = molchan_curve(target.astype(float), target)[2]
    assert perfect == pytest.approx(1 - target.mean() / 2, abs=1e-6)
    assert molchan_curve(rng.random(target.size), target)[2] == pytest.approx(0.5, abs=0.03)
    assert molchan_curve(-target.astype(float), target)[2] < 0.1
    tau, nu, _ = molchan_curve(np.ones(10), target[:10])
    assert list(tau) == [0.0, 1.0] and nu[-1] == 0.0


def test_recall_at_alarm_fraction_counts_top_scores() -> None:
    score = np.arange(100, dtype=float)
    target = np.zeros(100, bool)
    target[[99, 98, 0]] = True
    assert recall_at_alarm_fraction(score, target, 0.01) == pytest.approx(1 / 3)
    assert recall_at_alarm_fraction(score, target, 0.05) == pytest.approx(2 / 3)


def test_information_gain_is_zero_against_itself_and_positive_for_the_truth() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.001, 0.3, (40, 6, 7))
    target = rng.random(truth.shape) < truth
    mask = np.ones((6, 7), bool)
    same = information_gain(truth, truth, target, mask, n_resamples=50)
    assert same["value"] == 0.0 and same["low"] == 0.0
    flat = np.full(truth.shape, truth.mean())
    gain = information_gain(truth, flat, target, mask, n_resamples=200)
    assert gain["value"] > 0 and gain["low"] > 0 and gain["n_targets"] == target.sum()


def test_score_model_reports_both_masks_and_threshold_counts() -> None:
    rng = np.random.default_rng(2)
    p = rng.random((5, 4, 4))
    y = rng.random(p.shape) < p
    active = np.zeros((4, 4), bool)
    active[:2] = True
    scores = score_model(p, y, {"active": active, "all": np.ones((4, 4), bool)})
    assert scores["active"]["n_samples"] == 5 * 8 and scores["all"]["n_samples"] == 80
    row = scores["all"]["thresholds"][0]
    assert row["tp"] + row["fn"] == y.sum() and sum(row[k] for k in ("tp", "fn", "fp", "tn")) == 80


def test_csep_n_test_flags_a_forecast_with_ten_times_too_many_events() -> None:
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.01, 0.2, (10, 10))
    observed = rng.poisson(rate)
    mask = np.ones((10, 10), bool)
    good = csep_consistency_tests(-np.expm1(-rate), observed, mask)
    bad = csep_consistency_tests(-np.expm1(-10 * rate), observed, mask)
    assert good["n_test"]["delta_2"] > 0.025 and good["n_test"]["delta_1"] > 0.025
    assert bad["n_test"]["delta_2"] < 0.001
    assert bad["n_expected"] == pytest.approx(10 * rate.sum(), rel=1e-6)


def test_log_likelihood_stays_finite_for_float32_certainties() -> None:
    from quakesense.forecast.evaluation import bernoulli_log_likelihood

    p = np.array([0.0, 1.0, 1 - 1e-12], dtype=np.float32)
    ll = bernoulli_log_likelihood(p, np.array([True, False, False]))
    assert np.all(np.isfinite(ll)) and ll.max() < -20
