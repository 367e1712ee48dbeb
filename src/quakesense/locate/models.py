"""Networks that regress hypocentre parameters from surface snapshots or station waveforms.

- `SnapshotCNN2D`: LeNet-like CNN on one H x W image (Sugiyama et al. 2021): convolutions
  without zero padding, batch norm before ReLU, 2 x 2 max pooling, 50 % dropout before the
  last layer.
- `SnapshotCNN3D`: the same idea on a clip of T frames (x, y, t) (Tran et al. 2015).
- `ConvNetQuake`: the baseline of the paper's Table 1 (Perol et al. 2018): 1-D strided
  convolutions over the station waveforms (stations x components as channels).

Each can be built as one network for all five targets or, with `separate=True`, as two
networks, one for (latitude, longitude) and one for (depth, origin delay, magnitude), which the
paper found necessary against overfitting. All are registered with `core.persistence`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from quakesense.core.errors import InputError
from quakesense.core.persistence import register_model

TARGETS: tuple[str, ...] = (
    "latitude_deg",
    "longitude_deg",
    "depth_km",
    "origin_delay_s",
    "magnitude",
)
"""Regression targets; the origin delay is the image (or window-end) time minus the origin time."""
SPLIT_GROUPS: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3, 4))


class ArchitectureError(InputError):
    """Layer settings that cannot be built (e.g. kernels larger than the shrunken image)."""


def _dense_head(
    n_features: int, dense_units: Sequence[int], n_outputs: int, dropout: float
) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_features
    for units in dense_units:
        layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU()]
        width = units
    layers += [nn.Dropout(dropout), nn.Linear(width, n_outputs)]
    return nn.Sequential(*layers)


def _conv_trunk(
    dims: int,
    in_shape: tuple[int, ...],
    channels: Sequence[int],
    kernels: Sequence[int],
    in_channels: int = 1,
) -> tuple[nn.Sequential, int]:
    """Conv (no padding) -> batch norm -> ReLU -> max pool, per layer; returns (trunk, n_out).

    Pooling halves every axis that is still at least 2 long (a short time axis is kept).

    Raises:
        ArchitectureError: when a kernel no longer fits the shrinking image.
    """
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    pool = nn.MaxPool2d if dims == 2 else nn.MaxPool3d
    if len(channels) != len(kernels) or not channels:
        raise ArchitectureError(
            "need one kernel size per convolution layer, and at least one layer", field="kernels"
        )
    layers: list[nn.Module] = []
    shape = list(in_shape)
    width = in_channels
    for out_channels, kernel in zip(channels, kernels, strict=True):
        sizes = [min(kernel, s) if i == 0 and dims == 3 else kernel for i, s in enumerate(shape)]
        shape = [s - k + 1 for s, k in zip(shape, sizes, strict=True)]
        if min(shape) < 1:
            raise ArchitectureError(
                f"kernel {kernel} does not fit the {in_shape} input after "
                f"{len(layers) // 4} layer(s); use fewer layers or smaller kernels",
                field="kernels",
            )
        pools = [2 if s >= 2 else 1 for s in shape]
        shape = [s // p for s, p in zip(shape, pools, strict=True)]
        layers += [
            conv(width, out_channels, kernel_size=tuple(sizes), padding=0),
            norm(out_channels),
            nn.ReLU(),
            pool(kernel_size=tuple(pools)),
        ]
        width = out_channels
    n_out = width
    for s in shape:
        n_out *= s
    return nn.Sequential(*layers), n_out


class _Regressor(nn.Module):
    """One trunk + head per target group; outputs concatenated in `TARGETS` order."""

    def _build(self, make_branch: Callable[[int], nn.Module], separate: bool) -> None:
        groups = SPLIT_GROUPS if separate else (tuple(range(len(TARGETS))),)
        self.branches = nn.ModuleList(make_branch(len(g)) for g in groups)
        order = [i for g in groups for i in g]
        self.register_buffer("_order", torch.tensor([order.index(i) for i in range(len(TARGETS))]))

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Targets (batch, 5) in `TARGETS` order, normalised as in training."""
        x = self._prepare(x)
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        return out.index_select(1, self._order)


@register_model("locate.cnn2d")
class SnapshotCNN2D(_Regressor):
    """LeNet-like 2-D CNN: (batch, H, W) snapshot -> five hypocentre parameters.

    Args:
        height, width: Image size (paper: 32 x 32).
        channels: Filters per convolution layer.
        kernels: Kernel size per convolution layer (paper: 3 or 7; search: 3-9).
        dense_units: Width of each hidden fully connected layer (0-3 layers).
        dropout: Dropout before the output layer (paper: 0.5).
        separate: Two networks, for (lat, lon) and (depth, origin delay, magnitude).
        in_channels: Input channels (2 with the peak-normalised input and its level channel);
            a (batch, H, W) input is read as one channel.
    """

    def __init__(
        self,
        height: int = 32,
        width: int = 32,
        channels: Sequence[int] = (16, 32),
        kernels: Sequence[int] = (5, 5),
        dense_units: Sequence[int] = (128,),
        dropout: float = 0.5,
        separate: bool = False,
        in_channels: int = 1,
    ) -> None:
        super().__init__()

        def branch(n_outputs: int) -> nn.Sequential:
            trunk, n_features = _conv_trunk(2, (height, width), channels, kernels, in_channels)
            return nn.Sequential(trunk, _dense_head(n_features, dense_units, n_outputs, dropout))

        self._build(branch, separate)
        self._image_ndim = 2

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1) if x.ndim == self._image_ndim + 1 else x


@register_model("locate.cnn3d")
class SnapshotCNN3D(_Regressor):
    """3-D CNN: (batch, T, H, W) clip of snapshots -> five hypocentre parameters.

    Args:
        n_frames: Clip length T (paper: 10 and 60 frames at 0.1 s).
        height, width: Image size.
        channels, kernels, dense_units, dropout, separate: As for `SnapshotCNN2D`; a kernel
            longer than the remaining time axis is shortened to fit it.
        in_channels: As for `SnapshotCNN2D`; a (batch, T, H, W) input is read as one channel.
    """

    def __init__(
        self,
        n_frames: int = 10,
        height: int = 32,
        width: int = 32,
        channels: Sequence[int] = (8, 16),
        kernels: Sequence[int] = (3, 3),
        dense_units: Sequence[int] = (128,),
        dropout: float = 0.5,
        separate: bool = False,
        in_channels: int = 1,
    ) -> None:
        super().__init__()

        def branch(n_outputs: int) -> nn.Sequential:
            trunk, n_features = _conv_trunk(
                3, (n_frames, height, width), channels, kernels, in_channels
            )
            return nn.Sequential(trunk, _dense_head(n_features, dense_units, n_outputs, dropout))

        self._build(branch, separate)
        self._image_ndim = 3

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1) if x.ndim == self._image_ndim + 1 else x


@register_model("locate.convnetquake")
class ConvNetQuake(_Regressor):
    """ConvNetQuake-style baseline: (batch, n_stations * 3, n_samples) waveforms -> parameters.

    Perol et al. (2018): eight 1-D convolutions of 32 filters, kernel 3, stride 2, ReLU, then a
    fully connected layer; here regressing the five parameters instead of classifying clusters.

    Args:
        n_channels: Input channels (stations x components).
        n_samples: Window length in samples.
        n_layers: Strided convolution layers (stopped early when the window is used up).
        filters: Filters per layer.
        dropout: Dropout before the output layer.
        separate: Two networks, as for the CNNs.
    """

    def __init__(
        self,
        n_channels: int,
        n_samples: int,
        n_layers: int = 8,
        filters: int = 32,
        dropout: float = 0.5,
        separate: bool = False,
    ) -> None:
        super().__init__()

        def branch(n_outputs: int) -> nn.Sequential:
            layers: list[nn.Module] = []
            width, length = n_channels, n_samples
            for _ in range(n_layers):
                if length < 2:
                    break
                layers += [nn.Conv1d(width, filters, 3, stride=2, padding=1), nn.ReLU()]
                width, length = filters, (length + 1) // 2
            layers.append(_dense_head(width * length, (), n_outputs, dropout))
            return nn.Sequential(*layers)

        self._build(branch, separate)
