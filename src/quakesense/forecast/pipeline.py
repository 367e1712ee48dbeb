"""The forecast pipeline end to end: catalog -> grid -> split -> models -> scores -> report.

`evaluate` fits every model on the training period only (priors, normalisation, Mc, ETAS
parameters), chooses hyperparameters on the validation period, and scores the test period.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.forecast.baselines import HistoricalRate, TabularForecaster, UniformRate
from quakesense.forecast.features import (
    FeatureConfig,
    indicator_features,
    rtl_features,
)
from quakesense.forecast.grid import (
    GriddedEvents,
    GridSpec,
    densify_polygon,
    grid_events,
    open_grid,
    target_maps,
    write_grid,
)
from quakesense.forecast.protocol import Split, chronological_split, last_days_split
from quakesense.io.catalog import CatalogReport, Region, read_catalog

BASELINES = ("uniform", "historical", "logistic", "lightgbm_indicator", "lightgbm_rtl", "etas")
NETWORKS = ("convlstm", "cnn", "convlstm_hybrid")
ALL_MODELS = BASELINES + NETWORKS
ModelName = Literal[
    "uniform",
    "historical",
    "logistic",
    "lightgbm_indicator",
    "lightgbm_rtl",
    "etas",
    "convlstm",
    "cnn",
    "convlstm_hybrid",
]


class ForecastConfig(BaseModel):
    """Every setting of a forecast run (saved as config.json)."""

    model_config = ConfigDict(extra="forbid")

    catalog: Path | None = Field(None, description="catalog file (CSV or QuakeML)")
    columns: str | None = Field(None, description="column mapping key=column,...")
    region: str | None = Field(None, description="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or polygon file")
    sort: bool = Field(False, description="sort an unsorted catalog (reported) instead of failing")
    mc: float = Field(5.0, description="target magnitude threshold Mc")
    horizon: str = Field("10d:50d", description="target window after T, e.g. 10d:50d")
    split_dates: str | None = Field(None, description="TRAIN_END,VALID_END (default 70 %/85 %)")
    paper_split: bool = Field(False, description="also score the paper's last-1000-days split")
    start: str | None = None
    end: str | None = None
    cell_km: float = Field(10.0, gt=0)
    step_days: int = Field(1, ge=1, description="days per network step (1 = daily, as in paper)")
    history_days: int = Field(365, ge=0)
    train_stride_days: int = Field(10, ge=1)
    eval_stride_days: int = Field(10, ge=1)
    models: list[ModelName] = Field(default_factory=lambda: list(ALL_MODELS))
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(1, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    window_steps: int = Field(50, ge=1, description="TBPTT window (steps with loss)")
    warm_steps: int = Field(50, ge=0, description="steps before a window, run without gradient")
    tbptt_steps: int = Field(25, ge=1, description="gradient truncation inside a window")
    minority_weight: float = Field(1000.0, gt=0)
    weight_sweep: list[float] | None = Field(None, description="minority weights tried on valid")
    patience: int | None = 3
    device: Literal["cpu", "cuda", "auto"] = "auto"
    threads: int = Field(1, ge=1, description="torch CPU threads (1 is fastest on a busy machine)")
    max_tabular_rows: int = Field(200_000, ge=1000)
    etas_mc: float | None = Field(None, description="ETAS fit threshold (default: estimated Mc)")
    etas_max_iter: int = Field(50, ge=1)
    n_bootstrap: int = Field(300, ge=10)
    seed: int = 0
    progress: bool = True
    grid: Path | None = Field(None, description="reuse this grid store instead of gridding")


def parse_horizon(text: str) -> tuple[int, int]:
    """`10d:50d` -> (10, 50) whole days; the window must be non-empty."""
    from quakesense.core.units import parse_duration_s

    match = re.fullmatch(r"\s*([^:]+):([^:]+)\s*", text or "")
    if not match:
        raise InputError(f"'{text}' is not START:END, e.g. 10d:50d", field="--horizon")
    lo, hi = (parse_duration_s(v, field="--horizon") / 86_400 for v in match.groups())
    if lo != int(lo) or hi != int(hi) or not 0 <= lo < hi:
        raise InputError(f"'{text}' must be whole days with START < END", field="--horizon")
    return int(lo), int(hi)


@dataclass
class Prepared:
    """A gridded catalog with its split, masks and the estimated completeness."""

    config: ForecastConfig
    catalog: pd.DataFrame
    report: CatalogReport
    region: Region
    spec: GridSpec
    events: GriddedEvents
    group: Any
    horizon: tuple[int, int]
    split: Split
    masks: dict[str, np.ndarray]
    completeness: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def estimate_completeness(magnitude: np.ndarray, mc: float) -> tuple[dict[str, Any], list[str]]:
    """Mc (maximum curvature, seismostats) and b-value (Aki-Utsu-type, seismostats) of training
    magnitudes; a warning when the estimated Mc lies above the target Mc."""
    from seismostats.analysis import estimate_b, estimate_mc_maxc

    notes: list[str] = []
    if magnitude.size < 50:
        return {"mc_maxc": None, "b_value": None, "n_events": int(magnitude.size)}, [
            f"only {magnitude.size} training events: Mc and b-value not estimated"
        ]
    # Bin width: 0.1 when nearly all magnitudes sit on the 0.1 grid (a few finer values are
    # common in merged catalogs), else 0.01.
    on_tenths = np.mean(np.isclose(magnitude * 10, np.round(magnitude * 10), atol=1e-6))
    delta_m = 0.1 if on_tenths >= 0.9 else 0.01
    binned = np.round(magnitude / delta_m) * delta_m
    mc_est, _ = estimate_mc_maxc(binned, fmd_bin=delta_m)
    mc_est = float(np.round(mc_est, 3))
    above = binned[binned >= mc_est - delta_m / 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b_value = float(estimate_b(above, mc=mc_est, delta_m=delta_m))
    if mc_est > mc:
        notes.append(
            f"estimated completeness Mc {mc_est:.2f} (training data, maximum curvature) is above "
            f"the target Mc {mc:.2f}: targets are incomplete and every score is affected"
        )
    return {
        "mc_maxc": mc_est,
        "b_value": b_value,
        "delta_m": delta_m,
        "n_events": int(magnitude.size),
        "method": "seismostats estimate_mc_maxc (+0.2) and estimate_b (classic, Aki-Utsu)",
    }, notes


def prepare(config: ForecastConfig, out: Path, catalog: pd.DataFrame | None = None) -> Prepared:
    """Read, grid (Zarr at `out/grid.zarr` unless `config.grid`), split and mask.

    Args:
        config: Run settings.
        out: Run folder.
        catalog: An already canonical catalog (the demo); otherwise `config.catalog` is read.
    """
    region = Region.parse(config.region) if config.region else None
    if catalog is None:
        if config.catalog is None:
            raise InputError("no catalog given", field="--catalog")
        catalog, report = read_catalog(
            config.catalog, columns=config.columns, region=region, sort=config.sort
        )
    else:
        report = CatalogReport(source="<in-memory>", n_read=len(catalog), n_kept=len(catalog))
    if region is None:
        lat, lon = catalog["latitude_deg"], catalog["longitude_deg"]
        region = Region.from_bbox(lat.min(), lat.max() + 1e-6, lon.min(), lon.max() + 1e-6)
    horizon = parse_horizon(config.horizon)
    start = pd.Timestamp(config.start, tz="UTC") if config.start else catalog["time"].iloc[0]
    end = pd.Timestamp(config.end, tz="UTC") if config.end else catalog["time"].iloc[-1]
    spec = GridSpec.from_region(region, config.cell_km, start, end + pd.Timedelta(days=1))
    events, dropped = grid_events(catalog, spec)
    notes = list(report.warnings)
    if dropped["outside_grid"] or dropped["outside_time"]:
        notes.append(f"events not gridded: {dropped}")
    if config.grid is not None:
        group, stored = open_grid(config.grid)
        if stored.to_dict() != spec.to_dict():
            raise InputError("grid store was made with other settings", source=config.grid)
    else:
        group, _ = open_grid(write_grid(events, spec, out / "grid.zarr", progress=config.progress))
    split = _split(config, spec, horizon)
    in_region = spec.region_mask(region)
    train = events.window(0, split.train_end_day)
    active = np.zeros(spec.shape, dtype=bool)
    active[train.iy, train.ix] = True
    masks = {"active": active & in_region, "all": in_region}
    if not masks["active"].any():
        raise InputError(
            "no event in the training period: empty training set", field="--split-dates"
        )
    completeness, more = estimate_completeness(train.magnitude, config.mc)
    notes += more
    if np.sum(train.magnitude >= config.mc) == 0:
        raise InputError(
            f"no M >= {config.mc} event in the training period; lower --mc", field="--mc"
        )
    return Prepared(
        config,
        catalog,
        report,
        region,
        spec,
        events,
        group,
        horizon,
        split,
        masks,
        completeness,
        notes,
    )


def _split(config: ForecastConfig, spec: GridSpec, horizon: tuple[int, int]) -> Split:
    kwargs = {
        "history_days": config.history_days,
        "train_stride_days": config.train_stride_days,
        "eval_stride_days": config.eval_stride_days,
    }
    if config.split_dates:
        parts = [p.strip() for p in config.split_dates.split(",")]
        if len(parts) != 2:
            raise InputError("expected TRAIN_END,VALID_END", field="--split-dates")
        try:
            dates = [pd.Timestamp(p, tz="UTC") for p in parts]
        except ValueError as exc:
            raise InputError(f"bad date ({exc})", field="--split-dates") from exc
    else:
        dates = [spec.date(int(spec.n_days * f)) for f in (0.7, 0.85)]
    return chronological_split(spec, dates[0], dates[1], horizon, **kwargs)


@dataclass
class Predictions:
    """Probability maps of every model for the validation and test forecast times."""

    valid: dict[str, np.ndarray] = field(default_factory=dict)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    histories: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def _labels(prep: Prepared, days: np.ndarray) -> np.ndarray:
    return target_maps(prep.events, prep.spec.shape, days, prep.horizon, prep.config.mc)


def fit_and_predict(prep: Prepared, split: Split, out: Path) -> tuple[Predictions, dict]:
    """Fit every requested model on the training period and predict valid and test maps.

    Returns:
        The predictions and the targets of each period.
    """
    config, shape = prep.config, prep.spec.shape
    chosen = set(config.models)
    labels = {p: _labels(prep, getattr(split, f"{p}_days")) for p in ("train", "valid", "test")}
    preds = Predictions()
    training_events = prep.events.window(0, split.train_end_day)
    hist = HistoricalRate().fit(
        training_events,
        shape,
        np.arange(0, split.train_end_day - prep.horizon[1] + 1),
        prep.horizon,
        config.mc,
        prep.masks["all"],
    )
    uniform = UniformRate().fit(labels["train"], prep.masks["all"])
    for name, model in (("uniform", uniform), ("historical", hist)):
        if name in chosen:
            for period in ("valid", "test"):
                n = getattr(split, f"{period}_days").size
                getattr(preds, period)[name] = np.broadcast_to(model.predict_map(), (n, *shape))
    preds.info["historical"] = {"floor": hist.floor_, "smoothing_cells": hist.smoothing_cells}
    preds.info["uniform"] = {"probability": uniform.probability_}
    log_prior = hist.log_rate()
    fconfig = FeatureConfig()
    feature_sets = {
        "logistic": lambda day: indicator_features(prep.events, shape, day, log_prior, fconfig),
        "lightgbm_indicator": lambda day: indicator_features(
            prep.events, shape, day, log_prior, fconfig
        ),
        "lightgbm_rtl": lambda day: rtl_features(
            prep.events, shape, day, prep.spec.x.step, log_prior, fconfig
        ),
    }
    for name, features in feature_sets.items():
        if name not in chosen:
            continue
        kind = "logistic" if name == "logistic" else "lightgbm"
        model = TabularForecaster(kind, config.max_tabular_rows, config.seed).fit(
            features,
            labels["train"],
            split.train_days,
            labels["valid"],
            split.valid_days,
            prep.masks["all"],
        )
        preds.info[name] = {"chosen_on_validation": model.chosen_}
        for period in ("valid", "test"):
            days = getattr(split, f"{period}_days")
            getattr(preds, period)[name] = model.predict_maps(features, days, shape)
    etas = None
    if chosen & {"etas", "convlstm_hybrid"}:
        etas = _fit_etas(prep, split, preds)
    if etas is not None and "etas" in chosen:
        for period in ("valid", "test"):
            getattr(preds, period)["etas"] = etas(getattr(split, f"{period}_days"))
    for kind in NETWORKS:
        if kind not in chosen:
            continue
        if kind == "convlstm_hybrid" and etas is None:
            continue
        _train_network(prep, split, kind, log_prior, etas, preds, out)
    return preds, labels


def _fit_etas(prep: Prepared, split: Split, preds: Predictions) -> Any:
    """Fit the space-time ETAS on training events; return days -> probability maps, or None
    (with a warning) when it cannot be fitted."""
    try:
        from quakesense.forecast.etas import SpaceTimeETAS
    except ImportError as exc:
        prep.warnings.append(f"ETAS model not available ({exc}); ETAS and hybrid skipped")
        return None
    config, spec, events = prep.config, prep.spec, prep.events
    mc_fit = config.etas_mc
    if mc_fit is None:
        estimated = prep.completeness.get("mc_maxc")
        mc_fit = min(config.mc, estimated if estimated is not None else config.mc)
    lat, lon = prep.region.latitude_deg, prep.region.longitude_deg
    dense_lat, dense_lon = densify_polygon(lat, lon, n=8)
    vx, vy = spec.projection.to_xy_km(dense_lat, dense_lon)
    train = events.window(0, split.train_end_day, mc_fit)
    model = SpaceTimeETAS(
        mc_fit, max_iter=config.etas_max_iter, max_lag_days=3650.0, max_dist_km=300.0
    )
    try:
        model.fit(
            train.t_days,
            train.x_km,
            train.y_km,
            train.magnitude,
            float(min(config.history_days, split.train_end_day - 1)),
            float(split.train_end_day),
            region=np.column_stack([vx, vy]),
        )
    except (InputError, ValueError, FloatingPointError) as exc:
        prep.warnings.append(f"ETAS fit failed ({exc}); ETAS and hybrid skipped")
        return None
    preds.info["etas"] = {
        "mc_fit": mc_fit,
        "params": model.params_.to_dict(),
        "n_training_events": len(train),
    }
    history = pd.DataFrame(
        {
            "t_days": events.t_days,
            "x_km": events.x_km,
            "y_km": events.y_km,
            "magnitude": events.magnitude,
        }
    )
    history = history[history["magnitude"] >= mc_fit]
    cache: dict[int, np.ndarray] = {}

    def probabilities(days: np.ndarray) -> np.ndarray:
        days = np.asarray(days, dtype=np.int64)
        missing = sorted({int(d) for d in days} - set(cache))
        if missing:
            counts = model.expected_counts_many(
                history,
                np.array(missing, dtype=float),
                x_edges_km=spec.x.edges,
                y_edges_km=spec.y.edges,
                horizon_days=prep.horizon,
                m_min=config.mc,
                dtype=np.float32,
            )
            for d, n in zip(missing, counts, strict=True):
                cache[d] = -np.expm1(-n)
        return np.stack([cache[int(d)] for d in days])

    return probabilities


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def _train_network(
    prep: Prepared,
    split: Split,
    kind: str,
    log_prior: np.ndarray,
    etas: Any,
    preds: Predictions,
    out: Path,
) -> None:
    """Train one network (with the minority-weight sweep on validation) and predict."""
    import torch

    from quakesense.core.models import Normalisation, save_model
    from quakesense.core.training import TrainConfig, fit
    from quakesense.forecast.convlstm import (
        ConvLSTMForecaster,
        GridWindows,
        predict_maps,
        read_steps,
        weighted_bce,
    )
    from quakesense.forecast.evaluation import bernoulli_log_likelihood

    config, spec = prep.config, prep.spec
    torch.set_num_threads(config.threads)
    k, h1 = config.step_days, prep.horizon[1]
    first = max(config.history_days // k, 1) - 1

    def steps(lo_day: int, hi_day: int) -> np.ndarray:
        last = (hi_day - h1) // k - 1
        return np.arange(max(first, lo_day // k), last + 1)

    train_steps = steps(0, split.train_end_day)
    valid_steps = steps(split.train_end_day, split.valid_end_day)
    valid_steps = valid_steps[(valid_steps + 1) * k >= split.train_end_day]
    if train_steps.size == 0 or valid_steps.size == 0:
        prep.warnings.append(f"{kind}: no training or validation steps; skipped")
        return
    offsets = None
    if kind == "convlstm_hybrid":

        def offsets(days: np.ndarray) -> np.ndarray:
            return _logit(etas(days)).astype(np.float32)

    # Normalisation from at most 64 evenly spaced training steps, so that the training period
    # is never held in memory at once.
    chosen_steps = train_steps[np.linspace(0, train_steps.size - 1, 64).astype(int)]
    sample = np.concatenate([read_steps(prep.group, int(j), 1, k) for j in np.unique(chosen_steps)])
    norm = Normalisation.fit(sample.transpose(0, 2, 3, 1).reshape(-1, sample.shape[1]))
    weights = config.weight_sweep or [config.minority_weight]
    best: dict[str, Any] = {"score": -np.inf}
    sweep = []
    valid_days = split.valid_days
    for weight in weights:
        module = ConvLSTMForecaster(
            *spec.shape,
            recurrent=kind != "cnn",
            warm_steps=config.warm_steps,
            tbptt_steps=config.tbptt_steps,
        )
        with torch.no_grad():
            if kind != "convlstm_hybrid":
                module.prior_logit.copy_(torch.as_tensor(log_prior, dtype=torch.float32))
            module.input_mean.copy_(torch.as_tensor(norm.mean, dtype=torch.float32))
            module.input_scale.copy_(torch.as_tensor(norm.scale, dtype=torch.float32))
        common = dict(
            window_steps=config.window_steps,
            warm_steps=config.warm_steps,
            step_days=k,
            horizon_days=prep.horizon,
            mc=config.mc,
            mask=prep.masks["all"],
            minority_weight=weight,
            offsets=offsets,
        )
        result = fit(
            module,
            weighted_bce,
            GridWindows(prep.group, train_steps, **common),
            GridWindows(prep.group, valid_steps, **common),
            TrainConfig(
                max_epochs=config.epochs,
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                patience=config.patience,
                device=config.device,
                seed=config.seed,
                progress=config.progress,
            ),
            n_inputs=2,
        )
        raw_valid = predict_maps(result.module, prep.group, valid_days, k, offsets=offsets)
        calibration = _platt(raw_valid, _labels(prep, valid_days), prep.masks["active"])
        valid = _apply_platt(raw_valid, calibration)
        y = _labels(prep, valid_days)[:, prep.masks["active"]]
        score = float(bernoulli_log_likelihood(valid[:, prep.masks["active"]], y).mean())
        from sklearn.metrics import average_precision_score

        pr = float(average_precision_score(y.ravel(), raw_valid[:, prep.masks["active"]].ravel()))
        sweep.append(
            {
                "minority_weight": weight,
                "valid_pr_auc": pr,
                "valid_ll_per_sample": score,
                "best_epoch": result.best_epoch,
                "epochs_run": result.epochs_run,
            }
        )
        if pr > best["score"]:
            best = {
                "score": pr,
                "result": result,
                "calibration": calibration,
                "valid": valid,
                "weight": weight,
            }
    module = best["result"].module
    preds.valid[kind] = best["valid"]
    raw_test = predict_maps(
        module, prep.group, split.test_days, k, offsets=offsets, progress=config.progress
    )
    preds.test[kind] = _apply_platt(raw_test, best["calibration"])
    preds.histories[kind] = best["result"].history
    preds.info[kind] = {
        "minority_weight": best["weight"],
        "weight_sweep": sweep,
        "platt_calibration": best["calibration"],
        "best_epoch": best["result"].best_epoch,
        "step_days": k,
    }
    save_model(
        out / "models" / kind,
        module,
        name="forecast_convlstm",
        config={
            "height": spec.shape[0],
            "width": spec.shape[1],
            "recurrent": kind != "cnn",
            "warm_steps": config.warm_steps,
            "tbptt_steps": config.tbptt_steps,
            "embed_channels": module.embed[0].out_channels,
            "hidden_channels": module.hidden_channels,
            "kernel_size": module.embed[0].kernel_size[0],
            "cnn_history_steps": module.cnn_history_steps,
            "prior_scale": module.prior_scale,
        },
        normalisation={"inputs": norm},
        extra={
            "kind": kind,
            "grid": spec.to_dict(),
            "mc": config.mc,
            "horizon_days": prep.horizon,
            "step_days": k,
            "platt_calibration": best["calibration"],
            "minority_weight": best["weight"],
        },
    )


def _platt(probability: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Platt scaling on validation: the minority weight inflates the network's probabilities,
    so a logistic fit of the target on the logit restores calibrated ones (ranking unchanged)."""
    from sklearn.linear_model import LogisticRegression

    x = _logit(probability[:, mask].ravel())[:, None]
    y = target[:, mask].ravel().astype(int)
    if y.min() == y.max():
        return {"slope": 1.0, "intercept": 0.0}
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    return {"slope": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0])}


def _apply_platt(probability: np.ndarray, calibration: dict[str, float]) -> np.ndarray:
    z = calibration["slope"] * _logit(probability) + calibration["intercept"]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def score_split(
    prep: Prepared, split: Split, preds: Predictions, target: np.ndarray
) -> dict[str, Any]:
    """Scores of every model on the test period, information gains and pyCSEP tests."""
    from quakesense.forecast.evaluation import (
        csep_catalog,
        csep_consistency_tests,
        csep_region,
        information_gain,
        score_model,
    )

    config, spec = prep.config, prep.spec
    h0, h1 = prep.horizon
    stride = max(1, -(-(h1 - h0) // config.eval_stride_days))
    window_idx = np.arange(0, split.test_days.size, stride)
    region = csep_region(spec.x, spec.y, prep.masks["all"], config.mc)
    observed = [
        prep.events.window(int(d) + h0, int(d) + h1, config.mc) for d in split.test_days[window_idx]
    ]
    origin_ms = spec.origin.value // 1_000_000
    catalog = csep_catalog(
        np.concatenate([e.x_km for e in observed]),
        np.concatenate([e.y_km for e in observed]),
        np.concatenate([e.magnitude for e in observed]),
        origin_ms + np.round(np.concatenate([e.t_days for e in observed]) * 86_400_000),
        region,
    )
    metrics: dict[str, Any] = {}
    for name, probability in preds.test.items():
        scores = score_model(probability, target, prep.masks)
        headline = {k: v for k, v in scores["active"].items() if k != "thresholds"}
        entry: dict[str, Any] = {**headline, **scores, "vs": {}}
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
        chosen = np.asarray(probability[window_idx], dtype=np.float64)
        rate = -np.log1p(-np.clip(chosen, 0, 1 - 1e-9)).sum(axis=0)
        entry["csep"] = csep_consistency_tests(
            -np.expm1(-rate), catalog, prep.masks["all"], seed=config.seed, name=name
        )
        entry["csep"]["n_windows"] = int(window_idx.size)
        metrics[name] = entry
    return metrics


def evaluate(config: ForecastConfig, out: Path, catalog: pd.DataFrame | None = None) -> Path:
    """Run the whole protocol and write `out/metrics.json`, figures and `out/report.html`."""
    from quakesense.core.report import RunFolder

    out = Path(out)
    run = RunFolder(out, "quakesense forecast: evaluation")
    run.save_config(config)
    prep = prepare(config, out, catalog)
    results: dict[str, Any] = {}
    splits = [prep.split]
    if config.paper_split:
        splits.append(
            last_days_split(
                prep.spec,
                prep.horizon,
                history_days=config.history_days,
                train_stride_days=config.train_stride_days,
                eval_stride_days=config.eval_stride_days,
            )
        )
    shown: tuple[Split, Predictions, dict] | None = None
    for split in splits:
        preds, labels = fit_and_predict(prep, split, out)
        scores = score_split(prep, split, preds, labels["test"])
        results[split.name] = {
            "split": split.describe(prep.spec),
            "models": scores,
            "info": preds.info,
        }
        if shown is None:
            shown = (split, preds, labels)
    assert shown is not None
    main = results[prep.split.name]
    metrics = {
        **main["models"],
        "protocol": {
            "split": main["split"],
            "horizon_days": list(prep.horizon),
            "mc": config.mc,
            "cell_km": config.cell_km,
            "grid_shape": list(prep.spec.shape),
            "n_active_cells": int(prep.masks["active"].sum()),
            "n_region_cells": int(prep.masks["all"].sum()),
            "headline_mask": "active (cells with >= 1 event in the training period)",
            "seed": config.seed,
        },
        "completeness": prep.completeness,
        "catalog": prep.report.to_dict(),
        "model_info": main["info"],
        "warnings": prep.warnings,
    }
    for name, result in results.items():
        if name != prep.split.name:
            metrics[name] = result
    run.save_metrics(metrics)
    _report(run, prep, shown, metrics)
    return run.write_report()


def _report(
    run: Any, prep: Prepared, shown: tuple[Split, Predictions, dict], metrics: dict[str, Any]
) -> None:
    """Figures first, then tables."""
    from sklearn.metrics import roc_curve

    from quakesense.core.report import loss_curve_figure, roc_figure
    from quakesense.forecast.figures import forecast_maps_figure, gain_figure, molchan_figure

    split, preds, labels = shown
    config, active = prep.config, prep.masks["active"]
    names = list(preds.test)
    target = labels["test"]
    h0, h1 = prep.horizon
    run.heading("Forecast maps")
    k = int(np.argmax(target[:, active].sum(axis=1)))
    day = int(split.test_days[k])
    observed = prep.events.window(day + h0, day + h1, config.mc)
    run.figure(
        forecast_maps_figure(
            {n: preds.test[n][k] for n in names},
            prep.spec,
            observed,
            f"forecast from {prep.spec.date(day).date()} for days "
            f"[T+{h0}, T+{h1}); circles: observed M>={config.mc}",
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
        f"Split {split.name}: {metrics['protocol']['split']}. Target: M >= {config.mc} in days "
        f"[T+{h0}, T+{h1}). Headline mask: {int(active.sum())} active cells (>= 1 training "
        f"event); 'all': {int(prep.masks['all'].sum())} region cells. Seed {config.seed}."
    )
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
        }
        for n in names
        for c in [metrics[n]["csep"]]
    ]
    run.table(pd.DataFrame(rows), "pyCSEP Poisson consistency tests (non-overlapping test windows)")
    run.heading("Data and protocol")
    run.table(pd.DataFrame([metrics["completeness"]]), "completeness (training data only)")
    run.table(pd.DataFrame([{k: str(v) for k, v in prep.report.to_dict().items()}]), "catalog")
    for name, info in preds.info.items():
        run.text(f"{name}: {info}")


def grid_run(config: ForecastConfig, out: Path) -> Path:
    """Read and grid a catalog into `out/grid.zarr`, with a report of what was gridded."""
    import matplotlib.pyplot as plt

    from quakesense.core.report import RunFolder

    out = Path(out)
    run = RunFolder(out, "quakesense forecast: grid")
    run.save_config(config)
    region = Region.parse(config.region) if config.region else None
    catalog, report = read_catalog(
        config.catalog, columns=config.columns, region=region, sort=config.sort
    )
    if region is None:
        lat, lon = catalog["latitude_deg"], catalog["longitude_deg"]
        region = Region.from_bbox(lat.min(), lat.max() + 1e-6, lon.min(), lon.max() + 1e-6)
    start = pd.Timestamp(config.start, tz="UTC") if config.start else catalog["time"].iloc[0]
    end = pd.Timestamp(config.end, tz="UTC") if config.end else catalog["time"].iloc[-1]
    spec = GridSpec.from_region(region, config.cell_km, start, end + pd.Timedelta(days=1))
    events, dropped = grid_events(catalog, spec)
    write_grid(events, spec, out / "grid.zarr", progress=config.progress)
    run.save_metrics(
        {
            "grid": spec.to_dict(),
            "n_gridded": len(events),
            "dropped": dropped,
            "catalog": report.to_dict(),
        }
    )
    fig, ax = plt.subplots(figsize=(6, 5))
    counts = events.count_map(spec.shape)
    image = ax.imshow(np.log10(counts + 1), origin="lower", cmap="viridis")
    fig.colorbar(image, ax=ax, label="log10(1 + events)")
    ax.set_title(f"{len(events)} events on a {spec.shape[0]} x {spec.shape[1]} grid")
    run.figure(fig, "event_counts", "events per cell over the whole period")
    run.text("; ".join(report.warnings) or "no catalog warnings")
    return run.write_report()


def predict_run(
    model_path: Path,
    catalog_path: Path,
    date: str,
    out: Path,
    *,
    columns: str | None = None,
    sort: bool = False,
) -> Path:
    """Forecast map at `date` from a saved network, using catalog events before `date` only."""
    from quakesense.core.models import load_model
    from quakesense.core.report import RunFolder
    from quakesense.core.store import write_table
    from quakesense.forecast.convlstm import predict_maps
    from quakesense.forecast.figures import forecast_maps_figure

    saved = load_model(model_path, expected="forecast_convlstm")
    extra = saved.extra
    if extra.get("kind") == "convlstm_hybrid":
        raise InputError(
            "predict supports convlstm and cnn models; the hybrid needs its ETAS model, run "
            "`forecast evaluate` instead",
            source=model_path,
        )
    stored = GridSpec.from_dict(extra["grid"])
    catalog, report = read_catalog(catalog_path, columns=columns, sort=sort)
    forecast_day = stored.day_index(date)
    if forecast_day < 1:
        raise InputError(f"date {date} is before the model's grid start", field="--date")
    spec = GridSpec(
        stored.centre_latitude_deg,
        stored.centre_longitude_deg,
        stored.x,
        stored.y,
        stored.origin,
        forecast_day,
    )
    catalog = catalog[catalog["time"] < spec.date(forecast_day)].reset_index(drop=True)
    events, _ = grid_events(catalog, spec)
    out = Path(out)
    run = RunFolder(out, f"quakesense forecast: prediction from {spec.date(forecast_day).date()}")
    run.save_config({"model": str(model_path), "catalog": str(catalog_path), "date": date})
    group, _ = open_grid(write_grid(events, spec, out / "grid.zarr", progress=False))
    raw = predict_maps(saved.module, group, np.array([forecast_day]), int(extra["step_days"]))
    probability = _apply_platt(raw, extra["platt_calibration"])[0]
    lat, lon = spec.cell_centres_latlon()
    iy, ix = np.indices(spec.shape)
    table = pd.DataFrame(
        {
            "row": iy.ravel(),
            "col": ix.ravel(),
            "latitude_deg": lat.ravel(),
            "longitude_deg": lon.ravel(),
            "probability": probability.ravel(),
        }
    )
    write_table(table, out / "forecast.csv")
    h0, h1 = extra["horizon_days"]
    recent = events.window(forecast_day - 365, forecast_day, extra["mc"])
    run.figure(
        forecast_maps_figure(
            {extra["kind"]: probability},
            spec,
            recent,
            f"P(M>={extra['mc']} in [T+{h0}, T+{h1}) days); circles: "
            f"M>={extra['mc']} in the year before T",
        ),
        "forecast_map",
    )
    run.save_metrics(
        {
            "n_events_before_T": len(events),
            "max_probability": float(probability.max()),
            "catalog": report.to_dict(),
        }
    )
    return run.write_report()
