"""Reference forecasters: uniform rate, historical per-cell rate, logistic regression and LightGBM
on indicator or RTL features. All are fitted on training forecast times only and give calibrated
probabilities of "at least one target event in the cell's window" per cell and forecast time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from quakesense.forecast.grid import GriddedEvents, target_maps

FeatureFn = Callable[[int], np.ndarray]


class UniformRate:
    """One probability for every active cell: the training frequency of positive cell windows."""

    def fit(self, labels: np.ndarray, mask: np.ndarray) -> UniformRate:
        """Fit on training labels (n_T, ny, nx) within `mask` (ny, nx)."""
        self.probability_ = float(np.clip(labels[:, mask].mean(), 1e-9, 1 - 1e-9))
        self.mask_ = mask
        return self

    def predict_map(self) -> np.ndarray:
        """(ny, nx) probabilities; cells outside the mask get the same value."""
        return np.full(self.mask_.shape, self.probability_)


class HistoricalRate:
    """Per-cell frequency of positive windows over training times, smoothed and floored.

    Args:
        smoothing_cells: Gaussian smoothing width, cells (0: none).
        floor_fraction: Floor as a fraction of the region-wide mean probability, so that a cell
            without training events keeps a small, non-zero probability.
    """

    def __init__(self, smoothing_cells: float = 1.0, floor_fraction: float = 0.01) -> None:
        self.smoothing_cells = smoothing_cells
        self.floor_fraction = floor_fraction

    def fit(
        self,
        events: GriddedEvents,
        shape: tuple[int, int],
        train_days: np.ndarray,
        horizon_days: tuple[int, int],
        mc: float,
        mask: np.ndarray,
    ) -> HistoricalRate:
        """Average the training target maps (events of the training period only)."""
        total = np.zeros(shape)
        for block in np.array_split(train_days, max(1, len(train_days) // 256)):
            total += target_maps(events, shape, block, horizon_days, mc).sum(axis=0)
        rate = total / len(train_days)
        if self.smoothing_cells > 0:
            rate = gaussian_filter(rate, self.smoothing_cells, mode="constant")
        mean = max(float(rate[mask].mean()), 1e-9)
        self.floor_ = self.floor_fraction * mean
        self.probability_ = np.clip(rate, self.floor_, 1 - 1e-6)
        return self

    def predict_map(self) -> np.ndarray:
        """(ny, nx) probabilities."""
        return self.probability_

    def log_rate(self) -> np.ndarray:
        """Logit of the probability: the prior offset of the residual networks."""
        p = self.probability_
        return np.log(p) - np.log1p(-p)


class TabularForecaster:
    """A scikit-learn-style classifier on per-cell features, trained on subsampled rows.

    All positive rows and a random fraction of negative rows of the training forecast times are
    kept; negatives get weight 1 / fraction so that probabilities stay calibrated.

    Args:
        kind: `lightgbm` or `logistic`.
        max_rows: Row budget of the training set.
        seed: Seed of the subsampling and the model.
    """

    def __init__(self, kind: str = "lightgbm", max_rows: int = 300_000, seed: int = 0) -> None:
        self.kind = kind
        self.max_rows = max_rows
        self.seed = seed

    def _rows(
        self,
        features: FeatureFn,
        labels: np.ndarray,
        days: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        flat_mask = mask.ravel()
        n_cells = int(flat_mask.sum())
        n_pos = int(labels[:, mask].sum())
        fraction = min(1.0, max(self.max_rows - n_pos, 1) / max(len(days) * n_cells - n_pos, 1))
        xs, ys, ws = [], [], []
        for k, day in enumerate(days):
            y = labels[k].ravel()[flat_mask]
            keep = (y > 0) | (rng.random(y.size) < fraction)
            xs.append(features(int(day))[flat_mask][keep])
            ys.append(y[keep])
            ws.append(np.where(y[keep] > 0, 1.0, 1.0 / fraction))
        return np.concatenate(xs), np.concatenate(ys).astype(int), np.concatenate(ws)

    def fit(
        self,
        features: FeatureFn,
        train_labels: np.ndarray,
        train_days: np.ndarray,
        valid_labels: np.ndarray,
        valid_days: np.ndarray,
        mask: np.ndarray,
    ) -> TabularForecaster:
        """Fit on training rows; choose the hyperparameter (boosting rounds by early stopping, or
        the regularisation C) on the validation rows."""
        rng = np.random.default_rng(self.seed)
        x, y, w = self._rows(features, train_labels, train_days, mask, rng)
        xv, yv, wv = self._rows(features, valid_labels, valid_days, mask, rng)
        if self.kind == "lightgbm":
            self.model_ = self._fit_lightgbm(x, y, w, xv, yv, wv)
        else:
            self.model_ = self._fit_logistic(x, y, w, xv, yv, wv)
        return self

    def _fit_lightgbm(
        self,
        x: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        xv: np.ndarray,
        yv: np.ndarray,
        wv: np.ndarray,
    ) -> Any:
        import lightgbm

        model = lightgbm.LGBMClassifier(
            n_estimators=400,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=50,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            n_jobs=2,
            verbose=-1,
        )
        callbacks = [lightgbm.early_stopping(30, verbose=False)]
        model.fit(
            x,
            y,
            sample_weight=w,
            eval_X=(xv,),
            eval_y=(yv,),
            eval_sample_weight=[wv],
            eval_metric="binary_logloss",
            callbacks=callbacks,
        )
        self.chosen_ = {"n_estimators": int(model.best_iteration_ or model.n_estimators)}
        return model

    def _fit_logistic(
        self,
        x: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        xv: np.ndarray,
        yv: np.ndarray,
        wv: np.ndarray,
    ) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        best, best_loss = None, np.inf
        for c in (0.01, 0.1, 1.0):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500))
            model.fit(x, y, logisticregression__sample_weight=w)
            loss = log_loss(yv, model.predict_proba(xv)[:, 1], sample_weight=wv, labels=[0, 1])
            if loss < best_loss:
                best, best_loss, self.chosen_ = model, loss, {"C": c}
        return best

    def predict_maps(
        self, features: FeatureFn, days: np.ndarray, shape: tuple[int, int]
    ) -> np.ndarray:
        """Probabilities (n_T, ny, nx)."""
        out = np.empty((len(days), *shape), dtype=np.float32)
        for k, day in enumerate(days):
            out[k] = self.model_.predict_proba(features(int(day)))[:, 1].reshape(shape)
        return out
