"""Training: learns, keeps the best epoch, is reproducible and resumes from checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn

from quakesense.core.training import TrainConfig, fit, predict, resolve_device


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(240, 2)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("float32")[:, None]
    return x, y


def _model(init_seed: int = 0) -> nn.Module:
    """A small classifier whose initial weights do not depend on what ran earlier in the process."""
    torch.manual_seed(init_seed)
    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1))


def _config(**kw: object) -> TrainConfig:
    base = {
        "max_epochs": 12,
        "batch_size": 32,
        "learning_rate": 0.05,
        "progress": False,
        "patience": None,
        "seed": 3,
    }
    base.update(kw)
    return TrainConfig(**base)


def test_fit_learns_a_separable_problem() -> None:
    x, y = _data()
    result = fit(
        _model(), nn.BCEWithLogitsLoss(), (x[:180], y[:180]), (x[180:], y[180:]), _config()
    )
    accuracy = ((predict(result.module, x[180:]) > 0) == (y[180:] > 0.5)).mean()
    assert accuracy > 0.9
    assert result.epochs_run == 12
    losses = [h["val_loss"] for h in result.history]
    assert result.best_val_loss == pytest.approx(min(losses), rel=1e-5)


def test_same_seed_same_weights() -> None:
    x, y = _data()
    runs = []
    for _ in range(2):
        module = _model(init_seed=123)
        runs.append(
            fit(
                module,
                nn.BCEWithLogitsLoss(),
                (x[:180], y[:180]),
                (x[180:], y[180:]),
                _config(max_epochs=3),
            )
        )
    for a, b in zip(runs[0].module.parameters(), runs[1].module.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_resume_continues_from_last_checkpoint(tmp_path: Path) -> None:
    x, y = _data()
    train, val = (x[:180], y[:180]), (x[180:], y[180:])
    first = fit(
        _model(), nn.BCEWithLogitsLoss(), train, val, _config(max_epochs=3, checkpoint_dir=tmp_path)
    )
    assert (tmp_path / "last.ckpt").exists()
    resumed = fit(
        _model(), nn.BCEWithLogitsLoss(), train, val, _config(max_epochs=5, checkpoint_dir=tmp_path)
    )
    assert first.epochs_run == 3
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3, 4]
    assert resumed.history[:3] == first.history  # the curve before the interruption is kept


def test_history_and_resume_point_go_past_the_best_epoch(tmp_path: Path) -> None:
    x, y = _data()
    # Flipped val labels: the better the network learns, the worse its val loss, so the best
    # epoch is an early one and every later epoch must still be in the history.
    train, val = (x[:180], y[:180]), (x[180:], 1.0 - y[180:])
    result = fit(
        _model(), nn.BCEWithLogitsLoss(), train, val, _config(max_epochs=4, checkpoint_dir=tmp_path)
    )
    assert result.best_epoch < 3
    assert result.epochs_run == 4
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3]
    saved = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["epoch"] == 3


def test_early_stopping_stops_before_max_epochs() -> None:
    x, _ = _data()
    noise = np.random.default_rng(1).random((240, 1)).astype("float32")
    result = fit(
        _model(),
        nn.MSELoss(),
        (x[:180], noise[:180]),
        (x[180:], noise[180:]),
        _config(max_epochs=200, patience=3, learning_rate=0.1),
    )
    assert result.epochs_run < 200


def test_cuda_request_without_gpu_falls_back_to_cpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(RuntimeWarning, match="using the CPU"):
        assert resolve_device("cuda") == "cpu"
    assert resolve_device("auto") == "cpu"


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _data()
    config = _config(max_epochs=2, progress=True)
    fit(_model(), nn.BCEWithLogitsLoss(), (x[:180], y[:180]), (x[180:], y[180:]), config)
    captured = capsys.readouterr()
    assert "Epoch 1" in captured.err
    assert "Epoch" not in captured.out


class _Stop(Exception):
    """Raised by the stand-in Trainer once it has seen its arguments."""


def test_scale_out_settings_reach_the_lightning_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    import lightning

    seen: dict[str, object] = {}

    def trainer(**kwargs: object) -> None:
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(lightning, "Trainer", trainer)
    x, y = _data()
    config = _config(device="cpu", devices=3, strategy="ddp_spawn")
    with pytest.raises(_Stop):
        fit(_model(), nn.BCEWithLogitsLoss(), (x[:180], y[:180]), (x[180:], y[180:]), config)
    assert (seen["accelerator"], seen["devices"], seen["strategy"]) == ("cpu", 3, "ddp_spawn")
    assert seen["max_epochs"] == 12


@pytest.mark.parametrize("bad", [{"devices": 0}, {"strategy": "horovod"}])
def test_scale_out_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _config(**bad)


@pytest.mark.slow
def test_two_cpu_processes_train_with_ddp_spawn() -> None:
    """Two CPU worker processes (gloo) train one model; the main process gets its best weights
    and the loss history back. About a minute on two busy cores (process start-up)."""
    import torch.multiprocessing as mp

    previous = mp.get_sharing_strategy()
    # This sandbox cannot resize the memfd files of torch's default "file_descriptor" sharing.
    mp.set_sharing_strategy("file_system")
    try:
        x, y = _data()
        result = fit(
            _model(),
            nn.BCEWithLogitsLoss(),
            (x[:180], y[:180]),
            (x[180:], y[180:]),
            _config(device="cpu", devices=2, strategy="ddp_spawn"),
        )
    finally:
        mp.set_sharing_strategy(previous)
    assert [h["epoch"] for h in result.history] == list(range(12))
    accuracy = ((predict(result.module, x[180:]) > 0) == (y[180:] > 0.5)).mean()
    assert accuracy > 0.9
