"""Command-line verbs of the precursor pipeline: simulate, features, train, evaluate, monitor.

Options that set a config field default to None ("not given"): the defaults live once, in the
pydantic config models, and `--config FILE` (e.g. an earlier run's config.json) is read first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer

from quakesense.core.cli_options import (
    ConfigOption,
    DeviceOption,
    DevicesOption,
    ForceOption,
    ProgressOption,
    StrategyOption,
    deprecated,
    renamed,
)
from quakesense.core.errors import InputError

if TYPE_CHECKING:
    from quakesense.precursor.features import WindowConfig
    from quakesense.precursor.inputs import WindowTable
    from quakesense.precursor.pipeline import EvaluateConfig, ExperimentConfig
    from quakesense.precursor.records import RecordConfig

app = typer.Typer(no_args_is_help=True)

MinMagnitude = Annotated[
    float | None, typer.Option(help="target events: magnitude >= (needs a magnitude column)")
]
MaxDistance = Annotated[
    float | None, typer.Option(help="target events: epicentral distance <= (km)")
]
StationLat = Annotated[float | None, typer.Option(help="station latitude, for --max-distance-km")]
StationLon = Annotated[float | None, typer.Option(help="station longitude, for --max-distance-km")]


def _echo_err(line: str) -> None:
    typer.echo(line, err=True)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="run folder for hits.csv, catalog.csv, config.json")],
    seed: Annotated[int | None, typer.Option(help="seed of the simulation")] = None,
    duration_days: Annotated[
        float | None, typer.Option("--duration-days", help="record length (days, > 1)")
    ] = None,
    days: Annotated[float | None, deprecated("--days", "--duration-days")] = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Simulate the 8-sensor tunnel AE station: hit table and earthquake catalog."""
    from quakesense.core.config import resolve_config
    from quakesense.core.report import RunFolder
    from quakesense.core.store import check_output_dir, write_table
    from quakesense.synth.ae_monitoring import AEMonitoringConfig
    from quakesense.synth.ae_monitoring import simulate as run_simulation

    check_output_dir(out, force=force)
    settings = resolve_config(
        AEMonitoringConfig,
        config,
        {"seed": seed, "duration_days": renamed(duration_days, days, "--days", "--duration-days")},
    )
    hits, catalog = run_simulation(settings, progress=progress is not False)
    with RunFolder.create(out, "Simulated AE monitoring station", force=force) as run:
        write_table(hits, run.path / "hits.csv")
        write_table(catalog, run.path / "catalog.csv")
        run.save_config(settings)
    typer.echo(f"{len(hits)} hits, {len(catalog)} events -> {out}")


@app.command()
def features(
    out: Annotated[Path, typer.Option(help="the window table written (one .csv/.parquet file)")],
    hits: Annotated[
        Path | None,
        typer.Option(
            help="hits: .csv/.parquet/.pridb/.DTA, .tradb transients, or a continuous waveform "
            "(.npy/.mseed/.sac/.csv column, with --samplerate-hz) from which hits are extracted"
        ),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            help="continuous record for the lab-quake route: signal statistics per window "
            "(.npy/.mseed/.sac, or a .csv/.parquet column given by --column)"
        ),
    ] = None,
    column: Annotated[str | None, typer.Option(help="signal column of a table record")] = None,
    samplerate_hz: Annotated[float | None, typer.Option(help="sampling rate of a waveform")] = None,
    threshold_v: Annotated[
        float | None, typer.Option(help="hit threshold (V) when extracting hits")
    ] = None,
    window: Annotated[str | None, typer.Option(help="window length, e.g. 1h or 10ms")] = None,
    step: Annotated[str | None, typer.Option(help="window step")] = None,
    count: Annotated[
        str | None, typer.Option(help="window hits, or AE events (coincidences): hits|events")
    ] = None,
    coincidence: Annotated[
        str | None, typer.Option(help="AE event: hits within this time of the first hit")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="UTC time of time 0 (ISO 8601)")] = None,
    repair: Annotated[bool, typer.Option(help="sort hits and drop duplicates")] = False,
    threshold_db: Annotated[
        float | None,
        typer.Option(
            help="b-value completeness floor (dB); default: the record's maximum curvature"
        ),
    ] = None,
    events_out: Annotated[
        Path | None,
        typer.Option(help="with --record: write failure times from a time_to_failure column"),
    ] = None,
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="overwrite an existing --out table")
    ] = False,
) -> None:
    """Window features of hits (rate, amplitude, frequency, energy, b, Ib) or of a continuous
    record (variance, kurtosis, quantiles, band powers, counts above thresholds).

    The window settings go to `<out>.window.json` beside the table (`--config` reads them
    back): `train` stores them in the model so that `monitor` computes the same features.
    """
    from quakesense.core.store import write_json, write_table
    from quakesense.core.units import parse_duration_s
    from quakesense.precursor.features import window_config_path

    if (hits is None) == (record is None):
        raise InputError("give exactly one of --hits and --record", field="--hits")
    if out.is_dir():
        raise InputError("is a folder; --out names the window table file", source=out)
    if out.exists() and not force:
        raise InputError("exists; pass --force to overwrite it", source=out, field="--out")
    sidecar = window_config_path(out)
    durations = {
        "window_s": None if window is None else parse_duration_s(window, field="--window"),
        "step_s": None if step is None else parse_duration_s(step, field="--step"),
    }
    if record is not None:
        windows, settings, failures = _record_windows(
            record, column, samplerate_hz, durations, config
        )
        if events_out is not None:
            if failures is None:
                raise InputError(
                    "the record has no time_to_failure column", source=record, field="--events-out"
                )
            write_table(pd.DataFrame({"time": failures}), events_out)
            typer.echo(f"{failures.size} failures -> {events_out}")
        table = windows.drop(columns="start_s").rename(columns={"end_s": "time"})
    else:
        windows, settings = _hit_windows(
            hits,  # type: ignore[arg-type]
            repair=repair,
            samplerate_hz=samplerate_hz,
            column=column,
            threshold_v=threshold_v,
            config=config,
            overrides={
                **durations,
                "threshold_db": threshold_db,
                "count": count,
                "coincidence_s": None
                if coincidence is None
                else parse_duration_s(coincidence, field="--coincidence"),
                "origin_utc": origin,
            },
        )
        end = windows["end_s"]
        base = settings.origin_utc
        table = windows.drop(columns=["start_s", "end_s"])
        table.insert(
            0, "time", pd.Timestamp(base) + pd.to_timedelta(end, unit="s") if base else end
        )
    sidecar.unlink(missing_ok=True)  # a table must never sit beside another table's settings
    write_table(table, out)
    write_json(settings.model_dump(mode="json"), sidecar)
    typer.echo(f"{len(table)} windows -> {out} (settings: {sidecar.name})")


def _hit_windows(
    path: Path,
    *,
    repair: bool,
    samplerate_hz: float | None,
    column: str | None,
    threshold_v: float | None,
    config: Path | None,
    overrides: dict[str, object],
) -> tuple[pd.DataFrame, WindowConfig]:
    """Windows of the hits (or AE events) of any hit source, and the resolved settings."""
    from quakesense.core.config import resolve_config
    from quakesense.precursor.features import (
        WindowConfig,
        completeness_note,
        resolve_threshold,
        window_features,
    )
    from quakesense.precursor.hits import HitConfig
    from quakesense.precursor.records import hit_events, load_hits

    settings = resolve_config(WindowConfig, config, overrides)
    table = load_hits(
        path,
        repair=repair,
        samplerate_hz=samplerate_hz,
        column=column,
        hit_config=None if threshold_v is None else HitConfig(threshold_v=threshold_v),
    )
    for note in table.attrs.get("notes", []):
        _echo_err(f"note: {path}: {note}")
    if settings.count == "events":
        table = hit_events(table, settings.coincidence_s)
        typer.echo(f"{len(table)} AE events from hit coincidences", err=True)
    settings = resolve_threshold(table, settings)
    note = completeness_note(table, settings)
    if note:
        _echo_err(f"note: {note}")
    return window_features(table, settings), settings


def _record_windows(
    path: Path,
    column: str | None,
    samplerate_hz: float | None,
    durations: dict[str, float | None],
    config: Path | None,
) -> tuple[pd.DataFrame, RecordConfig, np.ndarray | None]:
    """Signal-statistics windows of a continuous record, settings, failure times (if any)."""
    from quakesense.core.config import resolve_config
    from quakesense.core.store import read_table
    from quakesense.precursor.records import (
        RecordConfig,
        failure_times,
        read_record,
        record_features,
    )

    settings = resolve_config(RecordConfig, config, {**durations, "samplerate_hz": samplerate_hz})
    signal = read_record(path, column)
    failures = None
    if path.suffix.lower() in {".csv", ".txt", ".parquet"}:
        table = read_table(path)
        if "time_to_failure" in table.columns:
            failures = failure_times(table["time_to_failure"].to_numpy(), settings.samplerate_hz)
    return record_features(signal, settings), settings, failures


def _targets(
    events: Path, windows: WindowTable, settings: ExperimentConfig | EvaluateConfig
) -> np.ndarray:
    """Target event times on the window table's clock; the reader's notes go to stderr."""
    from quakesense.precursor.features import target_events
    from quakesense.precursor.inputs import read_event_list

    listed = read_event_list(
        events,
        numeric_time=windows.origin is None,
        station_lat_deg=settings.station_lat_deg,
        station_lon_deg=settings.station_lon_deg,
    )
    for note in listed.notes:
        _echo_err(f"note: {events}: {note}")
    return target_events(
        listed.time_s,
        listed.magnitude,
        listed.distance_km,
        min_magnitude=settings.min_magnitude,
        max_distance_km=settings.max_distance_km,
        source=str(events),
    )


def _window_config(features: Path, windows: pd.DataFrame) -> WindowConfig | None:
    """The hit-window settings `features` saved beside the table, or None (made elsewhere, or
    a continuous-record table, whose settings the monitor does not use)."""
    from pydantic import ValidationError

    from quakesense.core.store import read_json
    from quakesense.precursor.features import WindowConfig, window_config_path

    sidecar = window_config_path(features)
    if not sidecar.is_file():
        return None
    try:
        config = WindowConfig.model_validate(read_json(sidecar))
    except ValidationError:
        return None
    steps = np.diff(windows["end_s"].to_numpy(dtype=float))
    if steps.size and not np.isclose(np.median(steps), config.step_s):
        raise InputError(
            f"step_s {config.step_s:g} does not match the table's window spacing "
            f"{np.median(steps):g} s: settings of another table?",
            source=sidecar,
            field="step_s",
        )
    return config


def _origin(table: WindowTable, window: WindowConfig | None) -> pd.Timestamp | None:
    """UTC time of 0 s on the table's clock, when known."""
    if table.origin is not None:
        return table.origin
    if window is not None and window.origin_utc:
        return pd.Timestamp(window.origin_utc)
    return None


@app.command()
def train(
    features: Annotated[Path, typer.Option(help="window table: 'time' + numeric features")],
    events: Annotated[
        Path,
        typer.Option(
            help="event list: CSV ('time' [+ magnitude/mag, latitude, longitude]) or QuakeML"
        ),
    ],
    out: Annotated[Path, typer.Option(help="run folder (metrics.json, model/, report.html)")],
    horizon: Annotated[str | None, typer.Option(help="precursor horizon, e.g. 17h or 3s")] = None,
    split: Annotated[
        list[str] | None, typer.Option(help="random|time-blocked|leave-one-event-out (repeat)")
    ] = None,
    min_magnitude: MinMagnitude = None,
    max_distance_km: MaxDistance = None,
    station_lat: StationLat = None,
    station_lon: StationLon = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="MLP epoch limit")] = None,
    max_epochs: Annotated[int | None, deprecated("--max-epochs", "--epochs")] = None,
    mlp_preset: Annotated[str | None, typer.Option(help="MLP settings: fast|paper")] = None,
    sweep_trials: Annotated[
        int | None, typer.Option(help="Optuna trials per fold (training/validation parts only)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of folds, weights and baselines")] = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Train the MLP and baselines on every split; alarms, event-level scores, model, report."""
    from quakesense.core.config import resolve_config
    from quakesense.core.store import check_output_dir
    from quakesense.core.units import parse_duration_s
    from quakesense.precursor.inputs import read_window_table
    from quakesense.precursor.pipeline import ExperimentConfig, run_experiment, scores_table

    check_output_dir(out, force=force)
    settings = resolve_config(
        ExperimentConfig,
        config,
        {
            "horizon_s": None if horizon is None else parse_duration_s(horizon, field="--horizon"),
            "splits": split or None,
            "min_magnitude": min_magnitude,
            "max_distance_km": max_distance_km,
            "station_lat_deg": station_lat,
            "station_lon_deg": station_lon,
            "epochs": renamed(epochs, max_epochs, "--max-epochs", "--epochs"),
            "mlp_preset": mlp_preset,
            "sweep_trials": sweep_trials,
            "seed": seed,
            "device": device,
            "devices": devices,
            "strategy": strategy,
            "progress": progress,
        },
    )
    table = read_window_table(features, settings.features)
    targets = _targets(events, table, settings)
    window = _window_config(features, table.windows)
    _echo_err(
        f"training {1 + len(settings.baselines)} models on {len(table.windows)} windows, "
        f"{targets.size} target events, splits {settings.splits}"
    )
    report = run_experiment(
        table.windows,
        targets,
        settings,
        out,
        window=window,
        meta={"features_file": str(features), "events": str(events)},
        origin=_origin(table, window),
        force=force,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    typer.echo(scores_table(metrics).to_string(index=False, float_format="%.3f"))
    typer.echo(f"report {report}")


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option(help="model folder, or the run folder holding model/")],
    features: Annotated[Path, typer.Option(help="window table: 'time' + the model's features")],
    events: Annotated[Path, typer.Option(help="event list (as for train)")],
    out: Annotated[Path, typer.Option(help="run folder (metrics.json, report.html)")],
    min_magnitude: MinMagnitude = None,
    max_distance_km: MaxDistance = None,
    station_lat: StationLat = None,
    station_lon: StationLon = None,
    device: DeviceOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Score a saved model, without retraining, on the windows it was not trained on."""
    from quakesense.core.config import resolve_config
    from quakesense.core.persistence import model_dir
    from quakesense.core.store import check_output_dir, read_json
    from quakesense.precursor.inputs import read_window_table
    from quakesense.precursor.pipeline import EvaluateConfig, evaluate_saved

    check_output_dir(out, force=force)
    settings = resolve_config(
        EvaluateConfig,
        config,
        {
            "min_magnitude": min_magnitude,
            "max_distance_km": max_distance_km,
            "station_lat_deg": station_lat,
            "station_lon_deg": station_lon,
            "device": device,
            "progress": progress,
        },
    )
    saved = read_json(model_dir(model) / "model.json").get("extra", {})
    table = read_window_table(features, list(saved.get("features", [])) or None)
    targets = _targets(events, table, settings)
    report, metrics = evaluate_saved(
        model,
        table.windows,
        targets,
        settings,
        out,
        meta={"model": str(model), "features_file": str(features), "events": str(events)},
        origin=_origin(table, _window_config(features, table.windows)),
        force=force,
    )
    if "warning" in metrics:
        _echo_err(metrics["warning"])
    scores, events_scored = metrics["scores"], metrics["events"]
    typer.echo(
        f"{metrics['n_scored']} of {metrics['n_windows']} windows scored "
        f"({'TRAINING DATA' if metrics['training_data'] else 'held out'}): "
        f"F1 {scores['f1']:.3f}, ROC AUC {scores['roc_auc']:.3f}; "
        f"events warned {events_scored['n_warned']}/{events_scored['n_events']}, "
        f"false alarms/day {events_scored['false_alarms_per_day']:.2f}"
    )
    typer.echo(f"report {report}")


@app.command()
def monitor(
    model: Annotated[Path, typer.Option(help="model folder, or the run folder holding model/")],
    source: Annotated[Path | None, typer.Option(help="growing hit file (.csv or .pridb)")] = None,
    replay: Annotated[Path | None, typer.Option(help="replay a recorded hit file")] = None,
    speed: Annotated[
        float | None, typer.Option(help="replay speed, record s per wall s; 0 = max [0]")
    ] = None,
    poll_s: Annotated[
        float | None, typer.Option(help="seconds between polls of --source [1]")
    ] = None,
    idle_polls: Annotated[
        int | None,
        typer.Option(help="stop after this many empty polls (default: follow until Ctrl-C)"),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="alarm threshold (default: the model's, from training)")
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="UTC time of hit time 0 (default: the model's, if known)")
    ] = None,
    device: DeviceOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
) -> None:
    """Emit one JSON line per completed window (time, probability, alarm) as hits arrive."""
    from tqdm import tqdm

    from quakesense.core.config import resolve_config
    from quakesense.io.ae import read_hits
    from quakesense.precursor import monitor as live

    settings = resolve_config(
        live.MonitorConfig,
        config,
        {
            "speed": speed,
            "poll_s": poll_s,
            "idle_polls": idle_polls,
            "threshold": threshold,
            "origin_utc": origin,
            "device": device,
            "progress": progress,
        },
    )
    if (source is None) == (replay is None):
        raise InputError("give exactly one of --source and --replay", field="--source")
    if source is not None and not source.is_file():
        raise InputError("hit source not found", source=source, field="--source")
    watcher = live.Monitor.from_model(model, settings.threshold, settings.device)
    base = settings.origin_utc or watcher.window.origin_utc
    start = None if base is None else pd.Timestamp(base)
    if start is not None and start.tzinfo is None:
        start = start.tz_localize("UTC")
    bar = tqdm(desc="monitor", unit="window", disable=not settings.progress)

    def emit(done: pd.DataFrame) -> None:
        bar.update(len(done))
        bar.set_postfix(hits=watcher.seen_hits, refresh=False)
        for row in done.itertuples(index=False):
            line = {"window_end_s": row.end_s}
            if start is not None:
                line["window_end_utc"] = (start + pd.Timedelta(seconds=row.end_s)).isoformat()
            line.update(
                {
                    "n_hits": int(row.n_hits),
                    "probability": round(float(row.probability), 4),
                    "warning": bool(row.warning),
                }
            )
            typer.echo(json.dumps(line))

    try:
        if replay is not None:
            for batch in live.replay(read_hits(replay), settings.speed):
                done = watcher.push(batch)
                if len(done):
                    emit(done)
        else:
            follower = live.HitFollower(source, report=_echo_err)  # type: ignore[arg-type]
            live.follow(
                follower, watcher, emit, poll_s=settings.poll_s, idle_polls=settings.idle_polls
            )
    finally:
        bar.close()
        _echo_err(f"read {watcher.seen_hits} hits")
