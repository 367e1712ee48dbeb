"""Classical chain: EDT grid search, its uncertainty, station delays, picker, pick-locate-repick."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.locate.gridsearch import (
    GridSearchLocator,
    build_tables,
    estimate_corrections,
    locate_event,
    station_xyz_km,
)
from quakesense.locate.picking import PickerConfig, pick_event
from quakesense.locate.velocity import LayeredModel


@pytest.fixture(scope="module")
def setting() -> tuple:
    projection = LocalProjection(35.0, 139.0)
    angles = np.linspace(0, 2 * np.pi, 7)[:-1]
    lat, lon = projection.to_latlon(4 * np.cos(angles), 4 * np.sin(angles))
    stations = pd.DataFrame(
        {
            "station": [f"S{k}" for k in range(6)],
            "latitude_deg": lat,
            "longitude_deg": lon,
            "elevation_m": np.linspace(0.0, 1000.0, 6),
        }
    )
    model = LayeredModel([0.0, 2.0], [4.0, 5.5], [2.3, 3.2])
    tables = build_tables(
        stations, model, projection, spacing_km=0.5, margin_km=1.0, depth_max_km=6.0, refined=False
    )
    return stations, tables, station_xyz_km(stations, projection)


def _picks(tables, names, x, y, z, origin_s, delays=None) -> pd.DataFrame:
    rows = []
    for phase in ("P", "S"):
        times = tables.at(phase, np.array([x]), np.array([y]), np.array([z]))[0]
        for n, t in zip(names, times, strict=True):
            delay = (delays or {}).get((n, phase), 0.0)
            rows.append({"station": n, "phase": phase, "time_s": origin_s + t + delay})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("misfit", ["l1", "edt"])
def test_recovers_hypocentre_from_exact_picks(setting: tuple, misfit: str) -> None:
    stations, tables, xyz = setting
    names = list(stations["station"])
    picks = _picks(tables, names, 0.7, -1.1, 3.3, origin_s=10.0)
    found = GridSearchLocator(tables, names, misfit=misfit, station_xyz_km=xyz).locate(picks)
    assert np.hypot(found.x_km - 0.7, found.y_km + 1.1) < 0.2
    assert found.z_km == pytest.approx(3.3, abs=0.3)
    assert found.origin_time_s == pytest.approx(10.0, abs=0.05)
    assert found.azimuthal_gap_deg < 90.0  # inside a ring of six stations
    assert found.residuals["residual_s"].abs().max() < 0.05


def test_edt_resists_one_bad_pick(setting: tuple) -> None:
    stations, tables, _ = setting
    names = list(stations["station"])
    picks = _picks(tables, names, -1.5, 0.5, 2.0, origin_s=5.0)
    picks.loc[0, "time_s"] += 1.5  # one gross picking error
    found = GridSearchLocator(tables, names, misfit="edt").locate(picks)
    assert np.hypot(found.x_km + 1.5, found.y_km - 0.5) < 0.5
    assert found.residuals["residual_s"].iloc[0] > 1.0  # the bad pick stands out
    assert not found.residuals["used"].iloc[0] and found.residuals["used"].iloc[1:].all()


def test_too_few_picks_is_a_clear_error(setting: tuple) -> None:
    stations, tables, _ = setting
    picks = pd.DataFrame({"station": ["S0", "S1"], "phase": ["P", "P"], "time_s": [1.0, 1.2]})
    with pytest.raises(InputError, match="only 2 usable picks"):
        GridSearchLocator(tables, list(stations["station"])).locate(picks)


def test_uncertainty_grows_with_pick_error_and_covers_the_truth(setting: tuple) -> None:
    """Picks with 0.05 s errors: the 68 % ellipse covers most true epicentres, sharp picks less."""
    stations, tables, _ = setting
    names = list(stations["station"])
    rng = np.random.default_rng(3)
    covered, sharp, broad = 0, [], []
    n_events = 8
    for _ in range(n_events):
        x, y, z = rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(1, 5)
        exact = _picks(tables, names, x, y, z, origin_s=3.0)
        noisy = exact.assign(
            time_s=exact["time_s"] + rng.normal(0, 0.05, len(exact)), uncertainty_s=0.05
        )
        found = GridSearchLocator(tables, names, model_error_s=0.0).locate(noisy)
        broad.append(found.semi_major_km)
        covered += np.hypot(found.x_km - x, found.y_km - y) <= found.semi_major_km
        tight = GridSearchLocator(tables, names, model_error_s=0.0).locate(
            exact.assign(uncertainty_s=0.005)
        )
        sharp.append(tight.semi_major_km)
    assert np.median(sharp) < np.median(broad)
    assert covered >= n_events // 2


def test_station_delays_are_recovered_from_calibration_events(setting: tuple) -> None:
    stations, tables, _ = setting
    names = list(stations["station"])
    delays = {("S0", "P"): 0.12, ("S3", "P"): -0.08, ("S2", "S"): 0.15}
    locator = GridSearchLocator(tables, names)
    rng = np.random.default_rng(0)
    residuals = []
    for _ in range(8):
        x, y, z = rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(1, 5)
        picks = _picks(tables, names, x, y, z, origin_s=2.0, delays=delays)
        residuals.append(locator.residuals_at(picks, (x, y, z), 2.0))
    found = estimate_corrections(residuals, damping=0.0).set_index(["station", "phase"])
    mean_delay = np.mean(list(delays.values())) * len(delays) / (2 * len(names))
    for key, delay in delays.items():
        assert found.loc[key, "delay_s"] == pytest.approx(delay - mean_delay, abs=0.03)
    # With the delays, a delayed event is located as well as an undelayed one.
    picks = _picks(tables, names, 1.0, 1.0, 3.0, origin_s=0.0, delays=delays)
    corrected = GridSearchLocator(tables, names, corrections=found.reset_index()).locate(picks)
    assert np.hypot(corrected.x_km - 1.0, corrected.y_km - 1.0) < 0.3


def _record(tables, names, hypocentre, rate_hz=100.0, seconds=20.0, origin_s=8.0, seed=0):
    """Three-component records: a 6 Hz P burst on Z, a stronger S burst on N and E, noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    values = rng.normal(0.0, 0.02, (len(names), 3, n))
    point = [np.array([v]) for v in hypocentre]
    tail = np.arange(int(0.6 * rate_hz)) / rate_hz
    wavelet = np.sin(2 * np.pi * 6.0 * tail) * np.exp(-tail / 0.15)
    for phase, components, amplitude in (("P", [0], 1.0), ("S", [1, 2], 2.0)):
        times = origin_s + tables.at(phase, *point)[0]
        for s, t in enumerate(times):
            i = round(t * rate_hz)
            for c in components:
                values[s, c, i : i + len(tail)] += amplitude * wavelet
    return values


def test_picker_finds_p_then_s_around_predictions(setting: tuple) -> None:
    stations, tables, _ = setting
    names = list(stations["station"])
    values = _record(tables, names, (0.5, -0.5, 3.0))
    truth = _picks(tables, names, 0.5, -0.5, 3.0, origin_s=8.0)
    picks = pick_event(values, 0.01, names, PickerConfig(), max_moveout_s=1.0)
    assert set(picks["phase"]) == {"P"} and len(picks) == len(names)
    merged = picks.merge(truth, on=["station", "phase"], suffixes=("", "_true"))
    assert (merged["time_s"] - merged["time_s_true"]).abs().max() < 0.05
    again = pick_event(
        values, 0.01, names, PickerConfig(), max_moveout_s=1.0, predicted=truth, tolerance_s=0.3
    )
    merged = again.merge(truth, on=["station", "phase"], suffixes=("", "_true"))
    assert (merged["phase"] == "S").sum() >= len(names) - 1
    assert (merged["time_s"] - merged["time_s_true"]).abs().max() < 0.06
    assert (again["uncertainty_s"] > 0).all()
    assert pick_event(np.zeros_like(values), 0.01, names, max_moveout_s=1.0).empty


def test_pick_locate_repick_on_records(setting: tuple) -> None:
    stations, tables, xyz = setting
    names = list(stations["station"])
    values = _record(tables, names, (-1.0, 1.5, 2.5), seed=1)
    values[2] = 0.0  # a station that did not record
    locator = GridSearchLocator(tables, names, station_xyz_km=xyz)
    found, picks = locate_event(values, 0.01, locator, PickerConfig())
    assert np.hypot(found.x_km + 1.0, found.y_km - 1.5) < 0.3
    assert found.z_km == pytest.approx(2.5, abs=0.5)
    assert found.origin_time_s == pytest.approx(8.0, abs=0.1)
    assert "S2" not in set(picks["station"]) and found.n_s_picks >= 3
    assert 0 < found.semi_minor_km <= found.semi_major_km < 1.0


def test_outlier_pick_on_a_sparse_network_is_dropped(setting: tuple) -> None:
    """Four stations, P and S, one P pick 0.4 s late: without rejection it drags the epicentre."""
    stations, tables, xyz = setting
    names = list(stations["station"])
    picks = _picks(tables, names, 0.8, -0.6, 2.5, origin_s=5.0)
    picks = picks[picks["station"].isin(["S0", "S2", "S3", "S5"])].reset_index(drop=True)
    picks = picks.assign(uncertainty_s=0.02)
    late = (picks["station"] == "S2") & (picks["phase"] == "P")
    picks.loc[late, "time_s"] += 0.4
    found = GridSearchLocator(tables, names, station_xyz_km=xyz).locate(picks)
    assert np.hypot(found.x_km - 0.8, found.y_km + 0.6) < 0.3
    assert found.n_picks == len(picks) - 1
    dropped = found.residuals[~found.residuals["used"]]
    assert list(dropped["station"] + dropped["phase"]) == ["S2P"]
    assert dropped["residual_s"].iloc[0] == pytest.approx(0.4, abs=0.1)
    naive = GridSearchLocator(
        tables, names, station_xyz_km=xyz, outlier_sigmas=None, prior_width=None
    ).locate(picks)
    assert np.hypot(naive.x_km - 0.8, naive.y_km + 0.6) > 1.0


def test_batch_station_delays_ignore_picks_the_location_rejected(setting: tuple) -> None:
    """A 1.5 s picking error on one event's S0 P pick is dropped by the location: it must not
    reach S0's delay (with the residuals of all picks it was 0.3 s off)."""
    stations, tables, xyz = setting
    names = list(stations["station"])
    locator = GridSearchLocator(tables, names, station_xyz_km=xyz, refine=7)
    rng = np.random.default_rng(4)
    hypocentres = [(rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(1, 5)) for _ in range(4)]

    def station_delays(gross_s: float) -> pd.Series:
        residuals = []
        for k, (x, y, z) in enumerate(hypocentres):
            picks = _picks(tables, names, x, y, z, 3.0, {("S1", "P"): 0.1})
            first_p = (picks["station"] == "S0") & (picks["phase"] == "P")
            picks.loc[first_p, "time_s"] += gross_s if k == 0 else 0.0
            result = locator.locate(picks)
            assert result.residuals["used"].iloc[0] == (gross_s == 0 or k > 0)
            residuals.append(locator.kept_residuals_at(result))
        return estimate_corrections(residuals).set_index(["station", "phase"])["delay_s"]

    clean, gross = station_delays(0.0), station_delays(1.5)
    assert gross.loc[("S0", "P")] == pytest.approx(clean.loc[("S0", "P")], abs=0.02)
    assert gross.loc[("S1", "P")] == pytest.approx(clean.loc[("S1", "P")], abs=0.02)
    assert clean.loc[("S1", "P")] > clean.loc[("S0", "P")] + 0.05  # the real delay shows


@pytest.mark.parametrize(
    ("n_stations", "phases"), [(4, ("P", "S")), (5, ("P", "S")), (5, ("P",)), (4, ("P",))]
)
def test_one_late_p_pick_on_a_sparse_network(
    setting: tuple, n_stations: int, phases: tuple[str, ...]
) -> None:
    """One P pick 0.3-1 s late among 4-5 stations (20 ms pick noise) moves the epicentre by
    less than 0.5 km. Four P picks alone leave nothing to tell the late one by (four unknowns):
    the location may move, but its 68 % ellipse must say so."""
    stations, tables, xyz = setting
    names = list(stations["station"])
    locator = GridSearchLocator(tables, names, station_xyz_km=xyz)
    rng = np.random.default_rng(n_stations)
    for late_s in (0.3, 0.6, 1.0):
        x, y, z = rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5), rng.uniform(1, 5)
        used = rng.choice(names, n_stations, replace=False)
        picks = _picks(tables, names, x, y, z, origin_s=5.0)
        picks = picks[picks["station"].isin(used) & picks["phase"].isin(phases)]
        picks = picks.reset_index(drop=True).assign(uncertainty_s=0.03)
        picks["time_s"] += rng.normal(0.0, 0.02, len(picks))
        picks.loc[(picks["station"] == used[0]) & (picks["phase"] == "P"), "time_s"] += late_s
        found = locator.locate(picks)
        error_km = np.hypot(found.x_km - x, found.y_km - y)
        if len(picks) > 4:
            assert error_km < 0.5, (late_s, error_km)
        else:
            assert error_km < 2 * found.semi_major_km, (late_s, error_km, found.semi_major_km)


def test_the_late_pick_is_dropped_not_the_largest_residual(setting: tuple) -> None:
    """Five P picks, one 0.3 s late, which drags the fit so that a good pick shows the largest
    residual: dropping that one left the epicentre 1.1 km off; leaving each of the worst
    picks out in turn and keeping the best fit drops the late one."""
    stations, tables, xyz = setting
    names = list(stations["station"])
    rng = np.random.default_rng(16)
    x, y, z = rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5), rng.uniform(1, 5)
    used = rng.choice(names, 5, replace=False)
    picks = _picks(tables, names, x, y, z, origin_s=5.0)
    picks = picks[picks["station"].isin(used) & (picks["phase"] == "P")]
    picks = picks.reset_index(drop=True).assign(uncertainty_s=0.03)
    picks["time_s"] += rng.normal(0.0, 0.02, len(picks))
    picks.loc[picks["station"] == used[0], "time_s"] += 0.3
    found = GridSearchLocator(tables, names, station_xyz_km=xyz).locate(picks)
    assert np.hypot(found.x_km - x, found.y_km - y) < 0.5
    dropped = found.residuals.loc[~found.residuals["used"], "station"]
    assert list(dropped) == [used[0]]
