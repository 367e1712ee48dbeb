"""STA/LTA detection and the evolving estimates after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from obspy.signal.trigger import classic_sta_lta, trigger_onset

from quakesense.locate.detect import (
    NoTriggerError,
    TriggerConfig,
    detect,
    detect_event,
    detection_contrast,
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
    with pytest.raises(NoTriggerError, match="shorter than the start transient plus the LTA"):
        detect(_values([None], n=30), 0.1)


def test_cut_out_stations_are_ignored() -> None:
    values = _values([20.0, 22.0, None])
    values[2] = 0.0
    assert detect(values, 0.1) * 0.1 == pytest.approx(22.0, abs=0.3)


def test_start_transient_does_not_trigger() -> None:
    """A quiet start (zero-state filter ramp, taper) lets mild noise at 4.5 s cross 4."""
    values = _values([20.0, 22.0], seed=3)
    values[:, :, :20] *= 0.05
    values[:, :, 45:50] *= 2.2  # crosses 4 only against an LTA that holds the quiet start
    old_ratio = classic_sta_lta(values[0, 0].astype(np.float64), 5, 50)
    old_ratio[:49] = 0.0  # the old warm-up: the LTA window only
    assert trigger_onset(old_ratio, 4.0, 1.0)[0][0] == 49  # first sample after the LTA window
    assert detect(values, 0.1) * 0.1 == pytest.approx(22.0, abs=0.3)
    assert TriggerConfig().settle_seconds == 1.0


def test_an_on_period_at_the_first_counted_sample_is_not_an_onset() -> None:
    values = _values([20.0, 22.0], seed=3)
    values[:, 0, 55:62] *= 30.0  # loud just as the ratio starts counting (5.9 s)
    assert detect(values, 0.1, TriggerConfig(settle_s=1.0)) * 0.1 == pytest.approx(22.0, abs=0.3)


def test_detection_contrast_tells_an_event_from_noise() -> None:
    values = _values([20.0, 21.0, 25.0])
    config = TriggerConfig()
    on_event = detection_contrast(values, detect(values, 0.1, config), 0.1, config)
    assert on_event > 10 * config.min_contrast  # 1e-6 m/s against 1e-8 m/s of noise
    on_noise = detection_contrast(values, 100, 0.1, config)  # 10-18 s: noise only
    assert 0.5 < on_noise < config.min_contrast
    values[2] = 0.0  # a cut-out station does not count
    assert detection_contrast(values, 100, 0.1, config) < config.min_contrast
    assert np.isnan(detection_contrast(values, 0, 0.1, config))


def test_detection_on_a_noise_burst_is_rejected_and_the_trigger_re_armed() -> None:
    values = _values([None, None, None], n=500)
    burst = 4e-8 * np.sin(np.arange(30))  # 15-18 s, 4x the noise: STA/LTA > 4, contrast < 2
    values[:2, 0, 150:180] += burst
    config = TriggerConfig()
    assert 15.0 <= detect(values, 0.1, config) * 0.1 <= 18.0
    onset, contrast = detect_event(values, 0.1, config)
    assert 15.0 <= onset * 0.1 <= 18.0 and contrast < config.min_contrast
    event = _values([30.0, 30.5, 31.0], n=500)
    event[:2, 0, 150:180] += burst
    onset, contrast = detect_event(event, 0.1, config)
    assert onset * 0.1 == pytest.approx(30.5, abs=0.3) and contrast > 10 * config.min_contrast
    assert detection_contrast(event, detect(event, 0.1, config), 0.1, config) < 2.0


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
