"""Bayesian hyperparameter search with Optuna over the paper's space.

Sugiyama et al. (2021) searched 1-5 convolution layers, 0-3 fully connected layers, filter sizes
3-9, 50-1000 nodes per dense layer and 0-50 % dropout, with the validation RMSE as the loss. Here
Optuna's TPE sampler (a Bayesian optimiser) does the same; trials live in an SQLite file by
default, and an RDB URL (e.g. PostgreSQL) lets many workers share one study. Architectures
whose kernels do not fit the shrinking image are pruned rather than counted as failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quakesense.locate.models import ArchitectureError
from quakesense.locate.train import LocateTrainConfig, SimulatedSet, train_locator


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


def run_search(
    data_dir: str | Path,
    base: LocateTrainConfig,
    *,
    n_trials: int,
    storage: str | None = None,
    study_name: str = "locate-cnn",
    space: SearchSpace | None = None,
    seed: int = 0,
) -> Any:
    """Run (or join) an Optuna study minimising the best validation RMSE; returns the study.

    Args:
        data_dir: Simulated dataset folder.
        base: Settings shared by all trials (model type, epochs, augmentation ...).
        n_trials: Trials this worker runs.
        storage: Optuna storage URL; default `sqlite:///<data_dir>/optuna.db`. Give the same
            RDB URL (e.g. `postgresql://...`) to several workers to search in parallel.
        study_name: Study to create or resume.
        space: Search ranges (default: the paper's).
        seed: Seed of the TPE sampler.
    """
    import optuna

    space = space or SearchSpace()
    data = SimulatedSet.open(data_dir, memory_limit_mb=base.memory_limit_mb)
    storage = storage or f"sqlite:///{Path(data_dir).resolve() / 'optuna.db'}"
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        load_if_exists=True,
    )

    def objective(trial: Any) -> float:
        config = suggest_config(trial, base, space)
        try:
            locator = train_locator(data, config)
        except ArchitectureError as exc:  # kernels that do not fit the image: no real trial
            raise optuna.TrialPruned(str(exc)) from exc
        trial.set_user_attr("config", config.model_dump(mode="json"))
        return float(locator.training["best_val_loss"])

    study.optimize(objective, n_trials=n_trials)
    return study
