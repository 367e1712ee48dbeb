"""Command-line verbs of the locate pipeline.

Options that map to a config field default to None ("not given"): the `--config` file is read
first and only the flags given override it, so the defaults live once, in the config models.
Each verb imports its pipeline module when it runs, so `quakesense --help` stays free of torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quakesense.core.cli_options import (
    DeviceOption,
    DevicesOption,
    ForceOption,
    ProgressOption,
    StrategyOption,
    deprecated,
    renamed,
)
from quakesense.core.config import resolve_config

app = typer.Typer(no_args_is_help=True)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="dataset folder to write (resumed if interrupted)")],
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON with any setting (e.g. an earlier config.json)")
    ] = None,
    stations: Annotated[Path | None, typer.Option(help="StationXML or CSV station list")] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="1-D .vel.txt or 3-D NetCDF/Zarr velocity model")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="synthesis: traveltime (default) or elastic3d")
    ] = None,
    backend: Annotated[str | None, deprecated("--backend", "--method")] = None,
    n_events: Annotated[
        int | None, typer.Option(help="events (default 3,000 in a volume set by the network)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of every random draw")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="synchronous | threads | processes | Dask address")
    ] = None,
    device: Annotated[str | None, typer.Option(help="elastic3d: auto | cpu | cuda")] = None,
    noise_records: Annotated[
        list[Path] | None,
        typer.Option(
            help="real records of the network (an event folder of SAC/miniSEED files, or a "
            "folder of them; repeatable): their pre-event noise is stored for training"
        ),
    ] = None,
    noise_units: Annotated[
        str | None, typer.Option(help="unit of the noise records: auto | velocity | ...")
    ] = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Simulate a synthetic training set (seismograms + snapshot images) for the hypocentre CNN."""
    from quakesense.locate.simulate import SimulateConfig, dataset_complete
    from quakesense.locate.simulate import simulate as run_simulation

    settings = resolve_config(
        SimulateConfig,
        config,
        {
            "stations": stations,
            "velocity": velocity,
            "backend": renamed(method, backend, "--backend", "--method"),
            "n_events": n_events,
            "seed": seed,
            "scheduler": scheduler,
            "elastic.device": device,
            "real_noise.records": noise_records,
            "real_noise.units": noise_units,
        },
    )
    if not force and dataset_complete(settings, out):
        typer.echo(f"dataset {out} already complete for this config; nothing to do")
        return
    result = run_simulation(settings, out, progress=progress is not False, force=force)
    counts = result.events["split"].value_counts().to_dict()
    typer.echo(
        f"simulated {len(result.events)} events x {len(result.network.stations)} stations "
        f"({result.n_images} images, splits {counts}) with {settings.backend} "
        f"in {result.seconds:.1f} s"
        + (f", {result.resumed_chunks} chunks resumed" if result.resumed_chunks else "")
    )
    typer.echo(f"dataset {result.path}; report {result.path / 'report.html'}")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="dataset folder from `locate simulate`")],
    out: Annotated[Path, typer.Option(help="run folder; the model goes to OUT/model")],
    method: Annotated[
        str | None, typer.Option(help="cnn2d (default) | cnn3d | convnetquake")
    ] = None,
    model_type: Annotated[str | None, deprecated("--model-type", "--method")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON with any training setting (or a config.json)")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="maximum epochs")] = None,
    max_epochs: Annotated[int | None, deprecated("--max-epochs", "--epochs")] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed of weights, sampling, augmentation")
    ] = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    real_noise_scale: Annotated[
        tuple[float, float] | None,
        typer.Option(
            help="LOW HIGH: factor range of the dataset's real pre-event noise (default 0.5 2)"
        ),
    ] = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Train a hypocentre network (2-D CNN, 3-D CNN or ConvNetQuake) on a simulated dataset."""
    from quakesense.locate.train import LocateTrainConfig, describe_clip, run_training

    settings = resolve_config(
        LocateTrainConfig,
        config,
        {
            "model_type": renamed(method, model_type, "--model-type", "--method"),
            "epochs": renamed(epochs, max_epochs, "--max-epochs", "--epochs"),
            "seed": seed,
            "device": device,
            "devices": devices,
            "strategy": strategy,
            "real_noise_scale": real_noise_scale,
            "progress": progress,
        },
    )
    report, metrics = run_training(data, out, settings, force=force)
    typer.echo(
        f"trained {settings.model_type}: best val RMSE (normalised) "
        f"{metrics['best_val_loss']:.3f} at epoch {metrics['best_epoch']}; "
        f"model {out / 'model'}; report {report}"
    )
    if metrics["clip_from_network"]:
        typer.echo(describe_clip(metrics["clip_from_network"]))


@app.command()
def predict(
    waveforms: Annotated[Path, typer.Option(help="folder of event sub-folders (SAC/miniSEED)")],
    stations: Annotated[
        Path, typer.Option(help="StationXML or CSV station list (NET.STA matches STA)")
    ],
    out: Annotated[
        Path, typer.Option(help="run folder: locations.csv + .xml (QuakeML), picks, report")
    ],
    method: Annotated[
        str | None, typer.Option(help="cnn2d (default) | cnn3d | convnetquake | gridsearch")
    ] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            help="model folder or the `locate train` run folder (repeat for an ensemble: "
            "their mean answers, their spread is the uncertainty)"
        ),
    ] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="velocity model (.vel.txt / NetCDF); needed by gridsearch")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="event folders with catalog hypocentres in their SAC headers: station delays "
            "(gridsearch) or station amplitude terms (CNNs, against the training synthetics)"
        ),
    ] = None,
    station_corrections: Annotated[
        str | None,
        typer.Option(
            help="batch: station corrections from the batch's own events (gridsearch: delays; "
            "CNNs: amplitude terms) | none"
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON with any setting (or an earlier config.json)")
    ] = None,
    units: Annotated[
        str | None, typer.Option(help="auto | velocity | acceleration | displacement")
    ] = None,
    fill_gaps: Annotated[
        bool | None,
        typer.Option("--fill-gaps/--no-fill-gaps", help="zero-fill gaps and NaN samples"),
    ] = None,
    answer_after: Annotated[
        float | None, typer.Option(help="cnn: seconds after detection of the answer")
    ] = None,
    sta: Annotated[float | None, typer.Option(help="cnn: STA window, s (model's)")] = None,
    lta: Annotated[float | None, typer.Option(help="cnn: LTA window, s (model's)")] = None,
    threshold: Annotated[float | None, typer.Option(help="cnn: STA/LTA threshold")] = None,
    device: DeviceOption = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Locate recorded events with a trained network or the classical grid search."""
    from quakesense.locate.realdata import PredictConfig, run_predict

    settings = resolve_config(
        PredictConfig,
        config,
        {
            "method": method,
            "units": units,
            "fill_gaps": fill_gaps,
            "answer_after_s": answer_after,
            "trigger.sta_s": sta,
            "trigger.lta_s": lta,
            "trigger.threshold_on": threshold,
            "station_corrections": station_corrections,
            "device": device,
            "progress": progress,
        },
    )
    found, report = run_predict(
        out,
        waveforms,
        stations,
        settings,
        model=model or None,
        velocity=velocity,
        calibration=calibration,
        force=force,
    )
    table = found.table
    for note in found.notes:
        typer.echo(f"note: {note}")
    for row in table[table["notes"].fillna("") != ""].itertuples() if "notes" in table else []:
        typer.echo(f"note: {row.event_id}: {row.notes}")
    located = int((table["status"] == "ok").sum())
    typer.echo(
        f"located {located} of {len(table)} events with {settings.method}; "
        f"{out / 'locations.csv'}; report {report}"
    )
    for row in table[table["status"] != "ok"].itertuples():
        typer.echo(f"  {row.event_id}: {row.status}", err=True)


@app.command()
def evaluate(
    out: Annotated[
        Path, typer.Option(help="run folder: report.html, metrics.json; with --data events.csv")
    ],
    predictions: Annotated[
        list[Path] | None, typer.Option(help="location CSV from `predict` (repeatable)")
    ] = None,
    reference: Annotated[Path | None, typer.Option(help="reference catalog CSV")] = None,
    reference_waveforms: Annotated[
        Path | None, typer.Option(help="take the reference from SAC headers of this folder")
    ] = None,
    stations: Annotated[Path | None, typer.Option(help="station list for the maps")] = None,
    data: Annotated[
        Path | None, typer.Option(help="simulated dataset: evaluate its test and holdout sets")
    ] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            help="model folder or the train run folder (with --data; repeat for an ensemble)"
        ),
    ] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="with --data: also run the grid search on this model")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON evaluation settings")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the noise and cutout draws")] = None,
    gridsearch: Annotated[
        bool | None,
        typer.Option(
            "--gridsearch/--no-gridsearch", help="with --data: also locate with the grid search"
        ),
    ] = None,
    mc_samples: Annotated[
        int | None, typer.Option(help="MC-dropout passes for the per-event spread (0: off)")
    ] = None,
    conditions: Annotated[
        list[str] | None,
        typer.Option(
            help="with --data: test condition to run (repeatable; default all: clean, "
            "'noise 5%', 'cutout 1'..'cutout 3')"
        ),
    ] = None,
    max_events: Annotated[
        int | None, typer.Option(help="with --data: the first N events of each test set")
    ] = None,
    progress: ProgressOption = None,
    device: DeviceOption = None,
    force: ForceOption = False,
) -> None:
    """RMSE per parameter, error maps and depth sections against a reference, in one report."""
    from quakesense.locate.evaluate import EvaluateConfig, run_evaluation

    settings = resolve_config(
        EvaluateConfig,
        config,
        {
            "seed": seed,
            "gridsearch": gridsearch,
            "mc_samples": mc_samples,
            "conditions": conditions or None,
            "max_events": max_events,
            "progress": progress,
            "device": device,
        },
    )
    report = run_evaluation(
        out,
        settings,
        predictions=predictions or [],
        reference=reference,
        reference_waveforms=reference_waveforms,
        stations=stations,
        data=data,
        model=model or None,
        velocity=velocity,
        force=force,
    )
    typer.echo(f"report {report}")


@app.command()
def search(
    data: Annotated[Path, typer.Option(help="dataset folder from `locate simulate`")],
    out: Annotated[
        Path, typer.Option(help="run folder: study table, best model, its test/holdout table")
    ],
    trials: Annotated[
        int | None, typer.Option(help="valid (trained) trials this worker runs")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON search settings (train: base training)")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default sqlite in OUT)")
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name (shared by workers)")] = None,
    method: Annotated[
        str | None, typer.Option(help="cnn2d (default) | cnn3d | convnetquake")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="maximum epochs per trial")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the TPE sampler")] = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    progress: ProgressOption = None,
    force: ForceOption = False,
) -> None:
    """Bayesian hyperparameter search (Optuna TPE) over the paper's CNN space."""
    from quakesense.locate.search import SearchConfig, run_search

    settings = resolve_config(
        SearchConfig,
        config,
        {
            "trials": trials,
            "storage": storage,
            "study": study,
            "seed": seed,
            "train.model_type": method,
            "train.epochs": epochs,
            "train.device": device,
            "train.devices": devices,
            "train.strategy": strategy,
            "progress": progress,
        },
    )
    result = run_search(data, out, settings, force=force)
    typer.echo(
        f"{result.n_valid} valid trials ({result.n_pruned} invalid architectures pruned "
        f"before training); best validation RMSE {result.best_value:.4f} "
        f"(trial {result.best_number}); report {result.report}"
    )
