"""Seeded simulator of AE picks from a borehole hydraulic-fracturing test (seed paper 003).

A borehole runs along +x from a gallery wall (x = 0). Six fracturing stages at 1.6, 2.5, 3.4,
5.8, 7.2 and 9.0 m borehole depth each give a cloud of AE events scattered around a fracture
plane normal to the borehole. Eight sensors sit in the rock beside the borehole, six of them
beyond the shallowest stages, so those two stages are seen along almost the same ray paths and
give near-identical arrival-time profiles, as in the paper. Arrival times are straight-ray
travel times in homogeneous granite plus Gaussian pick noise; some picks (more S than P) are
missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quakesense.core.tables import PICKS, SENSORS

DEFAULT_SENSORS_M: tuple[tuple[float, float, float], ...] = (
    (2.0, 2.5, 1.0),
    (3.0, -2.5, -1.0),
    (6.5, 2.0, -2.0),
    (7.0, -2.0, 2.0),
    (9.5, 2.5, 1.5),
    (10.0, -2.5, -1.5),
    (12.0, 1.0, -2.5),
    (12.5, -1.0, 2.5),
)
"""Sensor positions (x along the borehole, y, z), metres."""


class HydrofracConfig(BaseModel):
    """Settings of the hydraulic-fracturing simulator (defaults: the paper's test)."""

    model_config = ConfigDict(extra="forbid")

    stage_depths_m: list[float] = Field(default=[1.6, 2.5, 3.4, 5.8, 7.2, 9.0], min_length=2)
    events_per_stage: list[int] = Field(default=[149, 166, 88, 129, 150, 83], min_length=2)
    sensors_m: list[tuple[float, float, float]] = Field(
        default=list(DEFAULT_SENSORS_M), min_length=4
    )
    vp_m_s: float = Field(5900.0, gt=0, description="granite P velocity")
    vs_m_s: float = Field(3400.0, gt=0, description="granite S velocity")
    fracture_radius_m: float = Field(0.5, gt=0, description="std of in-plane event scatter")
    fracture_width_m: float = Field(0.08, ge=0, description="std of scatter along the borehole")
    scattered_fraction: float = Field(
        0.04, ge=0, le=1, description="events anywhere near the borehole, labelled by stage"
    )
    pick_noise_p_s: float = Field(2e-6, ge=0, description="std of P pick errors")
    pick_noise_s_s: float = Field(4e-6, ge=0, description="std of S pick errors")
    missed_p: float = Field(0.03, ge=0, lt=1, description="probability a P pick is missing")
    missed_s: float = Field(0.10, ge=0, lt=1, description="probability an S pick is missing")
    stage_duration_s: float = Field(600.0, gt=0, description="time span of one stage's events")
    seed: int = 0

    @model_validator(mode="after")
    def _same_lengths(self) -> HydrofracConfig:
        if len(self.stage_depths_m) != len(self.events_per_stage):
            raise ValueError("stage_depths_m and events_per_stage need the same length")
        if self.vs_m_s >= self.vp_m_s:
            raise ValueError("vs_m_s must be below vp_m_s")
        return self


@dataclass
class HydrofracData:
    """Simulated test: picks (PICKS + true source), sensors (SENSORS) and events with labels."""

    picks: pd.DataFrame
    sensors: pd.DataFrame
    events: pd.DataFrame
    config: BaseModel


def _pick_tables(
    rng: np.random.Generator,
    source: np.ndarray,
    origin: np.ndarray,
    sensors_xyz: np.ndarray,
    names: list[str],
    event_ids: list[str],
    phases: tuple[tuple[str, float, float, Callable[[], np.ndarray]], ...],
    source_name: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Noisy pick table (with each event's true source) and the sensor table of an array,
    both validated against the canonical schemas.

    `phases` holds (phase, velocity m/s, pick noise s, which picks survive); the survivors are
    asked for after that phase's noise is drawn, so each simulator keeps its random stream.
    """
    distance = np.linalg.norm(source[:, None, :] - sensors_xyz[None], axis=2)
    frames = []
    for phase, velocity_m_s, noise_s, survivors in phases:
        time = origin[:, None] + distance / velocity_m_s + rng.normal(0.0, noise_s, distance.shape)
        rows, cols = np.nonzero(survivors())
        frames.append(
            pd.DataFrame(
                {
                    "event_id": np.asarray(event_ids)[rows],
                    "sensor": np.asarray(names)[cols],
                    "phase": phase,
                    "time_s": time[rows, cols],
                    "x_m": source[rows, 0],
                    "y_m": source[rows, 1],
                    "z_m": source[rows, 2],
                }
            )
        )
    picks = pd.concat(frames, ignore_index=True).sort_values(
        ["event_id", "phase", "sensor"], kind="stable"
    )
    sensors = pd.DataFrame(
        {
            "sensor": names,
            "x_m": sensors_xyz[:, 0],
            "y_m": sensors_xyz[:, 1],
            "z_m": sensors_xyz[:, 2],
        }
    )
    return (
        PICKS.validate(picks.reset_index(drop=True), source=source_name),
        SENSORS.validate(sensors, source=source_name),
    )


def simulate_hydrofrac(config: HydrofracConfig | None = None) -> HydrofracData:
    """Simulate the AE picks of a multi-stage hydraulic-fracturing test.

    Args:
        config: Simulator settings; the seed makes the output reproducible.

    Returns:
        `picks` (event_id, sensor, phase, time_s, x_m, y_m, z_m), `sensors` (sensor, x_m, y_m,
        z_m) and `events` (event_id, label, stage_depth_m, x_m, y_m, z_m, origin_time_s), with
        events in the order they were registered.
    """
    config = config or HydrofracConfig()
    rng = np.random.default_rng(config.seed)
    counts = np.asarray(config.events_per_stage)
    labels = np.repeat(np.arange(counts.size), counts)
    n = labels.size
    depth = np.asarray(config.stage_depths_m)[labels]
    radial = rng.normal(0.0, config.fracture_radius_m, size=(n, 2))
    along = rng.normal(0.0, config.fracture_width_m, size=n)
    source = np.column_stack([depth + along, radial])
    scattered = rng.random(n) < config.scattered_fraction
    lo, hi = min(config.stage_depths_m) - 1.0, max(config.stage_depths_m) + 1.0
    source[scattered] = np.column_stack(
        [rng.uniform(lo, hi, scattered.sum()), rng.normal(0.0, 1.5, (scattered.sum(), 2))]
    )
    start = labels * config.stage_duration_s
    origin = np.sort(start + rng.uniform(0.0, config.stage_duration_s, n))

    sensors_xyz = np.asarray(config.sensors_m, dtype=float)
    distance = np.linalg.norm(source[:, None, :] - sensors_xyz[None], axis=2)
    names = [f"S{j + 1}" for j in range(len(sensors_xyz))]
    event_ids = [f"E{i:04d}" for i in range(n)]

    def surviving(missed: float) -> Callable[[], np.ndarray]:
        return lambda: rng.random(distance.shape) >= missed

    picks, sensors = _pick_tables(
        rng,
        source,
        origin,
        sensors_xyz,
        names,
        event_ids,
        (
            ("P", config.vp_m_s, config.pick_noise_p_s, surviving(config.missed_p)),
            ("S", config.vs_m_s, config.pick_noise_s_s, surviving(config.missed_s)),
        ),
        "hydrofrac simulator",
    )
    events = pd.DataFrame(
        {
            "event_id": event_ids,
            "label": [f"C{k + 1}" for k in labels],
            "stage_depth_m": depth,
            "x_m": source[:, 0],
            "y_m": source[:, 1],
            "z_m": source[:, 2],
            "origin_time_s": origin,
            "scattered": scattered,
        }
    )
    return HydrofracData(
        picks=picks,
        sensors=sensors,
        events=events,
        config=config,
    )


class SparseArrayConfig(BaseModel):
    """Settings of a large sparse array: each event is picked only at a few nearby sensors.

    What a metre-scale laboratory or mine array looks like: tens of sensors spread over metres,
    AE too weak to be seen beyond the nearest few.
    """

    model_config = ConfigDict(extra="forbid")

    n_sensors: int = Field(32, ge=4)
    extent_m: tuple[float, float, float] = Field(
        (4.0, 4.0, 2.0), description="box (x, y, z) holding the sensors"
    )
    n_events: int = Field(60, ge=1)
    picks_per_event: tuple[int, int] = Field(
        (4, 7), description="fewest and most sensors that pick an event (nearest ones)"
    )
    s_fraction: float = Field(0.5, ge=0, le=1, description="share of picked sensors with S")
    vp_m_s: float = Field(5900.0, gt=0)
    vs_m_s: float = Field(3400.0, gt=0)
    pick_noise_p_s: float = Field(2e-6, ge=0)
    pick_noise_s_s: float = Field(4e-6, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> SparseArrayConfig:
        low, high = self.picks_per_event
        if not 4 <= low <= high <= self.n_sensors:
            raise ValueError("picks_per_event needs 4 <= fewest <= most <= n_sensors")
        return self


def simulate_sparse_array(config: SparseArrayConfig | None = None) -> HydrofracData:
    """Simulate P (and some S) picks of events inside a large array, at their nearest sensors.

    Sensors are spread uniformly in the box, events uniformly in its inner part (an eighth of
    each extent away from the faces); each event is picked at its k nearest sensors, k drawn
    uniformly from `picks_per_event`, with Gaussian pick noise.

    Returns:
        `picks` with the true source, `sensors`, `events` (event_id, x_m, y_m, z_m,
        origin_time_s, n_picks); the dataclass's `config` is the `SparseArrayConfig`.
    """
    config = config or SparseArrayConfig()
    rng = np.random.default_rng(config.seed)
    extent = np.asarray(config.extent_m)
    sensors_xyz = rng.uniform(0.0, 1.0, (config.n_sensors, 3)) * extent
    source = rng.uniform(0.125, 0.875, (config.n_events, 3)) * extent
    origin = np.cumsum(rng.uniform(0.5, 1.5, config.n_events))
    distance = np.linalg.norm(source[:, None, :] - sensors_xyz[None], axis=2)
    low, high = config.picks_per_event
    count = rng.integers(low, high + 1, config.n_events)
    nearest = np.argsort(distance, axis=1)
    picked = np.zeros_like(distance, dtype=bool)
    for i, k in enumerate(count):
        picked[i, nearest[i, :k]] = True
    names = [f"A{j + 1:02d}" for j in range(config.n_sensors)]
    event_ids = [f"E{i:04d}" for i in range(config.n_events)]
    with_s = picked & (rng.random(picked.shape) < config.s_fraction)
    picks, sensors = _pick_tables(
        rng,
        source,
        origin,
        sensors_xyz,
        names,
        event_ids,
        (
            ("P", config.vp_m_s, config.pick_noise_p_s, lambda: picked),
            ("S", config.vs_m_s, config.pick_noise_s_s, lambda: with_s),
        ),
        "sparse-array simulator",
    )
    events = pd.DataFrame(
        {
            "event_id": event_ids,
            "x_m": source[:, 0],
            "y_m": source[:, 1],
            "z_m": source[:, 2],
            "origin_time_s": origin,
            "n_picks": count,
        }
    )
    return HydrofracData(
        picks=picks,
        sensors=sensors,
        events=events,
        config=config,
    )
