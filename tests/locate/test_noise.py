"""Real pre-event noise: cut before the event, preprocessed like training, looped, drawn, used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from obspy import Stream, Trace, UTCDateTime

from quakesense.cli import main
from quakesense.core.errors import InputError
from quakesense.io.waveforms import read_event_waveforms
from quakesense.locate.noise import (
    NOISE_FILE,
    NoisePool,
    RealNoiseSettings,
    pre_event_window,
    real_noise_pool,
)
from quakesense.locate.preprocess import PreprocessConfig, preprocess
from quakesense.locate.records import to_station_values
from quakesense.locate.train import Augmenter, SimulatedSet, real_noise_used

from .synth_fixtures import tiny_config
from .tiny_data import tiny_train_config

RATE_HZ = 50.0
START = UTCDateTime(2022, 3, 1)
ARRIVAL_S = {"A1": 40.0, "A2": 40.4, "A3": 40.8}
NOISE_M_S = 1e-8
BURST_M_S = 1e-5
PREP = PreprocessConfig(highcut_hz=2.0)


def _write_records(folder: Path, seed: int = 0, seconds: float = 60.0) -> Path:
    """One event folder of miniSEED files (network XX): noise, then a burst at ARRIVAL_S."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    folder.mkdir(parents=True)
    for station, arrival in ARRIVAL_S.items():
        traces = []
        for channel in ("HHZ", "HHN", "HHE"):
            after = np.clip(t - arrival, 0.0, None)
            burst = BURST_M_S * np.sin(2 * np.pi * 1.5 * after) * np.exp(-after) * (t >= arrival)
            data = rng.normal(0.0, NOISE_M_S, t.size) + burst
            header = {
                "network": "XX",
                "station": station,
                "channel": channel,
                "sampling_rate": RATE_HZ,
                "starttime": START,
            }
            traces.append(Trace(data=data.astype(np.float32), header=header))
        Stream(traces).write(str(folder / f"XX.{station}.mseed"), format="MSEED")
    return folder


def test_window_ends_before_the_first_pick_and_is_the_training_chain(tmp_path: Path) -> None:
    event = read_event_waveforms(_write_records(tmp_path / "ev1"), units="velocity")
    stations = ["A1", "A2", "A3", "A4"]
    window, present, row = pre_event_window(event, stations, 0.1, PREP, margin_s=1.0)
    assert row["ends_at"] == "first P pick"
    assert present.tolist() == [True, True, True, False]  # XX.A1 matched A1; A4 absent
    values = to_station_values(event, stations, 0.1, min_stations=1)
    assert START + 20.0 < UTCDateTime(row["end_time"]) <= START + min(ARRIVAL_S.values()) - 0.9
    # The very samples of the training chain (records -> preprocess), from the settled start.
    first = round(3.0 / PREP.highcut_hz / 0.1)
    expected = preprocess(values.values, 0.1, PREP)[:, :, first : first + window.shape[-1]]
    np.testing.assert_array_equal(window, expected)
    assert np.abs(window).max() < 20 * NOISE_M_S  # nothing of the burst (1e-5) leaks in


def test_pool_loops_are_seamless_and_draws_stay_in_the_scale_bounds(tmp_path: Path) -> None:
    settings = RealNoiseSettings(
        records=[_write_records(tmp_path / "a" / "ev1", 1), _write_records(tmp_path / "ev2", 2)],
        units="velocity",
    )
    pool = real_noise_pool(settings, ["A1", "A2", "A3", "A4"], 0.1, PREP)
    n_windows, n_stations, _, n_loop = pool.loops.shape
    assert (n_windows, n_stations) == (2, 4)
    assert pool.describe()["stations_without_noise"] == ["A4"]
    loop = pool.loops[0, 0, 0]
    steps = np.abs(np.diff(loop))
    assert abs(loop[0] - loop[-1]) < 5 * np.median(steps)  # the wrap is no step
    draws = pool.draw(n_loop, (0.5, 2.0), np.random.default_rng(3))
    again = pool.draw(n_loop, (0.5, 2.0), np.random.default_rng(3))
    np.testing.assert_array_equal(draws, again)
    vertical = pool.draw(n_loop, (0.5, 2.0), np.random.default_rng(3), n_components=1)
    np.testing.assert_array_equal(vertical, draws[:, :1])  # the image networks' cheaper draw
    own_rms = np.sqrt(np.mean(pool.loops[:, :3, 0] ** 2, axis=-1))  # (window, station)
    drawn_rms = np.sqrt(np.mean(draws[:3, 0] ** 2, axis=-1))
    ratio = drawn_rms[None, :] / own_rms
    assert np.all(np.any((ratio >= 0.5 - 1e-6) & (ratio <= 2.0 + 1e-6), axis=0))
    assert np.sqrt(np.mean(draws[3] ** 2)) > 0  # A4 borrows another station's noise


def test_records_of_other_stations_or_no_long_window_are_refused(tmp_path: Path) -> None:
    records = _write_records(tmp_path / "ev1")
    with pytest.raises(InputError, match="only 0 of the model's"):
        real_noise_pool(RealNoiseSettings(records=[records], units="velocity"), ["Q1"], 0.1, PREP)
    with pytest.raises(InputError, match="no pre-event window of at least 50"):
        real_noise_pool(
            RealNoiseSettings(records=[records], units="velocity", min_window_s=50.0),
            ["A1"],
            0.1,
            PREP,
        )
    with pytest.raises(InputError, match="not a folder of real records"):
        real_noise_pool(RealNoiseSettings(records=[records / "XX.A1.mseed"]), ["A1"], 0.1, PREP)


def test_simulate_stores_the_noise_and_training_adds_it(tmp_path: Path) -> None:
    records = _write_records(tmp_path / "records" / "ev1")
    config = tmp_path / "network.yaml"
    settings = tiny_config(tmp_path, eikonal_refined=False, figures=False, n_events=12)
    config.write_text(yaml.safe_dump(settings))
    command = ["locate", "simulate", "--config", str(config), "--out", str(tmp_path / "out")]
    noise = ["--noise-records", str(records.parent), "--noise-units", "velocity"]
    assert main([*command, *noise, "--no-progress"]) == 0
    data = SimulatedSet.open(tmp_path / "out")
    assert (tmp_path / "out" / NOISE_FILE).is_file()
    stated = data.meta["real_noise"]
    assert stated["n_windows"] == 1 and stated["stations_without_noise"] == ["A4", "A5"]
    assert stated["windows"][0]["ends_at"] == "first P pick"
    assert data.real_noise is not None and data.real_noise.stations == [
        "A1",
        "A2",
        "A3",
        "A4",
        "A5",
    ]
    silent = np.zeros((5, 3, 100), dtype=np.float32)
    augment = Augmenter(0, 0.0, 0.0, 0, np.random.default_rng(0), real_noise=data.real_noise)
    added = augment(silent)
    assert 0.2 * NOISE_M_S < np.sqrt(np.mean(added**2)) < 5 * NOISE_M_S
    assert real_noise_used(data, tiny_train_config())["scale"] == [0.5, 2.0]
    assert real_noise_used(data, tiny_train_config(real_noise_scale=None)) is None


def test_noise_pool_round_trip(tmp_path: Path) -> None:
    pool = NoisePool(
        loops=np.ones((1, 2, 3, 8), dtype=np.float32),
        present=np.array([[True, False]]),
        stations=["S1", "S2"],
        sampling_interval_s=0.1,
        windows=pd.DataFrame([{"event_id": "e", "seconds": 0.8}]),
    )
    pool.save(tmp_path)
    loaded = NoisePool.load(tmp_path)
    assert loaded is not None and loaded.stations == ["S1", "S2"]
    np.testing.assert_array_equal(loaded.loops, pool.loops)
    assert loaded.windows.to_dict("records") == [{"event_id": "e", "seconds": 0.8}]
    assert NoisePool.load(tmp_path / "none") is None


@pytest.mark.shared_data
def test_newberry_pre_event_noise(shared_data: Path) -> None:
    root = shared_data / "waveforms/newberry_egs_subset"
    stations = pd.read_csv(root / "staInfo_df.csv").iloc[:, 0].tolist()
    folder = root / "raw_sac_subset" / "121031173125"  # the strongest of the five
    prep = PreprocessConfig(highcut_hz=10.0)  # microearthquakes: in a 2 Hz band, at noise level
    pool = real_noise_pool(
        RealNoiseSettings(records=[folder], units="velocity"), stations, 0.02, prep
    )
    row = pool.windows.iloc[0]
    assert row["ends_at"] == "catalog origin" and row["seconds"] >= 10.0
    event = read_event_waveforms(folder, units="velocity")
    origin = UTCDateTime(event.catalog["time"].to_pydatetime())
    assert UTCDateTime(row["end_time"]) <= origin - 0.99
    values = to_station_values(event, stations, 0.02, min_stations=1)
    signal = preprocess(values.values, 0.02, prep)[:, 0]
    after = signal[:, int((origin - values.start_time) / 0.02) :]
    noise_rms = np.sqrt(np.mean(pool.loops[0, :, 0] ** 2, axis=-1))[pool.present[0]]
    peak = np.abs(after).max(axis=-1)[pool.present[0]]
    # Gaussian noise alone peaks near 4 RMS over such a record; the event stands out of it.
    assert np.median(peak / noise_rms) > 6
