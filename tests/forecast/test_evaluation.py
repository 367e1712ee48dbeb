"""Scores: Molchan/ASS, recall at alarm fractions, information gain, pyCSEP tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from quakesense.core.geo import Axis
from quakesense.forecast.evaluation import (
    csep_catalog,
    csep_comparison_tests,
    csep_consistency_tests,
    csep_lonlat_forecast,
    csep_magnitude_test,
    csep_region,
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


def _csep_case(
    seed: int, n_events: int
) -> tuple[Axis, Axis, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 5 x 6 grid of 12.5 km cells off a non-round origin, two cells outside the region,
    and `n_events` uniform events in the box (some outside the region)."""
    rng = np.random.default_rng(seed)
    x_axis, y_axis = Axis(origin=-37.3, step=12.5, n=6), Axis(origin=-20.1, step=12.5, n=5)
    mask = np.ones((5, 6), bool)
    mask[0, 0] = mask[4, 5] = False
    x_km = rng.uniform(x_axis.edges[0], x_axis.edges[-1], n_events)
    y_km = rng.uniform(y_axis.edges[0], y_axis.edges[-1], n_events)
    return x_axis, y_axis, mask, x_km, y_km, rng.uniform(0.01, 0.2, mask.shape)


def _catalog(x_axis: Axis, y_axis: Axis, mask: np.ndarray, x_km: np.ndarray, y_km: np.ndarray):
    region = csep_region(x_axis, y_axis, mask, 4.0)
    n = x_km.size
    return csep_catalog(x_km, y_km, np.full(n, 4.5), np.arange(n) * 1000, region)


def test_csep_catalog_bins_events_into_our_cells_and_drops_those_outside_the_region() -> None:
    x_axis, y_axis, mask, x_km, y_km, _ = _csep_case(0, 200)
    catalog = _catalog(x_axis, y_axis, mask, x_km, y_km)
    ix, iy = x_axis.index(x_km), y_axis.index(y_km)
    ours = np.zeros(mask.shape)
    np.add.at(ours, (iy, ix), 1)
    assert catalog.event_count == ours[mask].sum() < 200
    np.testing.assert_array_equal(catalog.spatial_counts(), ours[mask])
    assert catalog.region.num_nodes == mask.sum()


def test_csep_n_test_of_a_forecast_matching_the_observed_count_is_central() -> None:
    x_axis, y_axis, mask, x_km, y_km, shape_rate = _csep_case(1, 40)
    catalog = _catalog(x_axis, y_axis, mask, x_km, y_km)
    n_obs = catalog.event_count
    rate = shape_rate * n_obs / shape_rate[mask].sum()
    out = csep_consistency_tests(-np.expm1(-rate), catalog, mask)
    assert out["n_expected"] == pytest.approx(n_obs, rel=1e-9) and out["n_observed"] == n_obs
    d1, d2 = out["n_test"]["delta_1"], out["n_test"]["delta_2"]
    assert d1 == pytest.approx(poisson.sf(n_obs - 1, n_obs), rel=1e-6)
    assert d2 == pytest.approx(poisson.cdf(n_obs, n_obs), rel=1e-6)
    assert 0.5 < d1 < 0.6 and 0.5 < d2 < 0.6
    bad = csep_consistency_tests(-np.expm1(-3 * rate), catalog, mask)
    assert bad["n_test"]["delta_2"] < 1e-6 and bad["n_expected"] == pytest.approx(3 * n_obs)


def test_csep_object_level_tests_agree_with_the_ndarray_kernels() -> None:
    from csep.core import poisson_evaluations as pe

    x_axis, y_axis, mask, x_km, y_km, rate = _csep_case(2, 60)
    catalog = _catalog(x_axis, y_axis, mask, x_km, y_km)
    out = csep_consistency_tests(-np.expm1(-rate), catalog, mask, seed=7, n_simulations=200)
    counts = np.zeros(mask.shape)
    np.add.at(counts, (y_axis.index(y_km), x_axis.index(x_km)), 1)
    r = -np.log1p(-np.clip(-np.expm1(-rate[mask]), 0, 1 - 1e-9))
    observed = counts[mask]
    expected = {"n_test": pe._number_test_ndarray(r.sum(), observed.sum())}
    for key, normalise in (("s_test", True), ("cl_test", False)):
        expected[key] = pe._poisson_likelihood_test(
            r, observed, num_simulations=200, seed=7, normalize_likelihood=normalise
        )[:2]
    assert out["n_test"]["delta_1"] == pytest.approx(expected["n_test"][0], rel=1e-12)
    assert out["n_test"]["delta_2"] == pytest.approx(expected["n_test"][1], rel=1e-12)
    for key in ("s_test", "cl_test"):
        assert out[key]["quantile"] == expected[key][0]
        assert out[key]["observed_log_likelihood"] == pytest.approx(expected[key][1], rel=1e-12)


def test_csep_region_needs_square_cells() -> None:
    with pytest.raises(ValueError, match="square"):
        csep_region(Axis(0.0, 10.0, 3), Axis(0.0, 20.0, 3), np.ones((3, 3), bool), 4.0)


def test_log_likelihood_stays_finite_for_float32_certainties() -> None:
    from quakesense.forecast.evaluation import bernoulli_log_likelihood

    p = np.array([0.0, 1.0, 1 - 1e-12], dtype=np.float32)
    ll = bernoulli_log_likelihood(p, np.array([True, False, False]))
    assert np.all(np.isfinite(ll)) and ll.max() < -20


def test_csep_comparison_tests_give_rhoades_gain_and_zero_against_itself() -> None:
    x_axis, y_axis, mask, x_km, y_km, rate = _csep_case(3, 80)
    catalog = _catalog(x_axis, y_axis, mask, x_km, y_km)
    flat = np.full(mask.shape, rate[mask].mean())
    same = csep_comparison_tests(-np.expm1(-rate), -np.expm1(-rate), catalog, mask)
    assert same["t_test"]["information_gain"] == pytest.approx(0.0, abs=1e-12)
    out = csep_comparison_tests(-np.expm1(-rate), -np.expm1(-flat), catalog, mask)
    counts = np.zeros(mask.shape)
    np.add.at(counts, (y_axis.index(y_km), x_axis.index(x_km)), 1)
    n = counts[mask].sum()
    gain = (
        np.sum(counts[mask] * np.log(rate[mask] / flat[mask]))
        - (rate[mask].sum() - flat[mask].sum())
    ) / n
    assert out["t_test"]["information_gain"] == pytest.approx(gain, rel=1e-9)
    assert out["t_test"]["low"] < gain < out["t_test"]["high"] and out["n_observed"] == n
    assert 0.0 <= out["w_test"]["probability"] <= 1.0


def test_csep_magnitude_test_accepts_the_true_b_and_rejects_a_wrong_one() -> None:
    rng = np.random.default_rng(4)
    x_axis, y_axis, mask, x_km, y_km, rate = _csep_case(4, 3000)
    region = csep_region(x_axis, y_axis, mask, 4.0)
    magnitude = np.round(3.95 + rng.exponential(1.0 / np.log(10.0), x_km.size), 1)
    catalog = csep_catalog(x_km, y_km, magnitude, np.arange(x_km.size) * 1000, region)
    p = -np.expm1(-rate)
    good = csep_magnitude_test(p, catalog, mask, b_value=1.0, mc=4.0, n_simulations=300, seed=1)
    bad = csep_magnitude_test(p, catalog, mask, b_value=1.5, mc=4.0, n_simulations=300, seed=1)
    assert good["quantile"] > 0.05 and bad["quantile"] < 0.01
    after = csep_comparison_tests(p, p, catalog, mask)
    assert after["t_test"]["information_gain"] == pytest.approx(0.0, abs=1e-12)


def test_csep_lonlat_export_keeps_the_total_and_the_place() -> None:
    from quakesense.core.geo import LocalProjection

    projection = LocalProjection(36.0, 138.0)
    x_axis, y_axis = Axis(origin=-200.0, step=10.0, n=40), Axis(origin=-150.0, step=10.0, n=30)
    mask = np.ones((30, 40), bool)
    counts = np.full(mask.shape, 0.01)
    counts[20, 30] = 5.0  # x 100..110 km, y 50..60 km
    forecast = csep_lonlat_forecast(counts, x_axis, y_axis, mask, projection, mc=4.0)
    assert forecast.region.name == "quakesense-lonlat"
    assert forecast.event_count == pytest.approx(counts.sum(), rel=0.02)
    lat, lon = projection.to_latlon(np.array([105.0]), np.array([55.0]))
    peak = forecast.region.origins()[np.argmax(forecast.data[:, 0])] + 0.05
    assert abs(peak[0] - lon[0]) < 0.1 and abs(peak[1] - lat[0]) < 0.1
    assert np.all(forecast.region.get_cell_area() > 0)


def test_training_b_value_tolerates_a_few_off_grid_magnitudes() -> None:
    from quakesense.forecast.scoring import training_b_value

    rng = np.random.default_rng(3)
    magnitude = np.round(4.95 + rng.exponential(1 / np.log(10), 5000), 1)
    magnitude[:3] = [5.04, 5.27, 6.13]  # two decimals, as 3 of ComCat Japan's magnitudes
    b_value, bin_width = training_b_value(magnitude, 5.0)
    assert bin_width == 0.1
    assert b_value == pytest.approx(1.0, abs=0.06)
