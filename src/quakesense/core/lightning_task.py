"""The Lightning pieces of `core.training.fit`, at module level so that they can be pickled.

Multi-process strategies (`ddp_spawn`) send the trainer, its callbacks and the task to worker
processes by pickling them; classes defined inside a function cannot travel. This module imports
Lightning at import time, so `core.training` imports it only inside `fit`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import lightning
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from torch import nn


class LightningTask(lightning.LightningModule):
    """Wraps a plain module and a loss; batches are `(*inputs, *loss_args)`.

    Args:
        module: The network, called as `module(*batch[:n_inputs])`.
        loss_fn: Called as `loss_fn(outputs, *batch[n_inputs:])`; a module-level function or
            `functools.partial` of one when training runs in several processes.
        make_optimizer: Builds the optimiser from the module's parameters.
        n_inputs: How many leading batch elements are module inputs.
    """

    def __init__(
        self,
        module: nn.Module,
        loss_fn: Callable[..., torch.Tensor],
        make_optimizer: Callable[[Any], torch.optim.Optimizer],
        n_inputs: int,
    ) -> None:
        super().__init__()
        self.module = module
        self.loss_fn = loss_fn
        self.make_optimizer = make_optimizer
        self.n_inputs = n_inputs

    def _loss(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        outputs = self.module(*batch[: self.n_inputs])
        return self.loss_fn(outputs, *batch[self.n_inputs :])

    def _log_loss(self, name: str, loss: torch.Tensor, batch: Sequence[torch.Tensor]) -> None:
        """Epoch mean, averaged over processes when training runs in several."""
        self.log(
            name,
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch[0]),
            sync_dist=True,
        )

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self._log_loss("train_loss", loss, batch)
        return loss

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._log_loss("val_loss", self._loss(batch), batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.make_optimizer(self.module.parameters())


class LossHistory(Callback):
    """Per-epoch metrics; kept in the checkpoints, so the main process reads them back after
    training in worker processes and a resumed run keeps the epochs before the interruption."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        self.history.append({"epoch": trainer.current_epoch, **metrics})

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))


class StderrProgressBar(TQDMProgressBar):
    """Lightning's progress bar drawn on stderr, so stdout holds only a verb's results."""

    def init_sanity_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_sanity_tqdm()

    def init_train_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_train_tqdm()

    def init_validation_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_validation_tqdm()
