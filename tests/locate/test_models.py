"""Network shapes, the paper's layer rules, separate networks, and save/load round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from quakesense.core.persistence import load_model, save_model
from quakesense.locate.models import (
    TARGETS,
    ArchitectureError,
    ConvNetQuake,
    SnapshotCNN2D,
    SnapshotCNN3D,
)


def test_output_shapes() -> None:
    assert SnapshotCNN2D()(torch.randn(3, 32, 32)).shape == (3, len(TARGETS))
    assert SnapshotCNN3D(n_frames=10)(torch.randn(2, 10, 32, 32)).shape == (2, 5)
    assert ConvNetQuake(n_channels=12, n_samples=60)(torch.randn(4, 12, 60)).shape == (4, 5)


def test_lenet_rules_no_padding_batchnorm_before_relu_dropout_half() -> None:
    net = SnapshotCNN2D(channels=(6, 12), kernels=(5, 5), dense_units=(32,))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.padding == (0, 0) for c in convs)
    layers = list(net.branches[0][0])
    for k, layer in enumerate(layers):
        if isinstance(layer, nn.Conv2d):
            assert isinstance(layers[k + 1], nn.BatchNorm2d)
            assert isinstance(layers[k + 2], nn.ReLU)
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 1 and dropouts[0].p == 0.5


def test_separate_networks_do_not_share_weights() -> None:
    net = SnapshotCNN2D(channels=(4,), kernels=(3,), dense_units=(), separate=True)
    assert len(net.branches) == 2
    net.eval()
    x = torch.randn(2, 32, 32)
    before = net(x)
    with torch.no_grad():  # changing the (depth, time, mag) network leaves lat/lon alone
        for p in net.branches[1].parameters():
            p.add_(1.0)
    after = net(x)
    assert torch.allclose(before[:, :2], after[:, :2])
    assert not torch.allclose(before[:, 2:], after[:, 2:])


@settings(max_examples=15, deadline=None)
@given(
    n_conv=st.integers(1, 5),
    kernel=st.integers(3, 9),
    n_dense=st.integers(0, 3),
)
def test_search_space_builds_or_refuses_clearly(n_conv: int, kernel: int, n_dense: int) -> None:
    try:
        net = SnapshotCNN2D(
            channels=[2] * n_conv, kernels=[kernel] * n_conv, dense_units=[8] * n_dense
        )
    except ArchitectureError as exc:
        assert "does not fit" in str(exc)
        return
    net.eval()
    assert net(torch.zeros(1, 32, 32)).shape == (1, 5)


def test_save_load_round_trip(tmp_path: Path) -> None:
    config = {
        "n_frames": 6,
        "height": 16,
        "width": 16,
        "channels": [4],
        "kernels": [3],
        "dense_units": [8],
        "dropout": 0.5,
        "separate": True,
    }
    net = SnapshotCNN3D(**config).eval()
    save_model(tmp_path / "m", net, name="locate.cnn3d", config=config)
    loaded = load_model(tmp_path / "m", expected="locate.cnn3d")
    x = torch.randn(2, 6, 16, 16)
    assert torch.allclose(net(x), loaded.module(x))
    with pytest.raises(Exception, match=r"expected a 'locate\.cnn2d'"):
        load_model(tmp_path / "m", expected="locate.cnn2d")
