"""The 2-D CNN learns to locate: it beats the no-skill mean location on off-node test events."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from quakesense.locate.detect import TriggerConfig
from quakesense.locate.evaluate import MEAN_METHOD, Condition, evaluate_synthetic, synthetic_rmse
from quakesense.locate.simulate import SimulateConfig, simulate
from quakesense.locate.train import LocateTrainConfig, SimulatedSet, train_locator


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_small_cnn_beats_the_mean_location(tmp_path: Path) -> None:
    """400 events of the embedded default (16 x 16 images), a few epochs, test split compared.

    Hypocentres are drawn continuously, so no test event sits on a training hypocentre.
    """
    torch.set_num_threads(1)
    config = SimulateConfig(
        n_events=400,
        seed=5,
        n_samples=200,
        chunk_events=100,
        figures=False,
        scheduler="synchronous",
        image={"height": 16, "width": 16},
    )
    simulate(config, tmp_path / "set", progress=False)
    data = SimulatedSet.open(tmp_path / "set")
    trigger = TriggerConfig(answer_after_s=3.0)
    locator = train_locator(
        data,
        LocateTrainConfig(
            channels=[8, 16],
            kernels=[3, 3],
            dense_units=[32],
            epochs=6,
            learning_rate=2e-3,
            frames_per_event=4,
            window_after_detection_s=5.0,
            trigger=trigger,
            patience=None,
            device="cpu",
            progress=False,
            seed=0,
        ),
    )
    results = evaluate_synthetic(data, locator, conditions=(Condition("clean"),), trigger=trigger)
    table = synthetic_rmse(results, data)
    table = table[table["test_set"] == "test"].set_index("method")
    cnn, mean = table.loc["cnn2d"], table.loc[MEAN_METHOD]
    assert cnn["n_events"] >= 0.9 * mean["n_events"]  # nearly every test event triggered
    # Off-node test events (continuous hypocentres): measured 5.73 vs 6.46 km (0.89 x, seed 0);
    # on the earlier on-node split it was 5.45 vs 7.07 km. 0.95 x leaves room for numerics.
    assert cnn["epicentre_km"] < 0.95 * mean["epicentre_km"]
