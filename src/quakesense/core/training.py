"""Training of PyTorch models through PyTorch Lightning, the same way in every pipeline.

`fit` takes a plain `nn.Module`, a loss and arrays (or datasets), and gives back the module with
the weights of its best validation epoch, plus the loss history. It brings: explicit seeding,
progress bar, early stopping, checkpoints with resume after interruption, and `cpu|cuda|auto`
device choice with a fallback to the CPU.
"""

from __future__ import annotations

import contextlib
import logging
import sys
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


def _quiet_lightning() -> None:
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


def _lightning_task_class() -> type:
    import lightning

    class LightningTask(lightning.LightningModule):
        """Wraps a plain module and a loss; batches are `(*inputs, *loss_args)`."""

        def __init__(
            self, module: nn.Module, loss_fn: LossFn, config: TrainConfig, n_inputs: int
        ) -> None:
            super().__init__()
            self.module = module
            self.loss_fn = loss_fn
            self.config = config
            self.n_inputs = n_inputs

        def _loss(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
            outputs = self.module(*batch[: self.n_inputs])
            return self.loss_fn(outputs, *batch[self.n_inputs :])

        def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
            loss = self._loss(batch)
            self.log(
                "train_loss",
                loss,
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                batch_size=len(batch[0]),
            )
            return loss

        def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
            loss = self._loss(batch)
            self.log(
                "val_loss",
                loss,
                on_step=False,
                on_epoch=True,
                prog_bar=True,
                batch_size=len(batch[0]),
            )

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return make_optimizer(self.module.parameters(), self.config)

    return LightningTask


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
    """
    import lightning
    from lightning.pytorch.callbacks import (
        Callback,
        EarlyStopping,
        ModelCheckpoint,
        TQDMProgressBar,
    )

    _quiet_lightning()
    seed_everything(config.seed)
    train_ds, val_ds = as_dataset(train), as_dataset(val)
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = DataLoader(
        train_ds, batch_size=config.batch_size, shuffle=True, generator=generator
    )
    val_loader = DataLoader(val_ds, batch_size=max(config.batch_size, 256), shuffle=False)

    history: list[dict[str, float]] = []

    class _History(Callback):
        def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking:
                return
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            history.append({"epoch": trainer.current_epoch, **metrics})

    with tempfile.TemporaryDirectory(prefix="quakesense-ckpt-") as scratch:
        ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else Path(scratch)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        best = ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor="val_loss",
            mode="min",
            save_top_k=1,
            save_last=True,
            enable_version_counter=False,
        )
        callbacks: list[Callback] = [best, _History()]
        if config.progress:
            callbacks.append(_stderr_progress_bar(TQDMProgressBar)())
        if config.patience is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="val_loss",
                    patience=config.patience,
                    min_delta=config.min_delta,
                    mode="min",
                )
            )
        task = _lightning_task_class()(module, loss_fn, config, n_inputs)
        trainer = lightning.Trainer(
            accelerator=resolve_device(config.device),
            devices=1,
            max_epochs=config.max_epochs,
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=config.progress,
            enable_model_summary=False,
            gradient_clip_val=config.gradient_clip,
            deterministic=False,
            num_sanity_val_steps=0,
            default_root_dir=str(ckpt_dir),
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
        best_score = best.best_model_score
    module = task.module.cpu().eval()
    val_losses = [h.get("val_loss", np.inf) for h in history]
    best_epoch = int(history[int(np.argmin(val_losses))]["epoch"]) if history else -1
    return FitResult(
        module=module,
        history=history,
        best_epoch=best_epoch,
        best_val_loss=float(best_score) if best_score is not None else float("nan"),
        epochs_run=len(history),
    )


def _stderr_progress_bar(base: type) -> type:
    """Lightning's progress bar drawn on stderr, so stdout holds only a verb's results."""

    def on_stderr(name: str) -> Callable[..., Any]:
        def init(self: Any) -> Any:
            with contextlib.redirect_stdout(sys.stderr):
                return getattr(super(bar_class, self), name)()

        return init

    names = ("init_sanity_tqdm", "init_train_tqdm", "init_validation_tqdm")
    bar_class = type("StderrProgressBar", (base,), {name: on_stderr(name) for name in names})
    return bar_class


@torch.no_grad()
def predict(module: nn.Module, inputs: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Batched inference on the CPU in eval mode; returns a NumPy array."""
    module.eval()
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    outputs = [module(x[i : i + batch_size]).cpu() for i in range(0, len(x), batch_size)]
    if not outputs:
        return np.empty((0,))
    return torch.cat(outputs).numpy()
