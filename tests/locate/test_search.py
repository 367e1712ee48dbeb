"""Optuna search over the paper's space: trials stored in SQLite, a study resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quakesense.locate.search import SearchSpace, run_search
from tests.locate.tiny_data import tiny_train_config


def test_search_stores_trials_and_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    space = SearchSpace(
        conv_layers=(1, 2), dense_layers=(0, 1), dense_units=(8, 16), channels=(2, 4)
    )
    base = tiny_train_config(frames_per_event=1)
    study = run_search(tiny_dataset, base, n_trials=2, storage=storage, space=space, seed=1)
    assert len(study.trials) == 2
    finished = [t for t in study.trials if t.value is not None]
    assert finished and all(np.isfinite(t.value) for t in finished)
    for trial in finished:
        config = trial.user_attrs["config"]
        assert 1 <= len(config["kernels"]) <= 2 and min(config["kernels"]) >= 3
        assert len(config["dense_units"]) <= 1 and 0 <= config["dropout"] <= 0.5
    again = run_search(tiny_dataset, base, n_trials=1, storage=storage, space=space, seed=2)
    assert len(again.trials) == 3  # the same study, continued from the database
    assert (tmp_path / "study.db").is_file()
