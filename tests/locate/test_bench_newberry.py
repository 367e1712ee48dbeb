"""The scoring of `benchmarks/bench_locate_newberry.py` (errors, summary, station conversion)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.io.stations import read_stations

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_locate_newberry.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_locate_newberry", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [1, 2, 3],
            "latitude_deg": [43.70, 43.70, 43.70],
            "longitude_deg": [-121.30, -121.30, -121.30],
            "depth_km": [2.0, 2.0, 2.0],
            "time": pd.to_datetime(["2012-10-29T08:02:21"] * 3, utc=True),
        }
    )


def test_errors_against_the_catalog(bench) -> None:
    """0.01 deg of latitude is 1.11 km; a failed or absent event scores NaN, not zero."""
    located = pd.DataFrame(
        {
            "event_id": ["1", "2"],
            "status": ["ok", "no trigger"],
            "latitude_deg": [43.71, 43.70],
            "longitude_deg": [-121.30, -121.30],
            "depth_km": [3.5, 2.0],
            "horizontal_uncertainty_km": [0.4, 0.1],
            "depth_uncertainty_km": [0.3, 0.1],
            "origin_time": ["2012-10-29T08:02:20.5Z", "2012-10-29T08:02:21Z"],
            "detection_time": ["2012-10-29T08:01:41Z", ""],
            "detection_contrast": [1.4, 9.0],
        }
    )
    errors = bench.location_errors(located, _catalog())
    assert list(errors["event_id"]) == ["1", "2", "3"]
    assert errors["epicentre_km"].iloc[0] == pytest.approx(1.112, abs=0.002)
    assert errors["depth_err_km"].iloc[0] == pytest.approx(1.5)
    assert errors["reported_h68_km"].iloc[0] == pytest.approx(0.4)
    assert errors["origin_time_err_s"].iloc[0] == pytest.approx(-0.5)
    assert errors["detection_s"].iloc[0] == pytest.approx(-40.0)
    assert errors["detection_contrast"].iloc[0] == pytest.approx(1.4)
    assert errors.iloc[1:][["epicentre_km", "depth_err_km", "reported_h68_km"]].isna().all().all()


def test_summary_counts_located_events_and_divides_by_the_reference(bench) -> None:
    catalog = _catalog()
    guess = catalog.assign(latitude_deg=43.72, depth_km=4.0)
    good = catalog.assign(latitude_deg=[43.701, 43.70, 43.69], depth_km=[2.5, 2.0, 3.0])
    good = good.assign(status=["ok", "ok", "failed"])
    table = bench.summary(
        {
            "guess": bench.location_errors(guess, catalog),
            "good": bench.location_errors(good, catalog),
        },
        "guess",
    ).set_index("method")
    assert table.loc["good", "located"] == "2/3"
    assert table.loc["guess", "epi_median_vs_ref"] == pytest.approx(1.0)
    expected = np.median([0.1112, 0.0]) / 2.224
    assert table.loc["good", "epi_median_vs_ref"] == pytest.approx(expected, rel=0.01)
    assert table.loc["good", "depth_max_km"] == pytest.approx(0.5)
    assert table.loc["good", "depth_median_vs_ref"] == pytest.approx(0.25 / 2.0)
    assert np.isnan(table.loc["guess", "reported_h68_median_km"])


def test_east_north_offsets_from_the_catalog(bench) -> None:
    """The twins' and real events' offsets: signed km east and north of each catalog row."""
    catalog = _catalog()
    east, north = bench.east_north_km(
        np.array([43.70, 43.71, 43.69]), np.array([-121.29, -121.30, -121.30]), catalog
    )
    km_per_deg_east = 111.19 * np.cos(np.radians(43.70))
    np.testing.assert_allclose(east, [0.01 * km_per_deg_east, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(north, [0.0, 1.1119, -1.1119], atol=1e-9)


def test_newberry_station_file_becomes_a_readable_station_list(bench, tmp_path: Path) -> None:
    raw = tmp_path / "staInfo_df.csv"
    raw.write_text(",lat,lon,depth\nNM03,43.75,-121.30,1.866\nNN09,43.72,-121.28,1.5\n")
    stations = read_stations(bench.newberry_stations(raw, tmp_path / "stations.csv"))
    assert list(stations["station"]) == ["NM03", "NN09"]
    assert stations["elevation_m"].tolist() == pytest.approx([1866.0, 1500.0])


@pytest.mark.slow
def test_default_magnitudes_match_the_real_newberry_amplitudes(
    bench, shared_data, tmp_path
) -> None:
    """The network defaults' magnitudes give synthetic peaks of the real events' size.

    The earlier M -0.5..2.5 put the median synthetic peak 40x above the real one; the five
    shared events match synthetics at Mw -0.5..0.3, inside the default range.
    """
    raw = shared_data / "waveforms" / "newberry_egs_subset"
    stations = bench.newberry_stations(raw / "staInfo_df.csv", tmp_path / "stations.csv")
    config, network, record = bench.network_config(
        bench.SimulateConfig(stations=stations, velocity=bench.COSO)
    )
    names = [str(s) for s in network.stations["station"]]
    catalog = bench.read_catalog_from_headers(raw / "raw_sac_subset")
    real = bench.real_amplitudes(raw / "raw_sac_subset", config, names)
    low, high = record["values"]["magnitude_min"], record["values"]["magnitude_max"]
    magnitudes = np.array([low, (low + high) / 2, high])
    peaks = bench.synthetic_peaks(config, network, catalog, magnitudes, n_mechanisms=8)
    implied = bench.implied_magnitudes(real, peaks, magnitudes, catalog, names)
    assert (implied > low + 0.5).all() and (implied < high - 0.5).all()
    paired = [
        peaks[1, i, names.index(s)]
        for i, event_id in enumerate(catalog["event_id"].astype(str))
        for s in real.loc[real["event_id"].astype(str) == event_id, "station"]
    ]
    ratio = np.median(paired) / real["peak_m_s"].median()
    assert 1 / 3 < ratio < 3


def test_first_onsets_are_the_onset_channel_trigger_near_the_origin(bench) -> None:
    """A model without the onset channel is compared with its training default (STA one clip
    step, LTA ten); each station's first onset within -1..4 s of the origin, NaN without one."""
    from quakesense.locate.inputs import InputSpec

    spec = InputSpec("cnn3d", ["A", "B", "C"], 0.02, 4, 5, np.ones((20, 3)) / 3, 10, 1.0,
                     transform="max", amplitude="snr", frame_step=5)  # fmt: skip
    trigger = bench.onset_spec(spec)
    assert trigger.onset_channel and trigger.onset_sta_s == pytest.approx(0.1)
    assert trigger.onset_lta_s == pytest.approx(1.0)
    assert bench.onset_spec(trigger) is trigger
    rng = np.random.default_rng(0)
    vertical = rng.normal(0.0, 1e-8, (3, 1000))
    vertical[0, 500:] += rng.normal(0.0, 1e-6, 500)  # 2 s after an origin at 8 s (sample 400)
    vertical[1, 100:] += rng.normal(0.0, 1e-6, 900)  # 6 s before it: outside the window
    onsets = bench.first_onsets_s(trigger, vertical, 8.0)
    assert 2.0 <= onsets[0] <= 2.06
    assert np.isnan(onsets[1]) and np.isnan(onsets[2])


def test_phase_peaks_read_each_phase_in_its_own_window(bench) -> None:
    """P window from 0.05 s before P to 0.05 s before S; S window 0.05 s before S to 0.5 s
    after; the origin shifts both."""
    dt, origin_s = 0.01, 2.0
    z = np.zeros((2, 600))
    p_s, s_s = np.array([1.0, 0.5]), np.array([1.8, 0.7])
    z[0, 300] = 3.0  # station 0: P at 3.0 s = origin + 1.0
    z[0, 380] = -5.0  # S at origin + 1.8
    z[0, 450] = 9.0  # coda, 0.7 s after S: in neither window
    z[1, 255] = 2.0  # station 1: P arrives 0.5 s after the origin; S 0.2 s later
    z[1, 268] = 7.0  # 0.02 s before S: in the S window, no longer in the P one
    z[1, 300] = 4.0
    p_peak, s_peak = bench.phase_peaks(z, dt, origin_s, p_s, s_s)
    np.testing.assert_allclose(p_peak, [3.0, 2.0])
    np.testing.assert_allclose(s_peak, [5.0, 7.0])


def test_twins_gain_isotropic_parts_only_when_the_set_had_them(bench) -> None:
    """Twins of a double-couple set carry no isotropic part and the same mechanisms as before
    the option existed; an isotropic set's twins draw parts within its bound after them."""
    plain = bench.twin_events((1.0, -2.0, 0.8), -0.3, 50, 0.0, np.random.default_rng(0))
    parts = bench.twin_events((1.0, -2.0, 0.8), -0.3, 50, 1.0, np.random.default_rng(0))
    assert plain.isotropic is None
    np.testing.assert_array_equal(plain.strike_deg, parts.strike_deg)
    np.testing.assert_array_equal(plain.rake_deg, parts.rake_deg)
    assert np.all(np.abs(parts.isotropic) <= 1.0) and np.ptp(parts.isotropic) > 1.0
    assert np.all(parts.x_km == 1.0) and np.all(parts.depth_km == 0.8)
    assert np.all(parts.origin_time_s == bench.TWIN_ORIGIN_S)
