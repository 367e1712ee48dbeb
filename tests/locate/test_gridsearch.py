"""Grid-search baseline: recovers a known hypocentre from exact picks; picker on a clean onset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.locate.gridsearch import (
    GridSearchLocator,
    PickerConfig,
    build_tables,
    pick_station,
)
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
            "elevation_m": 0.0,
        }
    )
    model = LayeredModel([0.0, 2.0], [4.0, 5.5], [2.3, 3.2])
    tables = build_tables(
        stations, model, projection, spacing_km=0.5, margin_km=1.0, depth_max_km=6.0
    )
    return stations, tables


def _picks(tables, names, x, y, z, origin_s) -> pd.DataFrame:
    rows = []
    for phase in ("P", "S"):
        times = tables.at(phase, np.array([x]), np.array([y]), np.array([z]))[0]
        rows += [
            {"station": n, "phase": phase, "time_s": origin_s + t}
            for n, t in zip(names, times, strict=True)
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("misfit", ["l1", "edt"])
def test_recovers_hypocentre_from_exact_picks(setting: tuple, misfit: str) -> None:
    stations, tables = setting
    names = list(stations["station"])
    picks = _picks(tables, names, 0.7, -1.1, 3.3, origin_s=10.0)
    found = GridSearchLocator(tables, names, misfit=misfit).locate(picks)
    assert np.hypot(found.x_km - 0.7, found.y_km + 1.1) < 0.3
    assert found.z_km == pytest.approx(3.3, abs=0.4)
    assert found.origin_time_s == pytest.approx(10.0, abs=0.1)


def test_edt_resists_one_bad_pick(setting: tuple) -> None:
    stations, tables = setting
    names = list(stations["station"])
    picks = _picks(tables, names, -1.5, 0.5, 2.0, origin_s=5.0)
    picks.loc[0, "time_s"] += 1.5  # one gross picking error
    found = GridSearchLocator(tables, names, misfit="edt").locate(picks)
    assert np.hypot(found.x_km + 1.5, found.y_km - 0.5) < 0.6


def test_too_few_picks_is_a_clear_error(setting: tuple) -> None:
    stations, tables = setting
    picks = pd.DataFrame({"station": ["S0", "S1"], "phase": ["P", "P"], "time_s": [1.0, 1.2]})
    with pytest.raises(InputError, match="only 2 usable picks"):
        GridSearchLocator(tables, list(stations["station"])).locate(picks)


def test_ar_pick_finds_a_clean_onset() -> None:
    rate = 100.0
    rng = np.random.default_rng(0)
    n = 2000
    traces = rng.normal(0, 1e-3, (3, n))
    t = np.arange(600) / rate
    traces[0, 1000:1600] += np.sin(2 * np.pi * 3 * t) * np.exp(-t)
    traces[1:, 1300:1900] += np.sin(2 * np.pi * 2 * t) * np.exp(-t) * 2
    p, s = pick_station(*traces, rate, PickerConfig(freqmin_hz=1.0, freqmax_hz=8.0))
    assert p == pytest.approx(10.0, abs=0.5)
    assert np.isnan(s) or s > p
    assert np.isnan(pick_station(np.zeros(n), traces[1], traces[2], rate, PickerConfig())[0])
