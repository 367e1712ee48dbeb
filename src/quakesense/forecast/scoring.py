"""Scores of a forecast run and its report: metrics per model, information gains, pyCSEP
tests, and the report's figures and tables (figures first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.forecast.config import BASELINES
from quakesense.forecast.prepare import Prepared
from quakesense.forecast.protocol import Split


@dataclass
class Predictions:
    """Probability maps of every model for the validation and test forecast times."""

    valid: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    histories: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def training_b_value(magnitude: np.ndarray, mc: float) -> tuple[float, float]:
    """Gutenberg-Richter b of training magnitudes >= mc and their bin width (for the M-test).

    The few magnitudes off the catalog's bin grid (ComCat Japan: 3 of 37,581 with two decimals)
    are rounded onto it, as the b estimator expects binned values.
    """
    from quakesense.forecast.etas import estimate_b_value, magnitude_bin_width

    bin_width = magnitude_bin_width(magnitude)
    if bin_width > 0:
        magnitude = np.round(np.asarray(magnitude, float) / bin_width) * bin_width
    kept = magnitude[magnitude >= mc - bin_width / 2 - 1e-9]
    return estimate_b_value(kept, mc, bin_width=bin_width), bin_width


def score_split(
    prep: Prepared, split: Split, preds: Predictions, target: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scores of every model on the test period, information gains and pyCSEP tests.

    pyCSEP: Poisson N/S/CL consistency tests and the M-test of each model, and the paired
    T-test and W-test of each model against each baseline, on the non-overlapping test windows
    (rates summed over them). Each model's summed rates are also returned as a lon/lat
    `GriddedForecast` (`forecasts`), which `run_protocol` writes in pyCSEP's ASCII format.

    Returns:
        Metrics per model, and the lon/lat forecasts per model.
    """
    from quakesense.forecast.evaluation import (
        csep_catalog,
        csep_comparison_tests,
        csep_consistency_tests,
        csep_lonlat_forecast,
        csep_magnitude_test,
        csep_region,
        information_gain,
        score_model,
    )

    config, spec, mask = prep.config, prep.spec, prep.masks["all"]
    mc = config.min_magnitude
    h0, h1 = prep.horizon
    stride = max(1, -(-(h1 - h0) // config.eval_stride_days))
    window_idx = np.arange(0, split.test_days.size, stride)
    region = csep_region(spec.x, spec.y, mask, mc)
    observed = [
        prep.events.window(int(d) + h0, int(d) + h1, mc) for d in split.test_days[window_idx]
    ]
    origin_ms = spec.origin.value // 1_000_000
    catalog = csep_catalog(
        np.concatenate([e.x_km for e in observed]),
        np.concatenate([e.y_km for e in observed]),
        np.concatenate([e.magnitude for e in observed]),
        origin_ms + np.round(np.concatenate([e.t_days for e in observed]) * 86_400_000),
        region,
    )
    b_value, bin_width = training_b_value(prep.events.window(0, split.train_end_day).magnitude, mc)
    rates = {
        name: -np.log1p(-np.clip(np.asarray(p[window_idx], np.float64), 0, 1 - 1e-9)).sum(axis=0)
        for name, p in preds.test.items()
    }
    metrics: dict[str, Any] = {}
    forecasts: dict[str, Any] = {}
    for name, probability in preds.test.items():
        scores = score_model(probability, target, prep.masks)
        headline = {k: v for k, v in scores["active"].items() if k != "thresholds"}
        entry: dict[str, Any] = {**headline, **scores, "vs": {}}
        window_p = -np.expm1(-rates[name])
        entry["csep"] = csep_consistency_tests(window_p, catalog, mask, seed=config.seed, name=name)
        entry["csep"]["n_windows"] = int(window_idx.size)
        entry["csep"]["vs"] = {}
        for base in BASELINES:
            if base != name and base in preds.test:
                entry["vs"][base] = {
                    "information_gain": information_gain(
                        probability,
                        preds.test[base],
                        target,
                        prep.masks["active"],
                        n_resamples=config.n_bootstrap,
                        seed=config.seed,
                    )
                }
                entry["csep"]["vs"][base] = csep_comparison_tests(
                    window_p,
                    -np.expm1(-rates[base]),
                    catalog,
                    mask,
                    name=name,
                    benchmark_name=base,
                )
        forecasts[name] = csep_lonlat_forecast(
            rates[name], spec.x, spec.y, mask, spec.projection, mc=mc, name=name
        )
        metrics[name] = entry
    # The M-test gives the shared region magnitude bins (pyCSEP sets them from the forecast),
    # so it runs after every test that uses the single-bin region.
    for name in preds.test:
        metrics[name]["csep"]["m_test"] = csep_magnitude_test(
            -np.expm1(-rates[name]),
            catalog,
            mask,
            b_value=b_value,
            mc=mc,
            bin_width=bin_width,
            seed=config.seed,
        )
    return metrics, forecasts


def write_csep_ascii(forecast: Any, path: Path) -> Path:
    """A pyCSEP `GriddedForecast` in the CSEP1 ASCII format that `GriddedForecast.load_ascii`
    reads: lon0 lon1 lat0 lat1 depth0 depth1 mag0 mag1 rate flag, magnitude bins fastest."""
    from quakesense.core.store import atomic_path

    dh = forecast.region.dh
    origins = forecast.region.origins()
    magnitudes = np.asarray(forecast.magnitudes, dtype=float)
    upper = np.r_[magnitudes[1:], 10.0]
    n_cells, n_mags = forecast.data.shape
    lon0 = np.repeat(origins[:, 0], n_mags)
    lat0 = np.repeat(origins[:, 1], n_mags)
    table = np.column_stack(
        [
            lon0,
            lon0 + dh,
            lat0,
            lat0 + dh,
            np.zeros(n_cells * n_mags),
            np.full(n_cells * n_mags, 1000.0),
            np.tile(magnitudes, n_cells),
            np.tile(upper, n_cells),
            forecast.data.ravel(),
            np.ones(n_cells * n_mags),
        ]
    )
    with atomic_path(path) as tmp:
        np.savetxt(tmp, table, fmt="%.6f %.6f %.6f %.6f %.1f %.1f %.2f %.2f %.8e %d")
    return Path(path)


def write_report(
    run: Any, prep: Prepared, shown: tuple[Split, Predictions, dict], metrics: dict[str, Any]
) -> None:
    """Figures first, then tables."""
    from sklearn.metrics import roc_curve

    from quakesense.core.report import loss_curve_figure, roc_figure
    from quakesense.forecast.figures import forecast_maps_figure, gain_figure, molchan_figure

    split, preds, labels = shown
    config, active = prep.config, prep.masks["active"]
    mc = config.min_magnitude
    names = list(preds.test)
    target = labels["test"]
    h0, h1 = prep.horizon
    run.heading("Forecast maps")
    k = int(np.argmax(target[:, active].sum(axis=1)))
    day = int(split.test_days[k])
    observed = prep.events.window(day + h0, day + h1, mc)
    run.figure(
        forecast_maps_figure(
            {n: preds.test[n][k] for n in names},
            prep.spec,
            observed,
            f"forecast from {prep.spec.date(day).date()} for days "
            f"[T+{h0}, T+{h1}); circles: observed M>={mc}",
        ),
        "forecast_maps",
        "Probability of at least one target event per cell (test period, the forecast time "
        "with most target cells), with the observed target events.",
    )
    curves, molchan = {}, {}
    for name in names:
        p, y = preds.test[name][:, active].ravel(), target[:, active].ravel()
        if y.min() != y.max():
            fpr, tpr, _ = roc_curve(y, p)
            curves[name] = (fpr, tpr, metrics[name]["roc_auc"])
        molchan[name] = (p, y)
    run.heading("Discrimination")
    run.figure(roc_figure(curves, "ROC, test period, active cells"), "roc")
    run.figure(molchan_figure(molchan, "Molchan diagram, test period, active cells"), "molchan")
    reference = "historical" if "historical" in names else (names[0] if names else "")
    if reference:
        run.figure(gain_figure(metrics, reference, "Information gain, test period"), "gain")
    for name, history in preds.histories.items():
        if history:
            run.figure(loss_curve_figure(history, f"{name} training"), f"loss_{name}")
    run.heading("Warnings")
    run.text("; ".join(prep.warnings) if prep.warnings else "none")
    run.heading("Scores (test period)")
    run.text(
        f"Split {split.name} (dates in the table below). Target: M >= {mc} in days "
        f"[T+{h0}, T+{h1}). Headline mask: {int(active.sum())} active cells (>= 1 training "
        f"event); 'all': {int(prep.masks['all'].sum())} region cells. Seed {config.seed}."
    )
    run.table(metrics["protocol"]["split"], f"Split {split.name}")
    keys = [
        "roc_auc",
        "pr_auc",
        "brier",
        "log_likelihood",
        "molchan_area_skill_score",
        "recall_at_1pct_alarms",
        "recall_at_5pct_alarms",
    ]
    for mask in ("active", "all"):
        rows = [{"model": n, **{key: metrics[n][mask][key] for key in keys}} for n in names]
        run.table(pd.DataFrame(rows), f"scores on {mask} cells")
    rows = []
    for name in names:
        for base, entry in metrics[name]["vs"].items():
            gain = entry["information_gain"]
            rows.append(
                {
                    "model": name,
                    "vs": base,
                    "gain_per_target": gain["value"],
                    "low": gain["low"],
                    "high": gain["high"],
                }
            )
    if rows:
        run.table(
            pd.DataFrame(rows),
            "information gain per target earthquake (nats), 95 % bootstrap over forecast times",
        )
    rows = [{"model": n, **t} for n in names for t in metrics[n]["active"]["thresholds"]]
    run.table(pd.DataFrame(rows), "TP/FN/FP/TN at thresholds (paper Table III style), active")
    rows = [
        {
            "model": n,
            "n_observed": c["n_observed"],
            "n_expected": c["n_expected"],
            "N_delta_1": c["n_test"]["delta_1"],
            "N_delta_2": c["n_test"]["delta_2"],
            "S_quantile": c["s_test"]["quantile"],
            "CL_quantile": c["cl_test"]["quantile"],
            "M_quantile": c["m_test"]["quantile"],
        }
        for n in names
        for c in [metrics[n]["csep"]]
    ]
    run.table(pd.DataFrame(rows), "pyCSEP Poisson consistency tests (non-overlapping test windows)")
    bases = [b for b in BASELINES if b in names]
    t_rows, w_rows = [], []
    for n in names:
        tests = metrics[n]["csep"]["vs"]
        t_rows.append(
            {"model": n, **{b: _interval(tests[b]["t_test"]) for b in bases if b in tests}}
        )
        w_rows.append(
            {"model": n, **{b: tests[b]["w_test"]["probability"] for b in bases if b in tests}}
        )
    if bases:
        run.table(
            pd.DataFrame(t_rows).fillna("-"),
            "pyCSEP paired T-test: information gain per earthquake of the row model over each "
            "baseline (column), 95 % interval; positive favours the row model",
        )
        run.table(
            pd.DataFrame(w_rows),
            "pyCSEP W-test probability (Wilcoxon signed rank of the same gains; small: the median "
            "gain differs from zero)",
        )
    run.heading("Data and protocol")
    run.table(pd.DataFrame([metrics["completeness"]]), "completeness (training data only)")
    run.table(prep.report.to_dict(), "catalog")
    for name, info in preds.info.items():
        run.table(info, f"{name}: fitted settings")


def _interval(test: dict[str, float]) -> str:
    return f"{test['information_gain']:.3f} [{test['low']:.3f}, {test['high']:.3f}]"
