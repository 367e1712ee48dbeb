"""Python API of the precursor pipeline: a saved MLP as a predictor, and the building blocks.

`PrecursorPredictor.predict` scores a window-feature table, or a hit table windowed exactly as
`quakesense precursor monitor` does (the window settings stored with the model), and returns
P(precursor) and the warning flag per window.

Building blocks (the functions the CLI verbs call):

- `simulate(config)`: the 8-sensor tunnel AE station, `(hits, catalog)`;
- `window_features(hits, window)`: rate, amplitude, frequency, energy, b and Ib per window;
- `train(windows, targets_s, config, out_dir)`: one experiment that trains the MLP and the
  baselines on every split and writes the run folder with `model/`;
- `evaluate(model_dir, windows, targets_s, config, out_dir)`: scores a saved model, without
  retraining, on the windows it was not trained or validated on;
- `Monitor`: the live scorer behind `quakesense precursor monitor`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.persistence import model_dir
from quakesense.io.ae import hits_from_frame
from quakesense.precursor.alarms import persistent
from quakesense.precursor.features import WindowConfig, feature_matrix, window_features
from quakesense.precursor.monitor import Monitor
from quakesense.precursor.pipeline import evaluate_saved, run_experiment
from quakesense.synth.ae_monitoring import simulate

train = run_experiment
"""Train the MLP and the baselines on every split (`precursor.pipeline.run_experiment`)."""
evaluate = evaluate_saved
"""Held-out scores of a saved model, no retraining (`precursor.pipeline.evaluate_saved`)."""

__all__ = [
    "Monitor",
    "PrecursorPredictor",
    "evaluate",
    "simulate",
    "train",
    "window_features",
]


class PrecursorPredictor:
    """A trained precursor MLP with its features, window settings and alarm layer.

    The alarm layer (calibration, threshold, persistence) and the window settings are those the
    monitor uses (`Monitor.from_model`), so Python and `quakesense precursor monitor` agree.

    Args:
        path: The model folder (or the run folder holding `model/`).
        threshold: Warning when the calibrated probability >= threshold (default: the saved one).
    """

    def __init__(self, path: str | Path, threshold: float | None = None) -> None:
        self.path = model_dir(path)
        self.threshold_override = threshold
        self.monitor = Monitor.from_model(self.path, threshold)
        self.features: list[str] = list(self.monitor.features)

    @property
    def window(self) -> WindowConfig:
        """Window settings of the training features."""
        return self.monitor.window

    @property
    def threshold(self) -> float:
        """Warning threshold of the calibrated probability."""
        return self.monitor.threshold

    def predict(self, table: pd.DataFrame, *, origin: str | None = None) -> pd.DataFrame:
        """Calibrated P(precursor within the horizon) and the warning flag per window.

        Args:
            table: Either a window-feature table holding every feature column of the model
                (one row per window in time order, e.g. from `quakesense precursor features`),
                or a hit table (`time_s`, `amplitude_db`, ...), which is windowed as the monitor
                does: only windows that a later hit completes are scored.
            origin: UTC time of hit time 0 (ISO 8601); adds a `time` column (window end, UTC)
                to the windows made from hits.

        Returns:
            The windows with `probability` and `warning` columns added (a warning needs the
            saved number of successive windows above the threshold).

        Raises:
            InputError: a table that is neither (feature or hit columns missing).
        """
        if all(name in table.columns for name in self.features):
            monitor = self.monitor
            windows = table.copy()
            raw = monitor.model.predict_proba(feature_matrix(windows, self.features))
            windows["probability"] = monitor.calibrator(raw)
            windows["warning"] = persistent(
                windows["probability"].to_numpy() >= monitor.threshold, monitor.persistence
            )
            return windows
        if "time_s" not in table.columns:
            missing = [name for name in self.features if name not in table.columns]
            raise InputError(
                f"neither a window table (feature column(s) {missing} absent) nor a hit table "
                "(no 'time_s' column)",
                field=missing[0],
            )
        monitor = Monitor.from_model(self.path, self.threshold_override)
        windows = monitor.push(hits_from_frame(table, source="hits")).copy()
        if origin is not None and len(windows):
            windows.insert(
                0, "time", pd.Timestamp(origin) + pd.to_timedelta(windows["end_s"], unit="s")
            )
        return windows
