"""The alarm layer: calibrated probabilities, a chosen threshold, persistence, event-level scores.

A model's raw score is calibrated on held-out windows (the fold's validation part: isotonic
regression or Platt scaling), a threshold is chosen on the same windows (the ROC/Molchan point
that maximises hit rate minus alarm fraction, or the lowest threshold whose false alarms stay
under a target rate), and an alarm is raised only after `persistence` successive windows reach
it. Event-level scores count a target event as warned only when the alarm is still on at the
last window before the event; its lead time is how long that alarm had been on.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError


class AlarmConfig(BaseModel):
    """How probabilities become alarms."""

    model_config = ConfigDict(extra="forbid")

    calibration: Literal["isotonic", "platt", "none"] = Field(
        "isotonic", description="calibration fitted on the validation part of each fold"
    )
    threshold_rule: Literal["roc", "false-alarm-rate"] = Field(
        "roc",
        description="roc: maximise hit rate - alarm fraction on the validation part (Youden / "
        "Molchan point); false-alarm-rate: lowest threshold with at most "
        "false_alarms_per_day on the validation part",
    )
    false_alarms_per_day: float = Field(1.0, gt=0)
    persistence: int = Field(2, ge=1, description="successive windows >= threshold to alarm")


class Calibrator:
    """Monotone map from a model's score to a calibrated probability, saved as plain numbers."""

    def __init__(self, method: str, params: dict[str, list[float]] | None = None) -> None:
        self.method = method
        self.params = params or {}

    @classmethod
    def fit(cls, method: str, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit on held-out scores; one class only (nothing to calibrate against) keeps scores."""
        if method == "none" or np.unique(labels).size < 2:
            return cls("none")
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)
            return cls(
                "isotonic", {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
            )
        from sklearn.linear_model import LogisticRegression

        platt = LogisticRegression(C=1e6).fit(scores.reshape(-1, 1), labels)
        return cls("platt", {"a": [float(platt.coef_[0, 0])], "b": [float(platt.intercept_[0])]})

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of `scores`."""
        scores = np.asarray(scores, dtype=float)
        if self.method == "isotonic":
            return np.interp(scores, self.params["x"], self.params["y"])
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.params["a"][0] * scores + self.params["b"][0])))
        return scores

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the saved model)."""
        return {"method": self.method, **self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild from `to_dict`."""
        data = dict(data)
        return cls(data.pop("method"), data)


def persistent(above: np.ndarray, persistence: int) -> np.ndarray:
    """Alarm state per window: on once `persistence` successive windows are above threshold."""
    above = np.asarray(above, dtype=bool)
    if persistence <= 1:
        return above
    run = np.zeros(above.size, dtype=np.int64)
    count = 0
    for i, flag in enumerate(above.tolist()):
        count = count + 1 if flag else 0
        run[i] = count
    return run >= persistence


def _episode_starts(alarm: np.ndarray) -> np.ndarray:
    """First index of every run of alarm windows."""
    return np.flatnonzero(np.diff(np.concatenate(([0], alarm.astype(np.int8)))) == 1)


def event_scores(
    end_s: np.ndarray, alarm: np.ndarray, targets_s: np.ndarray, step_s: float
) -> dict[str, Any]:
    """Event-level hit rate, false alarms per day and lead times of one alarm timeline.

    A target event is warned when the alarm is on at the last scored window ending at most one
    step before it; its lead time is the time from the end of the window that started that
    alarm episode to the event. An episode that does not last into a target event is a false
    alarm. Events outside the scored span are not counted.
    """
    end_s = np.asarray(end_s, dtype=float)
    if end_s.size == 0:
        raise InputError("no windows to score", field="time")
    first = _episode_starts(alarm)
    span_days = (end_s[-1] - end_s[0] + step_s) / 86400.0
    inside = targets_s[(targets_s >= end_s[0]) & (targets_s <= end_s[-1] + step_s)]
    warned, leads = [], []
    true_episode = np.zeros(first.size, dtype=bool)
    for event in inside:
        at = int(np.searchsorted(end_s, event, "right")) - 1
        on = at >= 0 and event - end_s[at] <= 1.5 * step_s and bool(alarm[at])
        warned.append(on)
        if on:
            episode = int(np.searchsorted(first, at, "right")) - 1
            true_episode[episode] = True
            leads.append(float(event - end_s[first[episode]]))
    n_false = int((~true_episode).sum())
    return {
        "n_events": int(inside.size),
        "n_warned": int(sum(warned)),
        "hit_rate": float(np.mean(warned)) if warned else None,
        "n_false_alarms": n_false,
        "false_alarms_per_day": n_false / span_days,
        "alarm_fraction": float(np.mean(alarm)),
        "lead_times_s": leads,
        "lead_time_median_s": float(np.median(leads)) if leads else None,
    }


def choose_threshold(
    proba: np.ndarray,
    labels: np.ndarray,
    end_s: np.ndarray,
    step_s: float,
    config: AlarmConfig,
) -> float:
    """Threshold on calibrated validation probabilities, by `config.threshold_rule`."""
    candidates = np.unique(np.quantile(proba, np.linspace(0.5, 0.999, 60)))
    candidates = candidates[candidates > 0] if (candidates > 0).any() else candidates
    if config.threshold_rule == "roc" and np.unique(labels).size == 2:
        pos, neg = labels == 1, labels == 0
        gain = [np.mean(proba[pos] >= t) - np.mean(proba[neg] >= t) for t in candidates]
        return float(candidates[int(np.argmax(gain))])
    span_days = max((np.ptp(end_s) + step_s) / 86400.0, 1e-12)
    negatives = labels == 0
    for threshold in candidates:
        alarm = persistent(proba >= threshold, config.persistence)
        if _episode_starts(alarm & negatives).size / span_days <= config.false_alarms_per_day:
            return float(threshold)
    return float(candidates[-1])
