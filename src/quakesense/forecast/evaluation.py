"""Scores of probability maps against binary targets, in the field's terms.

Every model gives P(at least one M >= Mc event in the cell's target window) per cell and forecast
time. Scores: ROC AUC and PR AUC (scikit-learn, via core.metrics) on the active-cell mask and on
all region cells, FN/FP counts at fixed thresholds (the seed paper's Table III), recall at fixed
alarm fractions, the Molchan diagram and its area skill score, Brier score, Bernoulli
log-likelihood, information gain per target earthquake with a bootstrap over forecast times, and
pyCSEP's Poisson consistency tests (N, S, CL) on a `GriddedForecast` over a `CartesianGrid2D`
region of the local-km grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from quakesense.core.geo import Axis
from quakesense.core.metrics import binary_scores, bootstrap

if TYPE_CHECKING:
    from csep.core.catalogs import CSEPCatalog
    from csep.core.regions import CartesianGrid2D

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
    from csep.core.forecasts import GriddedForecast

    # float64 throughout: pyCSEP samples from the cumulative sum of the normalised rates, and a
    # float32 sum ending below 1 sends a draw past the last cell.
    p = np.clip(np.asarray(probability, dtype=np.float64)[mask], 0, 1 - EPS)
    rate = np.maximum(-np.log1p(-p), 1e-12)
    forecast = GriddedForecast(
        data=rate[:, None],
        region=catalog.region,
        magnitudes=catalog.region.magnitudes,
        name=name,
    )
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
