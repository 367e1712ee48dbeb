"""ConvLSTM: streamed blocks agree with the event-list targets; forecasts never see day >= T;
a sequence run in pieces equals one run; a saved model predicts the same after loading (old
registry key included); stateful TBPTT training is seeded and reproducible."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from quakesense.core.persistence import load_model, save_model
from quakesense.forecast.convlstm import ConvLSTMForecaster, predict_maps, read_block
from quakesense.forecast.grid import GridSpec, grid_events, open_grid, target_maps, write_grid
from quakesense.io.catalog import Region
from quakesense.synth.forecast_catalog import simulate_catalog

N_DAYS = 300


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny convolutions are fastest (and not starved) on one thread of a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def gridded(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    catalog = simulate_catalog(3, n_days=N_DAYS)
    region = Region.from_bbox(36.5, 39.5, 140.5, 143.5)
    spec = GridSpec.from_region(
        region,
        30.0,
        catalog["time"].iloc[0].normalize(),
        catalog["time"].iloc[0].normalize() + pd.Timedelta(days=N_DAYS),
    )
    events, _ = grid_events(catalog, spec)
    path = tmp_path_factory.mktemp("g") / "grid.zarr"
    group, _ = open_grid(write_grid(events, spec, path, progress=False))
    return catalog, spec, events, group


@pytest.mark.parametrize("step_days", [1, 3])
def test_streamed_targets_equal_event_list_targets(gridded, step_days: int) -> None:
    _, spec, events, group = gridded
    x, offset, target, weight = read_block(
        group,
        21,
        24,
        step_days,
        (10, 50),
        3.5,
        (25, 60),
        np.ones(spec.shape, np.float32),
        100.0,
    )
    days = (np.arange(25, 45) + 1) * step_days
    expected = target_maps(events, spec.shape, days, (10, 50), 3.5)
    np.testing.assert_array_equal(target[4:].astype(bool), expected)
    assert np.all(weight[:4] == 0) and set(np.unique(weight[4:]).tolist()) <= {1.0, 100.0}
    assert x.shape == (24, 2, *spec.shape)
    assert offset.shape == (24, 1, 1) and np.all(offset == 0)


@pytest.mark.parametrize("recurrent", [True, False])
def test_sequence_in_pieces_equals_one_piece(recurrent: bool) -> None:
    torch.manual_seed(0)
    module = ConvLSTMForecaster(6, 5, hidden_channels=4, recurrent=recurrent, cnn_history_steps=3)
    x, offset = torch.rand(2, 9, 2, 6, 5), torch.zeros(2, 9, 1, 1)
    with torch.no_grad():
        whole, _ = module(x, offset)
        first, state = module(x[:, :4], offset[:, :4])
        second, _ = module(x[:, 4:], offset[:, 4:], state)
    torch.testing.assert_close(whole, torch.cat([first, second], dim=1))


@pytest.mark.parametrize("recurrent", [True, False])
def test_forecast_at_t_ignores_events_from_day_t_on(
    gridded, tmp_path: Path, recurrent: bool
) -> None:
    catalog, spec, _, group = gridded
    torch.manual_seed(0)
    module = ConvLSTMForecaster(*spec.shape, recurrent=recurrent, cnn_history_steps=4)
    forecast_day = 90
    base = predict_maps(module, group, np.array([forecast_day]), 1, chunk_steps=32)
    late = catalog["time"] >= spec.date(forecast_day)
    changed = catalog.copy()
    changed.loc[late, "magnitude"] = 7.0
    events2, _ = grid_events(changed, spec)
    group2, _ = open_grid(write_grid(events2, spec, tmp_path / "g2.zarr", progress=False))
    again = predict_maps(module, group2, np.array([forecast_day]), 1, chunk_steps=7)
    np.testing.assert_allclose(base, again, rtol=1e-5, atol=1e-7)
    early = changed["time"] < spec.date(forecast_day)
    changed.loc[early & (changed.index % 3 == 0), "magnitude"] = 7.0
    events3, _ = grid_events(changed, spec)
    group3, _ = open_grid(write_grid(events3, spec, tmp_path / "g3.zarr", progress=False))
    different = predict_maps(module, group3, np.array([forecast_day]), 1)
    assert not np.allclose(base, different)


def test_saved_model_predicts_the_same(gridded, tmp_path: Path) -> None:
    _, spec, _, group = gridded
    torch.manual_seed(1)
    config = {"height": spec.shape[0], "width": spec.shape[1], "hidden_channels": 8}
    module = ConvLSTMForecaster(**config)
    with torch.no_grad():
        module.prior_logit.normal_()
    days = np.array([40, 80])
    before = predict_maps(module, group, days, 1)
    save_model(tmp_path / "m", module, name="forecast.convlstm", config=config)
    loaded = load_model(tmp_path / "m", expected="forecast.convlstm").module
    np.testing.assert_allclose(before, predict_maps(loaded, group, days, 1), rtol=1e-6)
    legacy = tmp_path / "m" / "model.json"
    document = json.loads(legacy.read_text())
    document["model"] = "forecast_convlstm"
    document["config"].update(warm_steps=50, tbptt_steps=25)
    legacy.write_text(json.dumps(document))
    old = load_model(tmp_path / "m", expected="forecast_convlstm").module
    np.testing.assert_allclose(before, predict_maps(old, group, days, 1), rtol=1e-6)


def _train_once(group, spec) -> tuple[ConvLSTMForecaster, list]:
    from quakesense.forecast.networks import SequenceSource, fit_stateful

    torch.manual_seed(4)
    module = ConvLSTMForecaster(*spec.shape, embed_channels=4, hidden_channels=4)
    mask = np.ones(spec.shape, np.float32)
    source = SequenceSource(group, 1, (10, 50), 3.5, mask, 100.0)
    trained = fit_stateful(
        module,
        source,
        (30, 149),
        (160, 219),
        epochs=2,
        batch_size=2,
        window_steps=20,
        warm_steps=5,
        learning_rate=1e-2,
        patience=None,
        device="cpu",
        seed=4,
    )
    return trained.module, trained.history


def test_stateful_training_is_seeded_and_learns(gridded) -> None:
    _, spec, _, group = gridded
    torch.manual_seed(123)  # whatever ran before must not matter
    first, history = _train_once(group, spec)
    torch.rand(10)
    second, again = _train_once(group, spec)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in again]
    assert len(history) == 2 and all(np.isfinite(h["val_loss"]) for h in history)
    assert history[1]["train_loss"] < history[0]["train_loss"]


def test_windows_carry_state_and_truncate_gradients() -> None:
    module = ConvLSTMForecaster(6, 5, hidden_channels=4).train()
    x = torch.rand(1, 7, 2, 6, 5, requires_grad=True)
    offset = torch.zeros(1, 7, 1, 1)
    _, state = module(x[:, :3], offset[:, :3])
    state = tuple(s.detach() for s in state)
    logits, _ = module(x[:, 3:], offset[:, 3:], state)
    logits.sum().backward()
    assert torch.all(x.grad[:, :3] == 0) and torch.any(x.grad[:, 3:] != 0)
    assert not torch.allclose(logits, module(x[:, 3:].detach(), offset[:, 3:])[0])


def test_scale_out_refuses_fewer_streams_than_processes(gridded) -> None:
    from quakesense.core.errors import InputError
    from quakesense.forecast.networks import SequenceSource, fit_stateful

    _, spec, _, group = gridded
    source = SequenceSource(group, 1, (10, 50), 3.5, np.ones(spec.shape, np.float32), 100.0)
    module = ConvLSTMForecaster(*spec.shape, embed_channels=4, hidden_channels=4)
    with pytest.raises(InputError, match="--batch-size >= --devices"):
        fit_stateful(
            module,
            source,
            (30, 149),
            (160, 219),
            epochs=1,
            batch_size=1,
            window_steps=20,
            warm_steps=5,
            learning_rate=1e-2,
            patience=None,
            device="cpu",
            seed=0,
            devices=2,
        )
