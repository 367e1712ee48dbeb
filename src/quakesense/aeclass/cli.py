"""Command-line verbs of the aeclass pipeline: simulate, pick, train, evaluate, cluster, locate.

Every option that sets a config field defaults to None ("not given"): defaults live once, in the
config models, and `--config FILE` (e.g. an earlier run's config.json) is read first, then the
given flags override it. Every verb writes a new run folder at `--out`, built aside and moved
into place only on success; an earlier run there is replaced only with `--force`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

app = typer.Typer(no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", help="output folder (a new run folder)")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="seed (default 0)")]
PicksOption = Annotated[
    Path, typer.Option("--picks", help="picks table: event_id, sensor, phase, time_s")
]
SensorsOption = Annotated[Path, typer.Option("--sensors", help="sensors: sensor, x_m, y_m, z_m")]
LabelsOption = Annotated[Path, typer.Option("--labels", help="labels table: event_id, label")]


def _inputs(
    picks: Path,
    sensors: Path,
    *,
    min_picks: int,
    out: Path,
    force: bool,
    velocity_m_s: float | None = None,
):
    """Check `--out` first (before any work), then read and cross-check picks and sensors."""
    from quakesense.core.store import check_output_dir
    from quakesense.io.picks import check_picks, read_picks, read_sensors

    check_output_dir(out, force=force)

    table, sensor_table = read_picks(picks), read_sensors(sensors)
    check_picks(table, sensor_table, min_picks=min_picks, source=picks, velocity_m_s=velocity_m_s)
    return table, sensor_table


@app.command()
def simulate(
    out: OutOption,
    seed: SeedOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Simulate the default hydraulic-fracturing test: picks.csv, sensors.csv, events.csv.

    Vectorised and done in under a second: `--progress` is accepted and has no bar to show.
    """
    from quakesense import __version__
    from quakesense.core.config import META_KEY, resolve_config
    from quakesense.core.store import atomic_dir, check_output_dir, write_json, write_table
    from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac

    check_output_dir(out, force=force)
    settings = resolve_config(HydrofracConfig, config, {"seed": seed})
    data = simulate_hydrofrac(settings)
    with atomic_dir(out, force=force) as folder:
        write_table(data.picks, folder / "picks.csv")
        write_table(data.sensors, folder / "sensors.csv")
        write_table(data.events, folder / "events.csv")
        document = settings.model_dump(mode="json")
        document[META_KEY] = {"version": __version__}
        write_json(document, folder / "config.json")
    typer.echo(f"{len(data.events)} events, {len(data.picks)} picks -> {out}")


@app.command()
def pick(
    tradb: Annotated[Path, typer.Option("--tradb", help="Vallen transient database")],
    out: OutOption,
    config: ConfigOption = None,
    min_snr_db: Annotated[
        float | None, typer.Option(help="drop P picks below this SNR (default 6 dB)")
    ] = None,
    event_window_s: Annotated[
        float | None, typer.Option(help="coincidence window of an event (default 1 ms)")
    ] = None,
    s_picks: Annotated[
        bool | None, typer.Option("--s-picks/--no-s-picks", help="look for S onsets")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Pick P (and visible S) onsets in a .tradb: OUT/picks.csv for `aeclass locate`."""
    from quakesense.aeclass.waveforms import PickConfig, pick_tradb, waveform_figure
    from quakesense.core.config import resolve_config
    from quakesense.core.report import RunFolder
    from quakesense.core.store import check_output_dir, write_table
    from quakesense.io.ae import read_tradb

    settings = resolve_config(
        PickConfig,
        config,
        {"min_snr_db": min_snr_db, "event_window_s": event_window_s, "s_picks": s_picks},
    )
    check_output_dir(out, force=force)
    picks, left_out = pick_tradb(tradb, settings)
    with RunFolder.create(out, "AE picks from transient records", force=force) as run:
        run.save_config(settings, tradb=str(tradb))
        run.text(
            f"{picks['event_id'].nunique()} events, {int((picks['phase'] == 'P').sum())} P and "
            f"{int((picks['phase'] == 'S').sum())} S picks from {tradb.name}. Left out: "
            f"{left_out['repeated_channel']} later transients of a channel within an event, "
            f"{left_out['low_snr_p']} P picks below {settings.min_snr_db} dB SNR, "
            f"{left_out['s_not_visible']} S onsets not visible (jump below "
            f"{settings.min_s_snr_db} dB)."
        )
        first = picks[picks["event_id"] == picks["event_id"].iloc[0]]
        run.figure(
            waveform_figure(read_tradb(tradb, trai=sorted(set(first["trai"]))), first),
            "waveforms",
            f"Event {first['event_id'].iloc[0]}: transients with their P (red) and S (blue) picks.",
        )
        run.table(picks, caption="Picks (weight = 1 - noise/signal amplitude ratio)")
        write_table(picks, run.path / "picks.csv")
        run.save_metrics({"n_picks": len(picks), "left_out": left_out})
        run.write_report()
    typer.echo(f"{len(picks)} picks -> {out / 'picks.csv'}")


@app.command()
def train(
    picks: PicksOption,
    sensors: SensorsOption,
    labels: LabelsOption,
    out: OutOption,
    seed: SeedOption = None,
    config: ConfigOption = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="epoch limit")] = None,
    max_epochs: Annotated[int | None, deprecated("--max-epochs", "--epochs")] = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Train the profile classifier and its baselines; write model/, metrics and report.html."""
    from quakesense.aeclass.classify import ClassifierConfig, profile_data
    from quakesense.aeclass.training import run_training
    from quakesense.core.config import resolve_config
    from quakesense.core.store import read_table

    settings = resolve_config(
        ClassifierConfig,
        config,
        {
            "seed": seed,
            "train.max_epochs": renamed(epochs, max_epochs, "--max-epochs", "--epochs"),
            "train.device": device,
            "train.devices": devices,
            "train.strategy": strategy,
            "train.progress": progress,
        },
    )
    table, sensor_table = _inputs(picks, sensors, min_picks=2, out=out, force=force)
    data = profile_data(
        table,
        list(sensor_table["sensor"]),
        mask_channel=settings.mask_channel,
        labels=read_table(labels),
        labels_source=labels,
    )
    meta = {"picks": str(picks), "sensors": str(sensors), "labels": str(labels)}
    report = run_training(data, settings, out, force=force, meta=meta)
    typer.echo(f"report {report}")


@app.command()
def evaluate(
    model: Annotated[
        Path, typer.Option("--model", help="model folder, or the run folder holding model/")
    ],
    picks: PicksOption,
    sensors: SensorsOption,
    labels: LabelsOption,
    out: OutOption,
    seed: Annotated[int | None, typer.Option(help="bootstrap seed (default 0)")] = None,
    include_training: Annotated[
        bool | None,
        typer.Option(
            "--include-training/--no-include-training",
            help="also score events the model was trained on (labelled as such)",
        ),
    ] = None,
    device: DeviceOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Score a saved classifier on labelled held-out events (never retrains).

    One network pass and a bootstrap, done in seconds (2 s for the 765 simulated events):
    `--progress` is accepted and has no bar to show.
    """
    from quakesense.aeclass.classify import load_classifier, profile_data
    from quakesense.aeclass.training import EvaluateConfig, run_evaluation
    from quakesense.core.config import resolve_config
    from quakesense.core.store import read_json, read_table

    settings = resolve_config(
        EvaluateConfig,
        config,
        {"seed": seed, "include_training": include_training, "device": device},
    )
    saved = load_classifier(model)
    table, _ = _inputs(picks, sensors, min_picks=2, out=out, force=force)
    data = profile_data(
        table,
        saved.extra["sensors"],
        phases=saved.extra["phases"],
        mask_channel=saved.extra["mask_channel"],
        labels=read_table(labels),
        classes=saved.extra["classes"],
        labels_source=labels,
    )
    report = run_evaluation(
        saved,
        data,
        out,
        settings,
        force=force,
        meta={"model": str(model), "picks": str(picks), "labels": str(labels)},
    )
    metrics = read_json(out / "metrics.json")
    if "warning" in metrics:
        typer.echo(metrics["warning"], err=True)
    scored = metrics[metrics["scored"]]
    typer.echo(f"{metrics['scored']}: accuracy {scored['accuracy']:.3f}; report {report}")


@app.command()
def cluster(
    picks: PicksOption,
    sensors: SensorsOption,
    out: OutOption,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="optional labels, only to score clusters")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="gmm (Gaussian mixture, BIC) | hdbscan (default gmm)")
    ] = None,
    n_clusters: Annotated[
        int | None, typer.Option(help="gmm clusters; default: chosen by BIC")
    ] = None,
    seed: SeedOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Cluster unlabelled events by their arrival-time profiles; t-SNE map and report."""
    from quakesense.aeclass.clustering import ClusterConfig, run_clustering
    from quakesense.core.config import resolve_config
    from quakesense.core.store import read_table

    settings = resolve_config(
        ClusterConfig, config, {"method": method, "n_clusters": n_clusters, "seed": seed}
    )
    table, sensor_table = _inputs(picks, sensors, min_picks=2, out=out, force=force)
    metrics = run_clustering(
        table,
        list(sensor_table["sensor"]),
        settings,
        out,
        labels=read_table(labels) if labels is not None else None,
        labels_source=labels,
        force=force,
        meta={"picks": str(picks), "sensors": str(sensors)},
    )
    scored = f", adjusted Rand index {metrics['adjusted_rand']:.3f}" if labels else ""
    typer.echo(f"{metrics['n_clusters']} clusters{scored}; report {out / 'report.html'}")


@app.command()
def locate(
    picks: PicksOption,
    sensors: SensorsOption,
    out: OutOption,
    method: Annotated[
        str | None,
        typer.Option(help="geiger | grid | geiger-sc | grid-sc | aniso | gp | mlp | hybrid"),
    ] = None,
    velocity_m_s: Annotated[
        float | None,
        typer.Option(help="P velocity; default: fitted to events with known x_m, y_m, z_m"),
    ] = None,
    vs_m_s: Annotated[
        float | None, typer.Option(help="S velocity; default: fitted like the P velocity")
    ] = None,
    use_s: Annotated[
        bool | None, typer.Option("--use-s/--no-use-s", help="use S picks where present")
    ] = None,
    folds: Annotated[
        int | None, typer.Option(help="cross-validation folds; default leave-one-out")
    ] = None,
    seed: SeedOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Locate events from P (and S) picks; with true positions, score by cross-validation."""
    from quakesense.aeclass.location import LocateConfig
    from quakesense.aeclass.workflow import locate_tables
    from quakesense.core.config import resolve_config

    settings = resolve_config(
        LocateConfig,
        config,
        {
            "method": method,
            "velocity_m_s": velocity_m_s,
            "vs_m_s": vs_m_s,
            "use_s": use_s,
            "folds": folds,
            "seed": seed,
            "progress": progress,
        },
    )
    table, sensor_table = _inputs(
        picks, sensors, min_picks=4, out=out, force=force, velocity_m_s=settings.velocity_m_s
    )
    metrics = locate_tables(
        table,
        sensor_table,
        settings,
        out,
        force=force,
        meta={"picks": str(picks), "sensors": str(sensors)},
    )
    if "note" in metrics:
        typer.echo(f"note: {metrics['note']}", err=True)
    if "rmse_m" in metrics:
        typer.echo(f"{settings.method}: cross-validated RMSE {1e3 * metrics['rmse_m']:.2f} mm")
    typer.echo(f"locations {out / 'locations.csv'}")
