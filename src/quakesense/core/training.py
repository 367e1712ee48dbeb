"""Training of PyTorch models through PyTorch Lightning, the same way in every pipeline.

`fit` takes a plain `nn.Module`, a loss and arrays (or datasets), and gives back the module with
the weights of its best validation epoch, plus the loss history. It brings: explicit seeding,
progress bar, early stopping, checkpoints with resume after interruption, `cpu|cuda|auto`
device choice with a fallback to the CPU, and scale-out over several processes or GPUs
(`devices`, `strategy`: Lightning's DDP family).
"""

from __future__ import annotations

import functools
import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

LossFn = Callable[..., torch.Tensor]
Device = Literal["cpu", "cuda", "auto"]
Strategy = Literal["auto", "ddp", "ddp_spawn", "fsdp"]
"""Lightning strategies offered: `auto` (one process per device as Lightning chooses), `ddp`
(the command is launched again per process), `ddp_spawn` (workers spawned from this process;
works on the CPU), `fsdp` (sharded model weights, GPUs)."""


def quiet_lightning() -> None:
    """Silence Lightning's start-up chatter (device summary, tips); warnings still show."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
    warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")


class TrainConfig(BaseModel):
    """Settings of one training run; saved with the run and the model."""

    model_config = ConfigDict(extra="forbid")

    max_epochs: int = Field(100, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    optimizer: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    patience: int | None = Field(20, ge=1, description="early-stopping patience, epochs; None: off")
    min_delta: float = Field(0.0, ge=0)
    gradient_clip: float | None = Field(None, gt=0)
    device: Device = "auto"
    devices: int = Field(
        1, ge=1, description="processes (CPU) or GPUs that train together; Lightning `devices`"
    )
    strategy: Strategy = Field("auto", description="Lightning strategy for devices > 1")
    seed: int = 0
    progress: bool = True
    checkpoint_dir: Path | None = Field(None, description="enables resume after interruption")


def resolve_device(device: Device) -> str:
    """Map `cpu|cuda|auto` to a Lightning accelerator; `cuda` without a GPU falls back to CPU."""
    if device == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "gpu"
    if device == "cuda":
        warnings.warn(
            "--device cuda asked for, but no CUDA device is present: using the CPU",
            RuntimeWarning,
            stacklevel=2,
        )
    return "cpu"


def trainer_settings(config: TrainConfig) -> dict[str, Any]:
    """The Lightning `Trainer` arguments that `config` sets: device, scale-out, epochs, clipping.

    `devices` > 1 on the CPU runs that many training processes (DDP over the gloo backend);
    with `strategy="auto"` Lightning picks its default for the devices.
    """
    return {
        "accelerator": resolve_device(config.device),
        "devices": config.devices,
        "strategy": config.strategy,
        "max_epochs": config.max_epochs,
        "logger": False,
        "enable_progress_bar": config.progress,
        "enable_model_summary": False,
        "gradient_clip_val": config.gradient_clip,
        "deterministic": False,
        "num_sanity_val_steps": 0,
    }


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch global state, and return an explicit NumPy generator."""
    import lightning

    lightning.seed_everything(seed, workers=True, verbose=False)
    return np.random.default_rng(seed)


def make_optimizer(params: Any, config: TrainConfig) -> torch.optim.Optimizer:
    """Build the optimiser named in `config`."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.learning_rate,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=config.learning_rate,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.learning_rate, weight_decay=config.weight_decay)


@dataclass
class FitResult:
    """What training produced: the module at its best epoch and the loss curves."""

    module: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = float("nan")
    epochs_run: int = 0


def as_dataset(arrays: Dataset | Sequence[np.ndarray]) -> Dataset:
    """Turn a sequence of arrays (float features, targets, weights) into a TensorDataset."""
    if isinstance(arrays, Dataset):
        return arrays
    tensors = []
    for array in arrays:
        array = np.asarray(array)
        dtype = torch.long if np.issubdtype(array.dtype, np.integer) else torch.float32
        tensors.append(torch.as_tensor(array, dtype=dtype))
    return TensorDataset(*tensors)


def fit(
    module: nn.Module,
    loss_fn: LossFn,
    train: Dataset | Sequence[np.ndarray],
    val: Dataset | Sequence[np.ndarray],
    config: TrainConfig,
    *,
    n_inputs: int = 1,
) -> FitResult:
    """Train `module` with Lightning and return it with the weights of its best validation epoch.

    Args:
        module: The network; called as `module(*batch[:n_inputs])`.
        loss_fn: Called as `loss_fn(outputs, *batch[n_inputs:])`.
        train: Training data: a Dataset or arrays `(inputs..., targets..., [weights])`.
        val: Validation data in the same form; drives early stopping and the best-epoch choice.
        config: Training settings. With `checkpoint_dir`, an interrupted run resumes from
            `last.ckpt` there.
        n_inputs: How many leading batch elements are module inputs.

    With `config.devices` > 1 the work is split over processes (or GPUs) by
    `config.strategy`; `ddp_spawn` pickles `module` and `loss_fn` to its workers, so the loss
    must be a module-level function (or a `functools.partial` of one).
    """
    import lightning
    from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

    from quakesense.core.lightning_task import LightningTask, LossHistory, StderrProgressBar

    quiet_lightning()
    seed_everything(config.seed)
    train_ds, val_ds = as_dataset(train), as_dataset(val)
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(
        train_ds, batch_size=config.batch_size, shuffle=True, generator=generator
    )
    val_loader = DataLoader(val_ds, batch_size=max(config.batch_size, 256), shuffle=False)

    with tempfile.TemporaryDirectory(prefix="quakesense-ckpt-") as scratch:
        ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else Path(scratch)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        best = ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor="val_loss",
            mode="min",
            save_top_k=1,
            enable_version_counter=False,
        )
        # Every epoch's state, for resume and the loss history: Lightning's `save_last` only
        # writes when the monitored loss improves, which cut the history (and the resume point)
        # back to the best epoch.
        latest = ModelCheckpoint(
            dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False
        )
        history = LossHistory()
        callbacks: list[Callback] = [best, latest, history]
        if config.progress:
            callbacks.append(StderrProgressBar())
        if config.patience is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="val_loss",
                    patience=config.patience,
                    min_delta=config.min_delta,
                    mode="min",
                )
            )
        task = LightningTask(
            module, loss_fn, functools.partial(make_optimizer, config=config), n_inputs
        )
        trainer = lightning.Trainer(
            **trainer_settings(config), callbacks=callbacks, default_root_dir=str(ckpt_dir)
        )
        last = ckpt_dir / "last.ckpt"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", ".*The number of training batches.*")
            try:
                trainer.fit(
                    task,
                    train_loader,
                    val_loader,
                    ckpt_path=str(last) if config.checkpoint_dir and last.exists() else None,
                )
            except SystemExit as exc:  # Lightning turns Ctrl-C into a graceful exit(1)
                if trainer.interrupted:
                    raise KeyboardInterrupt from exc
                raise
        if trainer.interrupted:
            raise KeyboardInterrupt
        if best.best_model_path:
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
            task.load_state_dict(state["state_dict"])
        if last.exists():  # worker processes kept the history; the checkpoint brings it back
            saved = torch.load(last, map_location="cpu", weights_only=True)
            history.load_state_dict(saved["callbacks"].get(history.state_key, {}))
    module = task.module.cpu().eval()
    epochs = history.history
    row = int(np.argmin([h.get("val_loss", np.inf) for h in epochs])) if epochs else -1
    return FitResult(
        module=module,
        history=epochs,
        best_epoch=int(epochs[row]["epoch"]) if epochs else -1,
        best_val_loss=float(epochs[row].get("val_loss", np.nan)) if epochs else float("nan"),
        epochs_run=len(epochs),
    )


def torch_device(device: Device) -> str:
    """`cpu|cuda|auto` -> a torch device name; `cuda` without a GPU warns and uses the CPU."""
    return "cuda" if resolve_device(device) == "gpu" else "cpu"


@torch.no_grad()
def predict(
    module: nn.Module, inputs: np.ndarray, *, batch_size: int = 1024, device: Device = "cpu"
) -> np.ndarray:
    """Batched inference in eval mode on `device`; returns a NumPy array, the module on the CPU."""
    target = torch_device(device)
    module.eval().to(target)
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    try:
        outputs = [
            module(x[i : i + batch_size].to(target)).cpu() for i in range(0, len(x), batch_size)
        ]
    finally:
        module.cpu()
    if not outputs:
        return np.empty((0,))
    return torch.cat(outputs).numpy()
