"""Precursor classifiers: the paper's MLP (PyTorch, trained by core.training) and baselines.

Every model maps normalised window features to P(precursor). NaN features (b-value of a quiet
window) are imputed with the training mean, i.e. 0 after normalisation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from quakesense.core.persistence import Normalisation, load_model, register_model, save_model
from quakesense.core.training import Device, TrainConfig, fit, predict, seed_everything

Activation = Literal["sigmoid", "relu", "tanh"]
BASELINES = ("logistic", "svm", "random_forest", "lightgbm")


@register_model("precursor.mlp")
class PrecursorMLP(nn.Module):
    """Fully connected classifier; outputs one logit per window."""

    def __init__(
        self, n_inputs: int, hidden: list[int], activation: Activation = "sigmoid"
    ) -> None:
        super().__init__()
        act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), act()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class MLPConfig(BaseModel):
    """Network and training settings; defaults are the paper's (3 x 20 sigmoid, SGD 0.005)."""

    model_config = ConfigDict(extra="forbid")

    hidden: list[int] = Field(default_factory=lambda: [20, 20, 20])
    activation: Activation = "sigmoid"
    class_weight: Literal["none", "balanced"] = Field(
        "none",
        description="balanced: weight positive windows by n_negative / n_positive of the "
        "training part in the BCE (precursor windows are ~8 % of the record)",
    )
    train: TrainConfig = Field(
        default_factory=lambda: TrainConfig(
            max_epochs=1000, batch_size=20, learning_rate=0.005, optimizer="sgd", patience=None
        )
    )
    max_steps_per_epoch: int | None = Field(
        None,
        ge=1,
        description="grow the batch beyond train.batch_size so that an epoch takes at most this "
        "many steps (large window tables, e.g. lab records); None: the batch size as given",
    )


MLP_PRESETS: dict[str, MLPConfig] = {
    "paper": MLPConfig(),
    "fast": MLPConfig(
        class_weight="balanced",
        max_steps_per_epoch=50,
        train=TrainConfig(
            max_epochs=30, batch_size=20, learning_rate=0.01, optimizer="adam", patience=6
        ),
    ),
}
"""`paper`: the paper's settings (3 x 20 sigmoid, SGD lr 0.005, batch 20, 1000 epochs, BCE).
`fast` (demo and CLI default): the same network and batch, class-balanced BCE, Adam lr 0.01,
at most 30 epochs with early stopping (patience 6) on the validation part's loss, and a batch
grown so that an epoch takes at most 50 steps (batch 20 up to 1,000 training windows); the paper's
plain SGD needs hundreds of epochs and, with ~8 % positive windows, settles on "never warn"."""


def prepare(values: np.ndarray, norm: Normalisation) -> np.ndarray:
    """Normalise and impute missing features with the training mean."""
    return np.nan_to_num(norm.apply(values), nan=0.0, posinf=0.0, neginf=0.0)


def _weighted_bce(
    logits: torch.Tensor, target: torch.Tensor, *, pos_weight: torch.Tensor
) -> torch.Tensor:
    """Sigmoid output + binary cross-entropy (numerically stable fused form), positives
    weighted by `pos_weight`."""
    return nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


def _bce_loss(pos_weight: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The weighted BCE loss as a picklable callable (training may run in worker processes)."""
    return functools.partial(_weighted_bce, pos_weight=torch.tensor(pos_weight))


class MLPClassifier:
    """scikit-learn-style wrapper around `PrecursorMLP` trained with `core.training.fit`."""

    def __init__(
        self,
        config: MLPConfig | None = None,
        feature_names: list[str] | None = None,
        device: Device = "cpu",
    ):
        self.config = config or MLPConfig()
        self.feature_names = feature_names or []
        self.device: Device = device  # where predict_proba runs the network

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> MLPClassifier:
        """Fit normalisation on the training part `x` only, train, keep the weights of the
        epoch with the lowest validation loss."""
        self.norm_ = Normalisation.fit(x, self.feature_names)
        # Seeded before the network is built, so its initial weights do not depend on what ran
        # earlier in the process.
        seed_everything(self.config.train.seed)
        self.module_ = PrecursorMLP(x.shape[1], list(self.config.hidden), self.config.activation)
        n_pos = float(np.count_nonzero(y == 1))
        balanced = self.config.class_weight == "balanced" and n_pos > 0
        self.pos_weight_ = (len(y) - n_pos) / n_pos if balanced else 1.0
        train = self.config.train
        if self.config.max_steps_per_epoch is not None:
            batch = max(train.batch_size, -(-len(y) // self.config.max_steps_per_epoch))
            train = train.model_copy(update={"batch_size": batch})
        result = fit(
            self.module_,
            _bce_loss(self.pos_weight_),
            (prepare(x, self.norm_), y.astype(np.float32)),
            (prepare(x_val, self.norm_), y_val.astype(np.float32)),
            train,
        )
        self.module_ = result.module
        self.history_ = result.history
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(precursor) per row."""
        logits = predict(self.module_, prepare(x, self.norm_), device=self.device)
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Save weights, full config and normalisation (core.persistence)."""
        return save_model(
            path,
            self.module_,
            name="precursor.mlp",
            config={
                "n_inputs": int(self.norm_.mean.size),
                "hidden": list(self.config.hidden),
                "activation": self.config.activation,
            },
            normalisation={"inputs": self.norm_},
            extra={"mlp_config": self.config.model_dump(mode="json"), **(extra or {})},
        )

    @classmethod
    def load(cls, path: str | Path, device: Device = "cpu") -> tuple[MLPClassifier, dict[str, Any]]:
        """Rebuild a saved classifier that predicts on `device`; also returns the saved `extra`
        (features, horizon...)."""
        saved = load_model(path, expected="precursor.mlp")
        model = cls(
            MLPConfig.model_validate(saved.extra["mlp_config"]),
            saved.normalisation["inputs"].names,
            device,
        )
        model.norm_ = saved.normalisation["inputs"]
        model.module_ = saved.module
        return model, saved.extra


class BaselineClassifier:
    """Logistic regression, SVM, random forest (scikit-learn) or LightGBM on the same
    normalised features.

    The SVM's score is the logistic of its decision function (not a probability: the alarm
    layer calibrates every model on held-out windows, so no internal cross-validation is run).
    """

    def __init__(self, kind: str, seed: int = 0) -> None:
        self.kind = kind
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> BaselineClassifier:
        """Fit normalisation and the estimator."""
        self.norm_ = Normalisation.fit(x)
        if self.kind == "logistic":
            from sklearn.linear_model import LogisticRegression

            estimator: Any = LogisticRegression(max_iter=1000)
        elif self.kind == "svm":
            from sklearn.svm import SVC

            estimator = SVC(C=1.0, cache_size=500)
        elif self.kind == "random_forest":
            from sklearn.ensemble import RandomForestClassifier

            estimator = RandomForestClassifier(
                n_estimators=100, min_samples_leaf=2, random_state=self.seed, n_jobs=1
            )
        elif self.kind == "lightgbm":
            from lightgbm import LGBMClassifier

            estimator = LGBMClassifier(
                n_estimators=150,
                learning_rate=0.05,
                num_leaves=15,
                random_state=self.seed,
                n_jobs=1,
                verbose=-1,
            )
        else:
            raise ValueError(f"unknown baseline '{self.kind}' (choose from {BASELINES})")
        self.estimator_ = estimator.fit(prepare(x, self.norm_), y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(precursor) per row (SVM: logistic of the decision function)."""
        inputs = prepare(x, self.norm_)
        if self.kind == "svm":
            return 1.0 / (1.0 + np.exp(-self.estimator_.decision_function(inputs)))
        proba = self.estimator_.predict_proba(inputs)
        return proba[:, 1] if proba.shape[1] == 2 else np.zeros(len(x))


def optuna_sweep(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    base: MLPConfig,
    *,
    n_trials: int,
    seed: int,
) -> tuple[MLPConfig, list[dict[str, Any]]]:
    """The paper's sweep (neurons 10/20/40, 1-3 layers, learning rate, SGD/Adam/RMSprop) with
    Optuna's TPE sampler, scored by validation BCE; returns the best config and all trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        width = trial.suggest_categorical("neurons", [10, 20, 40])
        layers = trial.suggest_int("layers", 1, 3)
        train = base.train.model_copy(
            update={
                "learning_rate": trial.suggest_float("learning_rate", 1e-3, 5e-2, log=True),
                "optimizer": trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"]),
                "progress": False,
            }
        )
        config = base.model_copy(update={"hidden": [width] * layers, "train": train})
        model = MLPClassifier(config).fit(x, y, x_val, y_val)
        p = np.clip(model.predict_proba(x_val), 1e-7, 1 - 1e-7)
        loss = float(-np.mean(y_val * np.log(p) + (1 - y_val) * np.log(1 - p)))
        trials.append({**trial.params, "val_bce": loss})
        return loss

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    best = study.best_params
    train = base.train.model_copy(
        update={"learning_rate": best["learning_rate"], "optimizer": best["optimizer"]}
    )
    return base.model_copy(
        update={"hidden": [best["neurons"]] * best["layers"], "train": train}
    ), trials
