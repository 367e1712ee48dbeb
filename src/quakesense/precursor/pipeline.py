"""Experiment: every model on every split, calibrated alarms, event-level scores, peak fits.

`run_experiment` trains the MLP and the baselines on each fold of each split, calibrates each
fold's model on that fold's validation part and chooses its alarm threshold there (the alarm
layer, `precursor.alarms`), scores the pooled out-of-fold test predictions with core.metrics
and at event level, and writes one run folder (config.json, metrics.json, figures, the MLP of
the time-blocked split with its alarm settings in model/, report.html) atomically.
`evaluate_saved` scores a saved model on the windows it was not trained on, without retraining.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from quakesense.core.errors import InputError
from quakesense.core.metrics import binary_scores
from quakesense.core.report import RunFolder, confusion_matrix_figure, loss_curve_figure
from quakesense.core.training import Device, Strategy
from quakesense.precursor.alarms import (
    AlarmConfig,
    Calibrator,
    choose_threshold,
    event_scores,
    persistent,
)
from quakesense.precursor.features import (
    DEFAULT_FEATURES,
    SPLITS,
    Fold,
    SplitName,
    WindowConfig,
    event_blocks,
    feature_matrix,
    label_windows,
    make_folds,
    overlaps,
    validated,
)
from quakesense.precursor.models import (
    BASELINES,
    MLP_PRESETS,
    BaselineClassifier,
    MLPClassifier,
    MLPConfig,
    optuna_sweep,
)

SCORE_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc")
LOG = logging.getLogger(__name__)


class ExperimentConfig(BaseModel):
    """Every setting of `precursor train` (the run's config.json reads back unchanged)."""

    model_config = ConfigDict(extra="forbid")

    horizon_s: float = Field(17 * 3600.0, gt=0, description="precursor horizon before an event")
    features: list[str] | None = Field(
        None, description="feature columns; None: the paper's features present, else all"
    )
    splits: list[SplitName] = Field(default_factory=lambda: list(SPLITS))
    baselines: list[Literal["logistic", "svm", "random_forest", "lightgbm"]] = Field(
        default_factory=lambda: list(BASELINES)
    )
    mlp_preset: Literal["fast", "paper"] = "fast"
    epochs: int | None = Field(None, ge=1, description="overrides the MLP's epoch limit")
    mlp: MLPConfig | None = Field(None, description="MLP settings; None: the preset's")
    device: Device | None = Field(
        None, description="where the MLP trains and predicts (auto|cpu|cuda); None: the MLP's"
    )
    devices: int | None = Field(
        None, ge=1, description="MLP training processes (CPU) or GPUs; None: the MLP's (1)"
    )
    strategy: Strategy | None = Field(
        None, description="Lightning strategy for devices > 1; None: the MLP's (auto)"
    )
    progress: bool = Field(True, description="a progress bar over each model's folds (stderr)")
    sweep_trials: int = Field(
        0, ge=0, description="Optuna trials per fold, on that fold's training/validation only"
    )
    balance: bool = Field(False, description="undersample the majority class of training sets")
    cross_event: bool = True
    alarm: AlarmConfig = Field(default_factory=AlarmConfig)
    min_magnitude: float | None = Field(None, description="target events: magnitude >=")
    max_distance_km: float | None = Field(None, gt=0, description="target events: distance <=")
    station_lat_deg: float | None = Field(None, ge=-90, le=90)
    station_lon_deg: float | None = Field(None, ge=-180, le=360)
    seed: int = 0

    def resolved(self, columns: list[str]) -> ExperimentConfig:
        """Features and MLP settings made explicit (idempotent, so the saved config reads back
        to the same run)."""
        features = self.features or [c for c in DEFAULT_FEATURES if c in columns] or columns
        mlp = self.mlp or MLP_PRESETS[self.mlp_preset]
        given = {"device": self.device, "devices": self.devices, "strategy": self.strategy}
        train = mlp.train.model_copy(
            update={
                "max_epochs": self.epochs or mlp.train.max_epochs,
                "progress": False,  # one bar per fold would flood stderr; the fold bar shows
                "seed": self.seed,
                **{key: value for key, value in given.items() if value is not None},
            }
        )
        return self.model_copy(
            update={"features": list(features), "mlp": mlp.model_copy(update={"train": train})}
        )


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


@dataclass
class FoldResult:
    """One model trained on one fold: raw and calibrated test scores and its alarm settings."""

    test: np.ndarray
    raw: np.ndarray
    proba: np.ndarray
    alarm: np.ndarray
    threshold: float
    calibrator: Calibrator
    model: Any
    sweep: list[dict[str, Any]]


def fit_fold(
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    end_s: np.ndarray,
    fold: Fold,
    config: ExperimentConfig,
) -> FoldResult:
    """Train `kind` on the fold's training part, calibrate and set its threshold on the
    validation part, score the test part. A sweep (if any) sees training/validation only."""
    train = fold.train
    if config.balance:
        train = _balanced(train, y, np.random.default_rng(config.seed))
    if np.unique(y[train]).size < 2:
        raise InputError(
            f"training part of fold '{fold.name}' holds one class only; "
            "use a longer record, more target events or another split",
            field="split",
        )
    sweep: list[dict[str, Any]] = []
    if kind == "mlp":
        mlp_config = config.mlp or MLP_PRESETS[config.mlp_preset]
        if config.sweep_trials:
            mlp_config, sweep = optuna_sweep(
                x[train],
                y[train],
                x[fold.val],
                y[fold.val],
                mlp_config,
                n_trials=config.sweep_trials,
                seed=config.seed,
            )
        model: Any = MLPClassifier(mlp_config, config.features, mlp_config.train.device).fit(
            x[train], y[train], x[fold.val], y[fold.val]
        )
    else:
        model = BaselineClassifier(kind, config.seed).fit(x[train], y[train])
    step_s = _step_s(end_s)
    raw_val = model.predict_proba(x[fold.val])
    calibrator = Calibrator.fit(config.alarm.calibration, raw_val, y[fold.val])
    threshold = choose_threshold(
        calibrator(raw_val), y[fold.val], end_s[fold.val], step_s, config.alarm
    )
    raw = model.predict_proba(x[fold.test])
    proba = calibrator(raw)
    alarm = persistent(proba >= threshold, config.alarm.persistence)
    return FoldResult(fold.test, raw, proba, alarm, threshold, calibrator, model, sweep)


def _step_s(end_s: np.ndarray) -> float:
    return float(np.median(np.diff(end_s))) if end_s.size > 1 else 1.0


def _alarm_scores(y: np.ndarray, alarm: np.ndarray) -> dict[str, float]:
    import sklearn.metrics as skm

    return {
        "precision": float(skm.precision_score(y, alarm, zero_division=0)),
        "recall": float(skm.recall_score(y, alarm, zero_division=0)),
        "f1": float(skm.f1_score(y, alarm, zero_division=0)),
    }


def split_scores(
    results: list[FoldResult],
    y: np.ndarray,
    end_s: np.ndarray,
    targets_s: np.ndarray,
    split: str,
) -> dict[str, Any]:
    """Pooled window scores (raw, threshold 0.5), per-fold ROC AUC, alarm and event scores."""
    idx = np.concatenate([r.test for r in results])
    raw = np.concatenate([r.raw for r in results])
    alarm = np.concatenate([r.alarm for r in results])
    scores = binary_scores(y[idx], raw)
    scores["per_fold_roc_auc"] = [
        binary_scores(y[r.test], r.raw)["roc_auc"] for r in results if r.test.size
    ]
    scores["alarm"] = {
        **_alarm_scores(y[idx], alarm),
        "thresholds": [r.threshold for r in results],
    }
    if split != "random":
        order = np.argsort(end_s[idx], kind="stable")
        scores["events"] = event_scores(end_s[idx][order], alarm[order], targets_s, _step_s(end_s))
    return scores


def _merged_spans(lo: np.ndarray, hi: np.ndarray) -> list[list[float]]:
    """Union of half-open spans [lo, hi) as sorted, disjoint [start, end] pairs."""
    order = np.argsort(lo)
    spans: list[list[float]] = []
    for a, b in zip(lo[order].tolist(), hi[order].tolist(), strict=True):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return spans


def run_experiment(
    windows: pd.DataFrame,
    targets_s: np.ndarray,
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    title: str = "AE precursor detection",
    window: WindowConfig | None = None,
    meta: dict[str, Any] | None = None,
    hits_time_s: np.ndarray | None = None,
    catalog_time_s: np.ndarray | None = None,
    origin: pd.Timestamp | None = None,
    force: bool = False,
) -> Path:
    """Train and score all models on all splits; write the run folder; return report.html.

    Args:
        windows: Window table (`start_s`, `end_s`, features).
        targets_s: Target event times on the windows' clock.
        config: Settings; resolved here (features, MLP) and saved as config.json.
        out_dir: Run folder (refused if it holds foreign files; an earlier run needs `force`).
        title: Report title.
        window: The configuration (threshold resolved) that made `windows`; saved in the model
            so that the monitor computes the same features. None: made elsewhere, unknown.
        meta: Facts saved beside the config (input files, simulator settings).
        hits_time_s: Hit times, for the peak fits (with `catalog_time_s`).
        catalog_time_s: All catalog event times, for the peak fits.
        origin: UTC time of 0 s on the windows' clock (time axes in UTC), or None.
        force: Replace an earlier run at `out_dir`.
    """
    with RunFolder.create(out_dir, title, force=force) as run:
        return _experiment(
            run,
            windows,
            targets_s,
            config,
            window=window,
            meta=meta,
            hits_time_s=hits_time_s,
            catalog_time_s=catalog_time_s,
            origin=origin,
        )


def _experiment(
    run: RunFolder,
    windows: pd.DataFrame,
    targets_s: np.ndarray,
    config: ExperimentConfig,
    *,
    window: WindowConfig | None,
    meta: dict[str, Any] | None,
    hits_time_s: np.ndarray | None,
    catalog_time_s: np.ndarray | None,
    origin: pd.Timestamp | None,
) -> Path:
    """The body of `run_experiment`, writing into the run folder being built."""
    columns = [c for c in windows.columns if c not in ("start_s", "end_s")]
    config = config.resolved(columns)
    features = list(config.features or [])
    x = feature_matrix(windows, features)
    y = label_windows(windows, targets_s, config.horizon_s)
    end_s = windows["end_s"].to_numpy(dtype=float)
    if y.sum() == 0:
        raise InputError("no window falls inside the horizon before a target event", field="time")
    models = ["mlp", *config.baselines]
    metrics: dict[str, Any] = {
        "splits": {},
        "n_windows": len(windows),
        "n_positive": int(y.sum()),
        "n_targets": int(targets_s.size),
        "scores_note": "window scores: raw model output at 0.5, pooled out-of-fold test "
        "windows; alarm/events: calibrated on each fold's validation part, threshold chosen "
        "there, persistence applied",
    }
    loeo_mlp: list[FoldResult] = []
    saved: FoldResult | None = None
    sweeps: dict[str, list[dict[str, Any]]] = {}
    for split in config.splits:
        folds = make_folds(windows, targets_s, config.horizon_s, split, seed=config.seed)
        metrics["splits"][split] = {}
        for kind in models:
            started = time.perf_counter()
            bar = tqdm(
                folds, desc=f"{split} {kind}", unit="fold", leave=False, disable=not config.progress
            )
            results = [fit_fold(kind, x, y, end_s, fold, config) for fold in bar]
            LOG.info(
                "%s: %s on %d fold(s) in %.1f s",
                split,
                kind,
                len(folds),
                time.perf_counter() - started,
            )
            metrics["splits"][split][kind] = split_scores(results, y, end_s, targets_s, split)
            if kind == "mlp":
                sweeps.update(
                    {
                        f"{split}/{f.name}": r.sweep
                        for f, r in zip(folds, results, strict=True)
                        if r.sweep
                    }
                )
                if split == "time-blocked":
                    saved = results[0]
                if split == "leave-one-event-out":
                    loeo_mlp = results
    if config.cross_event and targets_s.size >= 2:
        metrics["cross_event"] = cross_event_scores(windows, x, y, targets_s, config)
    if sweeps:
        metrics["sweep"] = sweeps
    run.save_config(config, **(meta or {}))
    if loeo_mlp:
        idx = np.concatenate([r.test for r in loeo_mlp])
        proba, alarm = np.full(len(windows), np.nan), np.zeros(len(windows), dtype=bool)
        proba[idx] = np.concatenate([r.proba for r in loeo_mlp])
        alarm[idx] = np.concatenate([r.alarm for r in loeo_mlp])
        run.figure(
            _timeline_figure(windows, proba, alarm, y, targets_s, origin),
            "warning_timeline",
            "Calibrated P(precursor) of the MLP, leave-one-event-out out-of-fold, and its "
            "alarms (red band); red lines: target events; shaded: precursor horizon",
        )
    if hits_time_s is not None and catalog_time_s is not None:
        metrics["peak_fit"] = _peak_section(run, hits_time_s, catalog_time_s, targets_s)
    _score_section(run, metrics)
    if saved is not None:
        run.figure(loss_curve_figure(saved.model.history_, "MLP loss, time-blocked split"), "loss")
        fold = make_folds(windows, targets_s, config.horizon_s, "time-blocked")[0]
        used = np.concatenate((fold.train, fold.val))
        saved.model.save(
            run.path / "model",
            extra={
                "features": features,
                "horizon_s": config.horizon_s,
                "window_s": _window_s(windows) if window is None else window.window_s,
                "window": None if window is None else window.model_dump(mode="json"),
                "alarm": {
                    "calibration": saved.calibrator.to_dict(),
                    "threshold": saved.threshold,
                    "persistence": config.alarm.persistence,
                },
                "trained_spans_s": _merged_spans(
                    windows["start_s"].to_numpy(dtype=float)[used],
                    end_s[used] + config.horizon_s,
                ),
                "time_origin": None if origin is None else origin.isoformat(),
            },
        )
    run.save_metrics(metrics)
    return run.write_report()


def _window_s(windows: pd.DataFrame) -> float:
    return float(np.median(windows["end_s"] - windows["start_s"]))


def _tail_fold(
    windows: pd.DataFrame, name: str, train: np.ndarray, test: np.ndarray, horizon_s: float
) -> Fold:
    """Train on `train` but its time-ordered last 20 %, which validates; purged."""
    cut = int(0.8 * train.size)
    return validated(windows, Fold(name, train[:cut], train[cut:], test), horizon_s)


def cross_event_scores(
    windows: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    targets_s: np.ndarray,
    config: ExperimentConfig,
) -> dict[str, Any]:
    """The paper's three MLP designs on the first two target events (EQ.1, EQ.2), and ours.

    - paper-I: windows of EQ.1 and EQ.2 pooled, random 60/20/20 (the paper's Model I; leaky);
    - II: train on EQ.1, test on EQ.2; III: train on EQ.2, test on EQ.1 (the paper's);
    - all-but-last: train on every event but the last, test on the last (3+ events).
    A design whose parts are empty after purging is reported with the reason instead.
    """
    block = event_blocks(windows, targets_s)
    index = np.arange(len(windows))
    end_s = windows["end_s"].to_numpy(dtype=float)
    pooled = index[block <= 1]
    order = np.random.default_rng(config.seed).permutation(pooled.size)
    a, b = round(0.6 * pooled.size), round(0.8 * pooled.size)
    plans: dict[str, Any] = {
        "paper-I": lambda: Fold(
            "paper-I",
            np.sort(pooled[order[:a]]),
            np.sort(pooled[order[a:b]]),
            np.sort(pooled[order[b:]]),
        ),
        "II": lambda: _tail_fold(
            windows, "II", index[block == 0], index[block == 1], config.horizon_s
        ),
        "III": lambda: _tail_fold(
            windows, "III", index[block == 1], index[block == 0], config.horizon_s
        ),
    }
    last = targets_s.size - 1
    if last >= 2:
        plans["all-but-last"] = lambda: _tail_fold(
            windows, "all-but-last", index[block < last], index[block == last], config.horizon_s
        )
    results: dict[str, Any] = {}
    for name, plan in plans.items():
        try:
            result = fit_fold("mlp", x, y, end_s, plan(), config)
        except InputError as error:
            results[name] = {"error": str(error)}
            continue
        results[name] = binary_scores(y[result.test], result.raw)
    return results


class EvaluateConfig(BaseModel):
    """Settings of `precursor evaluate` (target selection; everything else is the model's)."""

    model_config = ConfigDict(extra="forbid")

    min_magnitude: float | None = Field(None, description="target events: magnitude >=")
    max_distance_km: float | None = Field(None, gt=0, description="target events: distance <=")
    station_lat_deg: float | None = Field(None, ge=-90, le=90)
    station_lon_deg: float | None = Field(None, ge=-180, le=360)
    device: Device = Field("auto", description="where the network predicts: auto|cpu|cuda")
    progress: bool = Field(True, description="a progress bar over the scored windows (stderr)")


PREDICT_CHUNK = 4096
"""Windows per network call of `evaluate_saved` (one step of its progress bar)."""


def predict_windows(model: MLPClassifier, x: np.ndarray, *, progress: bool = False) -> np.ndarray:
    """The network's P(precursor) of every row of `x`, `PREDICT_CHUNK` windows per call, with
    a bar over the windows on stderr when `progress` (a year of 1-min windows is 500,000)."""
    with tqdm(total=len(x), desc="score windows", unit="window", disable=not progress) as bar:
        parts = []
        for start in range(0, len(x), PREDICT_CHUNK):
            parts.append(model.predict_proba(x[start : start + PREDICT_CHUNK]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.empty(0)


def held_out(
    windows: pd.DataFrame, trained_spans_s: list[list[float]], horizon_s: float
) -> np.ndarray:
    """Mask of windows whose span [start, end + horizon) overlaps no span the model trained on."""
    spans = np.asarray(trained_spans_s, dtype=float).reshape(-1, 2)
    lo = windows["start_s"].to_numpy(dtype=float)
    hi = windows["end_s"].to_numpy(dtype=float) + horizon_s
    return ~overlaps(lo, hi, spans[:, 0], spans[:, 1])


def evaluate_saved(
    model_dir: str | Path,
    windows: pd.DataFrame,
    targets_s: np.ndarray,
    config: EvaluateConfig,
    out_dir: str | Path,
    *,
    meta: dict[str, Any] | None = None,
    origin: pd.Timestamp | None = None,
    force: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Score a saved model (no retraining) on the windows it did not train or validate on.

    When every window overlaps its training spans (the same table it was trained on, say),
    the scores are computed on all windows and marked `training_data: true`, with a warning in
    the report and the returned metrics.
    """
    model, extra = MLPClassifier.load(model_dir, config.device)
    horizon_s = float(extra["horizon_s"])
    features = list(extra["features"])
    x = feature_matrix(windows, features)
    y = label_windows(windows, targets_s, horizon_s)
    spans = extra.get("trained_spans_s")
    mask = (
        np.ones(len(windows), dtype=bool) if spans is None else held_out(windows, spans, horizon_s)
    )
    training_data = not mask.any()
    warning = None
    if training_data:
        mask[:] = True
        warning = (
            "WARNING: every window overlaps the data this model was trained or validated on; "
            "these are TRAINING-DATA scores and overstate skill"
        )
    elif spans is None:
        warning = "the model records no training spans: held-out status unknown"
    alarm = extra.get("alarm") or {}
    calibrator = Calibrator.from_dict(alarm.get("calibration", {"method": "none"}))
    threshold = float(alarm.get("threshold", 0.5))
    persistence = int(alarm.get("persistence", 1))
    end_s = windows["end_s"].to_numpy(dtype=float)
    raw = predict_windows(model, x[mask], progress=config.progress)
    proba = calibrator(raw)
    alarms = persistent(proba >= threshold, persistence)
    metrics: dict[str, Any] = {
        "model": str(model_dir),
        "training_data": training_data,
        "n_windows": len(windows),
        "n_scored": int(mask.sum()),
        "n_positive_scored": int(y[mask].sum()),
        "scores": binary_scores(y[mask], raw),
        "alarm": {**_alarm_scores(y[mask], alarms), "threshold": threshold},
        "events": event_scores(end_s[mask], alarms, targets_s, _step_s(end_s)),
    }
    if warning:
        metrics["warning"] = warning
    with RunFolder.create(out_dir, "AE precursor model, held-out evaluation", force=force) as run:
        run.save_config(config, **(meta or {}))
        if warning:
            run.heading(warning)
        run.text(
            f"Scored {metrics['n_scored']} of {len(windows)} windows "
            f"({'all: training data' if training_data else 'held out from training'}); "
            "no model was retrained."
        )
        scores = metrics["scores"]
        run.table(
            pd.DataFrame([{k: scores[k] for k in SCORE_KEYS}]), "Window scores (threshold 0.5)"
        )
        run.table(_events_table({"saved model": metrics["events"]}), "Event-level alarm scores")
        timeline = np.full(len(windows), np.nan)
        timeline[mask] = proba
        on = np.zeros(len(windows), dtype=bool)
        on[mask] = alarms
        run.figure(
            _timeline_figure(windows, timeline, on, y, targets_s, origin),
            "warning_timeline",
            "Calibrated P(precursor) of the saved model and its alarms on the scored windows",
        )
        run.save_metrics(metrics)
        return run.write_report(), metrics


def _time_axis(end_s: np.ndarray, origin: pd.Timestamp | None) -> tuple[Any, str]:
    if origin is None:
        return end_s / 3600.0, "time since record start (h)"
    return (origin + pd.to_timedelta(end_s, unit="s")).tz_convert(None), "time (UTC)"


def _timeline_figure(
    windows: pd.DataFrame,
    proba: np.ndarray,
    alarm: np.ndarray,
    y: np.ndarray,
    targets_s: np.ndarray,
    origin: pd.Timestamp | None,
) -> plt.Figure:
    t, label = _time_axis(windows["end_s"].to_numpy(dtype=float), origin)
    events, _ = _time_axis(targets_s, origin)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.fill_between(t, 0, y, step="pre", color="orange", alpha=0.25, label="precursor horizon")
    ax.fill_between(t, 1.0, 1.06, where=alarm, step="pre", color="red", label="alarm")
    ax.plot(t, proba, color="k", linewidth=0.8, label="calibrated P(precursor)")
    for event in events:
        ax.axvline(event, color="red", linewidth=1.2)
    ax.set_xlabel(label)
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
    """One row per split and model: the five window scores, the per-fold ROC AUC range and
    the alarm layer's event-level scores."""
    rows = []
    for split, by_model in metrics["splits"].items():
        for model, scores in by_model.items():
            per_fold = [v for v in scores.get("per_fold_roc_auc", []) if v == v]
            events = scores.get("events") or {}
            rows.append(
                {
                    "split": split,
                    "model": model,
                    **{k: scores[k] for k in SCORE_KEYS},
                    "fold_auc_min": min(per_fold) if per_fold else np.nan,
                    "fold_auc_max": max(per_fold) if per_fold else np.nan,
                    "event_hit_rate": events.get("hit_rate", np.nan),
                    "false_alarms_per_day": events.get("false_alarms_per_day", np.nan),
                }
            )
    return pd.DataFrame(rows).astype({"event_hit_rate": float, "false_alarms_per_day": float})


def _events_table(by_name: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for name, events in by_name.items():
        leads_h = np.asarray(events["lead_times_s"], dtype=float) / 3600.0
        rows.append(
            {
                "model": name,
                "events": events["n_events"],
                "warned": events["n_warned"],
                "false alarms": events["n_false_alarms"],
                "false alarms / day": events["false_alarms_per_day"],
                "lead times (h)": ", ".join(f"{v:.1f}" for v in leads_h) or "-",
            }
        )
    return pd.DataFrame(rows)


def _score_section(run: RunFolder, metrics: dict[str, Any]) -> None:
    table = scores_table(metrics)
    run.heading("Scores: paper-style random split beside leakage-free splits")
    run.text(
        "Random: windows shuffled 60/20/20 (neighbouring windows share information, so this "
        "overstates skill). Time-blocked and leave-one-event-out are purged: no window's span "
        "plus the horizon overlaps another part. " + metrics["scores_note"] + "."
    )
    run.table(table.pivot(index="model", columns="split", values="f1").reset_index(), "F1 by split")
    run.table(table, "All scores (pooled out-of-fold test predictions)")
    for split, by_model in metrics["splits"].items():
        if split != "random":
            run.table(
                _events_table({k: v["events"] for k, v in by_model.items()}),
                f"Event-level alarms, {split} (a warning counts only if it lasts into the event)",
            )
        run.figure(
            confusion_matrix_figure(
                by_model["mlp"]["confusion_matrix"], ["quiet", "precursor"], f"MLP, {split}"
            ),
            f"confusion_mlp_{split}",
        )
    if "cross_event" in metrics:
        rows = [
            {"design": k, **{s: v.get(s, np.nan) for s in SCORE_KEYS}, "note": v.get("error", "")}
            for k, v in metrics["cross_event"].items()
        ]
        run.table(
            pd.DataFrame(rows),
            "Cross-event MLP designs: the paper's I (EQ.1+EQ.2 pooled, random split), II, III; "
            "ours: all-but-last",
        )
