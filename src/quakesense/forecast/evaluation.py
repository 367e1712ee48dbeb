"""Scores of probability maps against binary targets, in the field's terms.

Every model gives P(at least one M >= Mc event in the cell's target window) per cell and forecast
time. Scores: ROC AUC and PR AUC (scikit-learn, via core.metrics) on the active-cell mask and on
all region cells, FN/FP counts at fixed thresholds (the seed paper's Table III), recall at fixed
alarm fractions, the Molchan diagram and its area skill score, Brier score, Bernoulli
log-likelihood, information gain per target earthquake with a bootstrap over forecast times, and
pyCSEP's Poisson consistency tests (N, S, CL, M) on a `GriddedForecast` over a `CartesianGrid2D`
region of the local-km grid, pyCSEP's comparison tests (paired T-test and W-test of information
gain) beside our own bootstrap, and an export of a forecast onto a lon/lat `CartesianGrid2D` so
pyCSEP's own maps work.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from quakesense.core.geo import Axis
from quakesense.core.metrics import binary_scores, bootstrap

if TYPE_CHECKING:
    from csep.core.catalogs import CSEPCatalog
    from csep.core.forecasts import GriddedForecast
    from csep.core.regions import CartesianGrid2D

    from quakesense.core.geo import LocalProjection

THRESHOLDS = (1e-4, 1e-3, 1e-2, 0.1, 0.3, 0.5, 0.9, 0.99)
ALARM_FRACTIONS = (0.01, 0.05)
EPS = 1e-9


def bernoulli_log_likelihood(probability: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Elementwise log P(target | probability), probabilities clipped to [1e-9, 1 - 1e-9]."""
    p = np.clip(np.asarray(probability, dtype=np.float64), EPS, 1 - EPS)
    return np.where(target, np.log(p), np.log1p(-p))


def molchan_curve(score: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Molchan diagram (fraction of space-time alarmed tau, miss rate nu) and area skill score.

    Alarms are raised on the highest scores first; ties are alarmed together. The area skill
    score is 1 - area under nu(tau): 0.5 for a random forecast, 1 for a perfect one.
    """
    order = np.argsort(-score, kind="stable")
    s, y = score[order], target[order].astype(float)
    hits = np.cumsum(y)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    n, positives = s.size, max(hits[-1], 1.0)
    tau = np.r_[0.0, (np.flatnonzero(last_of_tie) + 1) / n]
    nu = np.r_[1.0, 1.0 - hits[last_of_tie] / positives]
    area = float(np.sum(np.diff(tau) * (nu[1:] + nu[:-1]) / 2))
    return tau, nu, 1.0 - area


def recall_at_alarm_fraction(score: np.ndarray, target: np.ndarray, fraction: float) -> float:
    """Share of positives among the top `fraction` of scores."""
    k = max(1, round(fraction * score.size))
    top = np.argpartition(-score, k - 1)[:k]
    return float(target[top].sum() / max(target.sum(), 1))


def score_model(
    probability: np.ndarray, target: np.ndarray, masks: dict[str, np.ndarray]
) -> dict[str, Any]:
    """All scores of one model's probabilities (n_T, ny, nx) against targets (n_T, ny, nx).

    Args:
        probability: Forecast probabilities.
        target: Observed binary targets.
        masks: Named cell masks (ny, nx), e.g. `active` and `all`; each gets its own scores.
    """
    out: dict[str, Any] = {}
    for name, mask in masks.items():
        p, y = probability[:, mask].ravel(), target[:, mask].ravel().astype(bool)
        scores = binary_scores(y, p)
        _, _, ass = molchan_curve(p, y)
        ll = bernoulli_log_likelihood(p, y)
        out[name] = {
            "n_cells": int(mask.sum()),
            "n_samples": int(y.size),
            "n_positive": int(y.sum()),
            "roc_auc": scores["roc_auc"],
            "pr_auc": scores["pr_auc"],
            "brier": float(np.mean((p - y) ** 2)),
            "log_likelihood": float(ll.sum()),
            "log_likelihood_per_sample": float(ll.mean()),
            "molchan_area_skill_score": ass,
            **{
                f"recall_at_{int(f * 100)}pct_alarms": recall_at_alarm_fraction(p, y, f)
                for f in ALARM_FRACTIONS
            },
            "thresholds": [
                {
                    "threshold": t,
                    "tp": int(np.sum((p >= t) & y)),
                    "fn": int(np.sum((p < t) & y)),
                    "fp": int(np.sum((p >= t) & ~y)),
                    "tn": int(np.sum((p < t) & ~y)),
                }
                for t in THRESHOLDS
            ],
        }
    return out


def information_gain(
    model: np.ndarray,
    reference: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    *,
    n_resamples: int = 300,
    seed: int = 0,
) -> dict[str, float]:
    """Log-likelihood gain of `model` over `reference` per target earthquake (positive cell
    window), in nats, with a 95 % bootstrap interval over forecast times (each forecast time's
    map is resampled whole, since cells of one map are not independent)."""
    y = target[:, mask].astype(bool)
    gain = bernoulli_log_likelihood(model[:, mask], y) - bernoulli_log_likelihood(
        reference[:, mask], y
    )
    per_time_gain, per_time_targets = gain.sum(axis=1), y.sum(axis=1).astype(float)

    def statistic(idx: np.ndarray) -> float:
        n = per_time_targets[idx].sum()
        return float(per_time_gain[idx].sum() / n) if n > 0 else float("nan")

    summary, _ = bootstrap(statistic, len(per_time_gain), n_resamples=n_resamples, seed=seed)
    n_targets = per_time_targets.sum()
    return {
        "value": float(per_time_gain.sum() / n_targets) if n_targets else float("nan"),
        "low": summary.low,
        "high": summary.high,
        "level": summary.level,
        "n_targets": int(n_targets),
        "n_resamples": n_resamples,
        "seed": seed,
    }


def csep_region(x_axis: Axis, y_axis: Axis, mask: np.ndarray, mc: float) -> CartesianGrid2D:
    """pyCSEP region of the `mask` cells (ny, nx) in our local km frame, magnitude axis [mc, inf).

    One square polygon per True cell of `mask`, in row-major order (the order of
    `array[mask]`). pyCSEP's grid arithmetic (`bin1d_vec`, `cleaner_range`, `get_index_of`) only
    needs origins and `dh` in one consistent unit, so the "lon"/"lat" slots hold x/y in km; no
    geographic function (`get_cell_area`, map plots) may be called on this region. Origins are
    rounded to 1e-6 km because `cleaner_range` scales by 10**(decimals of the first origin).
    """
    from csep.core.regions import CartesianGrid2D

    if not np.isclose(x_axis.step, y_axis.step):
        raise ValueError(f"pyCSEP cells are square; got steps {x_axis.step} and {y_axis.step} km")
    iy, ix = np.nonzero(mask)
    x0 = x_axis.origin + ix.astype(np.int64) * x_axis.step
    y0 = y_axis.origin + iy.astype(np.int64) * y_axis.step
    origins = np.round(np.column_stack([x0, y0]), 6)
    return CartesianGrid2D.from_origins(
        origins, dh=x_axis.step, magnitudes=np.array([mc]), name="quakesense-local-km"
    )


def csep_catalog(
    x_km: np.ndarray,
    y_km: np.ndarray,
    magnitude: np.ndarray,
    time_ms: np.ndarray,
    region: CartesianGrid2D,
) -> CSEPCatalog:
    """Observed target events as a pyCSEP catalog in the region's km frame (x in the longitude
    slot, y in the latitude slot); events outside the region's cells are dropped by pyCSEP's
    own `filter_spatial`, so pyCSEP decides the cell of every event."""
    from csep.core.catalogs import CSEPCatalog

    n = np.size(x_km)
    data = np.zeros(n, dtype=CSEPCatalog.dtype)
    data["id"] = np.arange(n).astype("S256")
    data["origin_time"] = np.asarray(time_ms, dtype=np.int64)
    data["longitude"], data["latitude"] = x_km, y_km
    data["magnitude"] = magnitude
    catalog = CSEPCatalog(data=data, region=region, name="observed")
    return catalog.filter_spatial(region, update_stats=True)


def csep_consistency_tests(
    probability: np.ndarray,
    catalog: CSEPCatalog,
    mask: np.ndarray,
    *,
    seed: int = 0,
    n_simulations: int = 1000,
    name: str = "forecast",
) -> dict[str, Any]:
    """pyCSEP Poisson N-, S- and CL-tests of one forecast window on `catalog.region`.

    Args:
        probability: P(at least one M >= Mc event) per cell, (ny, nx); turned into the Poisson
            rate `lambda = -log(1 - p)` (same P(N >= 1)) of a `GriddedForecast`.
        catalog: Observed target events of the window, from `csep_catalog` on the region
            built by `csep_region` with this `mask`.
        mask: The cells of the region (ny, nx), same as given to `csep_region`.
        seed: Seed of pyCSEP's simulations (S- and CL-tests).
        n_simulations: Simulated catalogs per test.
        name: Forecast name stored in pyCSEP's results.
    """
    from csep.core import poisson_evaluations as pe

    forecast = csep_gridded_forecast(probability, catalog.region, mask, name=name)
    n_test = pe.number_test(forecast, catalog)
    common = {"num_simulations": n_simulations, "seed": seed}
    s_test = pe.spatial_test(forecast, catalog, **common)
    cl_test = pe.conditional_likelihood_test(forecast, catalog, **common)
    delta_1, delta_2 = n_test.quantile
    return {
        "n_observed": float(n_test.observed_statistic),
        "n_expected": float(forecast.event_count),
        "n_test": {"delta_1": float(delta_1), "delta_2": float(delta_2)},
        "s_test": {
            "quantile": float(s_test.quantile),
            "observed_log_likelihood": float(s_test.observed_statistic),
        },
        "cl_test": {
            "quantile": float(cl_test.quantile),
            "observed_log_likelihood": float(cl_test.observed_statistic),
        },
        "n_simulations": n_simulations,
        "seed": seed,
    }


def _poisson_rate(probability: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Poisson rate lambda = -log(1 - p) of the `mask` cells, float64, at least 1e-12.

    float64 throughout: pyCSEP samples from the cumulative sum of the normalised rates, and a
    float32 sum ending below 1 sends a draw past the last cell.
    """
    p = np.clip(np.asarray(probability, dtype=np.float64)[mask], 0, 1 - EPS)
    return np.maximum(-np.log1p(-p), 1e-12)


def csep_gridded_forecast(
    probability: np.ndarray, region: CartesianGrid2D, mask: np.ndarray, *, name: str = "forecast"
) -> GriddedForecast:
    """One magnitude bin `GriddedForecast` on `region` (from `csep_region` with this `mask`) whose
    Poisson rate gives the same P(N >= 1) as `probability` (ny, nx)."""
    from csep.core.forecasts import GriddedForecast

    return GriddedForecast(
        data=_poisson_rate(probability, mask)[:, None],
        region=region,
        magnitudes=region.magnitudes,
        name=name,
    )


def csep_comparison_tests(
    probability: np.ndarray,
    benchmark: np.ndarray,
    catalog: CSEPCatalog,
    mask: np.ndarray,
    *,
    name: str = "forecast",
    benchmark_name: str = "benchmark",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """pyCSEP paired T-test and W-test of `probability` against `benchmark` (both (ny, nx)).

    The T-test's information gain is per observed earthquake (Rhoades et al. 2011) with its
    (1 - alpha) interval; positive favours `probability`. The W-test (Wilcoxon signed rank on
    the log-rate differences at the observed events) does not assume normality; a small
    probability means the median gain differs from zero.
    """
    from csep.core import poisson_evaluations as pe

    forecast = csep_gridded_forecast(probability, catalog.region, mask, name=name)
    reference = csep_gridded_forecast(benchmark, catalog.region, mask, name=benchmark_name)
    t_test = pe.paired_t_test(forecast, reference, catalog, alpha=alpha)
    w_test = pe.w_test(forecast, reference, catalog)
    low, high = t_test.test_distribution
    t_stat, t_crit, _ = t_test.quantile
    return {
        "t_test": {
            "information_gain": float(t_test.observed_statistic),
            "low": float(low),
            "high": float(high),
            "level": 1.0 - alpha,
            "t_statistic": float(t_stat),
            "t_critical": float(t_crit),
        },
        "w_test": {
            "z_statistic": float(w_test.observed_statistic),
            "probability": float(w_test.quantile),
        },
        "n_observed": int(catalog.event_count),
    }


def csep_magnitude_test(
    probability: np.ndarray,
    catalog: CSEPCatalog,
    mask: np.ndarray,
    *,
    b_value: float,
    mc: float,
    bin_width: float = 0.1,
    max_magnitude: float = 9.0,
    seed: int = 0,
    n_simulations: int = 1000,
    name: str = "forecast",
) -> dict[str, Any]:
    """pyCSEP Poisson M-test: the forecast's total rate spread over magnitude bins of width
    `bin_width` from `mc` by the Gutenberg-Richter law with `b_value` (the last bin open).

    Every model here forecasts P(>= 1 event >= mc); their magnitude forecast is the
    Gutenberg-Richter law of the training catalog, so the M-test checks that law (and its b-value,
    estimated with the bin width) against the observed target magnitudes.
    """
    from csep.core import poisson_evaluations as pe
    from csep.core.forecasts import GriddedForecast

    # pyCSEP sets the forecast's magnitude bins on the region it shares with the catalog; a copy
    # keeps the caller's catalog usable for the other tests.
    catalog = copy.deepcopy(catalog)
    lower = np.round(np.arange(mc, max_magnitude, bin_width), 6)
    upper = np.r_[lower[1:], np.inf]
    beta = b_value * np.log(10.0)
    share = np.exp(-beta * (lower - mc)) - np.exp(-beta * (upper - mc))
    rate = _poisson_rate(probability, mask)
    forecast = GriddedForecast(
        data=rate[:, None] * share[None, :],
        region=catalog.region,
        magnitudes=lower,
        name=name,
    )
    m_test = pe.magnitude_test(forecast, catalog, num_simulations=n_simulations, seed=seed)
    return {
        "quantile": float(m_test.quantile),
        "observed_log_likelihood": float(m_test.observed_statistic),
        "b_value": float(b_value),
        "bin_width": float(bin_width),
        "n_simulations": n_simulations,
        "seed": seed,
    }


def csep_lonlat_forecast(
    counts: np.ndarray,
    x_axis: Axis,
    y_axis: Axis,
    mask: np.ndarray,
    projection: LocalProjection,
    *,
    mc: float,
    dh_deg: float = 0.1,
    n_sub: int = 6,
    name: str = "forecast",
) -> GriddedForecast:
    """Expected counts (ny, nx) of the local-km grid re-gridded onto a lon/lat `CartesianGrid2D`
    of `dh_deg` cells, so pyCSEP's own maps (`forecast.plot()`) and geographic functions work.

    Each lon/lat cell takes the rate density of the km cells under n_sub x n_sub sample points
    (projected with `projection`) times its spherical area; cells with no sample in a `mask`
    cell are left out. The total is kept to within the sampling of the region's edge cells.
    """
    from csep.core.forecasts import GriddedForecast
    from csep.core.regions import CartesianGrid2D

    density = np.where(mask, np.asarray(counts, dtype=np.float64), 0.0) / (
        x_axis.step * y_axis.step
    )
    iy, ix = np.nonzero(mask)
    corners_x = np.r_[x_axis.edges[ix], x_axis.edges[ix + 1]]
    corners_y = np.r_[y_axis.edges[iy], y_axis.edges[iy + 1]]
    lat, lon = projection.to_latlon(np.r_[corners_x, corners_x[::-1]], np.r_[corners_y, corners_y])
    lon0, lat0 = np.floor(lon.min() / dh_deg) * dh_deg, np.floor(lat.min() / dh_deg) * dh_deg
    n_lon = int(np.ceil((lon.max() - lon0) / dh_deg))
    n_lat = int(np.ceil((lat.max() - lat0) / dh_deg))
    frac = (np.arange(n_sub) + 0.5) / n_sub
    sub_lon = (lon0 + (np.arange(n_lon)[:, None] + frac) * dh_deg).ravel()
    sub_lat = (lat0 + (np.arange(n_lat)[:, None] + frac) * dh_deg).ravel()
    grid_lat, grid_lon = np.meshgrid(sub_lat, sub_lon, indexing="ij")
    sx, sy = projection.to_xy_km(grid_lat.ravel(), grid_lon.ravel())
    cx = np.floor((sx - x_axis.origin) / x_axis.step).astype(np.int64)
    cy = np.floor((sy - y_axis.origin) / y_axis.step).astype(np.int64)
    inside = (cx >= 0) & (cx < mask.shape[1]) & (cy >= 0) & (cy < mask.shape[0])
    value = np.zeros(sx.size)
    hit = np.zeros(sx.size, dtype=bool)
    value[inside] = density[cy[inside], cx[inside]]
    hit[inside] = mask[cy[inside], cx[inside]]
    shape = (n_lat, n_sub, n_lon, n_sub)
    mean_density = value.reshape(shape).mean(axis=(1, 3))
    covered = hit.reshape(shape).any(axis=(1, 3))
    lat_edges = np.radians(lat0 + np.arange(n_lat + 1) * dh_deg)
    area_km2 = (6371.0088**2 * np.radians(dh_deg)) * np.diff(np.sin(lat_edges))
    rate = mean_density * area_km2[:, None]
    cell_lat, cell_lon = np.nonzero(covered)
    origins = np.round(np.column_stack([lon0 + cell_lon * dh_deg, lat0 + cell_lat * dh_deg]), 6)
    region = CartesianGrid2D.from_origins(
        origins, dh=dh_deg, magnitudes=np.array([mc]), name="quakesense-lonlat"
    )
    # from_origins orders cells by its own index; place each rate at its polygon's index.
    index = region.get_index_of(origins[:, 0] + dh_deg / 2, origins[:, 1] + dh_deg / 2)
    data = np.zeros((region.num_nodes, 1))
    data[index, 0] = np.maximum(rate[cell_lat, cell_lon], 1e-12)
    return GriddedForecast(data=data, region=region, magnitudes=region.magnitudes, name=name)
