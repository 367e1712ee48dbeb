"""Arrival-time profiles: per-event arrival times made independent of the origin time.

For one event and one phase, the profile is the arrival time at each sensor minus the mean over
the sensors that have a pick. With `scale="event"` it is further divided by its own standard
deviation (paper, Eq. 1: then the P and S profiles of one event coincide and do not depend on the
material's velocity); with `scale="none"` it stays in seconds (what location needs).

Missing picks: the profile holds NaN there. `profile_features` turns profiles into model inputs
with an explicit, documented imputation and a mask channel:

- a missing P (S) value at a sensor whose S (P) value exists is filled from that other phase
  (with event scaling both phases have the same profile in a homogeneous medium);
- otherwise it is filled with 0, the event's mean;
- a mask column per element (1 = imputed) is appended, so the model can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quakesense.io.picks import check_unique_picks

PHASES: tuple[str, ...] = ("P", "S")


@dataclass
class PickMatrix:
    """Arrival times arranged as an array: events x sensors x phases (NaN where missing)."""

    event_ids: list[str]
    sensors: list[str]
    phases: list[str]
    time_s: np.ndarray

    @property
    def feature_names(self) -> list[str]:
        """Names of the flattened profile elements, phase-major (P of all sensors, then S)."""
        return [f"{phase}_{sensor}" for phase in self.phases for sensor in self.sensors]


def pick_matrix(
    picks: pd.DataFrame, sensors: list[str], phases: tuple[str, ...] | list[str] | None = None
) -> PickMatrix:
    """Arrange a picks table (`event_id, sensor, phase, time_s`) as a `PickMatrix`.

    Args:
        picks: Validated picks with one pick per (event, sensor, phase); a repeated one is
            refused (`io.picks.check_unique_picks`), never silently reduced.
        sensors: Sensor order of the matrix.
        phases: Phase order (default: those of PHASES present in the picks).
    """
    check_unique_picks(picks)
    if phases is None:
        present = set(picks["phase"])
        phases = [p for p in PHASES if p in present]
    event_ids = list(pd.unique(picks["event_id"]))
    table = picks.pivot_table(
        index="event_id", columns=["phase", "sensor"], values="time_s", aggfunc="first"
    )
    full = pd.MultiIndex.from_product([list(phases), list(sensors)], names=["phase", "sensor"])
    table = table.reindex(index=event_ids, columns=full)
    values = table.to_numpy(dtype=float).reshape(len(event_ids), len(phases), len(sensors))
    return PickMatrix(
        event_ids=[str(e) for e in event_ids],
        sensors=list(sensors),
        phases=list(phases),
        time_s=values.transpose(0, 2, 1),
    )


def arrival_time_profiles(time_s: np.ndarray, scale: str = "event") -> np.ndarray:
    """Profiles of an (events, sensors, phases) array of arrival times, NaN kept as NaN.

    Args:
        time_s: Arrival times, NaN where missing.
        scale: "event": divide each event's phase profile by its standard deviation (needs at
            least two distinct picks of that phase, else the phase is all NaN); "none": keep
            seconds.

    Returns:
        Array of the same shape: times minus the per-event, per-phase mean of available picks.
    """
    if scale not in {"event", "none"}:
        raise ValueError(f"scale must be 'event' or 'none', not {scale!r}")
    time_s = np.asarray(time_s, dtype=float)
    observed = np.isfinite(time_s)
    count = observed.sum(axis=1, keepdims=True)
    total = np.where(observed, time_s, 0.0).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = time_s - total / count
    if scale == "none":
        return centred
    squares = np.where(observed, centred**2, 0.0).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(squares / count)
        profile = centred / spread
    magnitude = np.where(observed, np.abs(time_s), 0.0).max(axis=1, keepdims=True)
    usable = (count >= 2) & (spread > 1e-9 * magnitude)
    return np.where(usable, profile, np.nan)


def profile_features(profile: np.ndarray, *, mask_channel: bool = True) -> np.ndarray:
    """Model inputs from (events, sensors, phases) profiles: imputed values (+ mask columns).

    Returns:
        (events, sensors*phases) phase-major values, followed by as many 0/1 mask columns
        (1 = the value was imputed) when `mask_channel`.
    """
    profile = np.asarray(profile, dtype=float)
    missing = ~np.isfinite(profile)
    filled = profile.copy()
    if profile.shape[2] == 2:
        other = profile[:, :, ::-1]
        from_other = missing & np.isfinite(other)
        filled[from_other] = other[from_other]
    filled[~np.isfinite(filled)] = 0.0
    values = filled.transpose(0, 2, 1).reshape(len(profile), -1)
    if not mask_channel:
        return values
    mask = missing.transpose(0, 2, 1).reshape(len(profile), -1).astype(float)
    return np.hstack([values, mask])
