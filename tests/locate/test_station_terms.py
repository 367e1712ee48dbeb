"""Station amplitude terms: recovered from calibration events, removed from real records."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.locate.station_terms import (
    CalibrationRecord,
    apply_station_terms,
    peaks_after_origin,
    relative_log_peaks,
    station_terms,
    synthetic_relative_peaks,
)

STATIONS = [f"S{k}" for k in range(6)]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_terms_recover_station_gains_whatever_the_event_sizes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gains_db = rng.uniform(-12, 12, len(STATIONS))
    synthetic = rng.normal(0, 0.5, (4, len(STATIONS)))  # log10 peaks of the model
    size = rng.uniform(-3, 3, (4, 1))  # each event's level: removed by the relative form
    real = 10.0 ** (synthetic + size + gains_db / 20.0)
    terms = station_terms(STATIONS, relative_log_peaks(real), relative_log_peaks(10.0**synthetic))
    # Only differences between stations are defined; the table is centred on its median.
    assert np.allclose(terms["term_db"], gains_db - np.median(gains_db), atol=1e-6)
    assert (terms["n_events"] == 4).all()


def test_a_station_without_records_gets_no_term() -> None:
    rng = np.random.default_rng(1)
    synthetic = rng.normal(0, 0.5, (4, len(STATIONS)))
    real = 10.0 ** (synthetic + 0.3)
    real[:, 0] = np.nan  # never recorded
    real[2, 1] = np.nan  # missed one event
    terms = station_terms(STATIONS, relative_log_peaks(real), relative_log_peaks(10.0**synthetic))
    assert terms.loc[0, "term_db"] == 0.0 and terms.loc[0, "n_events"] == 0
    assert terms["n_events"].tolist() == [0, 3, 4, 4, 4, 4]


def test_applying_the_terms_removes_the_gains() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(len(STATIONS), 3, 50)).astype(np.float32)
    gains_db = np.linspace(-9, 9, len(STATIONS))
    recorded = values * (10.0 ** (gains_db / 20.0))[:, None, None]
    terms = pd.DataFrame({"station": STATIONS[::-1], "term_db": gains_db[::-1], "n_events": 3})
    assert np.allclose(apply_station_terms(recorded, terms, STATIONS), values, atol=1e-5)


def test_peaks_use_the_window_after_the_origin_and_drop_noise() -> None:
    dt = 0.1
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1e-3, (3, 200))
    z[0, 60] = 1.0  # 6 s: inside the window from the origin at 5 s
    z[1, 150] = 1.0  # 15 s: after a 6 s window
    z[2] = 0.0  # a station cut out
    peaks = peaks_after_origin(z, dt, 5.0, 6.0, min_snr=3.0)
    assert peaks[0] == 1.0
    assert np.isnan(peaks[1])  # only noise in its window
    assert np.isnan(peaks[2])


def test_synthetic_pattern_comes_from_the_largest_events_nearby() -> None:
    events = pd.DataFrame(
        {
            "latitude_deg": [0.0, 0.0, 0.0, 1.0],
            "longitude_deg": [0.0, 0.001, 0.002, 1.0],
            "depth_km": [2.0, 2.0, 2.0, 2.0],
            "magnitude": [2.0, 1.0, -1.0, 3.0],
        }
    )
    patterns = {0: [1.0, 10.0], 1: [1.0, 10.0], 2: [10.0, 1.0], 3: [100.0, 1.0]}
    record = CalibrationRecord("e", 0.0, 0.0, 2.0, np.array([1.0, 1.0]))
    relative = synthetic_relative_peaks(
        events, lambda row: np.array(patterns[row]), record, n_nearest=3, n_used=2
    )
    # events 0 and 1: the two largest of the three nearest (the far, big event 3 is not used)
    assert np.allclose(relative, relative_log_peaks(np.array([1.0, 10.0])))
