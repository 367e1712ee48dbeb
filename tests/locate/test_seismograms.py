"""Ray-theory seismograms: arrival times, moment scaling, radiation nodes, noise determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quakesense.locate.seismograms import (
    Events,
    WaveParameters,
    brune_corner_frequency_hz,
    double_couple,
    moment_from_mw,
    moment_tensors,
    synthesize,
)
from quakesense.locate.traveltime import travel_time_tables
from quakesense.locate.velocity import GridModel, density_g_cm3

QUIET = WaveParameters(
    n_samples=200, noise_rms_min_m_s=0.0, noise_rms_max_m_s=0.0, q_p=1e6, q_s=1e6
)


@pytest.fixture(scope="module")
def homogeneous() -> tuple[GridModel, np.ndarray, object]:
    axis = np.linspace(-12, 12, 13)
    z = np.linspace(0, 10, 6)
    shape = (13, 13, 6)
    model = GridModel(axis, axis, z, np.full(shape, 6.0), np.full(shape, 3.5))
    # Stations north (along strike of a N-S strike-slip fault) and north-east of the source.
    stations = np.array([[0.0, 10.0, 0.0], [7.07, 7.07, 0.0], [-10.0, 0.0, 0.0]])
    return model, stations, travel_time_tables(model, stations, refined=False)


def _events(n: int = 1, **values: float) -> Events:
    base = dict(
        x_km=0.0,
        y_km=0.0,
        depth_km=4.0,
        magnitude=3.0,
        strike_deg=0.0,
        dip_deg=90.0,
        rake_deg=0.0,
        origin_time_s=2.0,
    )
    base.update(values)
    return Events(**{k: np.full(n, float(v)) for k, v in base.items()})


def test_p_wave_arrives_at_the_travel_time(homogeneous) -> None:
    model, stations, tables = homogeneous
    waves = synthesize(
        _events(strike_deg=30.0), tables, model, stations, QUIET, [np.random.default_rng(0)]
    )
    assert waves.shape == (1, 3, 3, 200)
    distance = np.linalg.norm(stations[2] - np.array([0, 0, 4.0]))
    onset = 2.0 + distance / 6.0
    trace = np.abs(waves[0, 2, 0])
    first = np.flatnonzero(trace > 0.05 * trace.max())[0] * QUIET.sampling_interval_s
    assert first == pytest.approx(onset, abs=0.6)


def test_amplitude_grows_with_moment_below_the_corner(homogeneous) -> None:
    model, stations, tables = homogeneous
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    events = _events(2)
    events.magnitude = np.array([2.0, 2.5])
    waves = synthesize(events, tables, model, stations, QUIET, rngs)
    ratio = np.abs(waves[1]).max() / np.abs(waves[0]).max()
    assert ratio == pytest.approx(10**0.75, rel=0.1)


def test_p_pulse_carries_the_moment_of_its_magnitude(homogeneous) -> None:
    """Units of Mw -> M0 -> ground velocity, end to end (the Newberry calibration rests on it).

    Straight above a reverse fault the far-field P displacement is
    2 M0 u(t - r / alpha) / (4 pi rho alpha^3 r) with a unit-area moment-rate pulse u, so the
    time integral of the vertical displacement is 2 M0 / (4 pi rho alpha^3 r) (N m -> m s).
    """
    model = homogeneous[0]
    station = np.array([[0.0, 0.0, 0.0]])
    tables = travel_time_tables(model, station, refined=False)
    event = _events(magnitude=2.0, depth_km=4.0, strike_deg=45.0, dip_deg=45.0, rake_deg=90.0)
    waves = synthesize(event, tables, model, station, QUIET, [np.random.default_rng(0)])
    dt = QUIET.sampling_interval_s
    displacement_m = np.cumsum(waves[0, 0, 0].astype(float)) * dt
    rho_kg_m3 = float(density_g_cm3(np.array(6.0))) * 1000.0
    expected = 2 * moment_from_mw(2.0) / (4 * np.pi * rho_kg_m3 * 6000.0**3 * 4000.0)
    assert displacement_m.sum() * dt == pytest.approx(expected, rel=0.02)
    assert moment_from_mw(2.0) == pytest.approx(10 ** (3.0 + 9.1))  # Hanks and Kanamori, N m


def test_p_wave_has_a_node_along_strike(homogeneous) -> None:
    model, stations, tables = homogeneous
    waves = synthesize(
        _events(origin_time_s=1.0), tables, model, stations, QUIET, [np.random.default_rng(0)]
    )
    p_window = slice(10, 35)  # P arrives ~2 s after 1 s origin; S after ~4 s
    along_strike = np.abs(waves[0, 0, :, p_window]).max()
    diagonal = np.abs(waves[0, 1, :, p_window]).max()
    assert along_strike < 0.05 * diagonal


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 360), st.floats(1, 90), st.floats(-180, 180))
def test_double_couple_is_symmetric_traceless_unit(strike: float, dip: float, rake: float) -> None:
    tensor = double_couple(np.array([strike]), np.array([dip]), np.array([rake]))[0]
    np.testing.assert_allclose(tensor, tensor.T, atol=1e-12)
    assert np.trace(tensor) == pytest.approx(0.0, abs=1e-12)
    eigen = np.sort(np.linalg.eigvalsh(tensor))
    np.testing.assert_allclose(eigen, [-1.0, 0.0, 1.0], atol=1e-9)


def test_reverse_fault_has_vertical_tension_axis() -> None:
    tensor = double_couple(np.array([45.0]), np.array([45.0]), np.array([90.0]))[0]
    assert tensor[2, 2] == pytest.approx(1.0)


def test_corner_frequency_falls_with_magnitude() -> None:
    fc = brune_corner_frequency_hz(moment_from_mw(np.array([2.0, 4.0])), np.array([3.5, 3.5]), 3.0)
    assert fc[0] > fc[1]
    assert fc[1] / fc[0] == pytest.approx(10 ** (-1.0), rel=1e-6)


def test_noise_is_seeded_and_scaled(homogeneous) -> None:
    model, stations, tables = homogeneous
    params = WaveParameters(n_samples=200, noise_rms_min_m_s=1e-6, noise_rms_max_m_s=1e-6)
    quiet = _events(magnitude=-3.0)
    first = synthesize(quiet, tables, model, stations, params, [np.random.default_rng(5)])
    again = synthesize(quiet, tables, model, stations, params, [np.random.default_rng(5)])
    np.testing.assert_array_equal(first, again)
    assert first[0].std(axis=-1) == pytest.approx(np.full((3, 3), 1e-6), rel=0.05)


def test_an_isotropic_part_adds_p_alike_everywhere_and_no_s(homogeneous) -> None:
    """Opening cracks radiate P in every direction: the difference an isotropic part makes
    is a P pulse of the same size at equidistant stations, with nothing in the S window."""
    model, stations, tables = homogeneous
    rng = [np.random.default_rng(0)]
    shear = synthesize(_events(), tables, model, stations, QUIET, rng)
    events = _events()
    events.isotropic = np.array([0.5])
    difference = synthesize(events, tables, model, stations, QUIET, rng) - shear
    np.testing.assert_allclose(moment_tensors(events)[0].trace(), 1.5)
    motion = np.linalg.norm(difference[0], axis=1)  # (station, sample): length of the motion
    peaks = motion.max(axis=1)
    energy = np.square(motion).sum(axis=1)  # unlike a sampled peak, blind to sub-sample timing
    np.testing.assert_allclose(energy, energy[0], rtol=0.05)  # all three stations 10 km away
    dt = QUIET.sampling_interval_s
    for k, station in enumerate(stations):
        distance_km = np.linalg.norm(station - np.array([0, 0, 4.0]))
        p_arrival = round((2.0 + distance_km / 6.0) / dt)
        s_arrival = round((2.0 + distance_km / 3.5) / dt)
        assert motion[k, p_arrival:s_arrival].max() > 0.9 * peaks[k]
        assert motion[k, s_arrival:].max() < 0.05 * peaks[k]


def test_p_site_factors_scale_p_per_station_and_leave_s_and_noise(homogeneous) -> None:
    """Real P/S ratios differ by station: with `p_site_sigma_log10` each station's P is scaled by
    its own drawn factor while its S and the event's noise stay as without it."""
    model, stations, tables = homogeneous
    # Short pulses (M1, 8 Hz high-cut) well inside the band of 100 Hz sampling: P has died
    # out when S arrives, and nothing at Nyquist rings across the record.
    quiet = replace(QUIET, sampling_interval_s=0.01, n_samples=800, highcut_hz=8.0)

    def pair(params: WaveParameters, events: Events) -> tuple[np.ndarray, np.ndarray]:
        varied = replace(params, p_site_sigma_log10=0.5)
        return tuple(
            synthesize(events, tables, model, stations, p, [np.random.default_rng(3)])[0]
            for p in (params, varied)
        )

    plain, varied = pair(quiet, _events(strike_deg=30.0, magnitude=1.0))
    dt = quiet.sampling_interval_s
    log_ratios = []
    for k, station in enumerate(stations):
        distance_km = np.linalg.norm(station - np.array([0, 0, 4.0]))
        p_arrival = round((2.0 + distance_km / 6.0) / dt)
        s_arrival = round((2.0 + distance_km / 3.5) / dt)
        peak = np.abs(plain[k]).max()
        after_s = slice(s_arrival + 10, None)
        np.testing.assert_allclose(varied[k, :, after_s], plain[k, :, after_s], atol=1e-3 * peak)
        p_window = slice(p_arrival - 2, p_arrival + 10)
        log_ratios.append(
            np.log10(np.abs(varied[k, :, p_window]).max() / np.abs(plain[k, :, p_window]).max())
        )
    assert np.ptp(log_ratios) > 0.05  # each station its own factor
    assert np.abs(log_ratios).max() < 2.5  # within 5 sigma
    noisy = replace(quiet, noise_rms_min_m_s=1e-9, noise_rms_max_m_s=1e-9)
    plain, varied = pair(noisy, _events(magnitude=-6.0))  # noise alone, in effect
    np.testing.assert_allclose(varied, plain, atol=1e-12)
