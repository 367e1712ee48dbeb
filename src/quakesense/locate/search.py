"""Bayesian hyperparameter search with Optuna over the paper's space.

Sugiyama et al. (2021) searched 1-5 convolution layers, 0-3 fully connected layers, filter sizes
3-9, 50-1000 nodes per dense layer and 0-50 % dropout, with the validation RMSE as the loss. Here
Optuna's TPE sampler (a Bayesian optimiser) does the same; trials live in an SQLite file in the
run folder by default, and an RDB URL (e.g. PostgreSQL) lets many workers share one study. Many
architectures of that space do not fit a 32 x 32 image (kernels larger than the shrunken map):
they are built, without data, before any training and pruned at once, and they do not count
against the trial budget: a worker runs until `trials` architectures were actually trained. The
best one is then retrained (same seed) and its test and hold-out table goes into the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from quakesense.core.report import RunFolder
from quakesense.locate.evaluate import Condition, evaluate_synthetic, synthetic_rmse
from quakesense.locate.models import ArchitectureError
from quakesense.locate.train import (
    LocateTrainConfig,
    SimulatedSet,
    build_network,
    input_spec,
    network_clip,
    train_locator,
)


class SearchSpace(BaseModel):
    """The paper's hyperparameter ranges."""

    model_config = ConfigDict(extra="forbid")

    conv_layers: tuple[int, int] = (1, 5)
    dense_layers: tuple[int, int] = (0, 3)
    kernel_size: tuple[int, int] = (3, 9)
    dense_units: tuple[int, int] = (50, 1000)
    dropout: tuple[float, float] = (0.0, 0.5)
    channels: tuple[int, ...] = Field((8, 16, 32), description="filters per conv layer: choices")


def suggest_config(trial: Any, base: LocateTrainConfig, space: SearchSpace) -> LocateTrainConfig:
    """One trial's training config: the base settings with the searched architecture."""
    n_conv = trial.suggest_int("conv_layers", *space.conv_layers)
    n_dense = trial.suggest_int("dense_layers", *space.dense_layers)
    kernels = [trial.suggest_int(f"kernel_{i}", *space.kernel_size) for i in range(n_conv)]
    channels = [
        trial.suggest_categorical(f"channels_{i}", list(space.channels)) for i in range(n_conv)
    ]
    units = [trial.suggest_int(f"units_{i}", *space.dense_units, log=True) for i in range(n_dense)]
    dropout = trial.suggest_float("dropout", *space.dropout)
    return base.model_copy(
        update={"kernels": kernels, "channels": channels, "dense_units": units, "dropout": dropout}
    )


class SearchConfig(BaseModel):
    """Settings of `quakesense locate search` (saved as its config.json)."""

    model_config = ConfigDict(extra="forbid")

    trials: int = Field(20, ge=1, description="trained (valid) trials this worker runs")
    max_attempts_per_trial: int = Field(
        20, ge=1, description="give up after trials x this many suggestions (mostly invalid)"
    )
    storage: str | None = Field(None, description="Optuna URL; default sqlite in the run folder")
    study: str = "locate-cnn"
    seed: int = Field(0, description="seed of the TPE sampler")
    space: SearchSpace = Field(default_factory=SearchSpace)
    train: LocateTrainConfig = Field(
        default_factory=lambda: LocateTrainConfig(progress=False),
        description="settings shared by all trials (model type, epochs, augmentation ...)",
    )
    progress: bool = Field(
        True, description="bars over the trials, the best one's retraining and its test (stderr)"
    )


@dataclass
class SearchResult:
    """What a search worker did."""

    study: Any
    n_valid: int
    n_pruned: int
    best_value: float
    best_number: int
    best_config: LocateTrainConfig
    table: pd.DataFrame
    report: Path


def search_study(data: SimulatedSet, settings: SearchConfig, storage: str) -> tuple[Any, int, int]:
    """Run (or join) the Optuna study until `settings.trials` architectures were trained.

    Returns the study, the trained and the pruned trial counts of this worker.
    """
    study = optuna.create_study(
        study_name=settings.study,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        load_if_exists=True,
    )
    counts = {"valid": 0, "pruned": 0}
    bar = tqdm(
        total=settings.trials, desc="search trials", unit="trial", disable=not settings.progress
    )

    def objective(trial: Any) -> float:
        config, _ = network_clip(suggest_config(trial, settings.train, settings.space), data.meta)
        try:  # built without data: an architecture that does not fit costs no training
            build_network(config, input_spec(data, config))
        except ArchitectureError as exc:
            counts["pruned"] += 1
            bar.set_postfix(pruned=counts["pruned"])
            raise optuna.TrialPruned(str(exc)) from exc
        locator = train_locator(data, config)
        counts["valid"] += 1
        bar.update()
        trial.set_user_attr("config", config.model_dump(mode="json"))
        return float(locator.training["best_val_loss"])

    def enough(study: Any, _trial: Any) -> None:
        if counts["valid"] >= settings.trials:
            study.stop()

    with bar:
        study.optimize(
            objective,
            n_trials=settings.trials * settings.max_attempts_per_trial,
            callbacks=[enough],
        )
    return study, counts["valid"], counts["pruned"]


def run_search(
    data_dir: str | Path, out: str | Path, settings: SearchConfig, *, force: bool = False
) -> SearchResult:
    """`quakesense locate search`: the study, then the best trial retrained and tested.

    Args:
        data_dir: Simulated dataset folder.
        out: Run folder (config, trials table, best model, report).
        settings: Search settings; `settings.train` holds what all trials share.
        force: Replace an earlier run at `out`.
    """
    data = SimulatedSet.open(data_dir, memory_limit_mb=settings.train.memory_limit_mb)
    with RunFolder.create(out, "locate search: Optuna TPE over the CNN space", force=force) as run:
        run.save_config(settings, data=str(data_dir))
        storage = settings.storage or f"sqlite:///{run.path.resolve() / 'optuna.db'}"
        study, n_valid, n_pruned = search_study(data, settings, storage)
        best = study.best_trial
        best_config = LocateTrainConfig(**best.user_attrs["config"])
        locator = train_locator(
            data, best_config.model_copy(update={"progress": settings.progress})
        )
        locator.save(run.path / "model")
        results = evaluate_synthetic(
            data,
            locator,
            conditions=(Condition("clean"),),
            trigger=locator.trigger,
            seed=0,
            progress=settings.progress,
        )
        table = synthetic_rmse(results, data)
        trials = study.trials_dataframe(attrs=("number", "value", "state", "params"))
        run.save_metrics(
            {
                "n_valid": n_valid,
                "n_pruned": n_pruned,
                "best_trial": best.number,
                "best_val_loss": best.value,
                "best_params": best.params,
                "best_rmse": table.to_dict("records"),
            }
        )
        run.heading("best trial: RMSE on the test split and the hold-out block")
        run.text(
            f"{n_valid} trials trained, {n_pruned} architectures pruned before training "
            f"(they do not fit the {data.meta['image']['height']} x "
            f"{data.meta['image']['width']} image); best trial {best.number}, validation RMSE "
            f"{best.value:.4f} (normalised), hyperparameters below; retrained with seed "
            f"{best_config.seed} on {data_dir}, clean condition, evaluation seed 0."
        )
        run.table(best.params, f"Hyperparameters of the best trial ({best.number})")
        run.table(table)
        run.heading("trials")
        run.table(trials)
        report = run.write_report()
    return SearchResult(
        study, n_valid, n_pruned, float(best.value), best.number, best_config, table, report
    )
