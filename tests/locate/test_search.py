"""Optuna search over the paper's space: invalid architectures cost no trial, a study resumes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from quakesense.locate import search
from quakesense.locate.search import SearchConfig, SearchSpace, run_search
from quakesense.locate.train import LocateTrainConfig, SimulatedSet
from tests.locate.tiny_data import tiny_train_config

# Kernels 7-9: two layers fit a 32 x 32 image, three or four do not.
CRAMPED = SearchSpace(
    conv_layers=(2, 4), dense_layers=(0, 1), kernel_size=(7, 9), dense_units=(8, 16), channels=(2,)
)


def _settings(tmp_path: Path, **changes: object) -> SearchConfig:
    settings = {
        "trials": 2,
        "storage": f"sqlite:///{tmp_path / 'study.db'}",
        "space": CRAMPED,
        "seed": 1,
        "train": tiny_train_config(frames_per_event=1),
    }
    return SearchConfig(**(settings | changes))


def test_pruned_trials_are_not_counted_and_never_trained(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[list[int]] = []

    def fake_train(data: object, config: LocateTrainConfig) -> SimpleNamespace:
        trained.append(config.kernels)
        return SimpleNamespace(training={"best_val_loss": float(sum(config.kernels))})

    monkeypatch.setattr(search, "train_locator", fake_train)
    settings = _settings(tmp_path, trials=4)
    data = SimulatedSet.open(tiny_dataset)
    study, n_valid, n_pruned = search.search_study(data, settings, settings.storage)
    states = [t.state for t in study.trials]
    assert n_valid == states.count(optuna.trial.TrialState.COMPLETE) == len(trained) == 4
    assert n_pruned == states.count(optuna.trial.TrialState.PRUNED) > 0
    assert all(len(kernels) == 2 for kernels in trained)


@pytest.mark.slow
def test_search_trains_retrains_the_best_and_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    result = run_search(tiny_dataset, tmp_path / "run", _settings(tmp_path))
    states = [t.state for t in result.study.trials]
    complete = [t for t in result.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert result.n_valid == len(complete) == 2
    assert result.n_pruned == states.count(optuna.trial.TrialState.PRUNED)
    assert all(np.isfinite(t.value) for t in complete)
    for trial in complete:
        config = trial.user_attrs["config"]
        assert len(config["kernels"]) == 2 and min(config["kernels"]) >= 7
    assert set(result.table["test_set"]) <= {"test", "holdout"}
    assert (tmp_path / "run" / "model" / "model.json").is_file()
    html = (tmp_path / "run" / "report.html").read_text()
    assert "{&#39;" not in html and "{'" not in html  # best hyperparameters as a table
    again = run_search(tiny_dataset, tmp_path / "run2", _settings(tmp_path, trials=1, seed=2))
    finished = [t for t in again.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 3  # the same study, continued from the database
