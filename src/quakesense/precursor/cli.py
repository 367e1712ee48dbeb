"""Command-line verbs of the precursor pipeline: simulate, features, train, evaluate, monitor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer

from quakesense.core.errors import InputError

if TYPE_CHECKING:
    from quakesense.precursor.features import WindowConfig

app = typer.Typer(no_args_is_help=True)


def _windows_and_targets(
    features: Path, events: Path, min_magnitude: float | None
) -> tuple[pd.DataFrame, np.ndarray]:
    """A user's window-feature table (`time` = window end, ISO 8601 or seconds) and event list."""
    from quakesense.core.store import read_table
    from quakesense.core.units import time_column_to_seconds
    from quakesense.precursor.features import target_events

    table = read_table(features)
    if "time" not in table.columns:
        raise InputError(
            "window table needs a 'time' column (window end)", source=features, field="time"
        )
    if table.empty:
        raise InputError("window table has no rows", source=features, field="time")
    end_s, origin = time_column_to_seconds(table["time"], source=str(features))
    steps = np.diff(end_s)
    if (steps <= 0).any():
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise InputError(
            "times must increase strictly (unsorted or duplicated)",
            source=features,
            field="time",
            row=row,
        )
    table = table.drop(columns="time")
    table.insert(0, "start_s", end_s - float(np.median(steps)) if steps.size else end_s)
    table.insert(1, "end_s", end_s)
    catalog = read_table(events)
    if "time" not in catalog.columns:
        raise InputError("event list needs a 'time' column", source=events, field="time")
    event_s, _ = time_column_to_seconds(catalog["time"], source=str(events))
    if origin is None and not pd.api.types.is_numeric_dtype(catalog["time"]):
        raise InputError(
            "event times are ISO 8601 but window times are seconds", source=events, field="time"
        )
    magnitude = catalog["magnitude"].to_numpy(dtype=float) if "magnitude" in catalog else None
    targets = target_events(
        event_s,
        magnitude,
        None,
        min_magnitude=min_magnitude,
        max_distance_km=None,
        source=str(events),
    )
    return table, targets


def _window_config(features: Path, windows: pd.DataFrame) -> WindowConfig | None:
    """The settings `features` saved beside the table, or None for a table made elsewhere."""
    from pydantic import ValidationError

    from quakesense.core.store import read_json
    from quakesense.precursor.features import WindowConfig, window_config_path

    sidecar = window_config_path(features)
    if not sidecar.is_file():
        return None
    try:
        config = WindowConfig.model_validate(read_json(sidecar))
    except ValidationError as error:
        raise InputError(f"not a window configuration: {error}", source=sidecar) from error
    steps = np.diff(windows["end_s"].to_numpy(dtype=float))
    if steps.size and not np.isclose(np.median(steps), config.step_s):
        raise InputError(
            f"step_s {config.step_s:g} does not match the table's window spacing "
            f"{np.median(steps):g} s: settings of another table?",
            source=sidecar,
            field="step_s",
        )
    return config


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="folder for hits.csv, catalog.csv, config.json")],
    seed: Annotated[int, typer.Option()] = 0,
    days: Annotated[float, typer.Option(help="length of the record")] = 35.0,
) -> None:
    """Simulate the 8-sensor tunnel AE station: hit table and earthquake catalog."""
    from quakesense.core.store import atomic_dir, write_json, write_table
    from quakesense.synth.ae_monitoring import AEMonitoringConfig
    from quakesense.synth.ae_monitoring import simulate as run

    config = AEMonitoringConfig(seed=seed, duration_days=days)
    hits, catalog = run(config)
    with atomic_dir(out) as tmp:
        write_table(hits, tmp / "hits.csv")
        write_table(catalog, tmp / "catalog.csv")
        write_json(config.model_dump(mode="json"), tmp / "config.json")
    typer.echo(f"{len(hits)} hits, {len(catalog)} events -> {out}")


@app.command()
def features(
    hits: Annotated[Path, typer.Option(help="hits: .csv/.parquet/.pridb/.DTA")],
    out: Annotated[Path, typer.Option(help="window table (.csv or .parquet)")],
    window: Annotated[str, typer.Option(help="window length, e.g. 1h")] = "1h",
    step: Annotated[str, typer.Option(help="window step")] = "1h",
    origin: Annotated[str | None, typer.Option(help="UTC time of hit time 0 (ISO 8601)")] = None,
    repair: Annotated[bool, typer.Option(help="sort hits and drop duplicates")] = False,
    threshold_db: Annotated[
        float | None,
        typer.Option(help="completeness of b/Ib (dB); default: the record's minimum amplitude"),
    ] = None,
) -> None:
    """Window features (rate, amplitude, frequency, energy, b, Ib) of a hit table.

    The window settings, with the threshold resolved, go to `<out>.window.json` beside the table:
    `train` stores them in the model so that `monitor` computes the same features.
    """
    from quakesense.core.store import write_json, write_table
    from quakesense.core.units import parse_duration_s
    from quakesense.io.ae import read_hits
    from quakesense.precursor.features import (
        WindowConfig,
        resolve_threshold,
        window_config_path,
        window_features,
    )

    table = read_hits(hits, repair=repair)
    config = resolve_threshold(
        table,
        WindowConfig(
            window_s=parse_duration_s(window, field="--window"),
            step_s=parse_duration_s(step, field="--step"),
            threshold_db=threshold_db,
        ),
    )
    windows = window_features(table, config)
    end = windows["end_s"]
    windows.insert(
        0, "time", pd.Timestamp(origin) + pd.to_timedelta(end, unit="s") if origin else end
    )
    sidecar = window_config_path(out)
    sidecar.unlink(missing_ok=True)  # a table must never sit beside another table's settings
    write_table(windows.drop(columns=["start_s", "end_s"]), out)
    write_json(config.model_dump(mode="json"), sidecar)
    typer.echo(f"{len(windows)} windows -> {out} (settings: {sidecar.name})")


def _experiment(
    features: Path,
    events: Path,
    horizon: str,
    split: list[str] | None,
    out: Path,
    min_magnitude: float | None,
    max_epochs: int | None,
    sweep_trials: int,
    seed: int,
    mlp_preset: str,
    model: Path | None = None,
) -> None:
    from quakesense.core.units import parse_duration_s
    from quakesense.precursor.features import DEFAULT_FEATURES, SPLITS
    from quakesense.precursor.models import MLP_PRESETS
    from quakesense.precursor.pipeline import ExperimentConfig, run_experiment, scores_table

    windows, targets = _windows_and_targets(features, events, min_magnitude)
    window = _window_config(features, windows)
    chosen = split or list(SPLITS)
    bad = sorted(set(chosen) - set(SPLITS))
    if bad:
        raise InputError(f"unknown split(s) {bad}; choose from {list(SPLITS)}", field="--split")
    names = [c for c in DEFAULT_FEATURES if c in windows.columns] or [
        c for c in windows.columns[2:] if pd.api.types.is_numeric_dtype(windows[c])
    ]
    if not names:
        raise InputError("window table has no numeric feature column", source=features)
    if mlp_preset not in MLP_PRESETS:
        raise InputError(
            f"unknown MLP preset '{mlp_preset}'; choose from {list(MLP_PRESETS)}",
            field="--mlp-preset",
        )
    preset = MLP_PRESETS[mlp_preset]
    train = preset.train.model_copy(
        update={
            "max_epochs": preset.train.max_epochs if max_epochs is None else max_epochs,
            "progress": False,
            "seed": seed,
        }
    )
    config = ExperimentConfig(
        horizon_s=parse_duration_s(horizon, field="--horizon"),
        features=names,
        splits=chosen,
        mlp=preset.model_copy(update={"train": train}),
        sweep_trials=sweep_trials,
        seed=seed,
    )
    report = run_experiment(
        windows,
        targets,
        config,
        out,
        window=window,
        extra_config={"features_file": str(features), "events": str(events)},
    )
    metrics = json.loads((out / "metrics.json").read_text())
    if model is not None:
        from quakesense.core.metrics import binary_scores
        from quakesense.core.store import write_json
        from quakesense.precursor.features import feature_matrix, label_windows
        from quakesense.precursor.models import MLPClassifier

        saved, extra = MLPClassifier.load(model)
        proba = saved.predict_proba(feature_matrix(windows, list(extra["features"]), str(features)))
        labels = label_windows(windows, targets, config.horizon_s)
        metrics["saved_model"] = {"all-windows": {"mlp": binary_scores(labels, proba)}}
        write_json(metrics, out / "metrics.json")
    typer.echo(scores_table(metrics).to_string(index=False, float_format="%.3f"))
    typer.echo(f"report {report}")


@app.command()
def train(
    features: Annotated[Path, typer.Option(help="window table: 'time' + numeric features")],
    events: Annotated[Path, typer.Option(help="event list CSV: 'time', optional 'magnitude'")],
    out: Annotated[Path, typer.Option(help="run folder (metrics.json, model/, report.html)")],
    horizon: Annotated[str, typer.Option(help="precursor horizon, e.g. 17h")] = "17h",
    split: Annotated[
        list[str] | None, typer.Option(help="random|time-blocked|leave-one-event-out")
    ] = None,
    min_magnitude: Annotated[float | None, typer.Option(help="target events: magnitude >=")] = None,
    max_epochs: Annotated[
        int | None, typer.Option(help="override the preset's epoch limit")
    ] = None,
    mlp_preset: Annotated[str, typer.Option(help="MLP settings: fast|paper")] = "fast",
    sweep_trials: Annotated[int, typer.Option(help="Optuna trials of the paper's sweep")] = 0,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the MLP and baselines on every split; write metrics, model and report."""
    _experiment(
        features,
        events,
        horizon,
        split,
        out,
        min_magnitude,
        max_epochs,
        sweep_trials,
        seed,
        mlp_preset,
    )


@app.command()
def evaluate(
    features: Annotated[Path, typer.Option(help="window table: 'time' + numeric features")],
    events: Annotated[Path, typer.Option(help="event list CSV: 'time', optional 'magnitude'")],
    out: Annotated[Path, typer.Option(help="run folder")],
    model: Annotated[Path | None, typer.Option(help="also score this saved MLP")] = None,
    horizon: Annotated[str, typer.Option()] = "17h",
    split: Annotated[list[str] | None, typer.Option()] = None,
    min_magnitude: Annotated[float | None, typer.Option()] = None,
    max_epochs: Annotated[
        int | None, typer.Option(help="override the preset's epoch limit")
    ] = None,
    mlp_preset: Annotated[str, typer.Option(help="MLP settings: fast|paper")] = "fast",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Cross-validated scores of all models on all splits (and of a saved model, if given)."""
    _experiment(
        features, events, horizon, split, out, min_magnitude, max_epochs, 0, seed, mlp_preset, model
    )


@app.command()
def monitor(
    model: Annotated[Path, typer.Option(help="saved precursor model folder (train's model/)")],
    source: Annotated[Path | None, typer.Option(help="growing hit file (.csv or .pridb)")] = None,
    replay: Annotated[Path | None, typer.Option(help="replay a recorded hit file")] = None,
    speed: Annotated[float, typer.Option(help="replay speed, record s per wall s; 0 = max")] = 0.0,
    poll_s: Annotated[float, typer.Option(help="seconds between polls of --source")] = 1.0,
    idle_polls: Annotated[int, typer.Option(help="stop after this many empty polls")] = 10,
    threshold: Annotated[float, typer.Option(help="warning when P >= this")] = 0.5,
) -> None:
    """Emit one JSON line per completed window (probability, warning) as hits arrive."""
    from quakesense.io.ae import read_hits
    from quakesense.precursor import monitor as live

    if (source is None) == (replay is None):
        raise InputError("give exactly one of --source and --replay", field="--source")
    watcher = live.Monitor.from_model(model, threshold)

    def emit(done: pd.DataFrame) -> None:
        for row in done.itertuples(index=False):
            typer.echo(
                json.dumps(
                    {
                        "window_end_s": row.end_s,
                        "n_hits": int(row.n_hits),
                        "probability": round(float(row.probability), 4),
                        "warning": bool(row.warning),
                    }
                )
            )

    if replay is not None:
        for batch in live.replay(read_hits(replay), speed):
            done = watcher.push(batch)
            if len(done):
                emit(done)
    else:
        live.follow(live.HitFollower(source), watcher, emit, poll_s=poll_s, idle_polls=idle_polls)
    typer.echo(f"read {watcher.seen_hits} hits", err=True)
