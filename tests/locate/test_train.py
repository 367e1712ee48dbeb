"""Training on a simulated dataset: inputs, augmentation, saved models, the three network types."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.core.errors import InputError
from quakesense.locate.inputs import InputSpec, build_inputs, running_max, running_rms
from quakesense.locate.train import (
    CLIP_STEP_S,
    Augmenter,
    LocateTrainConfig,
    LocatorEnsemble,
    SimulatedSet,
    TrainedLocator,
    answer_time_s,
    evenly_spaced,
    load_locator,
    network_clip,
    train_locator,
)
from tests.locate.tiny_data import TINY_TRIGGER, tiny_train_config


def _spec(
    model_type: str,
    n_stations: int = 3,
    n_frames: int = 4,
    amplitude: str = "global",
    frame_step: int = 1,
    transform: str = "velocity",
) -> InputSpec:
    matrix = np.random.default_rng(0).random((4 * 5, n_stations)).astype(np.float32)
    return InputSpec(
        model_type,
        [f"S{i}" for i in range(n_stations)],
        0.1,
        4,
        5,
        matrix,
        n_frames,
        amplitude_scale_m_s=1.0,
        amplitude=amplitude,
        frame_step=frame_step,
        transform=transform,
    )


def test_inputs_are_interpolated_snapshots_and_clips() -> None:
    values = np.random.default_rng(1).normal(size=(3, 3, 20)).astype(np.float32)
    spec2 = _spec("cnn2d", n_frames=1)
    images = build_inputs(spec2, values, np.array([0, 7]))
    expected = np.arcsinh((spec2.matrix @ values[:, 0, 7]).reshape(4, 5))
    assert images.shape == (2, 4, 5)
    np.testing.assert_allclose(images[1], expected, rtol=1e-5)
    clips = build_inputs(_spec("cnn3d"), values, np.array([1, 10]))
    assert clips.shape == (2, 4, 4, 5)
    assert not clips[0, :2].any()  # before the record start: zeros
    np.testing.assert_allclose(
        clips[1, -1], build_inputs(spec2, values, np.array([10]))[0], rtol=1e-5
    )
    waves = build_inputs(_spec("convnetquake"), values, np.array([5]))
    assert waves.shape == (1, 9, 4)
    np.testing.assert_allclose(waves[0, 0], np.arcsinh(values[0, 0, 2:6]), rtol=1e-5)


def test_strided_clips_take_every_step_th_sample_back_from_the_frame() -> None:
    values = np.random.default_rng(2).normal(size=(3, 3, 30)).astype(np.float32)
    snapshot = lambda f: build_inputs(_spec("cnn2d", n_frames=1), values, np.array([f]))[0]  # noqa: E731
    clips = build_inputs(_spec("cnn3d", frame_step=3), values, np.array([4, 25]))
    for k, back in enumerate([9, 6, 3, 0]):
        np.testing.assert_allclose(clips[1, k], snapshot(25 - back), rtol=1e-5)
    assert not clips[0, :2].any()  # frames 4 - 9 and 4 - 6 lie before the record start
    np.testing.assert_allclose(clips[0, 2], snapshot(1), rtol=1e-5)
    waves = build_inputs(_spec("convnetquake", frame_step=2), values, np.array([25]))
    np.testing.assert_allclose(waves[0, 0], np.arcsinh(values[0, 0, [19, 21, 23, 25]]), rtol=1e-5)


def test_frame_step_defaults_and_old_models() -> None:
    """Clips default to CLIP_STEP_S apart; models saved before the step read it as 1."""
    assert LocateTrainConfig().frame_step(0.02) == round(CLIP_STEP_S / 0.02)
    assert LocateTrainConfig(clip_step_s=0.5).frame_step(0.1) == 5
    assert LocateTrainConfig(clip_step_s=0.01).frame_step(0.1) == 1
    stored = _spec("cnn3d", frame_step=4).to_dict()
    assert InputSpec.from_dict(stored).frame_step == 4
    del stored["frame_step"]
    assert InputSpec.from_dict(stored).frame_step == 1
    with pytest.raises(InputError, match="frame step"):
        _spec("cnn3d", frame_step=0)


@settings(max_examples=30, deadline=None)
@given(
    model_type=st.sampled_from(["cnn2d", "cnn3d"]),
    amplitude=st.sampled_from(["global", "peak", "snr"]),
    option=st.sampled_from(["", "station_mask", "skip_missing"]),
    seed=st.integers(0, 1000),
)
def test_image_inputs_read_the_vertical_component_alone(
    model_type: str, amplitude: str, option: str, seed: int
) -> None:
    """Training cuts the horizontals before augmenting (`n_components`); nothing changes."""
    values = np.random.default_rng(seed).normal(size=(3, 3, 30)).astype(np.float32)
    values[1] = 0.0  # a missing station
    spec = replace(
        _spec(
            model_type, amplitude=amplitude, transform="max" if amplitude == "snr" else "velocity"
        ),
        **({option: True} if option and amplitude != "global" else {}),
    )
    frames = np.array([14, 29])
    assert spec.n_components == 1
    np.testing.assert_array_equal(
        build_inputs(spec, values[:, : spec.n_components], frames),
        build_inputs(spec, values, frames),
    )


@settings(max_examples=25, deadline=None)
@given(
    model_type=st.sampled_from(["cnn2d", "cnn3d", "convnetquake"]),
    log_gain=st.floats(-4, 4),
    seed=st.integers(0, 1000),
)
def test_peak_inputs_keep_the_pattern_and_carry_the_level(
    model_type: str, log_gain: float, seed: int
) -> None:
    """Scaling an event leaves the normalised pattern alone and shifts only the level input."""
    values = np.random.default_rng(seed).normal(size=(3, 3, 20)).astype(np.float32)
    spec = _spec(model_type, amplitude="peak")
    frames = np.array([6, 12])
    base = build_inputs(spec, values, frames)
    scaled = build_inputs(spec, values * np.float32(10.0**log_gain), frames)
    if model_type == "convnetquake":
        pattern, level = base[:, :-1], base[:, -1]
        pattern_scaled, level_scaled = scaled[:, :-1], scaled[:, -1]
        assert base.shape == (2, 10, 4)
    else:
        pattern, level = base[:, 0], base[:, 1]
        pattern_scaled, level_scaled = scaled[:, 0], scaled[:, 1]
        assert base.shape[1] == 2 and spec.in_channels == 2
    np.testing.assert_allclose(np.abs(pattern).reshape(2, -1).max(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(pattern_scaled, pattern, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(level_scaled - level, log_gain, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    model_type=st.sampled_from(["cnn2d", "cnn3d", "convnetquake"]),
    log_gains=st.lists(st.floats(-3, 3), min_size=3, max_size=3),
    seed=st.integers(0, 1000),
)
def test_snr_inputs_ignore_station_gains(
    model_type: str, log_gains: list[float], seed: int
) -> None:
    """Each station's own gain (site, instrument) cancels in the `snr` pattern."""
    values = np.random.default_rng(seed).normal(size=(3, 3, 40)).astype(np.float32)
    spec = _spec(model_type, amplitude="snr", transform="max", frame_step=2)
    gains = np.float32(10.0) ** np.asarray(log_gains, dtype=np.float32)[:, None, None]
    frames = np.array([25, 39])
    base = build_inputs(spec, values, frames)
    scaled = build_inputs(spec, values * gains, frames)
    if model_type == "convnetquake":
        pattern, pattern_scaled = base[:, :-1], scaled[:, :-1]
    else:
        pattern, pattern_scaled = base[:, 0], scaled[:, 0]
    np.testing.assert_allclose(pattern_scaled, pattern, atol=1e-4)
    assert pattern.min() >= 0.0 and pattern.max() <= 1.0


def test_snr_inputs_show_when_each_station_rose_above_its_own_noise() -> None:
    """Quiet through the clip: 0; a level 100 times its own noise: 1, from the arrival on."""
    values = np.full((3, 3, 40), 1e-8, dtype=np.float32)
    values[1, :, 30:] = 1e-6  # station 1: arrival at sample 30, 2 decades above its noise
    values[2] = 0.0  # station 2: no data (missing or cut out)
    spec = _spec("convnetquake", amplitude="snr", transform="max", n_frames=10)
    window = build_inputs(spec, values, np.array([35]))[0]  # samples 26..35, reference at 16
    station_rows = window[:-1].reshape(3, 3, 10)
    assert not station_rows[0].any() and not station_rows[2].any()
    np.testing.assert_allclose(station_rows[1, :, :4], 0.0, atol=1e-6)
    np.testing.assert_allclose(station_rows[1, :, 4:], 1.0, atol=1e-5)
    np.testing.assert_allclose(window[-1], np.log10(1e-6), atol=1e-4)  # level of the peak
    with pytest.raises(InputError, match="snr"):
        _spec("cnn3d", amplitude="snr", transform="velocity")


@pytest.mark.parametrize("model_type", ["cnn2d", "cnn3d"])
def test_station_mask_tells_a_missing_station_from_a_quiet_one(model_type: str) -> None:
    """With `station_mask` the last channel is the interpolated presence of the stations."""
    values = np.random.default_rng(3).normal(size=(3, 3, 40)).astype(np.float32)
    values[2] = 0.0  # missing (or cut out)
    quiet = values.copy()
    quiet[2] = np.float32(1e-9)  # present, but nothing arrived
    spec = replace(_spec(model_type, amplitude="snr", transform="max"), station_mask=True)
    missing_in, quiet_in = (
        build_inputs(spec, values, np.array([30])),
        build_inputs(spec, quiet, np.array([30])),
    )
    assert spec.in_channels == 3 and missing_in.shape[1] == 3
    expected = (spec.matrix @ np.array([1.0, 1.0, 0.0], dtype=np.float32)).reshape(4, 5)
    np.testing.assert_allclose(missing_in[0, 2].reshape(-1, 4, 5)[-1], expected, rtol=1e-6)
    np.testing.assert_allclose(missing_in[:, :2], quiet_in[:, :2], atol=1e-6)  # the same pattern
    assert not np.allclose(missing_in[:, 2], quiet_in[:, 2])  # told apart by the mask only
    with pytest.raises(InputError, match="station_mask"):
        replace(_spec("convnetquake", amplitude="snr", transform="max"), station_mask=True)


@pytest.mark.parametrize("model_type", ["cnn2d", "cnn3d"])
def test_skip_missing_images_a_network_without_the_missing_station(model_type: str) -> None:
    """With `skip_missing` a missing station is absent: the images are those of a network
    that never had it (the weights renormalised over the others), not of a silent station."""
    values = np.random.default_rng(4).normal(size=(3, 3, 40)).astype(np.float32)
    values[1] = 0.0  # missing (or cut out)
    spec = _spec(model_type, amplitude="snr", transform="max")
    idw = spec.matrix / spec.matrix.sum(axis=1, keepdims=True)  # rows sum to 1, as simulated
    spec = replace(spec, matrix=idw, skip_missing=True)
    without = spec.matrix[:, [0, 2]] / spec.matrix[:, [0, 2]].sum(axis=1, keepdims=True)
    smaller = replace(spec, stations=["S0", "S2"], matrix=without)
    frames = np.array([30, 39])
    np.testing.assert_allclose(
        build_inputs(spec, values, frames), build_inputs(smaller, values[[0, 2]], frames), atol=1e-6
    )
    silent = build_inputs(replace(spec, skip_missing=False), values, frames)
    assert not np.allclose(build_inputs(spec, values, frames), silent)
    everyone = np.random.default_rng(5).normal(size=(3, 3, 40)).astype(np.float32)
    np.testing.assert_allclose(  # nothing changes while every station has data
        build_inputs(spec, everyone, frames),
        build_inputs(replace(spec, skip_missing=False), everyone, frames),
        atol=1e-6,
    )
    with pytest.raises(InputError, match="skip_missing"):
        replace(_spec("convnetquake", amplitude="snr", transform="max"), skip_missing=True)


def test_running_rms_is_causal() -> None:
    x = np.zeros((1, 30), dtype=np.float32)
    x[0, 20] = 2.0
    rms = running_rms(x, 4)
    assert not rms[0, :20].any()  # nothing before the spike leaks in
    assert rms[0, 20] == pytest.approx(1.0) and rms[0, 24] == 0.0


@pytest.mark.parametrize("window", [1, 4, 5, 50])
def test_running_max_is_causal_and_forgets_after_the_window(window: int) -> None:
    x = np.zeros((2, 30), dtype=np.float32)
    x[0, 20], x[1, 3] = -2.0, 1.0
    peak = running_max(x, window)
    assert not peak[0, :20].any()  # nothing before the spike leaks in
    np.testing.assert_array_equal(peak[0, 20 : 20 + min(window, 10)], 2.0)  # |v| held ...
    assert not peak[0, 20 + window :].any()  # ... for exactly `window` samples
    assert peak[1, 3] == 1.0 and not peak[1, :3].any()  # the record start pads with nothing


def test_augmenter_cuts_out_whole_stations_and_is_seeded() -> None:
    values = np.ones((6, 3, 50), dtype=np.float32)
    make = lambda seed: Augmenter(3, 1.0, 0.0, 0, np.random.default_rng(seed))  # noqa: E731
    out = make(4)(values)
    dead = ~out.reshape(6, -1).any(axis=1)
    assert 1 <= dead.sum() <= 3
    assert np.all(out[~dead] == 1.0)
    np.testing.assert_array_equal(out, make(4)(values))
    shifted = Augmenter(0, 0.0, 0.0, 2, np.random.default_rng(0))(values)
    assert shifted[:, :, 2:-2].all()  # only the edges can be emptied by a shift


def test_train_save_load_predicts_the_same(tiny_dataset: Path, tmp_path: Path) -> None:
    data = SimulatedSet.open(tiny_dataset)
    assert data.in_memory
    locator = train_locator(data, tiny_train_config(transform="rms"))
    assert len(locator.history) == 1 and np.isfinite(locator.history[0]["val_loss"])
    locator.save(tmp_path / "model")
    loaded = TrainedLocator.load(tmp_path / "model")
    values = data.event_values(0)
    frames = np.array([20, 40])
    np.testing.assert_allclose(
        locator.predict(values, frames), loaded.predict(values, frames), rtol=1e-5
    )
    assert loaded.spec.transform == "rms" and loaded.trigger.lta_s == 1.5
    assert loaded.spec.stations == [str(s) for s in data.stations["station"]]


def test_ensemble_answers_the_members_mean_and_spreads_by_their_disagreement(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    folders = [tmp_path / "seed0", tmp_path / "seed1"]
    for seed, folder in enumerate(folders):
        train_locator(data, tiny_train_config(seed=seed)).save(folder)
    assert isinstance(load_locator(folders[0]), TrainedLocator)  # one folder: the network
    ensemble = load_locator(folders)
    assert isinstance(ensemble, LocatorEnsemble) and ensemble.n_members == 2
    members = [TrainedLocator.load(folder) for folder in folders]
    values, frames = data.event_values(0), np.array([20, 40])
    first, second = (member.predict(values, frames) for member in members)
    assert not np.allclose(first, second)  # two seeds, two networks
    np.testing.assert_allclose(ensemble.predict(values, frames), (first + second) / 2, rtol=1e-5)
    _, disagreement = ensemble.predict_spread(values, frames, 0)  # no dropout: members only
    np.testing.assert_allclose(disagreement, np.abs(first - second) / 2, rtol=1e-4, atol=1e-7)
    mean, total = ensemble.predict_spread(values, frames, 8, seed=5)
    passes = [member.predict_spread(values, frames, 8, seed=5) for member in members]
    member_means = np.stack([m for m, _ in passes])
    np.testing.assert_allclose(mean, member_means.mean(axis=0), rtol=1e-5)
    dropout_variance = np.mean([sd**2 for _, sd in passes], axis=0)
    np.testing.assert_allclose(total**2, dropout_variance + member_means.var(axis=0), rtol=1e-4)
    assert ensemble.describe_spread(8) == "ensemble of 2 networks, MC dropout 8 passes each"


def test_ensemble_refuses_a_member_that_reads_other_records(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    train_locator(data, tiny_train_config()).save(tmp_path / "a")
    other_trigger = TINY_TRIGGER.model_copy(update={"lta_s": 2.0})
    train_locator(data, tiny_train_config(trigger=other_trigger)).save(tmp_path / "b")
    with pytest.raises(InputError, match=r"b.*--model.*differs in trigger"):
        load_locator([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(InputError, match="no model folder"):
        load_locator([])


@pytest.mark.parametrize("model_type", ["cnn3d", "convnetquake"])
def test_other_network_types_train(tiny_dataset: Path, model_type: str) -> None:
    data = SimulatedSet.open(tiny_dataset, memory_limit_mb=0.001)  # streamed from Zarr
    assert not data.in_memory
    locator = train_locator(data, tiny_train_config(model_type=model_type, separate=True))
    estimate = locator.predict(data.event_values(1), np.array([50]))
    assert estimate.shape == (1, 5) and np.isfinite(estimate).all()


def test_bad_dataset_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a simulated dataset"):
        SimulatedSet.open(tmp_path)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 400), st.integers(1, 400), st.integers(1, 40))
def test_val_steps_are_an_even_subset_from_first_to_last(start: int, length: int, n: int) -> None:
    frames = np.arange(start, start + length)
    chosen = evenly_spaced(frames, n)
    assert len(chosen) == min(n, length) and np.all(np.diff(chosen) > 0)
    assert np.isin(chosen, frames).all() and chosen[0] == frames[0]
    assert chosen[-1] == frames[-1] or n == 1
    if len(chosen) > 2:  # no gap more than twice the even spacing
        assert np.diff(chosen).max() <= 2 * (length - 1) / (len(chosen) - 1) + 1
    np.testing.assert_array_equal(evenly_spaced(frames, None), frames)


NEWBERRY_META = {"acquisition": {"network_values": {"crossing_time_s": 2.354}}}
HAKONE_META = {"acquisition": {"network_values": {"crossing_time_s": 8.848}}}


@given(st.floats(0.01, 1000.0))
def test_answer_time_is_the_crossing_time_to_one_figure_rounded_down(crossing_s: float) -> None:
    """The answer never waits longer than S needs to cross the network, nor 10x less."""
    answer = answer_time_s(crossing_s)
    unit = 10.0 ** np.floor(np.log10(answer))
    assert answer <= crossing_s + 1e-9 and crossing_s < answer + unit
    assert abs(answer / unit - round(answer / unit)) < 1e-6  # one significant figure


def test_network_clip_on_newberry_is_the_measured_small_network_recipe() -> None:
    """A plain cnn3d run on the Newberry network gets the recipe measured best there, on the
    Hakone network the plain defaults, and a network between them values between them."""
    filled, record = network_clip(LocateTrainConfig(model_type="cnn3d"), NEWBERRY_META)
    assert filled.trigger.answer_after_s == 2.0 and filled.window_after_detection_s == 2.0
    assert filled.n_frames == 20 and filled.clip_step_s == pytest.approx(0.15)
    assert filled.min_delay_after_detection_s == 1.0
    assert filled.amplitude == "snr" and filled.station_gain_sigma_db == 8.0
    assert set(record["source"].values()) == {"network"}
    plain = LocateTrainConfig(model_type="cnn3d")
    hakone, _ = network_clip(plain, HAKONE_META)
    assert hakone.model_dump() == plain.model_dump()  # the embedded default trains as before
    between = {"acquisition": {"network_values": {"crossing_time_s": 4.6}}}
    middle, record = network_clip(plain, between)
    assert 0 < record["network_scale"] < 1 and 10 < middle.n_frames < 20
    assert 0 < middle.station_gain_sigma_db < 8 and middle.trigger.answer_after_s == 4.0


def test_network_clip_keeps_what_was_given_and_moves_what_follows() -> None:
    """Given values win, even at their default; the values that follow from them move."""
    config = LocateTrainConfig.model_validate(
        {"model_type": "cnn3d", "amplitude": "peak", "trigger": {"answer_after_s": 4.0}}
    )
    filled, record = network_clip(config, NEWBERRY_META)
    assert filled.amplitude == "peak" and record["source"]["amplitude"] == "given"
    assert filled.trigger.answer_after_s == 4.0 and filled.window_after_detection_s == 4.0
    assert filled.clip_step_s == pytest.approx(0.3) and filled.min_delay_after_detection_s == 2.0
    again, _ = network_clip(LocateTrainConfig(**filled.model_dump()), HAKONE_META)
    assert again == filled  # a saved config rebuilds the same run on any network
    for plain in (
        LocateTrainConfig(model_type="cnn2d"),
        LocateTrainConfig(model_type="convnetquake"),
    ):
        assert network_clip(plain, NEWBERRY_META) == (plain, None)
    assert network_clip(LocateTrainConfig(model_type="cnn3d"), {})[1] is None
    velocity, _ = network_clip(
        LocateTrainConfig(model_type="cnn3d", transform="velocity"), NEWBERRY_META
    )
    assert velocity.amplitude == "peak"  # snr is refused with raw velocity


def test_network_set_cnn3d_trains_saves_and_predicts(tiny_dataset: Path, tmp_path: Path) -> None:
    """A cnn3d run with the clip left to the network records and reloads what it used."""
    data = SimulatedSet.open(tiny_dataset)
    config = tiny_train_config(model_type="cnn3d")
    locator = train_locator(data, config)
    locator.save(tmp_path / "model")
    loaded = TrainedLocator.load(tmp_path / "model")
    clip = loaded.training["clip_from_network"]
    assert clip["crossing_time_s"] == data.meta["acquisition"]["network_values"]["crossing_time_s"]
    assert clip["source"]["amplitude"] == "network" and clip["source"]["n_frames"] == "given"
    assert loaded.spec.amplitude == clip["values"]["amplitude"] and loaded.spec.n_frames == 4
    clip_step_s = clip["values"]["clip_step_s"]
    assert clip_step_s != config.clip_step_s  # 1.125 x the given 2 s answer / 4 frames
    assert loaded.spec.frame_step == round(clip_step_s / data.sampling_interval_s)
    values, frames = data.event_values(1), np.array([50])
    estimate = loaded.predict(values, frames)
    assert np.isfinite(estimate).all()
    np.testing.assert_allclose(estimate, locator.predict(values, frames), rtol=1e-5)
