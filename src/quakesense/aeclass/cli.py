"""Command-line verbs of the aeclass pipeline: simulate, train, evaluate, locate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", help="output folder")]
PicksOption = Annotated[
    Path, typer.Option("--picks", help="picks table: event_id, sensor, phase, time_s")
]
SensorsOption = Annotated[Path, typer.Option("--sensors", help="sensors: sensor, x_m, y_m, z_m")]
LabelsOption = Annotated[Path, typer.Option("--labels", help="labels table: event_id, label")]


@app.command()
def simulate(
    out: OutOption,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 0,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON HydrofracConfig")] = None,
) -> None:
    """Simulate the default hydraulic-fracturing test: picks.csv, sensors.csv, events.csv."""
    from quakesense.core.config import build_config, load_config
    from quakesense.core.store import write_json, write_table
    from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac

    settings = (
        load_config(config, HydrofracConfig, seed=seed)
        if config
        else build_config(HydrofracConfig, {"seed": seed})
    )
    data = simulate_hydrofrac(settings)
    write_table(data.picks, out / "picks.csv")
    write_table(data.sensors, out / "sensors.csv")
    write_table(data.events, out / "events.csv")
    write_json(settings.model_dump(mode="json"), out / "config.json")
    typer.echo(f"{len(data.events)} events, {len(data.picks)} picks -> {out}")


@app.command()
def train(
    picks: PicksOption,
    sensors: SensorsOption,
    labels: LabelsOption,
    out: OutOption,
    seed: Annotated[
        int | None, typer.Option(help="split, initialisation and baseline seed")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON ClassifierConfig")] = None,
    max_epochs: Annotated[int | None, typer.Option(help="override train.max_epochs")] = None,
) -> None:
    """Train the profile classifier and its baselines; write model/, metrics and report.html."""
    from quakesense.aeclass.classify import ClassifierConfig, profile_data
    from quakesense.aeclass.training import run_training
    from quakesense.core.config import build_config, load_config
    from quakesense.core.store import read_table
    from quakesense.io.picks import check_picks, read_picks, read_sensors

    settings = load_config(config, ClassifierConfig) if config else ClassifierConfig()
    updates = {"seed": seed} if seed is not None else {}
    if max_epochs is not None:
        updates["train"] = {**settings.train.model_dump(), "max_epochs": max_epochs}
    settings = build_config(ClassifierConfig, {**settings.model_dump(), **updates})
    table, sensor_table = read_picks(picks), read_sensors(sensors)
    check_picks(table, sensor_table, min_picks=2, source=picks)
    data = profile_data(
        table,
        list(sensor_table["sensor"]),
        mask_channel=settings.mask_channel,
        labels=read_table(labels),
    )
    report = run_training(data, settings, out)
    typer.echo(f"report {report}")


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="model folder written by train")],
    picks: PicksOption,
    sensors: SensorsOption,
    labels: LabelsOption,
    out: OutOption,
    seed: Annotated[int, typer.Option(help="bootstrap and t-SNE seed")] = 0,
) -> None:
    """Score a saved classifier on labelled events; write predictions, metrics, report.html."""
    from quakesense.aeclass.classify import load_classifier, profile_data
    from quakesense.aeclass.training import run_evaluation
    from quakesense.core.store import read_table
    from quakesense.io.picks import check_picks, read_picks, read_sensors

    saved = load_classifier(model)
    table, sensor_table = read_picks(picks), read_sensors(sensors)
    check_picks(table, sensor_table, min_picks=2, source=picks)
    data = profile_data(
        table,
        saved.extra["sensors"],
        phases=saved.extra["phases"],
        mask_channel=saved.extra["mask_channel"],
        labels=read_table(labels),
        classes=saved.extra["classes"],
    )
    typer.echo(f"report {run_evaluation(saved, data, out, seed=seed)}")


@app.command()
def locate(
    picks: PicksOption,
    sensors: SensorsOption,
    out: OutOption,
    method: Annotated[
        str, typer.Option(help="geiger | grid | geiger-sc | grid-sc | aniso | gp | mlp | hybrid")
    ] = "geiger",
    velocity_m_s: Annotated[
        float | None, typer.Option(help="P velocity; default: fitted to events with known x_m..")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the learned locators")] = 0,
) -> None:
    """Locate events from P picks; with true positions, score them by leave-one-out."""
    from quakesense.aeclass.workflow import locate_tables
    from quakesense.io.picks import check_picks, read_picks, read_sensors

    table, sensor_table = read_picks(picks), read_sensors(sensors)
    check_picks(table, sensor_table, source=picks)
    metrics = locate_tables(table, sensor_table, method, out, velocity_m_s=velocity_m_s, seed=seed)
    if "rmse_m" in metrics:
        typer.echo(f"{method}: leave-one-out RMSE {1e3 * metrics['rmse_m']:.2f} mm")
    typer.echo(f"locations {out / 'locations.csv'}")
