"""The seed paper's CNN+LSTM forecaster, its CNN-only variant, and their streamed data.

Per step (one or more days) the input map has two channels, the largest magnitude and log(1 +
count) per cell. A convolutional embedding (16 channels) feeds a ConvLSTM (hidden 32); a
convolutional head gives one logit per cell, to which the prior is added before the sigmoid
(the paper's residual form): the logit of the historical rate (a buffer fitted on training data)
or, for the hybrid, the logit of the ETAS probability, passed per step.

Inputs and targets of any run of consecutive steps are read from the Zarr grid on demand
(`read_block`), so no period is ever held in memory; training (`forecast/networks.py`) and
inference (`predict_maps`) stream the sequence through the network with its state carried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from quakesense.core.persistence import register_model

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


@register_model("forecast.convlstm")
class ConvLSTMForecaster(nn.Module):
    """CNN+LSTM (or CNN-only) residual forecaster on a (height, width) grid.

    The forward pass takes and returns the recurrent state, so a sequence can be run in pieces
    (stateful truncated backpropagation in training, streamed inference) with the same result
    as in one piece. The CNN-only variant's "state" is its last `cnn_history_steps - 1`
    normalised input steps.

    Args:
        height: Grid rows (the prior buffer's shape).
        width: Grid columns.
        embed_channels: Channels of the convolutional embedding (paper: 16).
        hidden_channels: ConvLSTM hidden channels (paper: 32).
        kernel_size: Convolution kernel size.
        recurrent: False gives the CNN-only variant, which sees the last `cnn_history_steps`
            steps stacked as channels instead of a recurrent state.
        cnn_history_steps: History length of the CNN-only variant.
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
        prior_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.cnn_history_steps = cnn_history_steps
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

    def initial_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        """Zero state for `batch` sequences: (hidden, cell), or the CNN's padding steps."""
        h, w = self.prior_logit.shape
        like = self.prior_logit
        if self.recurrent:
            zeros = like.new_zeros(batch, self.hidden_channels, h, w)
            return zeros, zeros.clone()
        return (like.new_zeros(batch, self.cnn_history_steps - 1, N_CHANNELS, h, w),)

    def forward(
        self,
        x: torch.Tensor,
        offset: torch.Tensor,
        state: tuple[torch.Tensor, ...] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits (B, S, H, W) and the state after the last step.

        Args:
            x: Inputs (B, S, C, H, W), raw (normalised inside).
            offset: Extra prior logits (B, S, H, W) or (B, S, 1, 1) (the hybrid's ETAS logit).
            state: State after the previous piece of the sequence; None starts from zeros.
        """
        x = (x - self.input_mean[:, None, None]) / self.input_scale[:, None, None]
        state = self.initial_state(x.shape[0]) if state is None else state
        outputs = []
        if self.recurrent:
            h, c = state
            for step in range(x.shape[1]):
                h, c = self.cell(self.embed(x[:, step]), (h, c))
                outputs.append(self.head(h)[:, 0])
            state = (h, c)
        else:
            sequence = torch.cat([state[0], x], dim=1)
            n = self.cnn_history_steps
            for step in range(x.shape[1]):
                history = sequence[:, step : step + n].flatten(1, 2)
                outputs.append(self.head(self.body(self.embed(history)))[:, 0])
            state = (sequence[:, sequence.shape[1] - (n - 1) :],)
        logits = torch.stack(outputs, dim=1)
        return logits + self.prior_scale * (self.prior_logit + offset), state


@register_model("forecast_convlstm")
class LegacyConvLSTMForecaster(ConvLSTMForecaster):
    """Loads models saved under the old registry key, whose config still names the removed
    per-sample TBPTT settings (`warm_steps`, `tbptt_steps`); they do not affect inference."""

    def __init__(self, *args: Any, warm_steps: int = 0, tbptt_steps: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)


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


def read_block(
    group: Any,
    first_step: int,
    n_steps: int,
    step_days: int,
    horizon_days: tuple[int, int],
    mc: float,
    loss_steps: tuple[int, int],
    mask: np.ndarray,
    minority_weight: float,
    offsets: OffsetFn | None = None,
) -> tuple[np.ndarray, ...]:
    """Inputs, prior offsets, targets and loss weights of steps `first_step ...`.

    Step j forecasts from day T = (j + 1) * step_days. Only steps in `loss_steps` (first, last;
    inclusive) get targets and a non-zero weight: `minority_weight` on positive cells, 1 on
    the others, 0 outside `mask`.

    Returns:
        x (n, 2, ny, nx), offset (n, ny, nx) or (n, 1, 1), target and weight (n, ny, nx),
        all float32.
    """
    x = read_steps(group, first_step, n_steps, step_days)
    steps = np.arange(first_step, first_step + n_steps)
    days = (steps + 1) * step_days
    target = np.zeros((n_steps, *mask.shape), dtype=np.float32)
    weight = np.zeros_like(target)
    scored = (steps >= loss_steps[0]) & (steps <= loss_steps[1])
    if scored.any():
        labels = read_targets(group, days[scored], horizon_days, mc)
        target[scored] = labels
        weight[scored] = np.where(labels, minority_weight, 1.0) * mask
    if offsets is None:
        offset = np.zeros((n_steps, 1, 1), dtype=np.float32)
    else:
        offset = offsets(days).astype(np.float32)
    return x, offset, target, weight


@torch.no_grad()
def predict_maps(
    module: ConvLSTMForecaster,
    group: Any,
    forecast_days: np.ndarray,
    step_days: int,
    *,
    offsets: OffsetFn | None = None,
    chunk_steps: int = 64,
    device: str = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """Probabilities (n, ny, nx) at each forecast day, streaming all steps from the grid's
    first day through the network once.

    The forecast at day T uses the output of step floor(T / step_days) - 1, i.e. only days < T.
    """
    from tqdm import tqdm

    module.eval().to(device)
    forecast_days = np.asarray(forecast_days, dtype=np.int64)
    wanted = forecast_days // step_days - 1
    ny, nx = group["max_magnitude"].shape[1:]
    out = np.zeros((forecast_days.size, ny, nx), dtype=np.float32)
    state = None
    n_steps = int(wanted.max()) + 1
    for first in tqdm(range(0, n_steps, chunk_steps), desc="network", disable=not progress):
        n = min(chunk_steps, n_steps - first)
        x = torch.from_numpy(read_steps(group, first, n, step_days))[None].to(device)
        days = (np.arange(first, first + n) + 1) * step_days
        if offsets is None:
            offset = torch.zeros(1, n, 1, 1, device=device)
        else:
            offset = torch.from_numpy(offsets(days).astype(np.float32))[None].to(device)
        logits, state = module(x, offset, state)
        probability = torch.sigmoid(logits[0]).cpu().numpy()
        for k in np.flatnonzero((wanted >= first) & (wanted < first + n)):
            out[k] = probability[wanted[k] - first]
    return out
