"""The onset channel of the image networks: each station's time since its STA/LTA onset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.locate.inputs import InputSpec, build_inputs, onset_ages
from quakesense.locate.train import SimulatedSet, TrainedLocator, train_locator
from tests.locate.tiny_data import tiny_train_config

DT_S = 0.02
N_SAMPLES = 400


def _spec(model_type: str = "cnn3d", n_stations: int = 4, **changes: object) -> InputSpec:
    matrix = np.random.default_rng(0).random((4 * 5, n_stations)).astype(np.float32)
    matrix /= matrix.sum(axis=1, keepdims=True)
    spec = InputSpec(
        model_type,
        [f"S{i}" for i in range(n_stations)],
        DT_S,
        4,
        5,
        matrix,
        1 if model_type == "cnn2d" else 10,
        amplitude_scale_m_s=1.0,
        amplitude="snr",
        transform="max",
        frame_step=1 if model_type == "cnn2d" else 5,
        onset_channel=True,
        onset_sta_s=0.1,
        onset_lta_s=1.0,
    )
    return replace(spec, **changes)


def _arrivals(arrival_samples: list[int], seed: int = 0) -> np.ndarray:
    """Weak noise everywhere, then a signal 100 times stronger from each station's arrival."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1e-8, (len(arrival_samples), 3, N_SAMPLES)).astype(np.float32)
    for station, arrival in enumerate(arrival_samples):
        values[station, :, arrival:] += rng.normal(0.0, 1e-6, (3, N_SAMPLES - arrival))
    return values


def test_onset_ages_start_at_each_arrival_and_grow_one_clip_length_to_one() -> None:
    """The age starts within a few samples of the arrival (the STA's lag), rises by one
    sample per sample in clip lengths, and stays at 1 after one clip length."""
    spec = _spec()
    arrivals = [150, 170, 200, 230]
    ages = onset_ages(spec, _arrivals(arrivals)[:, 0])
    unit = spec.n_frames * spec.frame_step
    for station, arrival in enumerate(arrivals):
        onset = int(np.flatnonzero(ages[station])[0])
        assert arrival <= onset <= arrival + 3
        assert not ages[station, :onset].any()
        np.testing.assert_allclose(
            ages[station, onset : onset + unit], np.arange(1, unit + 1) / unit
        )
        np.testing.assert_array_equal(ages[station, onset + unit - 1 :], 1.0)


def test_onset_ages_are_zero_on_noise_and_at_a_station_without_data() -> None:
    spec = _spec()
    values = _arrivals([150, 170, 200, 230])
    values[1] = 0.0
    quiet = np.random.default_rng(1).normal(0.0, 1e-8, (1, N_SAMPLES))
    assert not onset_ages(spec, values[:, 0])[1].any()
    assert not onset_ages(spec, quiet).any()


def test_a_later_burst_within_one_clip_length_keeps_the_first_onset() -> None:
    """The S wave re-triggering the station does not restart the P onset's age; an event
    more than one clip length later does."""
    spec = _spec()
    unit = spec.n_frames * spec.frame_step
    rng = np.random.default_rng(2)
    trace = rng.normal(0.0, 1e-8, N_SAMPLES)
    trace[100:110] += rng.normal(0.0, 1e-6, 10)  # P: a short burst, the trigger re-arms after it
    trace[130:140] += rng.normal(0.0, 3e-6, 10)  # S, 30 samples later: within one clip length
    trace[300:310] += rng.normal(0.0, 1e-5, 10)  # a later event, 200 samples on
    ages = onset_ages(spec, trace[None])[0]
    onset = int(np.flatnonzero(ages)[0])
    np.testing.assert_allclose(ages[onset + 40], min((40 + 1) / unit, 1.0))
    later = onset + 1 + int(np.flatnonzero(ages[onset + 1 :] < ages[onset:-1])[0])
    assert 300 <= later <= 303
    np.testing.assert_allclose(ages[later], 1 / unit)


@settings(max_examples=20, deadline=None)
@given(cut=st.integers(60, N_SAMPLES - 1), seed=st.integers(0, 1000))
def test_onset_ages_are_causal(cut: int, seed: int) -> None:
    """The age at a sample depends on nothing after it: a real-time locator can compute it."""
    spec = _spec()
    vertical = _arrivals([150, 170, 200, 230], seed)[:, 0]
    np.testing.assert_array_equal(
        onset_ages(spec, vertical[:, : cut + 1]), onset_ages(spec, vertical)[:, : cut + 1]
    )
    changed = vertical.copy()
    changed[:, cut + 1 :] *= 7.0
    frames = np.array([cut])
    np.testing.assert_array_equal(
        build_inputs(spec, vertical[:, None], frames), build_inputs(spec, changed[:, None], frames)
    )


@settings(max_examples=20, deadline=None)
@given(log_gains=st.lists(st.floats(-3, 3), min_size=4, max_size=4), seed=st.integers(0, 1000))
def test_onset_channel_ignores_station_gains(log_gains: list[float], seed: int) -> None:
    """STA/LTA is a ratio: a station's gain (site, instrument) cannot move its onset."""
    spec = _spec()
    values = _arrivals([150, 170, 200, 230], seed)
    gains = np.float32(10.0) ** np.asarray(log_gains, dtype=np.float32)[:, None, None]
    frames = np.array([220, 300])
    np.testing.assert_allclose(
        build_inputs(spec, values * gains, frames)[:, 2],
        build_inputs(spec, values, frames)[:, 2],
        atol=1e-6,
    )


@pytest.mark.parametrize("model_type", ["cnn2d", "cnn3d"])
def test_onset_channel_is_the_interpolated_ages_before_the_mask(model_type: str) -> None:
    spec = _spec(model_type, station_mask=True)
    values = _arrivals([150, 170, 200, 230])
    frames = np.array([240, 260])
    inputs = build_inputs(spec, values, frames)
    assert spec.in_channels == 4 and inputs.shape[1] == 4
    ages = onset_ages(spec, values[:, 0])
    if model_type == "cnn2d":
        expected = np.einsum("ps,sn->np", spec.matrix, ages[:, frames])
    else:
        steps = frames[:, None] - spec.frame_step * np.arange(spec.n_frames - 1, -1, -1)
        expected = np.einsum("ps,snt->ntp", spec.matrix, ages[:, steps])
    np.testing.assert_allclose(inputs[:, 2].reshape(expected.shape), expected, atol=1e-6)
    without = build_inputs(replace(spec, onset_channel=False), values, frames)
    np.testing.assert_array_equal(inputs[:, [0, 1, 3]], without)


def test_onset_channel_settings_are_checked_and_old_models_have_none() -> None:
    with pytest.raises(InputError, match="onset_channel"):
        _spec("convnetquake")
    with pytest.raises(InputError, match="onset_channel"):
        _spec(amplitude="global", transform="velocity")
    with pytest.raises(InputError, match="STA"):
        _spec(onset_sta_s=1.0, onset_lta_s=0.5)
    stored = _spec().to_dict()
    for name in ("onset_channel", "onset_sta_s", "onset_lta_s"):
        del stored[name]
    assert not InputSpec.from_dict(stored).onset_channel


def test_a_network_with_the_onset_channel_trains_saves_and_predicts(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """The trigger windows follow the clip step unless given; the saved model keeps them."""
    data = SimulatedSet.open(tiny_dataset)
    config = tiny_train_config(model_type="cnn3d", onset_channel=True)
    locator = train_locator(data, config)
    locator.save(tmp_path / "model")
    loaded = TrainedLocator.load(tmp_path / "model")
    spec = loaded.spec
    assert spec.onset_channel and spec.in_channels == 3
    np.testing.assert_allclose(spec.onset_sta_s, spec.frame_step * data.sampling_interval_s)
    np.testing.assert_allclose(spec.onset_lta_s, 10 * spec.onset_sta_s)
    values, frames = data.event_values(1), np.array([50])
    np.testing.assert_allclose(loaded.predict(values, frames), locator.predict(values, frames))
    given = train_locator(
        data,
        tiny_train_config(
            model_type="cnn3d", onset_channel=True, onset_sta_s=0.3, onset_lta_over_sta=5.0
        ),
    )
    assert (given.spec.onset_sta_s, given.spec.onset_lta_s) == (0.3, 1.5)
