"""Users' files: event lists through the catalog reader, text cells, b-value completeness, folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.cli import main
from quakesense.core.errors import InputError
from quakesense.precursor.features import (
    WindowConfig,
    aki_b_value,
    completeness_note,
    make_folds,
    max_curvature_db,
    resolve_threshold,
    shi_bolt_sigma,
    target_events,
    window_features,
)
from quakesense.precursor.inputs import read_event_list, read_window_table


def _comcat(path: Path) -> Path:
    """ComCat layout: `mag`, `latitude`, `longitude`, ISO times; 4 of 24 events are M >= 2.4."""
    rng = np.random.default_rng(0)
    mag = np.r_[[2.5, 2.8, 3.1, 3.3], rng.uniform(0.5, 2.2, 20)]
    distance_deg = np.r_[[1.0, 1.2, 1.4, 5.0], rng.uniform(0.2, 3, 20)]
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-03-02", periods=24, freq="13h").strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
            "latitude": 23.41 + distance_deg,
            "longitude": 116.63,
            "depth": 10.0,
            "mag": mag,
            "magType": "ml",
            "id": [f"us{i}" for i in range(24)],
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_comcat_mag_column_selects_targets_and_distance(tmp_path: Path) -> None:
    """Before: a `mag` column was not understood and --min-magnitude was ignored (24 targets)."""
    events = read_event_list(
        _comcat(tmp_path / "comcat.csv"),
        numeric_time=False,
        station_lat_deg=23.41,
        station_lon_deg=116.63,
    )
    targets = target_events(
        events.time_s, events.magnitude, events.distance_km, min_magnitude=2.4, max_distance_km=None
    )
    assert targets.size == 4
    near = target_events(
        events.time_s, events.magnitude, events.distance_km, min_magnitude=2.4, max_distance_km=200
    )
    assert near.size == 3  # the fourth lies 5 degrees (556 km) away


def test_quakeml_event_list(tmp_path: Path) -> None:
    from obspy.core.event import Catalog, Event, Magnitude, Origin
    from obspy.core.utcdatetime import UTCDateTime

    catalog = Catalog()
    for day, mag in ((2, 3.0), (5, 1.0)):
        event = Event()
        event.origins.append(
            Origin(time=UTCDateTime(2024, 3, day), latitude=23.0, longitude=116.0, depth=1e4)
        )
        event.magnitudes.append(Magnitude(mag=mag, magnitude_type="ML"))
        catalog.append(event)
    catalog.write(str(tmp_path / "events.xml"), format="QUAKEML")
    events = read_event_list(tmp_path / "events.xml", numeric_time=False)
    assert events.magnitude.tolist() == [3.0, 1.0]
    assert events.time_s[0] == pd.Timestamp("2024-03-02", tz="UTC").timestamp()


def test_time_only_event_list_in_seconds(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("time\n12.5\n30.25\n")
    events = read_event_list(tmp_path / "events.csv", numeric_time=True)
    assert events.time_s.tolist() == [12.5, 30.25] and events.magnitude is None
    with pytest.raises(InputError, match="no magnitude column"):
        target_events(events.time_s, None, None, min_magnitude=3.0, max_distance_km=None)
    with pytest.raises(InputError, match="station position"):
        target_events(events.time_s, None, None, min_magnitude=None, max_distance_km=100.0)
    with pytest.raises(InputError, match="ISO 8601"):
        read_event_list(tmp_path / "events.csv", numeric_time=False)


def test_text_magnitude_names_file_row_and_field(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("time,magnitude\n1.0,3.0\n2.0,big\n")
    with pytest.raises(InputError, match=r"events\.csv, row 1, field 'magnitude'"):
        read_event_list(tmp_path / "events.csv", numeric_time=True)


def test_text_cell_in_window_table_names_row_and_column(tmp_path: Path) -> None:
    """Before: 'n/a' or 'x' became NaN, or the column was dropped from the model."""
    table = pd.DataFrame({"time": np.arange(5.0), "a": ["1", "2", "", "n/a", "5"], "b": 1.0})
    table.to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(InputError, match=r"w\.csv, row 3, field 'a'.*n/a"):
        read_window_table(tmp_path / "w.csv")
    table.loc[3, "a"] = ""
    table.to_csv(tmp_path / "w.csv", index=False)
    windows = read_window_table(tmp_path / "w.csv").windows
    assert np.isnan(windows["a"].to_numpy()[[2, 3]]).all()  # empty cells are missing values


def test_one_stray_quiet_hit_does_not_move_the_completeness() -> None:
    """Before: one amplitude_db = -20 hit set the completeness of the whole record to -20 dB."""
    rng = np.random.default_rng(1)
    amp = 34.0 + rng.exponential(20 / (1.1 * np.log(10)), 3000)
    hits = pd.DataFrame({"time_s": np.sort(rng.uniform(0, 7200, 3000)), "amplitude_db": amp})
    hits["energy_eu"], hits["avg_frequency_hz"] = 1.0, 1e5
    clean = resolve_threshold(hits, WindowConfig())
    hits.loc[100, "amplitude_db"] = -20.0
    stray = resolve_threshold(hits, WindowConfig())
    assert clean.threshold_db == stray.threshold_db == 34.0
    assert "1 of 3000 hits (lowest -20.0 dB)" in (completeness_note(hits, stray) or "")
    b = window_features(hits, stray)["b_value"]
    np.testing.assert_allclose(b, 1.1, atol=0.15)


def test_b_value_estimators() -> None:
    from seismostats.analysis import estimate_b

    rng = np.random.default_rng(3)
    # magnitudes complete from the lower edge of the 2.0 bin, reported in 0.1 bins
    binned = np.round((1.95 + rng.exponential(1 / (1.0 * np.log(10)), 5000)) / 0.1) * 0.1
    ours = aki_b_value(binned, 2.0, 0.1)
    assert ours == pytest.approx(1.0, abs=0.04)  # Aki-Utsu corrects the binning bias
    assert aki_b_value(binned, 2.0, 0.0) > ours + 0.05  # without the correction: biased high
    # seismostats' binned estimator (Tinti-Mulargia) agrees to second order in delta_m
    assert ours == pytest.approx(estimate_b(binned, mc=2.0, delta_m=0.1), rel=0.01)
    sigma = shi_bolt_sigma(binned, ours)
    assert 0.005 < sigma < 0.03  # about b / sqrt(n)
    assert max_curvature_db(np.r_[np.full(5, 30.2), np.full(9, 31.5), 40.0], 1.0) == 31.0


def test_every_fold_gets_a_validation_part_on_a_short_cycle_record() -> None:
    """A lab-like record: 16 events in 163 s, windows of 0.04 s, horizon 3 s (before: folds
    without validation windows crashed early stopping after 26 minutes)."""
    ends = np.arange(1, 4195) * (163.0 / 4194)
    windows = pd.DataFrame({"start_s": ends - 163.0 / 4194, "end_s": ends})
    targets = np.sort(np.random.default_rng(0).uniform(5, 160, 16))
    for split in ("time-blocked", "leave-one-event-out"):
        for fold in make_folds(windows, targets, 3.0, split):
            assert fold.train.size and fold.val.size and fold.test.size, fold.name
    with pytest.raises(InputError, match="left after purging"):
        make_folds(windows, targets, 150.0, "leave-one-event-out")


def test_unsorted_hits_hint_names_the_real_flag(tmp_path: Path) -> None:
    pd.DataFrame({"time_s": [2.0, 1.0], "channel": [1, 1], "amplitude_db": [40.0, 41.0]}).to_csv(
        tmp_path / "h.csv", index=False
    )
    from quakesense.io.ae import read_hits

    with pytest.raises(InputError, match="--repair") as error:
        read_hits(tmp_path / "h.csv")
    assert "--sort" not in str(error.value)


def test_simulate_refuses_the_working_folder_and_round_trips_its_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thesis.tex").write_text("years of work")
    assert main(["precursor", "simulate", "--out", ".", "--days", "2"]) == 2
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert main(["precursor", "simulate", "--out", "sim", "--days", "1"]) == 2
    assert "--duration-days" in capsys.readouterr().err
    assert main(["precursor", "simulate", "--out", "sim", "--days", "2", "--seed", "4"]) == 0
    argv = ["precursor", "simulate", "--out", "again", "--config", "sim/config.json"]
    assert main(argv) == 0
    assert (tmp_path / "again" / "config.json").read_text() == (
        tmp_path / "sim" / "config.json"
    ).read_text()
    assert (tmp_path / "again" / "hits.csv").read_bytes() == (
        tmp_path / "sim" / "hits.csv"
    ).read_bytes()
