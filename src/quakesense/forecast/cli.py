"""Command-line verbs of the forecast pipeline: grid, train, evaluate, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True)

Catalog = Annotated[Path, typer.Option(help="catalog: CSV (ComCat, pyCSEP, JMA-like) or QuakeML")]
Columns = Annotated[
    str | None,
    typer.Option(help="column mapping time=...,latitude=...,longitude=...,depth=...,magnitude=..."),
]
RegionOpt = Annotated[
    str | None, typer.Option(help="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or a polygon file")
]
Out = Annotated[Path, typer.Option(help="run folder")]
Sort = Annotated[bool, typer.Option(help="sort an unsorted catalog (reported) instead of failing")]
CellKm = Annotated[float, typer.Option(help="cell size, km")]
Mc = Annotated[float, typer.Option(help="target magnitude threshold")]
Epochs = Annotated[int, typer.Option(help="network training epochs")]
StepDays = Annotated[int, typer.Option(help="days per network step")]
WindowSteps = Annotated[int, typer.Option(help="TBPTT window, steps")]
WarmSteps = Annotated[int, typer.Option(help="warm-up steps before a window")]
MinorityWeight = Annotated[float, typer.Option(help="weight of positive cells")]
Device = Annotated[str, typer.Option(help="cpu|cuda|auto")]
Seed = Annotated[int, typer.Option(help="seed of every random choice")]
Horizon = Annotated[str, typer.Option(help="target window after the forecast time")]
SplitDates = Annotated[
    str | None, typer.Option(help="TRAIN_END,VALID_END (default: 70 % / 85 % of the span)")
]
Models = Annotated[
    list[str] | None, typer.Option("--model", help="models to run (repeatable; default all)")
]


def _config(**kwargs: Any) -> Any:
    from quakesense.core.config import build_config
    from quakesense.forecast.pipeline import ForecastConfig

    return build_config(ForecastConfig, {k: v for k, v in kwargs.items() if v is not None})


@app.command()
def grid(
    catalog: Catalog,
    out: Out,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = False,
    cell_km: CellKm = 10.0,
    start: Annotated[str | None, typer.Option(help="first day (default: first event)")] = None,
    end: Annotated[str | None, typer.Option(help="last day (default: last event)")] = None,
) -> None:
    """Grid a catalog: per cell and day the largest magnitude and the count, in Zarr."""
    from quakesense.forecast.pipeline import grid_run

    config = _config(
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        cell_km=cell_km,
        start=start,
        end=end,
        models=[],
    )
    typer.echo(f"report: {grid_run(config, out)}")


@app.command()
def evaluate(
    catalog: Catalog,
    out: Out,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = False,
    mc: Mc = 5.0,
    horizon: Horizon = "10d:50d",
    split_dates: SplitDates = None,
    paper_split: Annotated[
        bool, typer.Option(help="also the paper's last-1000-days split")
    ] = False,
    cell_km: CellKm = 10.0,
    model: Models = None,
    epochs: Epochs = 5,
    step_days: StepDays = 1,
    window_steps: WindowSteps = 50,
    warm_steps: WarmSteps = 50,
    minority_weight: MinorityWeight = 1000.0,
    weight_sweep: Annotated[
        str | None, typer.Option(help="comma list of minority weights chosen on validation")
    ] = None,
    eval_stride_days: Annotated[int, typer.Option(help="days between scored forecasts")] = 10,
    train_stride_days: Annotated[int, typer.Option(help="days between training rows")] = 10,
    history_days: Annotated[int, typer.Option(help="history before the first training T")] = 365,
    max_tabular_rows: Annotated[
        int, typer.Option(help="row budget of tabular baselines")
    ] = 200_000,
    etas_mc: Annotated[float | None, typer.Option(help="ETAS fit threshold")] = None,
    device: Device = "auto",
    threads: Annotated[int, typer.Option(help="torch CPU threads")] = 1,
    seed: Seed = 0,
    progress: Annotated[bool, typer.Option(help="progress bars")] = True,
) -> None:
    """Fit every model on the training period, score the test period, write metrics.json."""
    from quakesense.forecast.pipeline import evaluate as run_evaluate

    config = _config(
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        mc=mc,
        horizon=horizon,
        split_dates=split_dates,
        paper_split=paper_split,
        cell_km=cell_km,
        models=model,
        epochs=epochs,
        step_days=step_days,
        window_steps=window_steps,
        warm_steps=warm_steps,
        minority_weight=minority_weight,
        weight_sweep=[float(w) for w in weight_sweep.split(",")] if weight_sweep else None,
        eval_stride_days=eval_stride_days,
        train_stride_days=train_stride_days,
        history_days=history_days,
        max_tabular_rows=max_tabular_rows,
        etas_mc=etas_mc,
        device=device,
        threads=threads,
        seed=seed,
        progress=progress,
    )
    typer.echo(f"report: {run_evaluate(config, out)}")


@app.command()
def train(
    catalog: Catalog,
    out: Out,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = False,
    mc: Mc = 5.0,
    horizon: Horizon = "10d:50d",
    split_dates: SplitDates = None,
    cell_km: CellKm = 10.0,
    kind: Annotated[str, typer.Option(help="convlstm | cnn | convlstm_hybrid")] = "convlstm",
    epochs: Epochs = 5,
    step_days: StepDays = 1,
    window_steps: WindowSteps = 50,
    warm_steps: WarmSteps = 50,
    minority_weight: MinorityWeight = 1000.0,
    device: Device = "auto",
    seed: Seed = 0,
) -> None:
    """Train one network (with the historical-rate baseline for reference); the model is saved
    in OUT/models/KIND with its full config and normalisation."""
    from quakesense.forecast.pipeline import evaluate as run_evaluate

    models = ["historical", kind] + (["etas"] if kind == "convlstm_hybrid" else [])
    config = _config(
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        mc=mc,
        horizon=horizon,
        split_dates=split_dates,
        cell_km=cell_km,
        models=models,
        epochs=epochs,
        step_days=step_days,
        window_steps=window_steps,
        warm_steps=warm_steps,
        minority_weight=minority_weight,
        device=device,
        seed=seed,
    )
    typer.echo(f"report: {run_evaluate(config, out)}")


@app.command()
def predict(
    model: Annotated[Path, typer.Option(help="model folder written by train/evaluate")],
    catalog: Catalog,
    date: Annotated[str, typer.Option(help="forecast time T (UTC date); uses events before T")],
    out: Out,
    columns: Columns = None,
    sort: Sort = False,
) -> None:
    """Forecast map at one date from a saved network: forecast.csv, a figure and a report."""
    from quakesense.forecast.pipeline import predict_run

    typer.echo(f"report: {predict_run(model, catalog, date, out, columns=columns, sort=sort)}")
