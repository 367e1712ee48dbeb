"""Real records -> station values on the training grid, in the model's station order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from obspy import Stream, Trace, UTCDateTime

from quakesense.core.errors import InputError
from quakesense.io.waveforms import EventWaveforms, event_folders, read_event_waveforms
from quakesense.locate.realdata import match_station_table
from quakesense.locate.records import to_station_values

START = UTCDateTime(2021, 5, 1)


def _event(
    stations: dict[str, float], rate: float = 100.0, seconds: float = 30.0
) -> EventWaveforms:
    """Each station records a 1 Hz sine of the given amplitude on Z, N and E."""
    t = np.arange(int(seconds * rate)) / rate
    traces = [
        Trace(
            data=amplitude * np.sin(2 * np.pi * 1.0 * t),
            header={"station": name, "channel": channel, "sampling_rate": rate, "starttime": START},
        )
        for name, amplitude in stations.items()
        for channel in "ZNE"
    ]
    return EventWaveforms("ev", Stream(traces), "velocity")


def test_values_follow_model_order_missing_are_zero_extra_ignored() -> None:
    event = _event({"B": 2.0, "A": 1.0, "X": 5.0})
    values = to_station_values(event, ["A", "C", "B"], 0.1, min_stations=2)
    assert values.values.shape[:2] == (3, 3)
    assert values.values.shape[2] == pytest.approx(280, abs=1)  # 30 s less the 2 s filter start
    assert values.present.tolist() == [True, False, True]
    assert values.missing_stations == ["C"]
    assert values.ignored_stations == ["X"]
    assert not values.values[1].any()
    middle = slice(30, 230)
    amp_a = np.abs(values.values[0, 0, middle]).max()
    amp_b = np.abs(values.values[2, 0, middle]).max()
    assert amp_a == pytest.approx(1.0, rel=0.1)  # 1 Hz passes the 4 Hz anti-alias low-pass
    assert amp_b / amp_a == pytest.approx(2.0, rel=0.02)
    assert values.sampling_interval_s == 0.1


def test_network_prefixed_names_match_station_codes() -> None:
    event = _event({"A": 1.0, "B": 2.0})
    for trace in event.stream:
        trace.stats.network = "XX"
    values = to_station_values(event, ["XX.A", "B"], 0.1, min_stations=2)
    assert values.present.tolist() == [True, True]
    assert np.abs(values.values[1, 0, 30:]).max() > np.abs(values.values[0, 0, 30:]).max()


def test_filters_are_causal() -> None:
    """A step at 20 s leaves every sample before it untouched by the filters."""
    rate = 100.0
    t = np.arange(int(30 * rate)) / rate
    data = np.where(t >= 20.0, 1.0, 0.0)
    traces = [
        Trace(
            data=data.copy(),
            header={"station": "A", "channel": c, "sampling_rate": rate, "starttime": START},
        )
        for c in "ZNE"
    ]
    values = to_station_values(
        EventWaveforms("ev", Stream(traces), "velocity"),
        ["A"],
        0.01,
        freqmin_hz=1.0,
        freqmax_hz=10.0,
        min_stations=1,
    )
    before = values.times_s < 20.0 - 2.0 - 0.2  # record starts 2 s in; interpolation kernel
    assert np.abs(values.values[0, 0, before]).max() < 1e-6
    assert np.abs(values.values[0, 0, ~before]).max() > 0.1


def test_too_few_model_stations_is_an_error_naming_them() -> None:
    event = _event({"A": 1.0, "X": 1.0})
    with pytest.raises(InputError, match="only 1 of the model's 2 stations"):
        to_station_values(event, ["A", "B"], 0.1, min_stations=2)


def test_filter_band_must_fit_training_rate() -> None:
    with pytest.raises(InputError, match="Nyquist"):
        to_station_values(_event({"A": 1.0}), ["A"], 0.1, freqmax_hz=6.0, min_stations=1)


def test_station_table_check() -> None:
    model = pd.DataFrame(
        {"station": ["A", "B"], "latitude_deg": [40.0, 40.1], "longitude_deg": [10.0, 10.0]}
    )
    user = pd.DataFrame(
        {"station": ["A", "Z"], "latitude_deg": [40.0, 41.0], "longitude_deg": [10.0, 10.0]}
    )
    notes = match_station_table(model, user)
    assert any("B" in n for n in notes) and any("Z" in n for n in notes)
    moved = user.assign(latitude_deg=[40.05, 41.0])
    with pytest.raises(InputError, match="km from where the model was trained"):
        match_station_table(model, moved)
    with pytest.raises(InputError, match="no station"):
        match_station_table(model, user.iloc[1:])


@pytest.mark.shared_data
def test_newberry_event_to_values(shared_data: Path) -> None:
    folder = event_folders(shared_data / "waveforms/newberry_egs_subset/raw_sac_subset")[0]
    event = read_event_waveforms(folder, units="velocity")
    stations = ["NM03", "NM08", "NN09", "NN17", "NN18", "NN19", "NN24", "NN32"]
    values = to_station_values(event, stations, 0.1)
    assert values.values.shape[:2] == (8, 3)
    assert values.values.shape[2] == pytest.approx(880, abs=2)  # 90 s less the 2 s start, 10 Hz
    assert values.missing_stations == ["NM03"]  # did not record this event: cut out
    assert np.isfinite(values.values).all()
    assert np.abs(values.values[1:, 0]).max() > 0
