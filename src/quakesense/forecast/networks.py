"""Training of the forecast networks by stateful truncated backpropagation through time.

One epoch is one pass over the training sequence: the steps are cut into `batch_size`
contiguous streams (independent start offsets, run side by side as a batch), each stream is
warmed up for `warm_steps` steps without gradient, then processed window by window
(`window_steps` steps per backward pass) with the recurrent state carried, detached, from one
window to the next. Window boundaries shift by a random phase each epoch. Every day of the
training period is thus processed once per epoch, against ~`window_steps` times when windows
slide one step at a time. The validation loss (one stream over the validation steps, warmed up
the same way) drives early stopping and the choice of the best epoch.

The loop runs under Lightning Fabric: with `devices` > 1 that many processes (spawned, DDP; gloo
on the CPU) each train on their share of the streams, DDP averages the gradients, and every
process computes the same validation loss; the main process gets rank 0's weights and history.
Every process makes the same number of backward calls: a window with no loss weight on any
process is run without gradient on all of them. One device runs in-process, as before.
"""

from __future__ import annotations

import copy
import itertools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quakesense.core.errors import InputError
from quakesense.core.training import quiet_lightning, torch_device
from quakesense.forecast.calibration import apply_platt, fit_platt, logit
from quakesense.forecast.convlstm import (
    ConvLSTMForecaster,
    OffsetFn,
    predict_maps,
    read_block,
    read_steps,
    weighted_bce,
)
from quakesense.forecast.prepare import Prepared
from quakesense.forecast.protocol import Split

MODEL_KEY = "forecast.convlstm"


@dataclass
class SequenceSource:
    """Where a network's inputs, targets and weights come from (the Zarr grid) and how."""

    group: Any
    step_days: int
    horizon_days: tuple[int, int]
    mc: float
    mask: np.ndarray
    minority_weight: float
    offsets: OffsetFn | None = None

    def batch(
        self, starts: np.ndarray, n_steps: int, loss_steps: list[tuple[int, int]], device: str
    ) -> tuple[torch.Tensor, ...]:
        """Tensors (B, n_steps, ...) of the streams starting at `starts`."""
        blocks = [
            read_block(
                self.group,
                int(start),
                n_steps,
                self.step_days,
                self.horizon_days,
                self.mc,
                scored,
                self.mask,
                self.minority_weight,
                self.offsets,
            )
            for start, scored in zip(starts, loss_steps, strict=True)
        ]
        parts = zip(*blocks, strict=True)
        return tuple(torch.from_numpy(np.stack(part)).to(device) for part in parts)


@dataclass
class OffsetTable:
    """Per-step prior offsets looked up in a precomputed table (picklable, unlike a closure, so
    that spawned training processes get them).

    Args:
        first_step: Step of the table's first row.
        step_days: Days per network step.
        maps: Offsets (n_steps, ny, nx) of steps `first_step ...`.
    """

    first_step: int
    step_days: int
    maps: np.ndarray

    def __call__(self, days: np.ndarray) -> np.ndarray:
        """Offsets of the steps that forecast from `days` ((step + 1) * step_days)."""
        return self.maps[np.asarray(days) // self.step_days - 1 - self.first_step]


@dataclass
class TBPTTSettings:
    """How `fit_stateful` trains (see its arguments)."""

    epochs: int
    window_steps: int
    warm_steps: int
    learning_rate: float
    patience: int | None
    seed: int
    threads: int


class _AsIs:
    """Holds a launch argument that Fabric's process launcher must pass on untouched: it walks
    dataclasses to unshare their tensors, and cannot rebuild the frozen Zarr group inside a
    `SequenceSource` (which holds no tensors)."""

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass
class TrainedNetwork:
    """A trained network (weights of its best validation epoch) and its loss history."""

    module: ConvLSTMForecaster
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    epochs_run: int = 0


def _warm_state(
    module: ConvLSTMForecaster,
    source: SequenceSource,
    starts: np.ndarray,
    warm_steps: int,
    device: str,
) -> tuple[torch.Tensor, ...] | None:
    """State after running the `warm_steps` steps before each start without gradient."""
    if warm_steps == 0:
        return None
    with torch.no_grad():
        x, offset, _, _ = source.batch(
            starts - warm_steps, warm_steps, [(0, -1)] * len(starts), device
        )
        return module(x, offset)[1]


def validation_loss(
    module: ConvLSTMForecaster,
    source: SequenceSource,
    steps: tuple[int, int],
    warm_steps: int,
    window_steps: int,
    device: str,
) -> float:
    """Weighted BCE over validation steps (first, last), one warmed-up stream, no gradient."""
    module.eval()
    first, last = steps
    state = _warm_state(module, source, np.array([first]), warm_steps, device)
    total, weight_sum = 0.0, 0.0
    with torch.no_grad():
        for start in range(first, last + 1, window_steps):
            n = min(window_steps, last + 1 - start)
            x, offset, target, weight = source.batch(np.array([start]), n, [steps], device)
            logits, state = module(x, offset, state)
            w = float(weight.sum())
            total += float(weighted_bce(logits, target, weight)) * w
            weight_sum += w
    return total / max(weight_sum, 1e-9)


def fit_stateful(
    module: ConvLSTMForecaster,
    source: SequenceSource,
    train_steps: tuple[int, int],
    valid_steps: tuple[int, int],
    *,
    epochs: int,
    batch_size: int,
    window_steps: int,
    warm_steps: int,
    learning_rate: float,
    patience: int | None,
    device: str,
    seed: int,
    devices: int = 1,
    strategy: str = "auto",
    threads: int | None = None,
) -> TrainedNetwork:
    """Train by stateful TBPTT over steps `train_steps` (first, last; inclusive).

    Args:
        device: `cpu` or `cuda` (a torch device name).
        devices: Processes (CPU) or GPUs that train together; the `batch_size` streams are
            shared out among them, so there must be at least as many streams.
        strategy: `auto` or `ddp_spawn` (what `auto` means for `devices` > 1); the loop runs
            inside the launched processes, so a strategy that relaunches the command does not fit.
        threads: Torch CPU threads per process (default: as set).

    Returns:
        The module (on the CPU, eval mode) with the weights of its lowest validation loss.
    """
    from lightning.fabric import Fabric

    first, last = train_steps
    n_steps = last - first + 1
    n_streams = max(1, min(batch_size, n_steps // max(window_steps, 1)))
    if n_streams < devices:
        raise InputError(
            f"{n_streams} training stream(s) cannot be shared by {devices} processes: give "
            f"--batch-size >= --devices (and at least --devices x --window-steps training steps)",
            field="--devices",
        )
    length = -(-n_steps // n_streams)
    starts = first + np.arange(n_streams) * length
    scored = [(int(s), int(min(s + length - 1, last))) for s in starts]
    settings = TBPTTSettings(
        epochs=epochs,
        window_steps=window_steps,
        warm_steps=warm_steps,
        learning_rate=learning_rate,
        patience=patience,
        seed=seed,
        threads=threads if threads is not None else torch.get_num_threads(),
    )
    quiet_lightning()
    fabric = Fabric(
        accelerator=device,
        devices=devices,
        strategy="ddp_spawn" if devices > 1 and strategy == "auto" else strategy,
    )
    with tempfile.TemporaryDirectory(prefix="quakesense-tbptt-") as scratch:
        saved = fabric.launch(
            _train_process,
            module,
            _AsIs(source),
            starts,
            scored,
            length,
            valid_steps,
            settings,
            Path(scratch) / "rank0.pt",
        )
        result = torch.load(saved, map_location="cpu", weights_only=True)
    module.load_state_dict(result["state"])
    return TrainedNetwork(
        module=module.cpu().eval(),
        history=result["history"],
        best_epoch=result["best_epoch"],
        epochs_run=len(result["history"]),
    )


def _train_process(
    fabric: Any,
    module: ConvLSTMForecaster,
    held: _AsIs,
    starts: np.ndarray,
    scored: list[tuple[int, int]],
    length: int,
    valid_steps: tuple[int, int],
    settings: TBPTTSettings,
    result_path: Path,
) -> Path:
    """The training loop of one process: its share of the streams (every `world_size`-th),
    gradients averaged by Fabric's strategy, the same validation loss on every process.

    Returns:
        `result_path`, where rank 0 saved the best (or, without one, the last) `state` dict, the
        `history` and the `best_epoch`: a spawned process hands back its return value through a
        pipe that the main process reads only after every process ended, too small for weights.
    """
    torch.set_num_threads(settings.threads)
    source: SequenceSource = held.value
    rank, world = fabric.global_rank, fabric.world_size
    device = fabric.device
    mine = slice(rank, None, world)
    starts, scored = starts[mine], scored[mine]
    window_steps, warm_steps = settings.window_steps, settings.warm_steps
    optimizer = torch.optim.Adam(module.parameters(), lr=settings.learning_rate)
    model, optimizer = fabric.setup(module, optimizer)
    rng = np.random.default_rng(settings.seed)
    history: list[dict[str, float]] = []
    best_loss, best_state, best_epoch, waited = np.inf, None, -1, 0
    for epoch in range(settings.epochs):
        t0 = time.perf_counter()
        model.train()
        phase = int(rng.integers(window_steps))
        cuts = sorted({0, length, *range(window_steps - phase, length, window_steps)})
        state = _warm_state(model, source, starts, warm_steps, device)
        total, weight_sum = 0.0, 0.0
        for lo, hi in itertools.pairwise(cuts):
            x, offset, target, weight = source.batch(starts + lo, hi - lo, scored, device)
            w = float(weight.sum())
            if _sum_over_processes(fabric, w) == 0:
                with torch.no_grad():
                    state = model(x, offset, state)[1]
                continue
            logits, state = model(x, offset, state)
            state = tuple(s.detach() for s in state)
            loss = weighted_bce(logits, target, weight)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += float(loss.detach()) * w
            weight_sum += w
        val = fabric.broadcast(
            validation_loss(model, source, valid_steps, warm_steps, window_steps, device), src=0
        )
        history.append(
            {
                "epoch": epoch,
                "train_loss": _sum_over_processes(fabric, total)
                / max(_sum_over_processes(fabric, weight_sum), 1e-9),
                "val_loss": val,
                "seconds": time.perf_counter() - t0,
            }
        )
        if val < best_loss:
            best_loss, best_epoch, waited = val, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            waited += 1
            if settings.patience is not None and waited >= settings.patience:
                break
    if rank == 0:
        torch.save(
            {
                "state": best_state if best_state is not None else module.state_dict(),
                "history": history,
                "best_epoch": best_epoch,
            },
            result_path,
        )
    return result_path


def _sum_over_processes(fabric: Any, value: float) -> float:
    """`value` summed over the training processes (itself with one)."""
    if fabric.world_size == 1:
        return value
    total = fabric.all_reduce(
        torch.tensor(value, dtype=torch.float64, device=fabric.device), reduce_op="sum"
    )
    return float(total)


def step_ranges(prep: Prepared, split: Split) -> tuple[tuple[int, int], tuple[int, int]]:
    """(first, last) network steps of training and validation: step j forecasts from day
    (j + 1) k and its target window must end inside its period."""
    k, h1 = prep.step_days, prep.horizon[1]
    first = max(prep.config.history_days // k, 1) - 1
    train = (first, (split.train_end_day - h1) // k - 1)
    valid = (
        max(first, -(-split.train_end_day // k) - 1),
        (split.valid_end_day - h1) // k - 1,
    )
    return train, valid


def build_network(
    prep: Prepared, kind: str, sample: np.ndarray, log_prior: np.ndarray, prior_scale: float = 1.0
) -> Any:
    """A network seeded before it is built (its initial weights depend only on the seed, not
    on what ran before), with the prior (weighted by `prior_scale`, the paper's c) and the input
    normalisation of the training steps."""
    from quakesense.core.persistence import Normalisation

    torch.manual_seed(prep.config.seed)
    module = ConvLSTMForecaster(
        *prep.spec.shape, recurrent=kind != "cnn", prior_scale=float(prior_scale)
    )
    norm = Normalisation.fit(sample.transpose(0, 2, 3, 1).reshape(-1, sample.shape[1]))
    with torch.no_grad():
        if kind != "convlstm_hybrid":
            module.prior_logit.copy_(torch.as_tensor(log_prior, dtype=torch.float32))
        module.input_mean.copy_(torch.as_tensor(norm.mean, dtype=torch.float32))
        module.input_scale.copy_(torch.as_tensor(norm.scale, dtype=torch.float32))
    return module, norm


def train_network(
    prep: Prepared,
    split: Split,
    kind: str,
    log_prior: np.ndarray,
    etas: Any,
    model_dir: Path,
) -> dict[str, Any] | None:
    """Train one network (minority weight and prior weight c chosen on validation PR AUC),
    calibrate it on validation, predict validation and test maps, save it to `model_dir`.

    Returns:
        `valid`, `test` probability maps, `history` and `info`; None (with a warning) when the
        split leaves no training or validation step.
    """
    from sklearn.metrics import average_precision_score

    from quakesense.core.persistence import save_model
    from quakesense.forecast.evaluation import bernoulli_log_likelihood

    config, spec, k = prep.config, prep.spec, prep.step_days
    torch.set_num_threads(config.threads)
    device = torch_device(config.device)
    train_steps, valid_steps = step_ranges(prep, split)
    if train_steps[1] < train_steps[0] or valid_steps[1] < valid_steps[0]:
        prep.warn(f"{kind}: no training or validation steps; skipped")
        return None
    offsets = None
    if kind == "convlstm_hybrid":

        def offsets(days: np.ndarray) -> np.ndarray:
            return logit(etas(days)).astype(np.float32)

        # One ETAS call for every step the network will see (it caches per day): per-window
        # calls would rebuild ETAS's cascade operator for each window.
        last = int(max(np.max(split.test_days) // k - 1, valid_steps[1]))
        first = min(0, train_steps[0] - config.warm_steps)
        maps = etas((np.arange(first, last + 1) + 1) * k)
        if config.devices > 1:  # spawned processes need a picklable table, not the closure
            offsets = OffsetTable(first, k, logit(maps).astype(np.float32))

    # Normalisation from at most 64 evenly spaced training steps, so that the training period
    # is never held in memory at once.
    chosen = np.unique(np.linspace(train_steps[0], train_steps[1], 64).astype(int))
    sample = np.concatenate([read_steps(prep.group, int(j), 1, k) for j in chosen])
    active = prep.masks["active"]
    days = np.concatenate([split.valid_days, split.test_days])
    n_valid = split.valid_days.size
    valid_labels = prep.labels(split.valid_days)
    best: dict[str, Any] = {"score": -np.inf}
    sweep = []
    settings = [
        (weight, scale)
        for weight in config.weight_sweep or [config.minority_weight]
        for scale in config.prior_scale_sweep or [config.prior_scale]
    ]
    for weight, scale in settings:
        module, norm = build_network(prep, kind, sample, log_prior, scale)
        source = SequenceSource(
            prep.group,
            k,
            prep.horizon,
            config.min_magnitude,
            prep.masks["all"].astype(np.float32),
            weight,
            offsets,
        )
        trained = fit_stateful(
            module,
            source,
            train_steps,
            valid_steps,
            epochs=config.epochs,
            batch_size=config.batch_size,
            window_steps=config.window_steps,
            warm_steps=config.warm_steps,
            learning_rate=config.learning_rate,
            patience=config.patience,
            device=device,
            seed=config.seed,
            devices=config.devices,
            strategy=config.strategy,
            threads=config.threads,
        )
        raw = predict_maps(
            trained.module.to(device),
            prep.group,
            days,
            k,
            offsets=offsets,
            device=device,
            progress=config.progress,
        )
        trained.module.cpu()
        calibration = fit_platt(raw[:n_valid], valid_labels, active)
        valid = apply_platt(raw[:n_valid], calibration)
        y = valid_labels[:, active]
        pr = float(average_precision_score(y.ravel(), raw[:n_valid][:, active].ravel()))
        sweep.append(
            {
                "minority_weight": weight,
                "prior_scale": scale,
                "valid_pr_auc": pr,
                "valid_ll_per_sample": float(bernoulli_log_likelihood(valid[:, active], y).mean()),
                "best_epoch": trained.best_epoch,
                "epochs_run": trained.epochs_run,
                "seconds_per_epoch": float(np.mean([h["seconds"] for h in trained.history])),
            }
        )
        if pr > best["score"]:
            best = {
                "score": pr,
                "trained": trained,
                "norm": norm,
                "calibration": calibration,
                "valid": valid,
                "test": apply_platt(raw[n_valid:], calibration),
                "weight": weight,
                "prior_scale": scale,
            }
    module = best["trained"].module
    save_model(
        model_dir,
        module,
        name=MODEL_KEY,
        config={
            "height": spec.shape[0],
            "width": spec.shape[1],
            "recurrent": kind != "cnn",
            "embed_channels": module.embed[0].out_channels,
            "hidden_channels": module.hidden_channels,
            "kernel_size": module.embed[0].kernel_size[0],
            "cnn_history_steps": module.cnn_history_steps,
            "prior_scale": module.prior_scale,
        },
        normalisation={"inputs": best["norm"]},
        extra={
            "kind": kind,
            "grid": spec.to_dict(),
            "mc": config.min_magnitude,
            "horizon_days": prep.horizon,
            "step_days": k,
            "platt_calibration": best["calibration"],
            "minority_weight": best["weight"],
        },
    )
    return {
        "valid": best["valid"],
        "test": best["test"],
        "history": best["trained"].history,
        "info": {
            "minority_weight": best["weight"],
            "prior_scale": best["prior_scale"],
            "weight_sweep": sweep,
            "platt_calibration": best["calibration"],
            "best_epoch": best["trained"].best_epoch,
            "step_days": k,
            "device": device,
            "devices": config.devices,
            "training": "stateful truncated BPTT, one pass over the training sequence per epoch",
        },
    }
