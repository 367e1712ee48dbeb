"""STA/LTA detection and the evolving estimates after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from quakesense.locate.detect import (
    NoTriggerError,
    TriggerConfig,
    detect,
    estimate_in_time,
    evolution_figure,
)


def _values(
    onsets_s: list[float | None], dt: float = 0.1, n: int = 400, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1e-8, (len(onsets_s), 3, n)).astype(np.float32)
    for k, onset in enumerate(onsets_s):
        if onset is not None:
            start = int(onset / dt)
            values[k, 0, start : start + 30] += 1e-6 * np.sin(np.arange(30))
    return values


def test_detection_is_the_second_station_onset() -> None:
    values = _values([20.0, 21.0, 25.0])
    onset = detect(values, 0.1, TriggerConfig(min_stations=2))
    assert onset * 0.1 == pytest.approx(21.0, abs=0.3)
    assert detect(values, 0.1, TriggerConfig(min_stations=1)) * 0.1 == pytest.approx(20.0, abs=0.3)


def test_noise_only_and_short_records_do_not_trigger() -> None:
    with pytest.raises(NoTriggerError, match="no trigger"):
        detect(_values([None, None]), 0.1, source="quiet")
    with pytest.raises(NoTriggerError, match="shorter than the LTA"):
        detect(_values([None], n=30), 0.1)


def test_cut_out_stations_are_ignored() -> None:
    values = _values([20.0, 22.0, None])
    values[2] = 0.0
    assert detect(values, 0.1) * 0.1 == pytest.approx(22.0, abs=0.3)


@dataclass
class _Spec:
    sampling_interval_s: float = 0.1


class _DelayEcho:
    """A stand-in locator whose 'origin delay' is the frame time minus 3 s."""

    spec = _Spec()

    def predict(self, values: np.ndarray, frames: np.ndarray) -> np.ndarray:
        out = np.zeros((len(frames), 5))
        out[:, 3] = frames * 0.1 - 3.0
        out[:, 0] = frames
        return out


def test_answer_is_taken_the_configured_time_after_detection() -> None:
    evolution = estimate_in_time(
        _DelayEcho(), np.zeros((2, 3, 200)), trigger_index=50, answer_after_s=8.0
    )
    assert evolution.frames[0] == 50 and evolution.frames[-1] == 130
    assert evolution.answer[0] == 130
    np.testing.assert_allclose(evolution.estimates[:, 3], 3.0)  # delay -> origin time
    short = estimate_in_time(_DelayEcho(), np.zeros((2, 3, 100)), 50, 8.0)
    assert short.frames[-1] == 99  # record ends first: the last estimate is the answer
    figure = evolution_figure(evolution, truth=np.array([130, 0, 0, 3.0, np.nan]))
    assert len(figure.axes) == 5
