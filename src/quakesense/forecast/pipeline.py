"""The forecast pipeline end to end: catalog -> grid -> split -> models -> scores -> report.

`evaluate` fits every model on the training period only (priors, normalisation, Mc, ETAS
parameters), chooses hyperparameters on the validation period, and scores the test period.
The stages live in their own modules: `prepare` (catalog, grid, split, masks), `baselines`,
`etas`, `networks` (stateful TBPTT training), `calibration`, `scoring` (metrics and report);
this module only runs them in order and builds the run folders (atomically, `--force` to
replace an earlier run).
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.training import torch_device
from quakesense.forecast.baselines import HistoricalRate, TabularForecaster, UniformRate
from quakesense.forecast.calibration import apply_platt
from quakesense.forecast.config import NETWORKS, ForecastConfig, PredictConfig
from quakesense.forecast.convlstm import predict_maps
from quakesense.forecast.features import FeatureConfig, indicator_features, rtl_features
from quakesense.forecast.grid import (
    EventGrid,
    GriddedEvents,
    GridSpec,
    densify_polygon,
    grid_events,
    write_grid,
)
from quakesense.forecast.networks import MODEL_KEY, train_network
from quakesense.forecast.prepare import LOG, Prepared, grid_spec, load_catalog, prepare
from quakesense.forecast.protocol import Split, last_days_split
from quakesense.forecast.scoring import Predictions, score_split, write_csep_ascii, write_report

PROFILED_PHASES = (
    "prepare",
    "fit_baselines",
    "fit_tabular",
    "fit_etas",
    "train_network",
    "score_split",
    "write_report",
)
"""Phases of `evaluate` that `benchmarks/bench_forecast_national.py --profile` measures."""

MAX_MAP_PANELS = 6
"""Forecast dates drawn in `forecast predict`'s figure (the latest ones); the CSV holds all."""


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Log a phase's start and, when it ends, its wall and CPU seconds and the peak resident
    memory of the process so far (the national-scale benchmark reads these lines)."""
    LOG.info("%s ...", name)
    t0, c0 = time.perf_counter(), time.process_time()
    yield
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    LOG.info(
        "%s: %.1f s wall, %.1f s CPU, peak RSS %.0f MB",
        name,
        time.perf_counter() - t0,
        time.process_time() - c0,
        peak_mb,
    )


def fit_baselines(
    prep: Prepared, split: Split, labels: dict[str, np.ndarray], preds: Predictions
) -> np.ndarray:
    """Uniform and historical rates (training period only); return the historical log-rate,
    the networks' prior."""
    shape, config = prep.spec.shape, prep.config
    hist = HistoricalRate().fit(
        prep.events.window(0, split.train_end_day),
        shape,
        np.arange(0, split.train_end_day - prep.horizon[1] + 1),
        prep.horizon,
        config.min_magnitude,
        prep.masks["all"],
    )
    uniform = UniformRate().fit(labels["train"], prep.masks["all"])
    for name, model in (("uniform", uniform), ("historical", hist)):
        if name in config.models:
            for period in ("valid", "test"):
                n = getattr(split, f"{period}_days").size
                getattr(preds, period)[name] = np.broadcast_to(model.predict_map(), (n, *shape))
    preds.info["historical"] = {"floor": hist.floor_, "smoothing_cells": hist.smoothing_cells}
    preds.info["uniform"] = {"probability": uniform.probability_}
    return hist.log_rate()


def fit_tabular(
    prep: Prepared,
    split: Split,
    labels: dict[str, np.ndarray],
    log_prior: np.ndarray,
    preds: Predictions,
) -> None:
    """Logistic regression and LightGBM on per-cell features, built one forecast day at a time
    (rows subsampled to `max_tabular_rows`), never as a days x cells x features array."""
    config, shape = prep.config, prep.spec.shape
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
        if name not in config.models:
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


def fit_and_predict(
    prep: Prepared, split: Split, model_dir: Path
) -> tuple[Predictions, dict[str, np.ndarray]]:
    """Fit every requested model on the training period and predict valid and test maps.

    Args:
        prep: The prepared problem.
        split: The split to fit and score.
        model_dir: Folder under which each network is saved (`model_dir/<name>`).

    Returns:
        The predictions and the targets of each period.
    """
    chosen = set(prep.config.models)
    labels = {p: prep.labels(getattr(split, f"{p}_days")) for p in ("train", "valid", "test")}
    preds = Predictions()
    with phase("uniform and historical rates"):
        log_prior = fit_baselines(prep, split, labels, preds)
    with phase("tabular models"):
        fit_tabular(prep, split, labels, log_prior, preds)
    etas = None
    if chosen & {"etas", "convlstm_hybrid"}:
        with phase("ETAS fit and forecasts"):
            etas = fit_etas(prep, split, preds)
    if etas is not None and "etas" in chosen:
        for period in ("valid", "test"):
            getattr(preds, period)["etas"] = etas(getattr(split, f"{period}_days"))
    for kind in NETWORKS:
        if kind not in chosen or (kind == "convlstm_hybrid" and etas is None):
            continue
        with phase(f"network {kind}"):
            result = train_network(prep, split, kind, log_prior, etas, model_dir / kind)
        if result is not None:
            preds.valid[kind], preds.test[kind] = result["valid"], result["test"]
            preds.histories[kind] = result["history"]
            preds.info[kind] = result["info"]
    return preds, labels


def etas_threshold(prep: Prepared, split: Split) -> float:
    """Default ETAS fit threshold: the estimated completeness (at most the target magnitude),
    raised in 0.1 steps until at most `etas_max_events` training events remain (noted)."""
    config = prep.config
    estimated = prep.completeness.get("mc_maxc")
    mc_fit = min(config.min_magnitude, estimated if estimated is not None else np.inf)
    magnitude = prep.events.window(0, split.train_end_day).magnitude
    floor = mc_fit
    while np.sum(magnitude >= mc_fit - 1e-9) > config.etas_max_events:
        mc_fit = round(mc_fit + 0.1, 1)
    if mc_fit > floor:
        prep.warn(
            f"ETAS fitted on M >= {mc_fit:g} (not {floor:g}) to keep at most "
            f"{config.etas_max_events} training events (--etas-max-events); its forecast of "
            f"M >= {config.min_magnitude:g} uses its Gutenberg-Richter fraction"
        )
    return mc_fit


def fit_etas(prep: Prepared, split: Split, preds: Predictions) -> Any:
    """Fit the space-time ETAS on training events; return days -> probability maps, or None
    (with a warning) when it cannot be fitted."""
    try:
        from quakesense.forecast.etas import SpaceTimeETAS
    except ImportError as exc:
        prep.warn(f"ETAS model not available ({exc}); ETAS and hybrid skipped")
        return None
    config, spec, events = prep.config, prep.spec, prep.events
    mc_fit = config.etas_mc
    if mc_fit is None:
        mc_fit = etas_threshold(prep, split)
    lat, lon = prep.region.latitude_deg, prep.region.longitude_deg
    dense_lat, dense_lon = densify_polygon(lat, lon, n=8)
    vx, vy = spec.projection.to_xy_km(dense_lat, dense_lon)
    train = events.window(0, split.train_end_day, mc_fit)
    model = SpaceTimeETAS(
        mc_fit,
        max_iter=config.etas_max_iter,
        max_lag_days=config.etas_max_lag_days,
        max_dist_km=config.etas_max_dist_km,
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
        prep.warn(f"ETAS fit failed ({exc}); ETAS and hybrid skipped")
        return None
    preds.info["etas"] = {
        "mc_fit": mc_fit,
        "params": model.params_.to_dict(),
        "b_value": model.b_value_,
        "branching_ratio": model.params_.branching_ratio(model.mc, model.b_value_, model.mmax),
        "n_training_events": len(train),
        "n_pairs": model.n_pairs_,
        "max_lag_days": config.etas_max_lag_days,
        "max_dist_km": config.etas_max_dist_km,
        "cascade": config.etas_cascade,
        "n_sim": config.etas_n_sim,
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
    # Fitted above the target magnitude: Gutenberg-Richter extrapolation of the counts.
    target = config.min_magnitude
    scale = 10.0 ** (model.b_value_ * max(mc_fit - target, 0.0))
    cache: dict[int, np.ndarray] = {}

    def probabilities(days: np.ndarray) -> np.ndarray:
        days = np.asarray(days, dtype=np.int64)
        missing = sorted({int(d) for d in days} - set(cache))
        if missing:
            grid = {
                "x_edges_km": spec.x.edges,
                "y_edges_km": spec.y.edges,
                "horizon_days": prep.horizon,
                "m_min": max(target, mc_fit),
                "window_km": config.etas_max_dist_km,
            }
            times = np.array(missing, dtype=float)
            if config.etas_cascade and config.etas_n_sim > 0:
                maps = model.occurrence_probabilities_many(
                    history,
                    times,
                    **grid,
                    n_sim=config.etas_n_sim,
                    seed=config.seed,
                    count_scale=scale,
                ).astype(np.float32)
            else:
                counts = model.expected_counts_many(
                    history, times, **grid, dtype=np.float32, cascade=config.etas_cascade
                )
                maps = -np.expm1(-scale * counts)
            for d, p in zip(missing, maps, strict=True):
                cache[d] = p
        return np.stack([cache[int(d)] for d in days])

    return probabilities


def run_protocol(config: ForecastConfig, run: Any, catalog: pd.DataFrame | None = None) -> None:
    """Prepare, fit, score and report into the (working) run folder `run`."""
    with phase("catalog, grid and split"):
        prep = prepare(config, run.path, catalog)
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
        models = run.path / "models" if split is prep.split else run.path / "models" / split.name
        preds, labels = fit_and_predict(prep, split, models)
        with phase(f"scores and pyCSEP tests ({split.name})"):
            scores, forecasts = score_split(prep, split, preds, labels["test"])
        folder = run.path / "forecasts" / ("" if split is prep.split else split.name)
        for name, forecast in forecasts.items():
            write_csep_ascii(forecast, folder / f"{name}_lonlat.dat")
        results[split.name] = {
            "split": split.describe(prep.spec),
            "models": scores,
            "info": preds.info,
        }
        if shown is None:
            shown = (split, preds, labels)
    main = results[prep.split.name]
    metrics = {
        **main["models"],
        "protocol": {
            "split": main["split"],
            "horizon_days": list(prep.horizon),
            "min_magnitude": config.min_magnitude,
            "cell_km": config.cell_km,
            "network_step_days": prep.step_days,
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
    assert shown is not None
    with phase("report"):
        write_report(run, prep, shown, metrics)


def evaluate(
    config: ForecastConfig,
    out: Path,
    catalog: pd.DataFrame | None = None,
    *,
    force: bool = False,
) -> Path:
    """Run the whole protocol into a new run folder `out` (built atomically): config.json,
    metrics.json, grid.zarr, models/, figures and report.html; return the report's path."""
    from quakesense.core.report import RunFolder

    with RunFolder.create(out, "quakesense forecast: evaluation", force=force) as run:
        run.save_config(config, catalog=str(config.catalog) if config.catalog else "<in-memory>")
        run_protocol(config, run, catalog)
        return run.write_report()


def grid_run(config: ForecastConfig, out: Path, *, force: bool = False) -> Path:
    """Read and grid a catalog into `out/grid.zarr`, with a report of what was gridded."""
    from quakesense.core.report import RunFolder
    from quakesense.forecast.figures import event_count_figure

    with RunFolder.create(out, "quakesense forecast: grid", force=force) as run:
        run.save_config(config)
        catalog, report, region = load_catalog(config, None)
        for note in report.warnings:
            LOG.warning(note)
        spec = grid_spec(config, catalog, region)
        events, dropped = grid_events(catalog, spec)
        write_grid(events, spec, run.path / "grid.zarr", progress=config.progress)
        run.save_metrics(
            {
                "grid": spec.to_dict(),
                "n_gridded": len(events),
                "dropped": dropped,
                "catalog": report.to_dict(),
            }
        )
        fig = event_count_figure(
            events.count_map(spec.shape),
            spec,
            f"{len(events)} events on a {spec.shape[0]} x {spec.shape[1]} grid",
        )
        run.figure(fig, "event_counts", "events per cell over the whole period")
        run.text("; ".join(report.warnings) or "no catalog warnings")
        return run.write_report()


def forecast_dates(text: str | None, spec: GridSpec) -> list[pd.Timestamp]:
    """The forecast times of `--date` (one date or several, comma-separated) as sorted,
    distinct UTC day starts within the model's grid."""
    if not text or not text.strip(" ,"):
        raise InputError("no forecast date given", field="--date")
    stamps = set()
    for item in (part.strip() for part in text.split(",")):
        try:
            stamp = pd.Timestamp(item)
        except ValueError as exc:
            raise InputError(
                f"'{item}' is not a date (YYYY-MM-DD expected)", field="--date"
            ) from exc
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        if spec.day_index(stamp) < 1:
            raise InputError(
                f"date {item} is before the model's grid start {spec.origin.date()}",
                field="--date",
            )
        stamps.add(stamp.normalize())
    return sorted(stamps)


@dataclass
class ForecastMap:
    """Forecasts of a saved network: its probabilities on the model's grid at one or more dates.

    Attributes:
        probability: P(at least one M >= mc in the horizon) per date and cell, (n_dates, ny, nx).
        spec: The model's grid, ending at the last forecast day.
        forecast_days: The forecast times T as day indices of `spec`, ascending.
        events: The catalog's events before the last T on the grid.
        n_outside_grid: Events before the last T outside the grid (ignored).
        extra: The model's stored settings (kind, mc, horizon_days, step_days, ...).
    """

    probability: np.ndarray
    spec: GridSpec
    forecast_days: np.ndarray
    events: GriddedEvents
    n_outside_grid: int
    extra: dict[str, Any]

    @property
    def dates(self) -> list[pd.Timestamp]:
        """The forecast times T (UTC day starts)."""
        return [self.spec.date(int(day)) for day in self.forecast_days]

    def table(self) -> pd.DataFrame:
        """One row per date and cell: `date`, `row`, `col`, `latitude_deg`, `longitude_deg`,
        `probability`."""
        lat, lon = self.spec.cell_centres_latlon()
        iy, ix = np.indices(self.spec.shape)
        n_dates = len(self.forecast_days)
        return pd.DataFrame(
            {
                "date": np.repeat([str(d.date()) for d in self.dates], iy.size),
                "row": np.tile(iy.ravel(), n_dates),
                "col": np.tile(ix.ravel(), n_dates),
                "latitude_deg": np.tile(lat.ravel(), n_dates),
                "longitude_deg": np.tile(lon.ravel(), n_dates),
                "probability": self.probability.reshape(-1),
            }
        )


def forecast_map(
    saved: Any,
    catalog: pd.DataFrame,
    date: str | None,
    *,
    max_gap_days: int,
    device: str,
    source: Path | str,
    progress: bool = False,
) -> ForecastMap:
    """The forecasts of a saved network at one or more dates, each from the events before it,
    in memory (no grid store is written): the one path of `forecast predict` and
    `ForecastPredictor`. Several dates cost one pass of the network over the catalog, the
    same as the latest date alone (the network is causal: the map at T reads days < T only).

    Args:
        saved: The loaded model (`core.persistence.load_model`).
        catalog: Canonical catalog (`io.catalog.read_catalog`), time-sorted.
        date: Forecast time T (UTC date), or several comma-separated.
        max_gap_days: Refuse a latest date more than this many days after the last event.
        device: `auto|cpu|cuda` for the network.
        source: The model folder, named in errors.
        progress: A progress bar over the network's steps (stderr).

    Raises:
        InputError: not a forecast network, the hybrid (it needs its ETAS fit), a bad date, or
            a date too long after the catalog's last event.
    """
    if saved.name not in (MODEL_KEY, "forecast_convlstm"):
        raise InputError(f"model is a '{saved.name}', expected a '{MODEL_KEY}'", source=source)
    extra = saved.extra
    if extra.get("kind") == "convlstm_hybrid":
        raise InputError(
            "predict supports convlstm and cnn models; the hybrid needs its ETAS model, run "
            "`forecast evaluate` instead",
            source=source,
        )
    stored = GridSpec.from_dict(extra["grid"])
    stamps = forecast_dates(date, stored)
    stamp = stamps[-1]
    last = catalog["time"].iloc[-1]
    gap_days = (stamp - last) / pd.Timedelta(days=1)
    if gap_days > max_gap_days:
        raise InputError(
            f"date {stamp.date()} is {gap_days:.0f} days after the catalog's last event "
            f"({last.date()}): the forecast would read an empty recent past; give a date at "
            f"most {max_gap_days} days after it (--max-gap-days) or a newer catalog",
            field="--date",
        )
    forecast_days = np.array([stored.day_index(s) for s in stamps], dtype=np.int64)
    forecast_day = int(forecast_days[-1])
    spec = GridSpec(
        stored.centre_latitude_deg,
        stored.centre_longitude_deg,
        stored.x,
        stored.y,
        stored.origin,
        forecast_day,
    )
    catalog = catalog[catalog["time"] < spec.date(forecast_day)].reset_index(drop=True)
    events, dropped = grid_events(catalog, spec)
    if dropped["outside_grid"]:
        LOG.warning("%d events outside the model's grid were ignored", dropped["outside_grid"])
    raw = predict_maps(
        saved.module,
        EventGrid(events, spec),
        forecast_days,
        int(extra["step_days"]),
        device=torch_device(device),
        progress=progress,
    )
    return ForecastMap(
        probability=apply_platt(raw, extra["platt_calibration"]),
        spec=spec,
        forecast_days=forecast_days,
        events=events,
        n_outside_grid=int(dropped["outside_grid"]),
        extra=extra,
    )


def predict_run(config: PredictConfig, out: Path, *, force: bool = False) -> Path:
    """Forecast maps at `config.date` (one date or several, comma-separated) from a saved
    network, each from the catalog's events before it."""
    from quakesense.core.persistence import load_model, model_dir
    from quakesense.core.report import RunFolder
    from quakesense.core.store import write_table
    from quakesense.forecast.figures import forecast_maps_figure
    from quakesense.io.catalog import read_catalog

    if config.model is None:
        raise InputError("no model given", field="--model")
    if config.catalog is None:
        raise InputError("no catalog given", field="--catalog")
    folder = model_dir(config.model)
    saved = load_model(folder)
    catalog, report = read_catalog(config.catalog, columns=config.columns, sort=config.sort)
    result = forecast_map(
        saved,
        catalog,
        config.date,
        max_gap_days=config.max_gap_days,
        device=config.device,
        source=folder,
        progress=config.progress,
    )
    spec, events, extra = result.spec, result.events, result.extra
    dates = [str(d.date()) for d in result.dates]
    forecast_day = int(result.forecast_days[-1])
    span = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} ({len(dates)} dates)"
    title = f"quakesense forecast: prediction from {span}"
    with RunFolder.create(out, title, force=force) as run:
        run.save_config(config, model_folder=str(folder))
        write_table(result.table(), run.path / "forecast.csv")
        h0, h1 = extra["horizon_days"]
        mc = extra["mc"]
        recent = events.window(forecast_day - 365, forecast_day, mc)
        panels = list(zip(dates, result.probability, strict=True))[-MAX_MAP_PANELS:]
        shown = {f"{extra['kind']}, T = {d}": p for d, p in panels}
        run.figure(
            forecast_maps_figure(
                shown,
                spec,
                recent,
                f"P(M>={mc} in [T+{h0}, T+{h1}) days); circles: M>={mc} in the year before "
                f"{dates[-1]}"
                + (
                    f"; the last {MAX_MAP_PANELS} of {len(dates)} dates"
                    if len(dates) > MAX_MAP_PANELS
                    else ""
                ),
            ),
            "forecast_map",
        )
        run.save_metrics(
            {
                "dates": dates,
                "n_events_before_last_T": len(events),
                "n_events_outside_grid": result.n_outside_grid,
                "max_probability": {
                    d: float(p.max()) for d, p in zip(dates, result.probability, strict=True)
                },
                "catalog": report.to_dict(),
            }
        )
        return run.write_report()
