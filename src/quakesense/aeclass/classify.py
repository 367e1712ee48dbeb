"""Event classification from arrival-time profiles (seed paper 003) and its evaluation report.

A feed-forward network (paper: one hidden layer of 10 sigmoid units, softmax output) trained with
`core.training.fit` on a random 70/15/15 split, keeping the weights of the minimum validation
loss; scikit-learn baselines (logistic regression, random forest, k-nearest neighbours, Gaussian
process) on the same split. The report shows confusion matrices (train, validation, test, all),
one-vs-rest ROC curves, a bootstrap of the test accuracy and a t-SNE map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from quakesense.aeclass.profiles import arrival_time_profiles, pick_matrix, profile_features
from quakesense.core.errors import InputError
from quakesense.core.persistence import (
    Normalisation,
    SavedModel,
    load_model,
    register_model,
    save_model,
)
from quakesense.core.training import FitResult, TrainConfig, fit, predict

MODEL_NAME = "aeclass.profile_net"
Baseline = Literal["logistic", "random_forest", "knn", "gaussian_process"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


@register_model(MODEL_NAME)
class ProfileNet(nn.Module):
    """Feed-forward classifier of arrival-time profiles; outputs logits (softmax at predict).

    Args:
        n_inputs: Profile features (16 for 8 sensors x 2 phases, doubled by the mask channel).
        n_classes: Number of event classes.
        hidden_units: Sizes of the hidden layers (paper: [10]).
        activation: Hidden activation: sigmoid (paper), tanh or relu.
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        hidden_units: list[int] | None = None,
        activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for units in hidden_units if hidden_units is not None else [10]:
            layers += [nn.Linear(width, units), ACTIVATIONS[activation]()]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.net(x)


def _default_train() -> TrainConfig:
    return TrainConfig(
        max_epochs=400, batch_size=32, learning_rate=0.01, patience=40, progress=False
    )


class ClassifierConfig(BaseModel):
    """Settings of a classifier run; saved with the run and the model."""

    model_config = ConfigDict(extra="forbid")

    hidden_units: list[int] = Field(default=[10], min_length=1)
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid"
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    mask_channel: bool = Field(True, description="append 0/1 imputed-pick flags to the profile")
    baselines: list[Baseline] = ["logistic", "random_forest", "knn", "gaussian_process"]
    n_bootstrap: int = Field(300, ge=10)
    tsne: bool = True
    seed: int = 0
    train: TrainConfig = Field(default_factory=_default_train)

    @field_validator("split")
    @classmethod
    def _fractions(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(value) <= 0 or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError("split fractions must be positive and sum to 1")
        return value


@dataclass
class ProfileData:
    """Model inputs of a set of events, with their labels when known."""

    event_ids: list[str]
    features: np.ndarray
    feature_names: list[str]
    sensors: list[str]
    phases: list[str]
    labels: np.ndarray | None = None
    classes: list[str] | None = None


def profile_data(
    picks: pd.DataFrame,
    sensors: list[str],
    *,
    phases: list[str] | None = None,
    mask_channel: bool = True,
    labels: pd.DataFrame | None = None,
    classes: list[str] | None = None,
    labels_source: str | Path | None = None,
) -> ProfileData:
    """Event-scaled profiles of `picks` as model inputs, joined to `labels` (event_id, label).

    An empty label cell or an event labelled twice is refused naming `labels_source`, the row
    and the field: a blank would otherwise become a class of its own.
    """
    matrix = pick_matrix(picks, sensors, phases)
    features = profile_features(
        arrival_time_profiles(matrix.time_s, scale="event"), mask_channel=mask_channel
    )
    names = matrix.feature_names + (
        [f"missing_{n}" for n in matrix.feature_names] if mask_channel else []
    )
    data = ProfileData(matrix.event_ids, features, names, matrix.sensors, matrix.phases)
    if labels is None:
        return data
    if not {"event_id", "label"} <= set(labels.columns):
        raise InputError(
            "labels table needs columns event_id and label", source=labels_source, field="label"
        )
    text = labels["label"].astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy()
    if blank.any():
        row = int(np.flatnonzero(blank)[0])
        raise InputError(
            f"event '{labels['event_id'].iloc[row]}' has an empty label (expected a class name)",
            source=labels_source,
            field="label",
            row=row,
        )
    event_text = labels["event_id"].astype(str)
    repeated = event_text.duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise InputError(
            f"event '{event_text.iloc[row]}' is labelled twice; give one label per event",
            source=labels_source,
            field="event_id",
            row=row,
        )
    by_event = labels.assign(event_id=event_text, label=text).set_index("event_id")
    missing = [e for e in data.event_ids if e not in by_event.index]
    if missing:
        raise InputError(
            f"event '{missing[0]}' has picks but no label", source=labels_source, field="event_id"
        )
    names_of = by_event.loc[data.event_ids, "label"].astype(str).to_numpy()
    classes = classes or sorted(set(names_of))
    unknown = sorted(set(names_of) - set(classes))
    if unknown:
        raise InputError(f"label(s) {unknown} unknown to the model ({classes})", field="label")
    data.classes = list(classes)
    data.labels = np.array([classes.index(c) for c in names_of], dtype=np.int64)
    return data


def split_indices(
    n: int, fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """Random train/validation/test split of `n` events (each event is one independent sample)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions[0] * n)
    n_val = round(fractions[1] * n)
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


@dataclass
class TrainedClassifier:
    """A trained network with its input normalisation, split and training history."""

    module: ProfileNet
    normalisation: Normalisation
    split: dict[str, np.ndarray]
    fit_result: FitResult

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (softmax of the logits)."""
        logits = predict(self.module, self.normalisation.apply(features))
        return torch.softmax(torch.as_tensor(logits), dim=1).numpy()


def train_classifier(data: ProfileData, config: ClassifierConfig) -> TrainedClassifier:
    """Train the profile network on the training part of a seeded random split."""
    if data.labels is None or data.classes is None:
        raise InputError("training needs labelled events", field="label")
    split = split_indices(len(data.labels), config.split, config.seed)
    normalisation = Normalisation.fit(data.features[split["train"]], data.feature_names)
    x = normalisation.apply(data.features).astype(np.float32)
    torch.manual_seed(config.seed)
    module = ProfileNet(x.shape[1], len(data.classes), config.hidden_units, config.activation)
    result = fit(
        module,
        nn.functional.cross_entropy,
        (x[split["train"]], data.labels[split["train"]]),
        (x[split["val"]], data.labels[split["val"]]),
        config.train.model_copy(update={"seed": config.seed}),
    )
    return TrainedClassifier(result.module, normalisation, split, result)


def save_classifier(
    path: Path, trained: TrainedClassifier, data: ProfileData, config: ClassifierConfig
) -> Path:
    """Save the network with its config, normalisation, sensor/phase order and class names."""
    return save_model(
        path,
        trained.module,
        name=MODEL_NAME,
        config={
            "n_inputs": int(data.features.shape[1]),
            "n_classes": len(data.classes or []),
            "hidden_units": config.hidden_units,
            "activation": config.activation,
        },
        normalisation={"inputs": trained.normalisation},
        extra={
            "classes": data.classes,
            "sensors": data.sensors,
            "phases": data.phases,
            "mask_channel": config.mask_channel,
            "run_config": config.model_dump(mode="json"),
            "best_epoch": trained.fit_result.best_epoch,
            "trained_on": [
                data.event_ids[i]
                for i in np.sort(np.r_[trained.split["train"], trained.split["val"]])
            ],
        },
    )


def load_classifier(path: Path) -> SavedModel:
    """Load a saved profile network."""
    return load_model(path, expected=MODEL_NAME)


def baseline_models(names: list[str], seed: int) -> dict[str, Any]:
    """The scikit-learn baselines by name, seeded."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.gaussian_process import GaussianProcessClassifier
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    makers = {
        "logistic": lambda: LogisticRegression(max_iter=2000),
        "random_forest": lambda: RandomForestClassifier(300, random_state=seed, n_jobs=1),
        "knn": lambda: KNeighborsClassifier(7),
        # Fixed kernel on standardised inputs: optimising it (one-vs-rest, six classes) costs
        # minutes on a few hundred events for no clear gain.
        "gaussian_process": lambda: GaussianProcessClassifier(
            ConstantKernel(4.0) * RBF(4.0), optimizer=None, max_iter_predict=20, random_state=seed
        ),
    }
    return {name: makers[name]() for name in names}
