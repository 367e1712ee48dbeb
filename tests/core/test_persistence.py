"""Model files: weights, full config and normalisation survive a save/load round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from quakesense.core.errors import InputError
from quakesense.core.persistence import Normalisation, load_model, register_model, save_model
from quakesense.core.training import predict


@register_model("test-core-mlp")
class _Mlp(nn.Module):
    def __init__(self, n_inputs: int, width: int = 4, activation: str = "sigmoid") -> None:
        super().__init__()
        act = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
        self.net = nn.Sequential(nn.Linear(n_inputs, width), act, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_round_trip_reproduces_predictions_and_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = _Mlp(3, width=5, activation="relu")
    x = np.random.default_rng(0).normal(size=(20, 3))
    norm = Normalisation.fit(x, names=["a", "b", "c"])
    config = {"n_inputs": 3, "width": 5, "activation": "relu"}
    save_model(
        tmp_path / "m",
        module,
        name="test-core-mlp",
        config=config,
        normalisation={"inputs": norm},
        extra={"threshold": 0.3},
    )
    loaded = load_model(tmp_path / "m", expected="test-core-mlp")
    np.testing.assert_allclose(
        predict(loaded.module, norm.apply(x)), predict(module, norm.apply(x)), rtol=1e-6
    )
    assert loaded.config == config
    np.testing.assert_allclose(loaded.normalisation["inputs"].mean, norm.mean)
    assert loaded.normalisation["inputs"].names == ["a", "b", "c"]
    assert loaded.extra == {"threshold": 0.3}
    assert loaded.versions["torch"] == torch.__version__


def test_loading_the_wrong_kind_or_a_newer_format_fails_clearly(tmp_path: Path) -> None:
    save_model(tmp_path / "m", _Mlp(2), name="test-core-mlp", config={"n_inputs": 2})
    with pytest.raises(InputError, match="expected a 'cnn2d'"):
        load_model(tmp_path / "m", expected="cnn2d")
    document = json.loads((tmp_path / "m" / "model.json").read_text())
    document["versions"]["min_quakesense"] = "99.0.0"
    (tmp_path / "m" / "model.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"needs quakesense >= 99\.0\.0"):
        load_model(tmp_path / "m")


def test_normalisation_inverts_and_guards_constant_columns() -> None:
    values = np.array([[1.0, 5.0], [3.0, 5.0]])
    norm = Normalisation.fit(values)
    assert norm.scale[1] == 1.0
    np.testing.assert_allclose(norm.invert(norm.apply(values)), values)
    assert Normalisation.from_dict(norm.to_dict()).to_dict() == norm.to_dict()
