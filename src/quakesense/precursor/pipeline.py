"""Experiment: every model on every split, scores, warning timeline, lead times, peak fits.

`run_experiment` trains the MLP and the baselines on each fold of each split, scores the pooled
out-of-fold test predictions with core.metrics, and writes one run folder (config.json,
metrics.json, figures, the MLP of the time-blocked split in model/, report.html) atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.core.metrics import binary_scores
from quakesense.core.report import RunFolder, confusion_matrix_figure, loss_curve_figure
from quakesense.core.store import atomic_dir
from quakesense.precursor.features import (
    DEFAULT_FEATURES,
    SPLITS,
    Fold,
    SplitName,
    WindowConfig,
    feature_matrix,
    label_windows,
    make_folds,
)
from quakesense.precursor.models import BASELINES, BaselineClassifier, MLPClassifier, MLPConfig

SCORE_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc")


class ExperimentConfig(BaseModel):
    """Settings of one training/evaluation run."""

    model_config = ConfigDict(extra="forbid")

    horizon_s: float = Field(17 * 3600.0, gt=0)
    features: list[str] = Field(default_factory=lambda: list(DEFAULT_FEATURES))
    splits: list[SplitName] = Field(default_factory=lambda: list(SPLITS))
    baselines: list[str] = Field(default_factory=lambda: list(BASELINES))
    mlp: MLPConfig = Field(default_factory=MLPConfig)
    sweep_trials: int = Field(0, ge=0, description="Optuna trials on the time-blocked split")
    balance: bool = Field(False, description="undersample the majority class of training sets")
    cross_event: bool = True
    seed: int = 0


def peak_function(x: np.ndarray, y0: float, *params: float) -> np.ndarray:
    """Sum of peaks y0 + A exp(-exp(-z) - z + 1), z = (x - xc) / w; params are (A, xc, w)*k."""
    y = np.full(np.shape(x), y0, dtype=float)
    for a, xc, w in zip(params[0::3], params[1::3], params[2::3], strict=True):
        z = (x - xc) / w
        with np.errstate(over="ignore"):
            y = y + a * np.exp(-np.exp(-z) - z + 1)
    return y


class PeakFit(NamedTuple):
    """Local peak fits: one row per requested centre; failed fits are NaN with a reason."""

    baseline: np.ndarray
    """(k,) local y0 of each fit."""
    params: np.ndarray
    """(k, 3) A, xc, w of each fit."""
    reasons: list[str | None]
    """None where the fit succeeded, else why it is NaN."""


def fit_peaks(
    x: np.ndarray, y: np.ndarray, centres: np.ndarray, width: float, reach: float
) -> PeakFit:
    """Fit y0 + A exp(-exp(-z) - z + 1) locally near each of `centres` (scipy `curve_fit`).

    Each peak is fitted on its own neighbourhood, `centres[i] +- reach` cut at the midpoints to
    the neighbouring centres, so one peak cannot drift onto another event. Initial guesses come
    from a moving average of width `width`; bounds keep xc inside the neighbourhood,
    step / 4 <= w <= 2 * reach and A >= 0. A fit that fails to converge, has too few points,
    finds no peak above the baseline, ends with xc on a neighbourhood edge, or is narrower than
    half a sample or lower than 3x the noise (MAD of first differences) is NaN with a reason.
    """
    from scipy.ndimage import uniform_filter1d
    from scipy.optimize import curve_fit

    order = np.argsort(centres)
    sorted_c = np.asarray(centres, dtype=float)[order]
    mids = 0.5 * (sorted_c[1:] + sorted_c[:-1])
    lows = np.maximum(sorted_c - reach, np.concatenate(([-np.inf], mids)))
    highs = np.minimum(sorted_c + reach, np.concatenate((mids, [np.inf])))
    step = float(np.median(np.diff(x))) if x.size > 1 else 1.0
    smooth = uniform_filter1d(np.asarray(y, dtype=float), max(1, round(width / step)))
    k = len(centres)
    baseline, params = np.full(k, np.nan), np.full((k, 3), np.nan)
    reasons: list[str | None] = [None] * k
    for i, lo, hi in zip(order, lows, highs, strict=True):
        near = (x >= lo) & (x <= hi)
        if np.count_nonzero(near) < 6:
            reasons[i] = f"only {np.count_nonzero(near)} points within the neighbourhood"
            continue
        xs, ys, ss = x[near], y[near], smooth[near]
        y0 = float(np.percentile(ss, 20))
        top = int(np.argmax(ss))
        amplitude = float(ss[top] - y0)
        if amplitude <= 0:
            reasons[i] = "no peak above the local baseline"
            continue
        span = float(np.ptp(ys)) or 1.0
        try:
            fitted, _ = curve_fit(
                peak_function,
                xs,
                ys,
                p0=[y0, amplitude, float(np.clip(xs[top], lo + step, hi - step)), 0.5 * width],
                bounds=(
                    [float(ys.min()) - span, 0.0, lo, 0.25 * step],
                    [float(ys.max()), 10.0 * span, hi, 2.0 * reach],
                ),
                maxfev=5000,
            )
        except (RuntimeError, ValueError) as error:
            reasons[i] = f"fit did not converge: {error}"
            continue
        noise = 1.4826 * float(np.median(np.abs(np.diff(ys) - np.median(np.diff(ys))))) / np.sqrt(2)
        if min(fitted[2] - lo, hi - fitted[2]) < step:
            reasons[i] = "fitted centre on the neighbourhood edge"
            continue
        if fitted[3] < 0.5 * step or fitted[1] < 3.0 * noise:
            reasons[i] = "no peak wider than a sample and above 3x the noise"
            continue
        baseline[i], params[i] = fitted[0], fitted[1:]
    return PeakFit(baseline, params, reasons)


def _balanced(index: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    pos, neg = index[y[index] == 1], index[y[index] == 0]
    small, large = (pos, neg) if pos.size < neg.size else (neg, pos)
    return np.sort(np.concatenate((small, rng.choice(large, small.size, replace=False))))


def _fit_predict(
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    fold: Fold,
    config: ExperimentConfig,
    mlp_config: MLPConfig,
) -> tuple[np.ndarray, Any]:
    train = fold.train
    if config.balance:
        train = _balanced(train, y, np.random.default_rng(config.seed))
    if np.unique(y[train]).size < 2:
        raise InputError(
            f"training part of fold '{fold.name}' holds one class only; "
            "use a longer record, more target events or another split",
            field="split",
        )
    if kind == "mlp":
        model: Any = MLPClassifier(mlp_config, config.features).fit(
            x[train], y[train], x[fold.val], y[fold.val]
        )
    else:
        model = BaselineClassifier(kind, config.seed).fit(x[train], y[train])
    return model.predict_proba(x[fold.test]), model


def run_experiment(
    windows: pd.DataFrame,
    targets_s: np.ndarray,
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    title: str = "AE precursor detection",
    window: WindowConfig | None = None,
    extra_config: dict[str, Any] | None = None,
    hits_time_s: np.ndarray | None = None,
    catalog_time_s: np.ndarray | None = None,
) -> Path:
    """Train and score all models on all splits; write the run folder; return report.html.

    `window` is the configuration (threshold resolved) that made `windows`; it is saved in the
    model so that the monitor computes the same features. None: made elsewhere, unknown.
    """
    window_json = None if window is None else window.model_dump(mode="json")
    x = feature_matrix(windows, config.features)
    y = label_windows(windows, targets_s, config.horizon_s)
    if y.sum() == 0:
        raise InputError("no window falls inside the horizon before a target event", field="time")
    mlp_config = config.mlp
    sweep_trials: list[dict[str, Any]] = []
    if config.sweep_trials:
        from quakesense.precursor.models import optuna_sweep

        fold = make_folds(windows, targets_s, config.horizon_s, "time-blocked", seed=config.seed)[0]
        mlp_config, sweep_trials = optuna_sweep(
            x[fold.train],
            y[fold.train],
            x[fold.val],
            y[fold.val],
            config.mlp,
            n_trials=config.sweep_trials,
            seed=config.seed,
        )
    models = ["mlp", *config.baselines]
    metrics: dict[str, Any] = {
        "splits": {},
        "n_windows": len(windows),
        "n_positive": int(y.sum()),
    }
    oof: dict[str, np.ndarray] = {}
    saved_mlp: MLPClassifier | None = None
    for split in config.splits:
        folds = make_folds(windows, targets_s, config.horizon_s, split, seed=config.seed)
        metrics["splits"][split] = {}
        for kind in models:
            index, scores = [], []
            for fold in folds:
                proba, model = _fit_predict(kind, x, y, fold, config, mlp_config)
                index.append(fold.test)
                scores.append(proba)
                if kind == "mlp" and split == "time-blocked":
                    saved_mlp = model
            idx, proba = np.concatenate(index), np.concatenate(scores)
            metrics["splits"][split][kind] = binary_scores(y[idx], proba)
            if kind == "mlp" and split == "leave-one-event-out":
                oof["mlp"] = np.full(len(windows), np.nan)
                oof["mlp"][idx] = proba
    if config.cross_event and targets_s.size >= 2:
        metrics["cross_event"] = _cross_event(windows, x, y, targets_s, config, mlp_config)
    if sweep_trials:
        metrics["sweep"] = {
            "trials": sweep_trials,
            "best_hidden": mlp_config.hidden,
            "best_train": mlp_config.train.model_dump(mode="json"),
        }
    timeline = oof.get("mlp")
    if timeline is not None:
        metrics["lead_time_h"] = _lead_times(windows, timeline, targets_s, config.horizon_s)
    with atomic_dir(out_dir) as tmp:
        run = RunFolder(tmp, title)
        run.save_config(
            {
                "experiment": config.model_dump(mode="json"),
                "window": window_json,
                **(extra_config or {}),
            }
        )
        if timeline is not None:
            run.figure(
                _timeline_figure(windows, timeline, y, targets_s),
                "warning_timeline",
                "P(precursor) of the MLP, leave-one-event-out out-of-fold, vs time; "
                "red lines: target events, shaded: precursor horizon",
            )
        if hits_time_s is not None and catalog_time_s is not None:
            metrics["peak_fit"] = _peak_section(run, hits_time_s, catalog_time_s, targets_s)
        _score_section(run, metrics, models)
        if saved_mlp is not None:
            run.figure(
                loss_curve_figure(saved_mlp.history_, "MLP loss, time-blocked split"), "loss"
            )
            saved_mlp.save(
                tmp / "model",
                extra={
                    "features": config.features,
                    "horizon_s": config.horizon_s,
                    "window_s": _window_s(windows) if window is None else window.window_s,
                    "window": window_json,
                },
            )
        run.save_metrics(metrics)
        run.write_report()
    return Path(out_dir) / "report.html"


def _window_s(windows: pd.DataFrame) -> float:
    return float(np.median(windows["end_s"] - windows["start_s"]))


def _cross_event(
    windows: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    targets_s: np.ndarray,
    config: ExperimentConfig,
    mlp_config: MLPConfig,
) -> dict[str, Any]:
    """Models I (train on all events but the last, test on the last), II (train on event 0,
    test on event 1) and III (train on event 1, test on event 0); blocks purged as in LOEO."""
    from quakesense.precursor.features import _event_blocks, purge

    block = _event_blocks(windows, targets_s)
    index = np.arange(len(windows))
    last = targets_s.size - 1
    plans = {"I": (list(range(last)), last), "II": ([0], 1), "III": ([1], 0)}
    results = {}
    for name, (train_blocks, test_block) in plans.items():
        train_all = index[np.isin(block, train_blocks)]
        cut = int(0.8 * train_all.size)  # time-ordered tail of the training blocks validates
        fold = purge(
            windows,
            Fold(name, train_all[:cut], train_all[cut:], index[block == test_block]),
            config.horizon_s,
        )
        proba, _ = _fit_predict("mlp", x, y, fold, config, mlp_config)
        results[name] = {
            "train_events": train_blocks,
            "test_event": test_block,
            **binary_scores(y[fold.test], proba),
        }
    return results


def _lead_times(
    windows: pd.DataFrame, proba: np.ndarray, targets_s: np.ndarray, horizon_s: float
) -> list[float | None]:
    """Hours between the first warning (P >= 0.5) within 2 horizons before each event and it."""
    ends = windows["end_s"].to_numpy(dtype=float)
    leads: list[float | None] = []
    for event in targets_s:
        near = (ends > event - 2 * horizon_s) & (ends <= event) & (proba >= 0.5)
        leads.append(float((event - ends[near].min()) / 3600.0) if near.any() else None)
    return leads


def _timeline_figure(
    windows: pd.DataFrame, proba: np.ndarray, y: np.ndarray, targets_s: np.ndarray
) -> plt.Figure:
    t_h = windows["end_s"].to_numpy(dtype=float) / 3600.0
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.fill_between(t_h, 0, y, step="pre", color="orange", alpha=0.25, label="precursor horizon")
    ax.plot(t_h, proba, color="k", linewidth=0.8, label="P(precursor)")
    for event in targets_s / 3600.0:
        ax.axvline(event, color="red", linewidth=1.2)
    ax.axhline(0.5, color="grey", linestyle=":")
    ax.set_xlabel("time since record start (h)")
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _peak_section(
    run: RunFolder, hits_time_s: np.ndarray, catalog_time_s: np.ndarray, targets_s: np.ndarray
) -> dict[str, Any]:
    """Local peak fits of the hourly AE rate and 6-hourly earthquake counts around each target
    event (+-24 h); lead between the fitted peaks (earthquake xc - AE xc) and of the AE peak
    before the catalog time of each target event."""
    edges = np.arange(0, max(hits_time_s.max(), catalog_time_s.max()) + 3600, 3600.0)
    rate, _ = np.histogram(hits_time_s, edges)
    x_h = 0.5 * (edges[1:] + edges[:-1]) / 3600.0
    q_edges = edges[::6]
    quakes, _ = np.histogram(catalog_time_s, q_edges)
    xq_h = 0.5 * (q_edges[1:] + q_edges[:-1]) / 3600.0
    centres = targets_s / 3600.0
    ae = fit_peaks(x_h, rate.astype(float), centres, 6.0, 24.0)
    eq = fit_peaks(xq_h, quakes.astype(float), centres, 12.0, 24.0)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(x_h, rate, color="tab:blue", linewidth=0.6, label="AE rate (hits/h)")
    for y0, peak in zip(ae.baseline, ae.params, strict=True):
        if np.isfinite(y0):
            xs = np.linspace(peak[1] - 24.0, peak[1] + 24.0, 200)
            ax.plot(xs, peak_function(xs, y0, *peak), color="tab:blue")
    ax2 = ax.twinx()
    ax2.bar(xq_h, quakes, width=5, color="tab:red", alpha=0.4, label="earthquakes / 6 h")
    for xc in eq.params[:, 1]:
        if np.isfinite(xc):
            ax2.axvline(xc, color="tab:red", linestyle="--", linewidth=0.8)
    ax.set_xlabel("time since record start (h)")
    ax.set_ylabel("AE rate (1/h)")
    ax2.set_ylabel("earthquakes per 6 h")
    run.figure(
        fig,
        "multipeak_fit",
        "AE rate and earthquake counts with peaks y0 + A exp(-exp(-z) - z + 1) fitted within "
        "+-24 h of each target event; dashed: fitted earthquake peak centres",
    )
    lead = eq.params[:, 1] - ae.params[:, 1]

    def listed(values: np.ndarray) -> list[Any]:
        return [None if not np.all(np.isfinite(v)) else np.round(v, 4).tolist() for v in values]

    return {
        "ae_peaks": listed(ae.params),
        "eq_peaks": listed(eq.params),
        "peak_lead_h": listed(lead),
        "ae_peak_before_event_h": listed(centres - ae.params[:, 1]),
        "ae_fit_failures": ae.reasons,
        "eq_fit_failures": eq.reasons,
    }


def scores_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per split and model with the five headline scores."""
    rows = []
    for split, by_model in metrics["splits"].items():
        for model, scores in by_model.items():
            rows.append({"split": split, "model": model, **{k: scores[k] for k in SCORE_KEYS}})
    return pd.DataFrame(rows)


def _score_section(run: RunFolder, metrics: dict[str, Any], models: list[str]) -> None:
    table = scores_table(metrics)
    run.heading("Scores: paper-style random split beside leakage-free splits")
    run.text(
        "Random: windows shuffled 60/20/20 (neighbouring windows share information, so this "
        "overstates skill). Time-blocked and leave-one-event-out are purged: no window's span "
        "plus the horizon overlaps another part."
    )
    run.table(table.pivot(index="model", columns="split", values="f1").reset_index(), "F1 by split")
    run.table(table, "All scores (pooled out-of-fold test predictions)")
    for split, by_model in metrics["splits"].items():
        run.figure(
            confusion_matrix_figure(
                by_model["mlp"]["confusion_matrix"], ["quiet", "precursor"], f"MLP, {split}"
            ),
            f"confusion_mlp_{split}",
        )
    if "cross_event" in metrics:
        rows = [
            {"model": k, **{s: v[s] for s in SCORE_KEYS}} for k, v in metrics["cross_event"].items()
        ]
        run.table(pd.DataFrame(rows), "Cross-event MLP models I/II/III")
    if "lead_time_h" in metrics:
        run.text(
            f"Lead time of the first warning before each target event (h): {metrics['lead_time_h']}"
        )
