"""The seed paper's CNN+LSTM forecaster, its CNN-only variant, and their streamed training data.

Per step (one or more days) the input map has two channels, the largest magnitude and log(1 +
count) per cell. A convolutional embedding (16 channels) feeds a ConvLSTM (hidden 32); a
convolutional head gives one logit per cell, to which the prior is added before the sigmoid
(the paper's residual form): the logit of the historical rate (a buffer fitted on training data)
or, for the hybrid, the logit of the ETAS probability, passed per step.

Training uses truncated backpropagation through time: each sample is a window of
`window_steps` steps preceded by `warm_steps` steps run without gradient to warm up the state;
gradients are also cut every `tbptt_steps` steps inside the window. Samples are read from the
Zarr grid on demand (never materialised), so they can be shuffled and batched by
`core.training.fit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from quakesense.core.models import register_model

OffsetFn = Callable[[np.ndarray], np.ndarray]
N_CHANNELS = 2


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell: the four LSTM gates from a convolution of [input, hidden]."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(
            in_channels + hidden_channels, 4 * hidden_channels, kernel_size, padding="same"
        )

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one step; return (hidden, cell)."""
        h, c = state
        i, f, o, g = torch.chunk(self.gates(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


@register_model("forecast_convlstm")
class ConvLSTMForecaster(nn.Module):
    """CNN+LSTM (or CNN-only) residual forecaster on a (height, width) grid.

    Args:
        height: Grid rows (the prior buffer's shape).
        width: Grid columns.
        embed_channels: Channels of the convolutional embedding (paper: 16).
        hidden_channels: ConvLSTM hidden channels (paper: 32).
        kernel_size: Convolution kernel size.
        recurrent: False gives the CNN-only variant, which sees the last `cnn_history_steps`
            steps stacked as channels instead of a recurrent state.
        cnn_history_steps: History length of the CNN-only variant.
        warm_steps: Leading steps of each training sample run without gradient.
        tbptt_steps: Gradient truncation interval inside a sample.
        prior_scale: Weight of the prior logit (the paper's c).
    """

    def __init__(
        self,
        height: int,
        width: int,
        embed_channels: int = 16,
        hidden_channels: int = 32,
        kernel_size: int = 3,
        recurrent: bool = True,
        cnn_history_steps: int = 8,
        warm_steps: int = 0,
        tbptt_steps: int = 50,
        prior_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.cnn_history_steps = cnn_history_steps
        self.warm_steps = warm_steps
        self.tbptt_steps = tbptt_steps
        self.prior_scale = prior_scale
        self.hidden_channels = hidden_channels
        in_channels = N_CHANNELS * (1 if recurrent else cnn_history_steps)
        self.embed = nn.Sequential(
            nn.Conv2d(in_channels, embed_channels, kernel_size, padding="same"),
            nn.ReLU(),
            nn.Conv2d(embed_channels, embed_channels, kernel_size, padding="same"),
            nn.ReLU(),
        )
        if recurrent:
            self.cell = ConvLSTMCell(embed_channels, hidden_channels, kernel_size)
        else:
            self.body = nn.Sequential(
                nn.Conv2d(embed_channels, hidden_channels, kernel_size, padding="same"), nn.ReLU()
            )
        self.head = nn.Sequential(
            nn.Conv2d(hidden_channels, 16, kernel_size, padding="same"),
            nn.ReLU(),
            nn.Conv2d(16, 1, 1),
        )
        self.register_buffer("prior_logit", torch.zeros(height, width))
        self.register_buffer("input_mean", torch.zeros(N_CHANNELS))
        self.register_buffer("input_scale", torch.ones(N_CHANNELS))

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero state for inputs x (B, S, C, H, W)."""
        b, _, _, h, w = x.shape
        zeros = x.new_zeros(b, self.hidden_channels, h, w)
        return zeros, zeros.clone()

    def forward(
        self,
        x: torch.Tensor,
        offset: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Logits (B, S, H, W) for inputs x (B, S, C, H, W) and extra prior offsets
        (B, S, H, W) or (B, S, 1, 1); with `state` given, it is continued and updated in place
        of the last two list items (for streamed inference)."""
        x = (x - self.input_mean[:, None, None]) / self.input_scale[:, None, None]
        run_state = self.initial_state(x) if state is None else state
        outputs = []
        for step in range(x.shape[1]):
            warm = self.training and step < self.warm_steps
            if (
                self.training
                and step > self.warm_steps
                and (step - self.warm_steps) % self.tbptt_steps == 0
            ):
                run_state = (run_state[0].detach(), run_state[1].detach())
            with torch.set_grad_enabled(torch.is_grad_enabled() and not warm):
                if self.recurrent:
                    run_state = self.cell(self.embed(x[:, step]), run_state)
                    features = run_state[0]
                else:
                    first = step - self.cnn_history_steps + 1
                    history = x[:, max(first, 0) : step + 1]
                    if first < 0:
                        pad = history.new_zeros(x.shape[0], -first, *x.shape[2:])
                        history = torch.cat([pad, history], dim=1)
                    features = self.body(self.embed(history.flatten(1, 2)))
                logit = self.head(features)[:, 0]
            outputs.append(logit + self.prior_scale * (self.prior_logit + offset[:, step]))
        if state is not None:
            state[0].copy_(run_state[0])
            state[1].copy_(run_state[1])
        return torch.stack(outputs, dim=1)


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted binary cross-entropy, normalised by the total weight (minority weight inside)."""
    loss = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * weight).sum() / weight.sum().clamp_min(1e-9)


def read_steps(group: Any, first_step: int, n_steps: int, step_days: int) -> np.ndarray:
    """Input maps (n_steps, 2, ny, nx) of steps `first_step ...` (steps before day 0 are empty):
    per step the largest magnitude and log(1 + count) over its `step_days` days."""
    max_mag, count = group["max_magnitude"], group["count"]
    ny, nx = max_mag.shape[1:]
    out = np.zeros((n_steps, N_CHANNELS, ny, nx), dtype=np.float32)
    first_day = first_step * step_days
    lo = max(first_day, 0)
    hi = min((first_step + n_steps) * step_days, max_mag.shape[0])
    if hi <= lo:
        return out
    mags = np.asarray(max_mag[lo:hi])
    counts = np.asarray(count[lo:hi]).astype(np.float32)
    pad = lo - first_day
    tail = n_steps * step_days - pad - (hi - lo)
    mags = np.concatenate(
        [np.zeros((pad, ny, nx), np.float32), mags, np.zeros((tail, ny, nx), np.float32)]
    )
    counts = np.concatenate(
        [np.zeros((pad, ny, nx), np.float32), counts, np.zeros((tail, ny, nx), np.float32)]
    )
    out[:, 0] = mags.reshape(n_steps, step_days, ny, nx).max(axis=1)
    out[:, 1] = np.log1p(counts.reshape(n_steps, step_days, ny, nx).sum(axis=1))
    return out


def read_targets(
    group: Any, forecast_days: np.ndarray, horizon_days: tuple[int, int], mc: float
) -> np.ndarray:
    """Targets (n, ny, nx) for consecutive forecast days read from the grid's max magnitudes."""
    lo = int(forecast_days[0]) + horizon_days[0]
    hi = int(forecast_days[-1]) + horizon_days[1]
    hits = np.asarray(group["max_magnitude"][lo:hi]) >= mc
    cumulative = np.concatenate([np.zeros((1, *hits.shape[1:]), np.int32), np.cumsum(hits, 0)])
    start = np.asarray(forecast_days) + horizon_days[0] - lo
    stop = np.asarray(forecast_days) + horizon_days[1] - lo
    return (cumulative[stop] - cumulative[start]) > 0


class GridWindows(Dataset):
    """Training samples streamed from the Zarr grid: (inputs, offsets, targets, weights).

    A sample covers `warm_steps + window_steps` consecutive steps; step j forecasts from day
    T = (j + 1) * step_days. Warm steps and cells outside `mask` get weight 0; positive cells get
    `minority_weight`.

    Args:
        group: Open Zarr grid group.
        forecast_steps: Steps whose targets may be used (their T + h_max within the period).
        window_steps: Steps with loss per sample.
        warm_steps: Steps before each window run without gradient.
        step_days: Days per step.
        horizon_days: Target window (h_min, h_max).
        mc: Target magnitude threshold.
        mask: (ny, nx) cells that count in the loss.
        minority_weight: Weight of positive cells.
        offsets: Optional prior logits per forecast day (hybrid); None gives zeros.
    """

    def __init__(
        self,
        group: Any,
        forecast_steps: np.ndarray,
        window_steps: int,
        warm_steps: int,
        step_days: int,
        horizon_days: tuple[int, int],
        mc: float,
        mask: np.ndarray,
        minority_weight: float,
        offsets: OffsetFn | None = None,
    ) -> None:
        self.group = group
        steps = np.asarray(forecast_steps, dtype=np.int64)
        self.starts = steps[:: max(window_steps, 1)]
        self.last_step = int(steps[-1])
        self.window_steps = window_steps
        self.warm_steps = warm_steps
        self.step_days = step_days
        self.horizon_days = horizon_days
        self.mc = mc
        self.mask = mask.astype(np.float32)
        self.minority_weight = minority_weight
        self.offsets = offsets

    def __len__(self) -> int:
        return int(self.starts.size)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        start = int(self.starts[index])
        n_window = min(self.window_steps, self.last_step - start + 1)
        n_total = self.warm_steps + self.window_steps
        x = read_steps(self.group, start - self.warm_steps, n_total, self.step_days)
        steps = np.arange(start - self.warm_steps, start + self.window_steps)
        days = (steps + 1) * self.step_days
        shape = self.mask.shape
        target = np.zeros((n_total, *shape), dtype=np.float32)
        weight = np.zeros_like(target)
        valid = slice(self.warm_steps, self.warm_steps + n_window)
        labels = read_targets(self.group, days[valid], self.horizon_days, self.mc)
        target[valid] = labels
        weight[valid] = np.where(labels, self.minority_weight, 1.0) * self.mask
        if self.offsets is None:
            offset = np.zeros((n_total, 1, 1), dtype=np.float32)
        else:
            offset = self.offsets(days).astype(np.float32)
        return tuple(torch.from_numpy(a) for a in (x, offset, target, weight))


@torch.no_grad()
def predict_maps(
    module: ConvLSTMForecaster,
    group: Any,
    forecast_days: np.ndarray,
    step_days: int,
    *,
    offsets: OffsetFn | None = None,
    chunk_steps: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Probabilities (n, ny, nx) at each forecast day, streaming steps through the network.

    The forecast at day T uses the output of step floor(T / step_days) - 1, i.e. only days < T.
    """
    from tqdm import tqdm

    module.eval()
    forecast_days = np.asarray(forecast_days, dtype=np.int64)
    wanted = forecast_days // step_days - 1
    ny, nx = group["max_magnitude"].shape[1:]
    out = np.zeros((forecast_days.size, ny, nx), dtype=np.float32)
    state = None
    n_steps = int(wanted.max()) + 1
    # The CNN-only variant needs the steps before a chunk as its history.
    lead = 0 if module.recurrent else module.cnn_history_steps - 1
    for first in tqdm(range(0, n_steps, chunk_steps), desc="convlstm", disable=not progress):
        n = min(chunk_steps, n_steps - first)
        x = torch.from_numpy(read_steps(group, first - lead, n + lead, step_days))[None]
        days = (np.arange(first - lead, first + n) + 1) * step_days
        if offsets is None:
            offset = torch.zeros(1, n + lead, 1, 1)
        else:
            offset = torch.from_numpy(offsets(days).astype(np.float32))[None]
        if state is None:
            state = module.initial_state(x)
        logits = module(x, offset, state)[0, lead:].numpy()
        for k in np.flatnonzero((wanted >= first) & (wanted < first + n)):
            out[k] = 1.0 / (1.0 + np.exp(-logits[wanted[k] - first]))
    return out
