"""Classical baseline: automatic P/S picks (ObsPy) + pykonal travel times + grid search.

Like NonLinLoc's grid search: the misfit of every node of the travel-time grid is evaluated at
once (vectorised), then a finer grid around the best node is searched by trilinear
interpolation of the tables. Two misfits:
- `l1`: sum of |observed - predicted - t0| with the origin time t0 set to the median residual
  (the L1-optimal origin for that node);
- `edt`: equal differential time, sum over pick pairs of |(t_i - t_j) - (T_i - T_j)|, which does
  not depend on the origin time at all and is robust to an outlier pick.
Travel times come from the SYNTH engineer's `traveltime.travel_time_tables` on the same velocity
model the networks were trained with, so both methods stand on the same Earth model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.locate.detect import TriggerConfig, detect
from quakesense.locate.traveltime import TravelTimeTables
from quakesense.locate.velocity import GridModel, LayeredModel

Misfit = Literal["l1", "edt"]


class PickerConfig(BaseModel):
    """Settings of ObsPy's AR-AIC picker (`obspy.signal.trigger.ar_pick`)."""

    model_config = ConfigDict(extra="forbid")

    freqmin_hz: float = Field(1.0, gt=0)
    freqmax_hz: float = Field(4.0, gt=0)
    sta_p_s: float = Field(0.2, gt=0)
    lta_p_s: float = Field(1.0, gt=0)
    sta_s_s: float = Field(0.4, gt=0)
    lta_s_s: float = Field(2.0, gt=0)
    ar_order_p: int = Field(2, ge=1)
    ar_order_s: int = Field(8, ge=1)
    variance_window_p_s: float = Field(0.3, gt=0)
    variance_window_s_s: float = Field(0.6, gt=0)
    use_s: bool = True


def pick_station(
    z: np.ndarray, n: np.ndarray, e: np.ndarray, sampling_rate_hz: float, config: PickerConfig
) -> tuple[float, float]:
    """P and S pick (s after the first sample) of one station by ObsPy's `ar_pick`; NaN if none."""
    from obspy.signal.trigger import ar_pick

    if not (np.any(z) and np.any(n) and np.any(e)):
        return np.nan, np.nan
    traces = [np.ascontiguousarray(c, dtype=np.float32) for c in (z, n, e)]
    duration = len(z) / sampling_rate_hz
    try:
        p, s = ar_pick(
            *traces,
            sampling_rate_hz,
            config.freqmin_hz,
            min(config.freqmax_hz, 0.45 * sampling_rate_hz),
            config.lta_p_s,
            config.sta_p_s,
            config.lta_s_s,
            config.sta_s_s,
            config.ar_order_p,
            config.ar_order_s,
            config.variance_window_p_s,
            config.variance_window_s_s,
            s_pick=config.use_s,
        )
    except (ValueError, RuntimeError):  # ar_pick fails on flat or too-short traces
        return np.nan, np.nan
    p = float(p) if 0 < p < duration else np.nan
    s = float(s) if config.use_s and np.isfinite(p) and p < s < duration else np.nan
    return p, s


def pick_event(
    values: np.ndarray,
    sampling_interval_s: float,
    stations: list[str],
    config: PickerConfig,
    *,
    window: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Picks of every station of one event: columns station, phase, time_s (after sample 0).

    Args:
        values: (n_stations, 3, n_samples) velocity.
        sampling_interval_s: Time step.
        stations: Station codes of the rows.
        config: Picker settings.
        window: Sample range to pick in (e.g. around the STA/LTA detection); whole record if None.
    """
    start, stop = window if window is not None else (0, values.shape[-1])
    start, stop = max(0, start), min(values.shape[-1], stop)
    offset_s = start * sampling_interval_s
    rows = []
    for name, (z, n, e) in zip(stations, np.asarray(values)[..., start:stop], strict=True):
        p, s = pick_station(z, n, e, 1.0 / sampling_interval_s, config)
        for phase, time_s in (("P", p), ("S", s)):
            if np.isfinite(time_s):
                rows.append({"station": name, "phase": phase, "time_s": offset_s + time_s})
    return pd.DataFrame(rows, columns=["station", "phase", "time_s"])


def pick_around_detection(
    values: np.ndarray,
    sampling_interval_s: float,
    stations: list[str],
    config: PickerConfig,
    trigger: TriggerConfig,
    *,
    before_s: float = 2.0,
    after_s: float = 6.0,
    source: str | None = None,
) -> pd.DataFrame:
    """Detect the event by STA/LTA, then pick every station in a window around the detection.

    Raises:
        NoTriggerError: nothing to pick.
    """
    onset = detect(values, sampling_interval_s, trigger, source=source)
    window = (
        onset - round(before_s / sampling_interval_s),
        onset + round(after_s / sampling_interval_s),
    )
    return pick_event(values, sampling_interval_s, stations, config, window=window)


@dataclass
class GridSearchResult:
    """Best node of a grid search (local km, origin seconds) and its misfit."""

    x_km: float
    y_km: float
    z_km: float
    origin_time_s: float
    misfit: float
    n_picks: int


class GridSearchLocator:
    """Locate events from picks on travel-time tables (estimator-style: stores settings only).

    Args:
        tables: Travel-time tables (n_stations, nx, ny, nz) per phase.
        stations: Station codes in the tables' order.
        misfit: `l1` or `edt`.
        refine: Nodes per axis of the finer local search (0: none).
        min_picks: Fewest picks needed to locate.
    """

    def __init__(
        self,
        tables: TravelTimeTables,
        stations: list[str],
        misfit: Misfit = "edt",
        refine: int = 9,
        min_picks: int = 4,
    ) -> None:
        self.tables = tables
        self.stations = stations
        self.misfit = misfit
        self.refine = refine
        self.min_picks = min_picks

    def _predicted(self, picks: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, int]]]:
        index = {s: i for i, s in enumerate(self.stations)}
        keys = [
            (str(p), index[str(s)]) for s, p in zip(picks["station"], picks["phase"], strict=True)
        ]
        return picks["time_s"].to_numpy(float), keys

    def _misfit(self, observed: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Misfit and origin time per node; predicted is (n_picks, n_nodes)."""
        residual = observed[:, None] - predicted
        with np.errstate(invalid="ignore"):
            origin = np.median(residual, axis=0)
            if self.misfit == "l1":
                misfit = np.abs(residual - origin).sum(axis=0)
            else:
                i, j = np.triu_indices(len(observed), k=1)
                misfit = np.abs(residual[i] - residual[j]).sum(axis=0)
        # pykonal leaves a few nodes unsolved (NaN, e.g. at a source node): never the best.
        return np.where(np.isfinite(misfit), misfit, np.inf), origin

    def locate(self, picks: pd.DataFrame, *, source: str | None = None) -> GridSearchResult:
        """The best hypocentre for one event's picks (`station, phase, time_s`).

        Raises:
            InputError: fewer than `min_picks` usable picks.
        """
        picks = picks[picks["station"].isin(self.stations)]
        picks = picks[picks["phase"].isin(list(self.tables.times))]
        if len(picks) < self.min_picks:
            raise InputError(
                f"only {len(picks)} usable picks (need {self.min_picks})",
                source=source,
                field="picks",
            )
        observed, keys = self._predicted(picks)
        grid = np.stack([self.tables.times[p][i].ravel() for p, i in keys]).astype(np.float64)
        misfit, origin = self._misfit(observed, grid)
        best = int(np.argmin(misfit))
        shape = self.tables.times[keys[0][0]].shape[1:]
        ix, iy, iz = np.unravel_index(best, shape)
        axes = (self.tables.x_km, self.tables.y_km, self.tables.z_km)
        centre = [axes[0][ix], axes[1][iy], axes[2][iz]]
        result = GridSearchResult(*centre, float(origin[best]), float(misfit[best]), len(picks))
        if self.refine > 1:
            result = self._refine(observed, keys, centre, [a[1] - a[0] for a in axes], result)
        return result

    def _refine(
        self,
        observed: np.ndarray,
        keys: list[tuple[str, int]],
        centre: list[float],
        steps: list[float],
        coarse: GridSearchResult,
    ) -> GridSearchResult:
        offsets = np.linspace(-1.0, 1.0, self.refine)
        axes = [c + offsets * s for c, s in zip(centre, steps, strict=True)]
        gx, gy, gz = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
        inside = (
            (gx >= self.tables.x_km[0])
            & (gx <= self.tables.x_km[-1])
            & (gy >= self.tables.y_km[0])
            & (gy <= self.tables.y_km[-1])
            & (gz >= self.tables.z_km[0])
            & (gz <= self.tables.z_km[-1])
        )
        gx, gy, gz = gx[inside], gy[inside], gz[inside]
        by_phase = {p: self.tables.at(p, gx, gy, gz) for p in {p for p, _ in keys}}
        predicted = np.stack([by_phase[p][:, i] for p, i in keys]).astype(np.float64)
        misfit, origin = self._misfit(observed, predicted)
        best = int(np.argmin(misfit))
        if misfit[best] > coarse.misfit:
            return coarse
        return GridSearchResult(
            float(gx[best]),
            float(gy[best]),
            float(gz[best]),
            float(origin[best]),
            float(misfit[best]),
            coarse.n_picks,
        )


def station_xyz_km(stations: pd.DataFrame, projection: LocalProjection) -> np.ndarray:
    """(n, 3) station positions: local x east, y north (km), z down from sea level (km)."""
    x, y = projection.to_xy_km(stations["latitude_deg"], stations["longitude_deg"])
    elevation_m = stations["elevation_m"].fillna(0.0).to_numpy(float)
    return np.column_stack([x, y, -elevation_m / 1000.0])


def build_tables(
    stations: pd.DataFrame,
    model: LayeredModel | GridModel,
    projection: LocalProjection,
    *,
    spacing_km: float = 0.25,
    margin_km: float = 3.0,
    depth_max_km: float = 10.0,
) -> TravelTimeTables:
    """P and S tables for the stations (pykonal via `traveltime.travel_time_tables`).

    A layered model is sampled on a grid covering the stations plus `margin_km`, from the
    highest station down to `depth_max_km`; a grid model is used on its own axes.
    """
    from quakesense.core.geo import Axis
    from quakesense.locate.traveltime import travel_time_tables

    xyz = station_xyz_km(stations, projection)
    if isinstance(model, LayeredModel):
        axes = []
        for low, high in (
            (xyz[:, 0].min() - margin_km, xyz[:, 0].max() + margin_km),
            (xyz[:, 1].min() - margin_km, xyz[:, 1].max() + margin_km),
            (np.floor(xyz[:, 2].min() / spacing_km) * spacing_km, depth_max_km),
        ):
            axis = Axis.covering(low, high, spacing_km)
            axes.append(axis.edges)
        model = model.to_grid(*axes)
    return travel_time_tables(model, xyz, ("P", "S"), station_names=list(stations["station"]))


def tables_from_dataset(meta: dict) -> tuple[TravelTimeTables, LocalProjection]:
    """The travel-time tables of the exact network and velocity grid a dataset was simulated on.

    Rebuilt from the dataset's saved simulate config with the SYNTH side's `resolve_network`,
    so the grid search and the networks stand on the same Earth model and station positions.
    """
    from quakesense.locate.simulate import SimulateConfig, resolve_network
    from quakesense.locate.traveltime import travel_time_tables

    network = resolve_network(SimulateConfig.model_validate(meta["config"]))
    tables = travel_time_tables(
        network.model,
        network.station_xyz_km,
        ("P", "S"),
        station_names=[str(s) for s in network.stations["station"]],
    )
    return tables, network.projection
