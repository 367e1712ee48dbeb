"""Alarm layer and event-level scores; raw records: AE events, signal windows, failure times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.cli import main
from quakesense.precursor.alarms import (
    AlarmConfig,
    Calibrator,
    choose_threshold,
    event_scores,
    persistent,
)
from quakesense.precursor.records import (
    RecordConfig,
    failure_times,
    hit_events,
    record_features,
)


def test_persistence_needs_successive_windows() -> None:
    above = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=bool)
    assert persistent(above, 2).tolist() == [0, 0, 0, 1, 0, 0, 1, 1]
    assert persistent(above, 1).tolist() == above.tolist()


def test_only_a_warning_lasting_into_the_event_counts() -> None:
    """Hourly windows; events at 10 h and 30 h. An alarm from 3 h to 5 h ends before the first
    event (before: counted as a 7 h lead); the one from 26 h lasts into the second event."""
    end_s = np.arange(1, 41) * 3600.0
    alarm = np.zeros(40, dtype=bool)
    alarm[2:5] = True  # windows ending 3-5 h
    alarm[25:30] = True  # windows ending 26-30 h
    scores = event_scores(end_s, alarm, np.array([10.0, 30.0]) * 3600.0, 3600.0)
    assert scores["n_events"] == 2 and scores["n_warned"] == 1
    assert scores["lead_times_s"] == [4 * 3600.0]
    assert scores["n_false_alarms"] == 1
    assert scores["false_alarms_per_day"] == pytest.approx(1 / (40 / 24))


def test_isotonic_calibration_and_false_alarm_threshold() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=2000) < 0.2).astype(int)
    scores = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.15, 2000), 0, 1)
    calibrator = Calibrator.fit("isotonic", scores, labels)
    proba = calibrator(scores)
    assert abs(proba.mean() - labels.mean()) < 0.01  # calibrated on its own data: same mean
    again = Calibrator.from_dict(calibrator.to_dict())
    np.testing.assert_allclose(again(scores), proba)
    end_s = np.arange(2000) * 3600.0
    strict = AlarmConfig(threshold_rule="false-alarm-rate", false_alarms_per_day=0.1)
    loose = AlarmConfig(threshold_rule="false-alarm-rate", false_alarms_per_day=3.0)
    high = choose_threshold(proba, labels, end_s, 3600.0, strict)
    low = choose_threshold(proba, labels, end_s, 3600.0, loose)
    assert high > low
    roc = choose_threshold(proba, labels, end_s, 3600.0, AlarmConfig())
    assert 0 < roc < 1


def test_hit_coincidences_form_events() -> None:
    hits = pd.DataFrame(
        {
            "time_s": [0.0, 0.0002, 0.0004, 0.5, 0.5003, 2.0],
            "channel": [3, 1, 2, 2, 4, 1],
            "amplitude_db": [50.0, 60.0, 55.0, 40.0, 45.0, 70.0],
            "energy_eu": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    events = hit_events(hits, 1e-3)
    assert events["time_s"].tolist() == [0.0, 0.5, 2.0]
    assert events["first_channel"].tolist() == [3, 2, 1]
    assert events["n_channels"].tolist() == [3, 2, 1]
    assert events["amplitude_db"].tolist() == [60.0, 45.0, 70.0]
    assert events["energy_eu"].tolist() == [6.0, 9.0, 6.0]


def test_record_features_match_direct_statistics() -> None:
    rng = np.random.default_rng(0)
    fs = 1e5
    signal = rng.normal(0, 1, 20_000)
    signal[12_000:12_100] += 40.0 * np.sin(np.arange(100))  # a burst in one window
    config = RecordConfig(samplerate_hz=fs, window_s=0.01, step_s=0.005, windows_per_block=7)
    table = record_features(signal, config)
    assert len(table) == (20_000 - 1000) // 500 + 1
    k = 24  # window [12 000, 13 000) holds the burst
    window = signal[k * 500 : k * 500 + 1000]
    assert table["variance"][k] == pytest.approx(window.var())
    assert table["q99"][k] == pytest.approx(np.quantile(window, 0.99))
    from scipy.stats import kurtosis

    assert table["kurtosis"][k] == pytest.approx(kurtosis(window))
    assert table["count_above_5sigma"][k] > 20 and table["count_above_5sigma"][0] == 0
    assert table["end_s"][k] == pytest.approx((k * 500 + 1000) / fs)


def test_failure_times_from_a_countdown() -> None:
    fs = 10.0
    t = np.arange(100) / fs
    ttf = np.where(t < 4.0, 4.05 - t, 9.05 - t)  # failures at 4.05 s and 9.05 s
    np.testing.assert_allclose(failure_times(ttf, fs), [4.05])


def _stick_slip(fs: float, n_cycles: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic lab-quake record: noise whose variance grows before each failure."""
    rng = np.random.default_rng(seed)
    cycle = rng.uniform(0.8, 1.2, n_cycles)
    failures = np.cumsum(cycle)
    t = np.arange(int(failures[-1] * fs) + 10) / fs
    nxt = np.searchsorted(failures, t)
    to_fail = np.where(nxt < failures.size, failures[np.minimum(nxt, n_cycles - 1)] - t, 1.0)
    scale = 1.0 + 3.0 * np.exp(-to_fail / 0.15)
    return rng.normal(0, 1, t.size) * scale, failures


def test_lab_quake_route_from_raw_record_to_leave_one_event_out(tmp_path: Path) -> None:
    """Raw continuous record -> signal windows -> LOEO training on seconds, time-only events."""
    signal, failures = _stick_slip(2e4, 8, 0)
    np.save(tmp_path / "record.npy", signal)
    pd.DataFrame({"time": failures}).to_csv(tmp_path / "events.csv", index=False)
    argv = ["precursor", "features", "--record", str(tmp_path / "record.npy")]
    argv += ["--samplerate-hz", "2e4", "--window", "0.05s", "--step", "0.05s"]
    assert main([*argv, "--out", str(tmp_path / "w.csv")]) == 0
    table = pd.read_csv(tmp_path / "w.csv")
    assert {"variance", "kurtosis", "q99", "count_above_3sigma"} <= set(table.columns)
    train = ["precursor", "train", "--features", str(tmp_path / "w.csv")]
    train += ["--events", str(tmp_path / "events.csv"), "--horizon", "0.2s"]
    train += ["--split", "leave-one-event-out", "--epochs", "5", "--out", str(tmp_path / "run")]
    assert main(train) == 0
    import json

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    loeo = metrics["splits"]["leave-one-event-out"]
    assert len(loeo["logistic"]["per_fold_roc_auc"]) == 8
    assert loeo["logistic"]["roc_auc"] > 0.8  # variance rises before each failure


def test_lanl_snippet_windows(shared_data: Path, tmp_path: Path) -> None:
    record = shared_data / "ae" / "lanl_labquake_raw" / "first_150000_rows_train.csv"
    argv = ["precursor", "features", "--record", str(record), "--column", "acoustic_data"]
    argv += ["--samplerate-hz", "4e6", "--window", "1ms", "--step", "0.5ms"]
    assert main([*argv, "--out", str(tmp_path / "w.parquet")]) == 0
    table = pd.read_parquet(tmp_path / "w.parquet")
    assert len(table) == 73  # (149,999 - 4,000) // 2,000 + 1 windows of 4,000 samples
    assert (table["variance"] > 0).all() and table["time"].is_monotonic_increasing


def test_tradb_hits_and_events_through_the_cli(shared_data: Path, tmp_path: Path) -> None:
    from quakesense.precursor.records import load_hits

    plate = load_hits(shared_data / "ae" / "vallenae_examples" / "steel_plate" / "sample.tradb")
    events = hit_events(plate, 1e-3)  # one pencil-lead break seen by all 4 sensors
    assert len(events) == 1 and events["n_channels"][0] == 4
    assert events["first_channel"][0] == 3
    bearing = shared_data / "ae" / "vallenae_examples" / "bearing" / "bearing.tradb"
    argv = ["precursor", "features", "--hits", str(bearing), "--window", "1s", "--step", "1s"]
    assert main([*argv, "--out", str(tmp_path / "w.csv")]) == 0
    n_hits = pd.read_csv(tmp_path / "w.csv")["n_hits"].sum()
    assert n_hits > 300
    argv += ["--count", "events", "--coincidence", "1ms"]
    assert main([*argv, "--out", str(tmp_path / "e.csv")]) == 0
    assert 0 < pd.read_csv(tmp_path / "e.csv")["n_hits"].sum() <= n_hits
