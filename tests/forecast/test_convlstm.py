"""ConvLSTM: streamed windows agree with the event-list targets; forecasts never see day >= T;
a saved model predicts the same after loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from quakesense.core.models import load_model, save_model
from quakesense.forecast.convlstm import ConvLSTMForecaster, GridWindows, predict_maps
from quakesense.forecast.grid import GridSpec, grid_events, open_grid, target_maps, write_grid
from quakesense.io.catalog import Region
from quakesense.synth.forecast_catalog import simulate_catalog

N_DAYS = 300


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
    steps = np.arange(5, 60)
    windows = GridWindows(
        group,
        steps,
        window_steps=20,
        warm_steps=4,
        step_days=step_days,
        horizon_days=(10, 50),
        mc=3.5,
        mask=np.ones(spec.shape, bool),
        minority_weight=100.0,
    )
    x, offset, target, weight = windows[1]
    days = (np.arange(25, 45) + 1) * step_days
    expected = target_maps(events, spec.shape, days, (10, 50), 3.5)
    np.testing.assert_array_equal(target[4:].numpy().astype(bool), expected)
    assert torch.all(weight[:4] == 0) and set(torch.unique(weight[4:]).tolist()) <= {1.0, 100.0}
    assert x.shape == (24, 2, *spec.shape)
    assert offset.shape == (24, 1, 1) and torch.all(offset == 0)


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
    save_model(tmp_path / "m", module, name="forecast_convlstm", config=config)
    loaded = load_model(tmp_path / "m", expected="forecast_convlstm").module
    np.testing.assert_allclose(before, predict_maps(loaded, group, days, 1), rtol=1e-6)


def test_warm_steps_get_no_gradient() -> None:
    module = ConvLSTMForecaster(6, 5, hidden_channels=4, warm_steps=3, tbptt_steps=2).train()
    x = torch.rand(1, 7, 2, 6, 5, requires_grad=True)
    logits = module(x, torch.zeros(1, 7, 1, 1))
    logits[:, 3:].sum().backward()
    assert torch.all(x.grad[:, :3] == 0) and torch.any(x.grad[:, 3:] != 0)
