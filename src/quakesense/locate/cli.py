"""Command-line verbs of the locate pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="dataset folder to write")],
    config: Annotated[Path | None, typer.Option(help="network.yaml with any setting")] = None,
    stations: Annotated[Path | None, typer.Option(help="StationXML or CSV station list")] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="1-D .vel.txt or 3-D NetCDF/Zarr velocity model")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="traveltime (default) or elastic3d")] = None,
    n_events: Annotated[
        int | None, typer.Option(help="events (default: one per grid node)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed of every random draw")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="synchronous | threads | processes | Dask address")
    ] = None,
    device: Annotated[str | None, typer.Option(help="elastic3d: auto | cpu | cuda")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Simulate a synthetic training set (seismograms + snapshot images) for the hypocentre CNN."""
    from quakesense.core.config import build_config, load_config
    from quakesense.locate.simulate import SimulateConfig, dataset_complete
    from quakesense.locate.simulate import simulate as run_simulation

    overrides = {
        "stations": stations,
        "velocity": velocity,
        "backend": backend,
        "n_events": n_events,
        "seed": seed,
        "scheduler": scheduler,
    }
    if config is not None:
        settings = load_config(config, SimulateConfig, **overrides)
    else:
        settings = build_config(
            SimulateConfig, {k: v for k, v in overrides.items() if v is not None}
        )
    if device is not None:
        elastic = settings.elastic.model_dump() | {"device": device}
        settings = build_config(SimulateConfig, settings.model_dump() | {"elastic": elastic})
    if dataset_complete(settings, out):
        typer.echo(f"dataset {out} already complete for this config; nothing to do")
        return
    result = run_simulation(settings, out, progress=progress)
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
    model_type: Annotated[str, typer.Option(help="cnn2d | cnn3d | convnetquake")] = "cnn2d",
    config: Annotated[Path | None, typer.Option(help="YAML/JSON with any training setting")] = None,
    epochs: Annotated[int | None, typer.Option(help="maximum epochs")] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed of weights, sampling, augmentation")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu | cuda | auto")] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Train a hypocentre network (2-D CNN, 3-D CNN or ConvNetQuake) on a simulated dataset."""
    from quakesense.core.config import build_config, load_config
    from quakesense.locate.train import LocateTrainConfig, run_training

    overrides = {
        "model_type": model_type,
        "epochs": epochs,
        "seed": seed,
        "device": device,
        "progress": progress,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    settings = (
        load_config(config, LocateTrainConfig, **overrides)
        if config is not None
        else build_config(LocateTrainConfig, overrides)
    )
    report, metrics = run_training(data, out, settings)
    typer.echo(
        f"trained {settings.model_type}: best val RMSE (normalised) "
        f"{metrics['best_val_loss']:.3f} at epoch {metrics['best_epoch']}; "
        f"model {out / 'model'}; report {report}"
    )


@app.command()
def predict(
    waveforms: Annotated[Path, typer.Option(help="folder of event sub-folders (SAC/miniSEED)")],
    stations: Annotated[Path, typer.Option(help="StationXML or CSV station list")],
    out: Annotated[Path, typer.Option(help="CSV to write (QuakeML beside it, .xml)")],
    method: Annotated[
        str, typer.Option(help="cnn2d | cnn3d | convnetquake | gridsearch")
    ] = "cnn2d",
    model: Annotated[Path | None, typer.Option(help="model folder (cnn methods)")] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="velocity model (.vel.txt / NetCDF); needed by gridsearch")
    ] = None,
    units: Annotated[
        str, typer.Option(help="auto | velocity | acceleration | displacement")
    ] = "auto",
    fill_gaps: Annotated[bool, typer.Option(help="zero-fill gaps instead of refusing")] = False,
    answer_after: Annotated[
        float | None, typer.Option(help="seconds after detection of the answer")
    ] = None,
    figures: Annotated[Path | None, typer.Option(help="folder for evolution figures")] = None,
    sta: Annotated[float | None, typer.Option(help="STA window, s (default: model's)")] = None,
    lta: Annotated[float | None, typer.Option(help="LTA window, s (default: model's)")] = None,
    threshold: Annotated[float | None, typer.Option(help="STA/LTA trigger threshold")] = None,
) -> None:
    """Locate recorded events with a trained network or the grid-search baseline."""
    from quakesense.core.config import build_config
    from quakesense.locate.realdata import PredictConfig, predict_events

    trigger = {"sta_s": sta, "lta_s": lta, "threshold_on": threshold}
    trigger = {k: v for k, v in trigger.items() if v is not None}
    settings = build_config(
        PredictConfig,
        {
            "method": method,
            "units": units,
            "fill_gaps": fill_gaps,
            "answer_after_s": answer_after,
            "trigger": trigger or None,
        },
    )
    table = predict_events(
        waveforms, stations, out, settings, model=model, velocity=velocity, figure_dir=figures
    )
    located = int((table["status"] == "ok").sum())
    typer.echo(f"located {located} of {len(table)} events with {method}; wrote {out}")
    for row in table[table["status"] != "ok"].itertuples():
        typer.echo(f"  {row.event_id}: {row.status}", err=True)


@app.command()
def evaluate(
    out: Annotated[Path, typer.Option(help="run folder for report.html")],
    predictions: Annotated[
        list[Path] | None, typer.Option(help="location CSV from `predict` (repeatable)")
    ] = None,
    reference: Annotated[Path | None, typer.Option(help="reference catalog CSV")] = None,
    reference_waveforms: Annotated[
        Path | None, typer.Option(help="take the reference from SAC headers of this folder")
    ] = None,
    stations: Annotated[Path | None, typer.Option(help="station list for the maps")] = None,
    data: Annotated[
        Path | None, typer.Option(help="simulated dataset: evaluate its test split")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="model folder (with --data)")] = None,
    velocity: Annotated[
        Path | None, typer.Option(help="with --data: also run the grid search on this model")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the noise and cutout draws")] = 0,
    gridsearch: Annotated[
        bool, typer.Option(help="with --data: also locate with the grid-search baseline")
    ] = True,
) -> None:
    """RMSE per parameter, error maps and depth sections against a reference, in one report."""
    from quakesense.locate.evaluate import run_evaluation

    report = run_evaluation(
        out,
        predictions=predictions or [],
        reference=reference,
        reference_waveforms=reference_waveforms,
        stations=stations,
        data=data,
        model=model,
        velocity=velocity,
        seed=seed,
        gridsearch=gridsearch,
    )
    typer.echo(f"report {report}")


@app.command()
def search(
    data: Annotated[Path, typer.Option(help="dataset folder from `locate simulate`")],
    trials: Annotated[int, typer.Option(help="trials this worker runs")] = 20,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON base training settings")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default sqlite in DATA)")
    ] = None,
    study: Annotated[
        str, typer.Option(help="study name (shared by parallel workers)")
    ] = "locate-cnn",
    seed: Annotated[int, typer.Option(help="seed of the TPE sampler")] = 0,
) -> None:
    """Bayesian hyperparameter search (Optuna TPE) over the paper's CNN space."""
    from quakesense.core.config import build_config, load_config
    from quakesense.locate.search import run_search
    from quakesense.locate.train import LocateTrainConfig

    base = (
        load_config(config, LocateTrainConfig, progress=False)
        if config is not None
        else build_config(LocateTrainConfig, {"progress": False})
    )
    result = run_search(data, base, n_trials=trials, storage=storage, study_name=study, seed=seed)
    best = result.best_trial
    typer.echo(f"best validation RMSE {best.value:.4f} (trial {best.number}): {best.params}")
