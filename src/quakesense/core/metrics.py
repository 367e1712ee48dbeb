"""Scores as plain functions over arrays (scikit-learn underneath) and JSON-ready results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm


def binary_scores(
    y_true: np.ndarray, y_score: np.ndarray, *, threshold: float = 0.5
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, ROC AUC, PR AUC and the confusion matrix of a binary task.

    Args:
        y_true: 0/1 labels.
        y_score: Probability (or score) of class 1.
        threshold: Score at or above which class 1 is predicted.

    Returns:
        A dict; `roc_auc`/`pr_auc` are NaN when only one class is present.
    """
    y_true = np.asarray(y_true).astype(int)
    y_score = np.asarray(y_score, dtype=float)
    y_pred = (y_score >= threshold).astype(int)
    both = np.unique(y_true).size == 2
    matrix = skm.confusion_matrix(y_true, y_pred, labels=[0, 1])
    return {
        "n": int(y_true.size),
        "n_positive": int(y_true.sum()),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y_true, y_score)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(y_true, y_score)) if both else float("nan"),
        "confusion_matrix": matrix.tolist(),
        "threshold": float(threshold),
    }


def multiclass_scores(
    y_true: np.ndarray, y_prob: np.ndarray, labels: list[Any] | None = None
) -> dict[str, Any]:
    """Accuracy, macro F1, per-class one-vs-rest ROC AUC and the confusion matrix.

    Args:
        y_true: Integer class indices 0..K-1.
        y_prob: Class probabilities, shape (n, K).
        labels: Class names for the per-class keys (default: indices).
    """
    y_true = np.asarray(y_true).astype(int)
    y_prob = np.asarray(y_prob, dtype=float)
    n_classes = y_prob.shape[1]
    labels = list(range(n_classes)) if labels is None else list(labels)
    y_pred = y_prob.argmax(axis=1)
    per_class_auc = {}
    for k, label in enumerate(labels):
        positives = y_true == k
        per_class_auc[str(label)] = (
            float(skm.roc_auc_score(positives, y_prob[:, k]))
            if 0 < positives.sum() < positives.size
            else float("nan")
        )
    return {
        "n": int(y_true.size),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "roc_auc_ovr": per_class_auc,
        "confusion_matrix": skm.confusion_matrix(
            y_true, y_pred, labels=list(range(n_classes))
        ).tolist(),
        "labels": [str(label) for label in labels],
    }


def rmse(y_true: np.ndarray, y_pred: np.ndarray, axis: int | None = 0) -> np.ndarray | float:
    """Root-mean-square error along `axis` (per column by default)."""
    diff = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return np.sqrt(np.nanmean(diff**2, axis=axis))


@dataclass
class BootstrapResult:
    """Mean and percentile interval of a statistic over bootstrap resamples."""

    mean: float
    low: float
    high: float
    level: float
    n_resamples: int
    seed: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BootstrapResult:
        """Inverse of `to_dict`."""
        return cls(**data)


def bootstrap(
    statistic: Callable[[np.ndarray], float],
    n_items: int,
    *,
    n_resamples: int = 300,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[BootstrapResult, np.ndarray]:
    """Resample item indices with replacement and evaluate `statistic(indices)` on each resample.

    Returns:
        The summary and the array of resampled statistic values (for histograms).
    """
    rng = np.random.default_rng(seed)
    values = np.array(
        [statistic(rng.integers(0, n_items, n_items)) for _ in range(n_resamples)], dtype=float
    )
    alpha = (1 - level) / 2
    finite = values[np.isfinite(values)]
    low, high = np.quantile(finite, [alpha, 1 - alpha]) if finite.size else (np.nan, np.nan)
    summary = BootstrapResult(
        mean=float(np.mean(finite)) if finite.size else float("nan"),
        low=float(low),
        high=float(high),
        level=level,
        n_resamples=n_resamples,
        seed=seed,
    )
    return summary, values
