"""Platt calibration of network probabilities, fitted on the validation period only.

The minority weight of the training loss inflates a network's probabilities; a logistic fit of
the validation targets on the logit restores calibrated ones without changing the ranking.
"""

from __future__ import annotations

import numpy as np


def logit(probability: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-9, 1 - 1e-9], float64."""
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


def fit_platt(probability: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Slope and intercept of the logistic fit of `target` on logit(`probability`) in `mask`.

    Args:
        probability: (n_T, ny, nx) raw network probabilities of the validation times.
        target: (n_T, ny, nx) binary targets of the same times.
        mask: (ny, nx) cells used in the fit.
    """
    from sklearn.linear_model import LogisticRegression

    x = logit(probability[:, mask].ravel())[:, None]
    y = target[:, mask].ravel().astype(int)
    if y.min() == y.max():
        return {"slope": 1.0, "intercept": 0.0}
    model = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    return {"slope": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0])}


def apply_platt(probability: np.ndarray, calibration: dict[str, float]) -> np.ndarray:
    """Calibrated probabilities (float32) from raw ones and a `fit_platt` result."""
    z = calibration["slope"] * logit(probability) + calibration["intercept"]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
