"""Pipeline stages: the network step and the ETAS threshold keep a national catalog within its
memory and time budget, and say so; preparing a problem never holds the catalog or a dense grid."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from quakesense.core.errors import InputError
from quakesense.forecast.config import ForecastConfig
from quakesense.forecast.pipeline import etas_threshold, fit_etas, forecast_dates
from quakesense.forecast.prepare import Prepared, network_step_days, prepare
from quakesense.forecast.scoring import Predictions
from quakesense.synth.forecast_catalog import simulate_catalog


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    config = ForecastConfig(min_magnitude=4.0, cell_km=40.0, history_days=120, progress=False)
    catalog = simulate_catalog(5, n_days=900)
    return prepare(config, tmp_path_factory.mktemp("prep"), catalog)


def test_network_step_grows_with_the_grid_only_when_not_given(prepared: Prepared) -> None:
    split, config = prepared.split, prepared.config
    assert prepared.step_days == 1
    n_days = split.train_end_day - config.history_days
    small = config.model_copy(update={"max_cell_steps": 100 * n_days})
    assert network_step_days(small, split, 100)[0] == 1
    k, note = network_step_days(small, split, 1000)
    assert k == 10 and "--step-days 1" in note
    fixed = small.model_copy(update={"step_days": 2})
    assert network_step_days(fixed, split, 1000) == (2, "")


def test_etas_threshold_keeps_the_event_budget(prepared: Prepared) -> None:
    magnitude = prepared.events.window(0, prepared.split.train_end_day).magnitude
    assert etas_threshold(prepared, prepared.split) == pytest.approx(
        min(4.0, prepared.completeness["mc_maxc"])
    )
    budget = int(np.sum(magnitude >= 3.6))
    prepared.config = prepared.config.model_copy(update={"etas_max_events": budget})
    mc_fit = etas_threshold(prepared, prepared.split)
    assert np.sum(magnitude >= mc_fit - 1e-9) <= budget
    assert np.sum(magnitude >= mc_fit - 0.1 - 1e-9) > budget
    assert "--etas-max-events" in prepared.warnings[-1]


def test_etas_settings_reach_the_fit_and_the_probabilities(prepared: Prepared) -> None:
    """The ETAS cut-offs are config fields recorded with the run; the cascade's probabilities
    (simulated clusters on the exact first-order part) lie between the first-order forecast's
    and 1 - exp(-cascade count), which overstates them."""
    base = prepared.config.model_copy(
        update={"etas_mc": 4.0, "etas_max_lag_days": 200.0, "etas_max_dist_km": 80.0}
    )
    days = prepared.split.test_days[:3]
    sums = {}
    for name, update in {
        "first": {"etas_cascade": False},
        "poisson": {"etas_n_sim": 0},
        "clusters": {"etas_n_sim": 200},
    }.items():
        preds = Predictions()
        prepared.config = base.model_copy(update=update)
        sums[name] = float(fit_etas(prepared, prepared.split, preds)(days).sum())
        info = preds.info["etas"]
        assert (info["max_lag_days"], info["max_dist_km"]) == (200.0, 80.0)
    prepared.config = base
    assert sums["first"] < sums["clusters"] < sums["poisson"]


def test_prepare_writes_the_grid_and_keeps_no_catalog(prepared: Prepared, tmp_path: Path) -> None:
    assert not hasattr(prepared, "catalog")
    assert prepared.group["max_magnitude"].shape == (prepared.spec.n_days, *prepared.spec.shape)
    assert prepared.labels(prepared.split.test_days[:2]).dtype == bool


@pytest.mark.slow
def test_prior_weight_is_chosen_on_validation_and_zero_removes_the_prior(
    prepared: Prepared, tmp_path: Path
) -> None:
    from quakesense.core.persistence import load_model
    from quakesense.forecast.networks import build_network, train_network

    config = prepared.config.model_copy(
        update={
            "epochs": 1,
            "window_steps": 10,
            "warm_steps": 2,
            "prior_scale_sweep": [0.0, 1.0],
        }
    )
    prep = replace(prepared, config=config, step_days=10, warnings=[])
    rng = np.random.default_rng(0)
    log_prior = rng.normal(-6.0, 1.0, prep.spec.shape)
    result = train_network(prep, prep.split, "convlstm", log_prior, None, tmp_path / "net")
    sweep = result["info"]["weight_sweep"]
    assert [entry["prior_scale"] for entry in sweep] == [0.0, 1.0]
    best = max(sweep, key=lambda entry: entry["valid_pr_auc"])
    assert result["info"]["prior_scale"] == best["prior_scale"]
    assert load_model(tmp_path / "net").module.prior_scale == best["prior_scale"]
    # c = 0: the network's logits do not depend on the prior at all.
    sample = rng.uniform(0.0, 5.0, (2, 2, *prep.spec.shape)).astype(np.float32)
    x = torch.as_tensor(sample[None])
    offset = torch.zeros(1, 2, 1, 1)
    outputs = [
        build_network(prep, "convlstm", sample, prior, scale)[0](x, offset)[0]
        for scale in (0.0, 1.0)
        for prior in (log_prior, log_prior + 3.0)
    ]
    torch.testing.assert_close(outputs[0], outputs[1])
    assert not torch.allclose(outputs[2], outputs[3])


def test_forecast_dates_are_sorted_distinct_and_each_checked(prepared: Prepared) -> None:
    spec = prepared.spec
    dates = forecast_dates("2001-03-02, 2000-06-01,2001-03-02", spec)
    assert [str(d.date()) for d in dates] == ["2000-06-01", "2001-03-02"]
    assert all(d.tzname() == "UTC" for d in dates)
    with pytest.raises(InputError, match="'2001-02-30' is not a date"):
        forecast_dates("2000-06-01,2001-02-30", spec)
    with pytest.raises(InputError, match="before the model's grid start"):
        forecast_dates(f"2000-06-01,{spec.origin.date()}", spec)
    with pytest.raises(InputError, match="no forecast date"):
        forecast_dates(" , ", spec)
