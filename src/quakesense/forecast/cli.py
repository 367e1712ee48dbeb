"""Command-line verbs of the forecast pipeline: grid, train, evaluate, predict.

Every option that sets a config field defaults to None ("not given"): the settings come from
`--config FILE` first (e.g. the config.json of an earlier run), then from the flags given, and
the defaults live only in `forecast.config`. Old spellings (`--mc`, `--model NAME` of evaluate,
`--kind`) are hidden deprecated aliases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

Out = Annotated[Path, typer.Option(help="run folder to create")]
Catalog = Annotated[
    Path | None, typer.Option(help="catalog: CSV (ComCat, pyCSEP, JMA-like) or QuakeML")
]
Columns = Annotated[
    str | None,
    typer.Option(help="column mapping time=...,latitude=...,longitude=...,depth=...,magnitude=..."),
]
RegionOpt = Annotated[
    str | None, typer.Option(help="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or a polygon file")
]
Sort = Annotated[
    bool | None,
    typer.Option("--sort/--no-sort", help="sort an unsorted catalog (reported) instead of failing"),
]
CellKm = Annotated[float | None, typer.Option(help="cell size, km [10]")]
MinMagnitude = Annotated[
    float | None,
    typer.Option("--min-magnitude", help="target threshold: forecast P(M >= this) [5.0]"),
]
Mc = Annotated[float | None, deprecated("--mc", "--min-magnitude")]
Horizon = Annotated[str | None, typer.Option(help="target window after T [10d:50d]")]
SplitDates = Annotated[
    str | None, typer.Option(help="TRAIN_END,VALID_END (default: 70 % / 85 % of the span)")
]
Epochs = Annotated[int | None, typer.Option(help="network epochs: passes over the sequence [5]")]
StepDays = Annotated[
    int | None, typer.Option(help="days per network step (default: 1, coarser for big grids)")
]
WindowSteps = Annotated[int | None, typer.Option(help="TBPTT window: steps per backward [50]")]
WarmSteps = Annotated[int | None, typer.Option(help="warm-up steps before a stream [50]")]
BatchSize = Annotated[int | None, typer.Option(help="independent sequence streams per batch [1]")]
MinorityWeight = Annotated[float | None, typer.Option(help="loss weight of positive cells [1000]")]
PriorScale = Annotated[
    float | None, typer.Option(help="weight c of the network's prior logit; 0: no prior [1]")
]
Seed = Annotated[int | None, typer.Option(help="seed of every random choice [0]")]
Threads = Annotated[int | None, typer.Option(help="torch CPU threads [1]")]
HistoryDays = Annotated[int | None, typer.Option(help="history before the first training T [365]")]
EtasMc = Annotated[
    float | None, typer.Option(help="ETAS fit threshold (default: the estimated completeness)")
]
EtasMaxLagDays = Annotated[
    float | None,
    typer.Option(help="ETAS neighbour cut-off in time, days, in the fit and the forecasts [3650]"),
]
EtasMaxDistKm = Annotated[
    float | None,
    typer.Option(help="ETAS neighbour cut-off in space, km: fit, forecasts, simulations [300]"),
]
EtasCascade = Annotated[
    bool | None,
    typer.Option(
        "--etas-cascade/--no-etas-cascade",
        help="ETAS counts every generation of aftershocks; --no-etas-cascade: first order only "
        "[cascade]",
    ),
]
EtasNSim = Annotated[
    int | None,
    typer.Option(
        help="simulated continuations per forecast time behind the cascade ETAS's probability; "
        "0: 1 - exp(-expected count) [1000]"
    ),
]


def _resolve(model: type, config_file: Path | None, overrides: dict[str, Any]) -> Any:
    from quakesense.core.config import resolve_config

    return resolve_config(model, config_file, overrides)


def _forecast_config(config_file: Path | None, **overrides: Any) -> Any:
    from quakesense.forecast.config import ForecastConfig

    return _resolve(ForecastConfig, config_file, overrides)


def _models(values: list[str] | None) -> list[str] | None:
    """Repeatable or comma-separated model names."""
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@app.command()
def grid(
    out: Out,
    catalog: Catalog = None,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = None,
    cell_km: CellKm = None,
    start: Annotated[str | None, typer.Option(help="first day (default: first event)")] = None,
    end: Annotated[str | None, typer.Option(help="last day (default: last event)")] = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Grid a catalog: per cell and day the largest magnitude and the count, in Zarr."""
    from quakesense.forecast.pipeline import grid_run

    settings = _forecast_config(
        config,
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        cell_km=cell_km,
        start=start,
        end=end,
        progress=progress,
    )
    typer.echo(f"report: {grid_run(settings, out, force=force)}")


@app.command()
def evaluate(
    out: Out,
    catalog: Catalog = None,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = None,
    min_magnitude: MinMagnitude = None,
    mc: Mc = None,
    horizon: Horizon = None,
    split_dates: SplitDates = None,
    paper_split: Annotated[
        bool | None,
        typer.Option("--paper-split/--no-paper-split", help="also the last-1000-days split"),
    ] = None,
    cell_km: CellKm = None,
    models: Annotated[
        list[str] | None,
        typer.Option("--models", help="model names, repeatable or comma list (default: all)"),
    ] = None,
    model: Annotated[list[str] | None, deprecated("--model", "--models")] = None,
    epochs: Epochs = None,
    step_days: StepDays = None,
    window_steps: WindowSteps = None,
    warm_steps: WarmSteps = None,
    batch_size: BatchSize = None,
    minority_weight: MinorityWeight = None,
    weight_sweep: Annotated[
        str | None, typer.Option(help="comma list of minority weights chosen on validation")
    ] = None,
    prior_scale: PriorScale = None,
    prior_scale_sweep: Annotated[
        str | None, typer.Option(help="comma list of prior weights c chosen on validation")
    ] = None,
    eval_stride_days: Annotated[
        int | None, typer.Option(help="days between scored forecasts [10]")
    ] = None,
    train_stride_days: Annotated[
        int | None, typer.Option(help="days between training rows [10]")
    ] = None,
    history_days: HistoryDays = None,
    max_tabular_rows: Annotated[
        int | None, typer.Option(help="row budget of tabular baselines [200000]")
    ] = None,
    etas_mc: EtasMc = None,
    etas_max_lag_days: EtasMaxLagDays = None,
    etas_max_dist_km: EtasMaxDistKm = None,
    etas_cascade: EtasCascade = None,
    etas_n_sim: EtasNSim = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    threads: Threads = None,
    seed: Seed = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Fit every model on the training period, score the test period, write metrics.json."""
    from quakesense.forecast.pipeline import evaluate as run_evaluate

    settings = _forecast_config(
        config,
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        min_magnitude=renamed(min_magnitude, mc, "--mc", "--min-magnitude"),
        horizon=horizon,
        split_dates=split_dates,
        paper_split=paper_split,
        cell_km=cell_km,
        models=_models(renamed(models, model, "--model NAME", "--models")),
        epochs=epochs,
        step_days=step_days,
        window_steps=window_steps,
        warm_steps=warm_steps,
        batch_size=batch_size,
        minority_weight=minority_weight,
        weight_sweep=weight_sweep.split(",") if weight_sweep else None,
        prior_scale=prior_scale,
        prior_scale_sweep=prior_scale_sweep.split(",") if prior_scale_sweep else None,
        eval_stride_days=eval_stride_days,
        train_stride_days=train_stride_days,
        history_days=history_days,
        max_tabular_rows=max_tabular_rows,
        etas_mc=etas_mc,
        etas_max_lag_days=etas_max_lag_days,
        etas_max_dist_km=etas_max_dist_km,
        etas_cascade=etas_cascade,
        etas_n_sim=etas_n_sim,
        device=device,
        devices=devices,
        strategy=strategy,
        threads=threads,
        seed=seed,
        progress=progress,
    )
    typer.echo(f"report: {run_evaluate(settings, out, force=force)}")


@app.command()
def train(
    out: Out,
    catalog: Catalog = None,
    columns: Columns = None,
    region: RegionOpt = None,
    sort: Sort = None,
    min_magnitude: MinMagnitude = None,
    mc: Mc = None,
    horizon: Horizon = None,
    split_dates: SplitDates = None,
    cell_km: CellKm = None,
    method: Annotated[
        str | None, typer.Option(help="convlstm | cnn | convlstm_hybrid [convlstm]")
    ] = None,
    kind: Annotated[str | None, deprecated("--kind", "--method")] = None,
    epochs: Epochs = None,
    step_days: StepDays = None,
    window_steps: WindowSteps = None,
    warm_steps: WarmSteps = None,
    batch_size: BatchSize = None,
    minority_weight: MinorityWeight = None,
    prior_scale: PriorScale = None,
    history_days: HistoryDays = None,
    etas_mc: EtasMc = None,
    etas_max_lag_days: EtasMaxLagDays = None,
    etas_max_dist_km: EtasMaxDistKm = None,
    etas_cascade: EtasCascade = None,
    etas_n_sim: EtasNSim = None,
    device: DeviceOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    threads: Threads = None,
    seed: Seed = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Train one network (with the historical-rate baseline for reference); the model is saved
    in OUT/models/METHOD with its full config and normalisation."""
    from quakesense.forecast.pipeline import evaluate as run_evaluate

    settings = _forecast_config(
        config,
        catalog=catalog,
        columns=columns,
        region=region,
        sort=sort,
        min_magnitude=renamed(min_magnitude, mc, "--mc", "--min-magnitude"),
        horizon=horizon,
        split_dates=split_dates,
        cell_km=cell_km,
        method=renamed(method, kind, "--kind", "--method"),
        epochs=epochs,
        step_days=step_days,
        window_steps=window_steps,
        warm_steps=warm_steps,
        batch_size=batch_size,
        minority_weight=minority_weight,
        prior_scale=prior_scale,
        history_days=history_days,
        etas_mc=etas_mc,
        etas_max_lag_days=etas_max_lag_days,
        etas_max_dist_km=etas_max_dist_km,
        etas_cascade=etas_cascade,
        etas_n_sim=etas_n_sim,
        device=device,
        devices=devices,
        strategy=strategy,
        threads=threads,
        seed=seed,
        progress=progress,
    )
    chosen = ["historical", settings.method] + (
        ["etas"] if settings.method == "convlstm_hybrid" else []
    )
    settings = settings.model_copy(update={"models": chosen})
    typer.echo(f"report: {run_evaluate(settings, out, force=force)}")


@app.command()
def predict(
    out: Out,
    model: Annotated[
        Path | None, typer.Option(help="model folder, or the run folder that holds it")
    ] = None,
    catalog: Catalog = None,
    date: Annotated[
        str | None,
        typer.Option(
            help="forecast time T (UTC date), or several comma-separated (one pass of the "
            "network serves them all); each uses the events before it"
        ),
    ] = None,
    columns: Columns = None,
    sort: Sort = None,
    max_gap_days: Annotated[
        int | None, typer.Option(help="refuse a date this many days after the last event [365]")
    ] = None,
    device: DeviceOption = None,
    progress: ProgressOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Forecast maps at one or more dates from a saved network: forecast.csv, a figure, a report."""
    from quakesense.forecast.config import PredictConfig
    from quakesense.forecast.pipeline import predict_run

    settings = _resolve(
        PredictConfig,
        config,
        {
            "model": model,
            "catalog": catalog,
            "date": date,
            "columns": columns,
            "sort": sort,
            "max_gap_days": max_gap_days,
            "device": device,
            "progress": progress,
        },
    )
    typer.echo(f"report: {predict_run(settings, out, force=force)}")
