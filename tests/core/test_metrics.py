"""Metrics: scores match definitions; the bootstrap interval brackets the statistic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quakesense.core.metrics import binary_scores, bootstrap, multiclass_scores, rmse


def test_binary_scores_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 1])
    score = np.array([0.1, 0.7, 0.8, 0.4, 0.9])
    result = binary_scores(y, score)
    assert result["confusion_matrix"] == [[1, 1], [1, 2]]
    assert result["precision"] == 2 / 3 and result["recall"] == 2 / 3
    assert result["accuracy"] == 3 / 5
    assert result["roc_auc"] == pytest.approx(5 / 6)


def test_single_class_has_undefined_auc() -> None:
    assert math.isnan(binary_scores(np.zeros(4), np.linspace(0, 1, 4))["roc_auc"])


def test_multiclass_scores() -> None:
    y = np.array([0, 1, 2, 2])
    prob = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]])
    result = multiclass_scores(y, prob, labels=["a", "b", "c"])
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"][2] == [1, 0, 1]
    assert result["roc_auc_ovr"]["a"] == 1.0


def test_rmse_per_column() -> None:
    np.testing.assert_allclose(
        rmse(np.zeros((2, 2)), np.array([[3.0, 0.0], [4.0, 0.0]])), [np.sqrt(12.5), 0.0]
    )


def test_bootstrap_interval_brackets_mean_and_is_seeded() -> None:
    values = np.random.default_rng(0).normal(5.0, 1.0, 200)
    summary, draws = bootstrap(lambda idx: float(values[idx].mean()), len(values), seed=7)
    again, _ = bootstrap(lambda idx: float(values[idx].mean()), len(values), seed=7)
    assert summary == again
    assert summary.low < values.mean() < summary.high
    assert draws.shape == (300,)
    assert summary.high - summary.low < 0.5
