"""Optuna search over the paper's space: invalid architectures cost no trial, a study resumes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from quakesense.cli import main
from quakesense.locate import search
from quakesense.locate.search import SearchConfig, SearchSpace, run_search
from quakesense.locate.train import LocateTrainConfig, SimulatedSet
from tests.locate.tiny_data import tiny_train_config
from tests.progress_bars import has_bar

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


@pytest.mark.parametrize("shown", [True, False])
def test_progress_bar_counts_trained_trials_on_stderr(
    tiny_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    shown: bool,
) -> None:
    monkeypatch.setattr(
        search, "train_locator", lambda data, config: SimpleNamespace(training={"best_val_loss": 1})
    )
    settings = _settings(tmp_path, progress=shown)
    search.search_study(SimulatedSet.open(tiny_dataset), settings, settings.storage)
    err = capsys.readouterr().err
    assert has_bar(err, "search trials") is shown
    assert ("2/2" in err) is shown  # the bar counts trained trials, not pruned suggestions


@pytest.mark.parametrize(("flags", "shown"), [([], True), (["--no-progress"], False)])
def test_cli_progress_flag_reaches_the_search(
    tiny_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    shown: bool,
) -> None:
    given: list[SearchConfig] = []

    def fake_search(data: Path, out: Path, settings: SearchConfig, **_: object) -> object:
        given.append(settings)
        return SimpleNamespace(n_valid=1, n_pruned=0, best_value=1.0, best_number=0, report=out)

    monkeypatch.setattr(search, "run_search", fake_search)
    argv = ["locate", "search", "--data", str(tiny_dataset), "--out", str(tmp_path / "run")]
    assert main([*argv, *flags]) == 0
    assert given[0].progress is shown and given[0].train.progress is False


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
