"""Chronological splits with the label horizon purged at each boundary.

A forecast time T has the target window [T + h_min, T + h_max). Training forecast times satisfy
T + h_max <= train_end, so no training label looks into the validation period; validation times
satisfy T >= train_end and T + h_max <= valid_end; test times T >= valid_end. Inputs (events
before T) may come from earlier periods: that is what a forecaster has at T.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.forecast.grid import GridSpec


@dataclass
class Split:
    """Forecast days (grid day indices) of each period, with the dates that define them."""

    name: str
    train_days: np.ndarray
    valid_days: np.ndarray
    test_days: np.ndarray
    train_end_day: int
    valid_end_day: int

    def describe(self, spec: GridSpec) -> dict[str, Any]:
        """JSON-ready summary with dates."""

        def span(days: np.ndarray) -> dict[str, Any]:
            return {
                "first_forecast": spec.date(days[0]).date().isoformat(),
                "last_forecast": spec.date(days[-1]).date().isoformat(),
                "n_forecast_times": int(days.size),
            }

        return {
            "name": self.name,
            "train_end": spec.date(self.train_end_day).date().isoformat(),
            "valid_end": spec.date(self.valid_end_day).date().isoformat(),
            "train": span(self.train_days),
            "valid": span(self.valid_days),
            "test": span(self.test_days),
        }


def _times(first: int, last: int, stride: int) -> np.ndarray:
    return (
        np.arange(first, last + 1, stride, dtype=np.int64) if last >= first else np.array([], int)
    )


def chronological_split(
    spec: GridSpec,
    train_end: str | pd.Timestamp,
    valid_end: str | pd.Timestamp,
    horizon_days: tuple[int, int],
    *,
    history_days: int = 365,
    train_stride_days: int = 10,
    eval_stride_days: int = 10,
    name: str = "chronological",
) -> Split:
    """Purged train/validation/test forecast times.

    Args:
        spec: The grid (its first day and number of days bound every period).
        train_end: First day after training; validation starts here.
        valid_end: First day after validation; the test period starts here.
        horizon_days: (h_min, h_max) of the target window.
        history_days: First training forecast time (days after the grid start), so that
            features have a past.
        train_stride_days: Days between training forecast times.
        eval_stride_days: Days between validation and test forecast times.
        name: Label of the split in reports.

    Raises:
        InputError: a period without forecast times (e.g. an empty training period).
    """
    t_end, v_end = spec.day_index(train_end), spec.day_index(valid_end)
    h_max = horizon_days[1]
    if not 0 < t_end < v_end <= spec.n_days:
        raise InputError(
            f"split dates must satisfy grid start < TRAIN_END < VALID_END <= grid end "
            f"({spec.date(0).date()} .. {spec.date(spec.n_days).date()})",
            field="--split-dates",
        )
    split = Split(
        name=name,
        train_days=_times(history_days, t_end - h_max, train_stride_days),
        valid_days=_times(t_end, v_end - h_max, eval_stride_days),
        test_days=_times(v_end, spec.n_days - h_max, eval_stride_days),
        train_end_day=t_end,
        valid_end_day=v_end,
    )
    for period in ("train", "valid", "test"):
        if getattr(split, f"{period}_days").size == 0:
            raise InputError(
                f"the {period} period holds no forecast time once the {h_max}-day label horizon "
                f"is purged (and {history_days} days of history kept); move the split dates",
                field="--split-dates",
            )
    return split


def last_days_split(
    spec: GridSpec,
    horizon_days: tuple[int, int],
    *,
    test_days: int = 1000,
    valid_days: int = 365,
    **kwargs: Any,
) -> Split:
    """The seed paper's split: the last `test_days` days are the test period (labelled so);
    the `valid_days` before them validate; the horizon is still purged."""
    v_end = spec.n_days - test_days
    t_end = v_end - valid_days
    return chronological_split(
        spec,
        spec.date(t_end),
        spec.date(v_end),
        horizon_days,
        name=f"paper_last_{test_days}_days",
        **kwargs,
    )
