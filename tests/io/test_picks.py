"""Tests of the picks and sensor table readers and their cross-checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.core.errors import InputError
from quakesense.io.picks import (
    check_picks,
    read_picks,
    read_plb_relocation,
    read_sensors,
    read_vaex_sensors,
)


def _tables(scale: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    sensors = pd.DataFrame(
        {
            "sensor": ["A", "B", "C", "D", "E"],
            "x_m": np.array([0.0, 1.0, 0.0, 1.0, 0.5]) * scale,
            "y_m": np.array([0.0, 0.0, 1.0, 1.0, 0.5]) * scale,
            "z_m": np.array([0.0, 0.0, 0.0, 0.0, 1.0]) * scale,
        }
    )
    source = np.array([0.3, 0.4, 0.5])
    xyz = sensors[["x_m", "y_m", "z_m"]].to_numpy() / scale
    time_s = 1.0 + np.linalg.norm(xyz - source, axis=1) / 5000.0
    picks = pd.DataFrame(
        {"event_id": "ev1", "sensor": sensors["sensor"], "phase": "P", "time_s": time_s}
    )
    return picks, sensors


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    picks, sensors = _tables()
    if suffix == ".csv":
        picks.to_csv(tmp_path / f"p{suffix}", index=False)
        sensors.to_csv(tmp_path / f"s{suffix}", index=False)
    else:
        picks.to_parquet(tmp_path / f"p{suffix}")
        sensors.to_parquet(tmp_path / f"s{suffix}")
    read = read_picks(tmp_path / f"p{suffix}")
    np.testing.assert_allclose(read["time_s"], picks["time_s"])
    check_picks(read, read_sensors(tmp_path / f"s{suffix}"))


@pytest.mark.parametrize("bad", [np.nan, -0.5])
def test_bad_time_names_event_and_field(tmp_path: Path, bad: float) -> None:
    picks, _ = _tables()
    picks.loc[2, "time_s"] = bad
    picks.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match=r"event 'ev1'.*field 'time_s'|field 'time_s'.*ev1"):
        read_picks(tmp_path / "p.csv")


def test_unknown_sensor_is_named() -> None:
    picks, sensors = _tables()
    picks.loc[1, "sensor"] = "Z9"
    with pytest.raises(InputError, match=r"event 'ev1'.*sensor 'Z9'"):
        check_picks(picks, sensors)


def test_too_few_picks_for_the_unknowns() -> None:
    picks, sensors = _tables()
    with pytest.raises(InputError, match="event 'ev1' has 3 P pick"):
        check_picks(picks.iloc[:3], sensors)


def test_sensors_in_millimetres_are_detected() -> None:
    picks, sensors = _tables(scale=1000.0)
    with pytest.raises(InputError, match="mm"):
        check_picks(picks, sensors)


def test_truth_in_other_units_than_sensors() -> None:
    picks, sensors = _tables()
    picks[["x_m", "y_m", "z_m"]] = [300.0, 400.0, 500.0]
    with pytest.raises(InputError, match="different units"):
        check_picks(picks, sensors)


def test_duplicate_sensor(tmp_path: Path) -> None:
    _, sensors = _tables()
    pd.concat([sensors, sensors.iloc[:1]]).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(InputError, match="'A' appears twice"):
        read_sensors(tmp_path / "s.csv")


@pytest.mark.shared_data
def test_real_readers(shared_data: Path) -> None:
    sensors, velocity = read_vaex_sensors(
        shared_data / "ae/vallenae_examples/steel_plate/sample.vaex"
    )
    assert sensors["sensor"].tolist() == ["1", "2", "3", "4"]
    assert velocity == 5000.0
    picks, sensors, fault = read_plb_relocation(shared_data / "ae/plb_relocation_lab_fault")
    assert picks["event_id"].nunique() == 56 and len(sensors) == 11 and len(fault) == 56
    check_picks(picks, sensors)


def _sparse(scale: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from quakesense.synth.hydrofrac import SparseArrayConfig, simulate_sparse_array

    data = simulate_sparse_array(SparseArrayConfig(n_events=40, seed=3))
    sensors = data.sensors.copy()
    sensors[["x_m", "y_m", "z_m"]] *= scale
    return data.picks.drop(columns=["x_m", "y_m", "z_m"]), sensors


def test_large_sparse_array_passes_the_per_event_unit_check() -> None:
    """32 sensors over 4 m, 4-7 picks per event: the whole-array span would imply ~1e5 m/s."""
    from quakesense.io.picks import apparent_speeds_m_s

    picks, sensors = _sparse()
    check_picks(picks, sensors)
    speeds = apparent_speeds_m_s(picks[picks["phase"] == "P"], sensors)
    assert len(speeds) == 40 and (speeds > 5000).all()  # an upper bound of vp = 5900 m/s
    assert 5900 < speeds.median() < 2e4


@pytest.mark.parametrize(("scale", "unit"), [(1000.0, "mm"), (1e-3, "km")])
def test_sparse_array_in_wrong_units_is_caught_unless_a_velocity_is_given(
    scale: float, unit: str
) -> None:
    picks, sensors = _sparse(scale)
    with pytest.raises(InputError, match=rf"in {unit}\?.*--velocity-m-s"):
        check_picks(picks, sensors)
    check_picks(picks, sensors, velocity_m_s=5900.0)


def test_duplicate_pick_is_refused_naming_both_rows() -> None:
    picks, sensors = _tables()
    doubled = pd.concat([picks, picks.iloc[[2]]], ignore_index=True)
    with pytest.raises(
        InputError, match=r"row 5.*event 'ev1': sensor 'C' has 2 P picks \(rows 2, 5\)"
    ):
        check_picks(doubled, sensors)
