"""Readers of arrival-time picks and sensor tables (CSV/Parquet), with checks that name the event.

Picks: `event_id, sensor, phase (P|S), time_s` and optionally the true source `x_m, y_m, z_m`
(for training and scoring locators). Sensors: `sensor, x_m, y_m, z_m`. Both are validated with
the canonical `core.tables` schemas; `check_picks` then checks them against each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.store import read_table
from quakesense.core.tables import PICKS, SENSORS

TRUTH_COLUMNS: tuple[str, ...] = ("x_m", "y_m", "z_m")
MAX_APPARENT_SPEED_M_S = 3.0e4
"""Faster than any elastic wave in rock or metal: sensors are probably not in metres."""
MIN_APPARENT_SPEED_M_S = 50.0
"""Slower than any elastic wave in solids: sensors are probably not in metres (km?)."""


def read_picks(path: str | Path) -> pd.DataFrame:
    """Read and validate a picks table; NaN or negative times raise naming the event."""
    frame = read_table(path)
    if "time_s" in frame.columns and "event_id" in frame.columns:
        times = pd.to_numeric(frame["time_s"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(times) | (times < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"event '{frame['event_id'].iloc[row]}': arrival time {frame['time_s'].iloc[row]}"
                " is missing, not a number or negative (expected seconds >= 0)",
                source=path,
                field="time_s",
                row=row,
            )
    picks = PICKS.validate(frame, source=str(path))
    present = [c for c in TRUTH_COLUMNS if c in picks.columns]
    if present and len(present) < len(TRUTH_COLUMNS):
        missing = sorted(set(TRUTH_COLUMNS) - set(present))
        raise InputError(
            f"true source needs all of x_m, y_m, z_m; {missing} absent",
            source=path,
            field=missing[0],
        )
    for column in present:
        picks[column] = pd.to_numeric(picks[column], errors="coerce")
    return picks


def read_sensors(path: str | Path) -> pd.DataFrame:
    """Read and validate a sensor table; sensor ids must be unique."""
    sensors = SENSORS.validate(read_table(path), source=str(path))
    repeated = sensors["sensor"].duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated.to_numpy())[0])
        raise InputError(
            f"sensor '{sensors['sensor'].iloc[row]}' appears twice", source=path, field="sensor"
        )
    return sensors


def check_unique_picks(picks: pd.DataFrame, source: str | Path | None = None) -> None:
    """Refuse a repeated (event, sensor, phase): which of two picks is right is the user's call.

    Raises:
        InputError: naming the event, sensor, phase and both rows.
    """
    keys = ["event_id", "sensor", "phase"]
    repeated = picks.duplicated(keys, keep=False).to_numpy()
    if not repeated.any():
        return
    first = int(np.flatnonzero(repeated)[0])
    key = picks.iloc[first][keys]
    same = (picks[keys] == key.to_numpy()).all(axis=1).to_numpy()
    rows = np.flatnonzero(same)
    raise InputError(
        f"event '{key['event_id']}': sensor '{key['sensor']}' has {len(rows)} {key['phase']} "
        f"picks (rows {', '.join(map(str, rows[:5]))}); keep one pick per event, sensor and "
        "phase",
        source=source,
        field="phase",
        row=int(rows[1]),
    )


def check_picks(
    picks: pd.DataFrame,
    sensors: pd.DataFrame,
    *,
    min_picks: int = 4,
    source: str | Path | None = None,
    velocity_m_s: float | None = None,
) -> None:
    """Check picks against sensors: known ids, one pick per sensor and phase, enough picks per
    event, consistent units.

    Args:
        picks: Validated picks table.
        sensors: Validated sensor table.
        min_picks: Fewest P picks per event (the unknowns: x, y, z and origin time).
        source: Picks file, for messages.
        velocity_m_s: P velocity given by the user; the unit check by apparent speed is then
            skipped (the user has said what speed to expect).

    Raises:
        InputError: naming the event and field of the first problem.
    """
    check_unique_picks(picks, source)
    known = set(sensors["sensor"])
    unknown = ~picks["sensor"].isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"event '{picks['event_id'].iloc[row]}': sensor '{picks['sensor'].iloc[row]}' is not "
            f"in the sensor table (known: {', '.join(sorted(known))})",
            source=source,
            field="sensor",
            row=row,
        )
    p_picks = picks[picks["phase"] == "P"]
    counts = p_picks.groupby("event_id")["sensor"].nunique()
    counts = counts.reindex(pd.unique(picks["event_id"]), fill_value=0)
    few = counts[counts < min_picks]
    if len(few):
        raise InputError(
            f"event '{few.index[0]}' has {int(few.iloc[0])} P pick(s), fewer than the "
            f"{min_picks} unknowns (x, y, z, origin time); drop it or add picks",
            source=source,
            field="phase",
        )
    _check_units(p_picks, sensors, source, check_speed=velocity_m_s is None)


def apparent_speeds_m_s(p_picks: pd.DataFrame, sensors: pd.DataFrame) -> pd.Series:
    """Per event, the slowest apparent speed over pairs of the sensors that picked it.

    For sensors i, j at distance d_ij a straight ray gives |t_i - t_j| <= d_ij / v, so
    min over pairs of d_ij / |t_i - t_j| is an upper bound of the wave speed v, tight when two
    sensors line up with the source. Only the sensors that picked the event count: on a large
    array where each event is picked at a few nearby sensors, comparing the whole array's span
    with one event's pick spread gives absurd speeds. Events whose picks are all equal are left
    out.
    """
    xyz = sensors.set_index("sensor")[list(TRUTH_COLUMNS)].astype(float)
    table = p_picks.pivot_table(
        index="event_id", columns="sensor", values="time_s", aggfunc="first"
    )
    positions = xyz.loc[table.columns].to_numpy()
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    times = table.to_numpy(dtype=float)
    slowness = np.empty(len(times))
    chunk = max(1, int(2e7 // max(distance.size, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, len(times), chunk):
            block = times[start : start + chunk]
            lag = np.abs(block[:, :, None] - block[:, None, :]) / distance
            lag = np.where(np.isfinite(lag), lag, -np.inf)
            slowness[start : start + chunk] = lag.max(axis=(1, 2))
    usable = slowness > 0
    return pd.Series(1.0 / slowness[usable], index=table.index[usable], name="speed_m_s")


def _check_units(
    p_picks: pd.DataFrame,
    sensors: pd.DataFrame,
    source: str | Path | None,
    *,
    check_speed: bool = True,
) -> None:
    """Refuse sensors and picks in units other than metres and seconds.

    Two checks: true sources (when given) must lie at a distance from the sensors comparable to
    the array's size; and, unless a velocity was given, the median over events of their
    apparent speed (`apparent_speeds_m_s`, per event from the sensors that picked it) must be
    that of an elastic wave.
    """
    xyz = sensors.set_index("sensor")[list(TRUTH_COLUMNS)]
    aperture = float(np.linalg.norm(xyz.max().to_numpy() - xyz.min().to_numpy()))
    if all(c in p_picks.columns for c in TRUTH_COLUMNS):
        truth = p_picks[list(TRUTH_COLUMNS)].dropna().to_numpy(dtype=float)
        if len(truth):
            centre = xyz.to_numpy().mean(axis=0)
            reach = float(np.max(np.linalg.norm(truth - centre, axis=1)))
            if aperture > 0 and reach > 0 and not 1e-2 < reach / aperture < 1e2:
                raise InputError(
                    f"true sources reach {reach:.4g} from the sensor centre but the sensors span "
                    f"{aperture:.4g}: sensors and picks seem to use different units "
                    "(e.g. mm vs m); give both in metres",
                    source=source,
                    field="x_m",
                )
    if not check_speed:
        return
    speeds = apparent_speeds_m_s(p_picks, sensors)
    if speeds.empty:
        return
    speed = float(speeds.median())
    if speed > MAX_APPARENT_SPEED_M_S or speed < MIN_APPARENT_SPEED_M_S:
        guess = "mm" if speed > MAX_APPARENT_SPEED_M_S else "km"
        raise InputError(
            f"the picks imply a median apparent speed of {speed:.3g} m/s over {len(speeds)} "
            "events (per event: distance between the sensors that picked it over their "
            "arrival-time differences), implausible for elastic waves; are the sensor "
            f"coordinates in {guess}? Give them in metres, or give --velocity-m-s to skip "
            "this check",
            source=source,
            field="x_m",
        )


def read_plb_relocation(
    folder: str | Path, *, sampling_rate_hz: float = 1.0e7, n_sensors: int = 11
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read the Zhao & Glaser (2019) pencil-lead-break set of a laboratory fault.

    The files give P arrival sample differences (relative to sensor 1) of 56 pencil-lead breaks
    at 11 sensors, the breaks' positions in the fault plane (x along strike, z up; mm) and the
    sensors' positions in the block (mm). The sampling rate is not stored; it only scales the
    time axis (velocities are fitted to data, so locations do not depend on it).

    Returns:
        picks (event_id, sensor, phase, time_s; times shifted to be >= 0), sensors (metres) and
        the breaks' fault-plane positions (event_id, u_m, w_m).
    """
    folder = Path(folder)
    table = read_table(folder / "pencil_breaks_train.csv")
    positions = read_table(folder / "sensors_xyz_mm.csv")
    index_columns = [f"dt_idx_s{j + 1}" for j in range(n_sensors)]
    missing = [c for c in [*index_columns, "x_mm", "z_mm"] if c not in table.columns]
    if missing:
        raise InputError(
            "not a pencil-break table", source=folder / "pencil_breaks_train.csv", field=missing[0]
        )
    names = [f"s{j + 1}" for j in range(n_sensors)]
    event_ids = [f"PLB{i:02d}" for i in range(len(table))]
    samples = table[index_columns].to_numpy(dtype=float)
    time_s = (samples - samples.min()) / sampling_rate_hz
    picks = pd.DataFrame(
        {
            "event_id": np.repeat(event_ids, n_sensors),
            "sensor": np.tile(names, len(table)),
            "phase": "P",
            "time_s": time_s.ravel(),
        }
    )
    sensors = pd.DataFrame(
        {
            "sensor": names,
            "x_m": positions["x"].to_numpy(dtype=float)[:n_sensors] / 1e3,
            "y_m": positions["y"].to_numpy(dtype=float)[:n_sensors] / 1e3,
            "z_m": positions["z"].to_numpy(dtype=float)[:n_sensors] / 1e3,
        }
    )
    fault = pd.DataFrame(
        {
            "event_id": event_ids,
            "u_m": table["x_mm"].to_numpy(dtype=float) / 1e3,
            "w_m": table["z_mm"].to_numpy(dtype=float) / 1e3,
        }
    )
    return PICKS.validate(picks, source=str(folder)), SENSORS.validate(sensors), fault


def read_vaex_sensors(path: str | Path, *, unit_m: float = 1.0) -> tuple[pd.DataFrame, float]:
    """Sensor positions and location velocity from a Vallen `.vaex` acquisition setup (XML).

    Args:
        path: The `.vaex` file.
        unit_m: Metres per position unit. The vallenae steel-plate example labels its positions
            'cm' but they are metres (a 0.75 m plate), hence the default 1.

    Returns:
        Sensors (`sensor` = channel number as text, x_m, y_m, z_m = 0) of the first location
        group, and its velocity in m/s (the setup stores km/s).
    """
    import xml.etree.ElementTree as ET

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"not a Vallen setup XML ({exc})", source=path) from exc
    group = root.find(".//ChannelGroup")
    if group is None or not group.findall("ChannelPos"):
        raise InputError("no location group with channel positions", source=path)
    rows = [
        {
            "sensor": str(int(p.get("Chan", "0"))),
            "x_m": float(p.get("X", "nan")) * unit_m,
            "y_m": float(p.get("Y", "nan")) * unit_m,
            "z_m": float(p.get("Z", "0")) * unit_m,
        }
        for p in group.findall("ChannelPos")
    ]
    velocity_m_s = float(group.get("Velocity", "nan")) * 1e3
    return SENSORS.validate(pd.DataFrame(rows), source=str(path)), velocity_m_s
