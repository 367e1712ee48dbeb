"""The precursor MLP wrapper: reproducible from its own seed."""

from __future__ import annotations

import numpy as np
import torch

from quakesense.core.training import TrainConfig
from quakesense.precursor.models import MLPClassifier, MLPConfig


def test_mlp_weights_do_not_depend_on_earlier_torch_use() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(float)
    config = MLPConfig(
        hidden=[4], train=TrainConfig(max_epochs=1, batch_size=20, progress=False, seed=5)
    )
    weights = []
    for earlier_draws in (0, 7):
        torch.rand(earlier_draws)  # what other code in the same process did before
        model = MLPClassifier(config).fit(x[:40], y[:40], x[40:], y[40:])
        weights.append([p.detach().clone() for p in model.module_.parameters()])
    for first, second in zip(*weights, strict=True):
        torch.testing.assert_close(first, second)
