"""Classical baseline in the manner of NonLinLoc: picks + pykonal tables + EDT probability cloud.

- Misfit: equal differential time (EDT, Font et al. 2004, NonLinLoc's `EDT` method): for every
  pair of picks a, b the observed difference t_a - t_b is compared with the predicted T_a - T_b,
  `pdf(x) ~ [sum_ab exp(-((t_a - t_b) - (T_a - T_b))^2 / (s_a^2 + s_b^2)) / sqrt(s_a^2 + s_b^2)]^N`.
  The origin time drops out, and a wrong pick only removes its own pairs from the sum instead of
  pulling the solution, so a mis-picked S or a noise onset does not move the event. `l1` (sum of
  |residual - median| / s, origin at the weighted median) is kept as the simpler alternative.
- Search: every node of the travel-time tables, then twice a finer grid (trilinear
  interpolation of the tables) over the box where the pdf is above 1 % of its peak, an oct-tree
  in spirit: the cloud, not a fixed neighbourhood, decides where to look closer.
- Uncertainty: the pdf-weighted covariance on the finest grid: the horizontal 68 % ellipse
  (semi-axes, azimuth of the major one), the depth standard deviation, the origin-time spread.
- Sparse networks: a weak Gaussian prior on the epicentre, centred on the centroid of the
  stations that picked with a standard deviation of their aperture (largest inter-station
  distance): a network detects mostly the events inside it, so when few picks leave the
  likelihood flat (a ridge or a lobe outside the network) the posterior stays near the
  network, while a well-constrained cloud, far narrower than the aperture, barely moves.
  Outlier picks: while the largest |residual| / sigma exceeds `outlier_sigmas`, a pick is
  dropped and the event located again, never below `min_picks` picks nor beyond a third of
  them (the majority decides); dropped picks stay in `residuals` with `used` False. With
  eight picks or fewer a late pick can drag the fit so that a good pick shows the largest
  residual, so each of the three worst is left out in turn and the one whose removal fits
  the rest best goes. EDT's pair sum only bounds a bad pick's pull, which on 4-8 stations is
  still most of the constraint. Four P picks alone (four unknowns) leave nothing to tell a
  late one by: the location may move, and its ellipse grows to say so.
- Station corrections: per station and phase, the damped mean residual over calibration events
  (known hypocentres) or over the batch's own locations (NonLinLoc's LOCDELAY), subtracted from
  the observed times.
Datum: z and depth are km below sea level (positive down); stations sit at z = -elevation, and
a layered model's depth 0 is sea level, its top layer extending up to the highest station.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import Axis, LocalProjection
from quakesense.locate.picking import PickerConfig, pick_event
from quakesense.locate.simulate import SimulateConfig, resolve_network
from quakesense.locate.traveltime import TravelTimeTables, travel_time_tables
from quakesense.locate.velocity import GridModel, LayeredModel

__all__ = [
    "GridSearchLocator",
    "GridSearchResult",
    "PickerConfig",
    "build_tables",
    "dataset_locator",
    "estimate_corrections",
    "locate_event",
    "pick_event",
    "station_xyz_km",
]

Misfit = Literal["l1", "edt"]
CHI2_2D_68 = 2.2788
"""Chi-square quantile (2 degrees of freedom, 68.27 %): 2-D ellipse semi-axes = sqrt(this * eig)."""
_CHUNK_NODES = 8192
_CLOUD_LEVEL = np.log(100.0)
"""The fine grids cover nodes whose pdf is within this log-factor (1 %) of the peak."""
_OUTLIER_CANDIDATES = 3
"""Picks with the largest residuals tried as the outlier (each left out in turn) ..."""
_FEW_PICKS = 8
"""... when this many picks or fewer are left; with more, the largest residual is the one."""


@dataclass
class GridSearchResult:
    """Maximum-likelihood hypocentre (local km, origin s after sample 0) and its uncertainty.

    Attributes:
        misfit: Weighted RMS residual (s) at the hypocentre.
        semi_major_km, semi_minor_km, azimuth_deg: Horizontal 68 % ellipse (azimuth of the
            major axis, degrees clockwise from north).
        depth_uncertainty_km, origin_time_uncertainty_s: One standard deviation of the cloud.
        residuals: The picks with `predicted_s`, `residual_s` (observed - predicted - origin)
            and `used` (False: rejected as an outlier).
    """

    x_km: float
    y_km: float
    z_km: float
    origin_time_s: float
    misfit: float
    n_picks: int
    semi_major_km: float = np.nan
    semi_minor_km: float = np.nan
    azimuth_deg: float = np.nan
    depth_uncertainty_km: float = np.nan
    origin_time_uncertainty_s: float = np.nan
    azimuthal_gap_deg: float = np.nan
    residuals: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_s_picks(self) -> int:
        """S picks used."""
        if self.residuals.empty:
            return 0
        used = self.residuals.get("used", True)
        return int(((self.residuals["phase"] == "S") & used).sum())


class GridSearchLocator:
    """Locate events from picks on travel-time tables (estimator-style: stores settings only).

    Args:
        tables: Travel-time tables (n_stations, nx, ny, nz) per phase.
        stations: Station codes in the tables' order.
        misfit: `edt` (default) or `l1`.
        refine: Nodes per axis of each finer grid (0 or 1: nodes of the tables only).
        min_picks: Fewest picks needed to locate: three give two independent time
            differences, which with the epicentre prior make a proper (broad) posterior, so a
            weak event on a sparse network gets a location with an honest ellipse, not none.
        model_error_s: Travel-time model error, added in quadrature to each pick's deviation.
        default_uncertainty_s: Deviation of picks that carry no `uncertainty_s`.
        corrections: Station delays (`station, phase, delay_s`) subtracted from observed times.
        station_xyz_km: (n_stations, 3) positions, for the azimuthal gap and the prior.
        prior_width: Standard deviation of the epicentre prior in apertures of the picked
            stations (None: flat prior; needs `station_xyz_km`).
        outlier_sigmas: Residual, in pick standard deviations, beyond which the worst pick
            is dropped (None: keep every pick).
    """

    def __init__(
        self,
        tables: TravelTimeTables,
        stations: list[str],
        misfit: Misfit = "edt",
        refine: int = 15,
        min_picks: int = 3,
        *,
        model_error_s: float = 0.02,
        default_uncertainty_s: float = 0.05,
        corrections: pd.DataFrame | None = None,
        station_xyz_km: np.ndarray | None = None,
        prior_width: float | None = 1.0,
        outlier_sigmas: float | None = 5.0,
    ) -> None:
        self.tables = tables
        self.stations = list(stations)
        self.misfit = misfit
        self.refine = refine
        self.min_picks = min_picks
        self.model_error_s = model_error_s
        self.default_uncertainty_s = default_uncertainty_s
        self.corrections = corrections
        self.station_xyz_km = station_xyz_km
        self.prior_width = prior_width
        self.outlier_sigmas = outlier_sigmas

    @property
    def max_moveout_s(self) -> float:
        """Largest spread of P arrival times across the stations from any grid node."""
        p = self.tables.times["P"].reshape(len(self.stations), -1)
        p = p[:, np.isfinite(p).all(axis=0)]  # nodes pykonal left unsolved (NaN/inf) aside
        return float((p.max(axis=0) - p.min(axis=0)).max())

    def _usable(self, picks: pd.DataFrame, source: str | None) -> pd.DataFrame:
        picks = picks[picks["station"].astype(str).isin(self.stations)]
        picks = picks[picks["phase"].isin(list(self.tables.times))]
        picks = picks[np.isfinite(picks["time_s"].to_numpy(float))]
        if len(picks) < self.min_picks:
            raise InputError(
                f"only {len(picks)} usable picks (need {self.min_picks})",
                source=source,
                field="picks",
            )
        return picks.reset_index(drop=True)

    def _observed(self, picks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Corrected observed times and total standard deviations of the picks."""
        observed = picks["time_s"].to_numpy(float)
        if self.corrections is not None and not self.corrections.empty:
            delays = self.corrections.set_index(["station", "phase"])["delay_s"]
            keys = pd.MultiIndex.from_arrays([picks["station"].astype(str), picks["phase"]])
            observed = observed - delays.reindex(keys).fillna(0.0).to_numpy(float)
        if "uncertainty_s" in picks:
            sigma = picks["uncertainty_s"].fillna(self.default_uncertainty_s).to_numpy(float)
        else:
            sigma = np.full(len(picks), self.default_uncertainty_s)
        return observed, np.sqrt(sigma**2 + self.model_error_s**2)

    def _keys(self, picks: pd.DataFrame) -> list[tuple[str, int]]:
        index = {s: i for i, s in enumerate(self.stations)}
        return [
            (str(p), index[str(s)]) for s, p in zip(picks["station"], picks["phase"], strict=True)
        ]

    def _log_pdf(
        self, observed: np.ndarray, sigma: np.ndarray, predicted: np.ndarray
    ) -> np.ndarray:
        """Log pdf (up to a constant) per node; `predicted` is (n_picks, n_nodes)."""
        out = np.empty(predicted.shape[1])
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self._fill_log_pdf(out, observed, sigma, predicted)
        # pykonal leaves a few nodes unsolved (NaN/inf, e.g. at a source node): never the best.
        return np.where(np.isfinite(out), out, -np.inf)

    def _fill_log_pdf(
        self, out: np.ndarray, observed: np.ndarray, sigma: np.ndarray, predicted: np.ndarray
    ) -> None:
        n = len(observed)
        weight = 1.0 / sigma**2
        if self.misfit == "edt":
            i, j = np.triu_indices(n, k=1)
            pair_var = sigma[i] ** 2 + sigma[j] ** 2
            scale = 1.0 / np.sqrt(pair_var)
        for lo in range(0, predicted.shape[1], _CHUNK_NODES):
            residual = observed[:, None] - predicted[:, lo : lo + _CHUNK_NODES]
            if self.misfit == "edt":
                d = residual[i] - residual[j]
                total = (np.exp(-(d**2) / pair_var[:, None]) * scale[:, None]).sum(axis=0)
                value = n * np.log(total)
            else:
                origin = _weighted_median(residual, weight)
                value = -(np.abs(residual - origin) / sigma[:, None]).sum(axis=0)
            out[lo : lo + _CHUNK_NODES] = value

    def _predict(self, keys: list[tuple[str, int]], points: np.ndarray) -> np.ndarray:
        """(n_picks, n_points) predicted travel times at points (n, 3) by interpolation."""
        with np.errstate(invalid="ignore"):  # unsolved (inf) nodes interpolate to NaN
            by_phase = {
                p: self.tables.at(p, points[:, 0], points[:, 1], points[:, 2])
                for p in {p for p, _ in keys}
            }
        return np.stack([by_phase[p][:, i] for p, i in keys]).astype(np.float64)

    def locate(self, picks: pd.DataFrame, *, source: str | None = None) -> GridSearchResult:
        """The maximum-likelihood hypocentre and its cloud for one event's picks.

        Args:
            picks: `station, phase, time_s` and optionally `uncertainty_s` (s, one sigma).
            source: Event name for messages.

        Raises:
            InputError: fewer than `min_picks` usable picks.
        """
        picks = self._usable(picks, source)
        used = np.ones(len(picks), dtype=bool)
        max_dropped = min(len(picks) - self.min_picks, len(picks) // 3)
        result = self._locate_once(picks, source)
        while self.outlier_sigmas is not None and (~used).sum() < max_dropped:
            normalised = result.residuals["residual_s"].abs().to_numpy()
            normalised = normalised / self._observed(picks[used])[1]
            if normalised.max() <= self.outlier_sigmas:
                break
            # The largest residual need not be the bad pick: with few picks a late one drags
            # the fit onto good ones. Of the worst few, drop the one without which the rest
            # fit best (within a pick's deviation; ties go to the larger residual).
            kept = np.flatnonzero(used)
            tolerance_s = float(np.median(self._observed(picks[used])[1]))
            n_candidates = _OUTLIER_CANDIDATES if len(kept) <= _FEW_PICKS else 1
            trials = []
            for worst in np.argsort(normalised)[::-1][:n_candidates]:
                trial = used.copy()
                trial[kept[worst]] = False
                located = self._locate_once(picks[trial].reset_index(drop=True), source)
                trials.append((located, trial))
            best_s = min(located.misfit for located, _ in trials)
            result, used = next(t for t in trials if t[0].misfit <= best_s + tolerance_s)
        if used.all():
            return result
        dropped = picks[~used]
        hypocentre = np.array([[result.x_km, result.y_km, result.z_km]])
        predicted = self._predict(self._keys(dropped), hypocentre)[:, 0] + result.origin_time_s
        dropped = dropped.assign(
            predicted_s=predicted,
            residual_s=self._observed(dropped)[0] - predicted,
            used=False,
        )
        kept = result.residuals.set_axis(np.flatnonzero(used))
        result.residuals = pd.concat([kept, dropped]).sort_index().reset_index(drop=True)
        return result

    def _locate_once(self, picks: pd.DataFrame, source: str | None) -> GridSearchResult:
        """Coarse-to-fine posterior for one set of usable picks."""
        observed, sigma = self._observed(picks)
        keys = self._keys(picks)
        prior = self._prior(picks)
        axes = (self.tables.x_km, self.tables.y_km, self.tables.z_km)
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        predicted = np.stack([self.tables.times[p][i].ravel() for p, i in keys]).astype(np.float64)
        log_pdf = self._log_pdf(observed, sigma, predicted) + prior(grid)
        if not np.isfinite(log_pdf).any():
            raise InputError("no grid node explains the picks", source=source, field="picks")
        steps = np.array([a[1] - a[0] for a in axes])
        points = grid
        for _ in range(2 if self.refine > 1 else 0):
            points, log_pdf, steps = self._zoom(
                observed, sigma, keys, prior, points, log_pdf, steps
            )
        return self._summary(picks, observed, sigma, keys, points, log_pdf, steps)

    def _prior(self, picks: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
        """Log prior of points (n, 3): Gaussian on the epicentre around the picked stations."""
        if self.prior_width is None or self.station_xyz_km is None:
            return lambda points: np.zeros(len(points))
        index = {s: i for i, s in enumerate(self.stations)}
        xy = self.station_xyz_km[sorted({index[str(s)] for s in picks["station"]}), :2]
        centre = xy.mean(axis=0)
        aperture_km = float(np.linalg.norm(xy[:, None] - xy[None], axis=-1).max())
        # Floor: one grid step, so that a single picked station still gives a finite prior.
        width_km = self.prior_width * max(
            aperture_km, float(self.tables.x_km[1] - self.tables.x_km[0])
        )
        return lambda points: -0.5 * np.sum((points[:, :2] - centre) ** 2, axis=1) / width_km**2

    def _zoom(
        self,
        observed: np.ndarray,
        sigma: np.ndarray,
        keys: list[tuple[str, int]],
        prior: Callable[[np.ndarray], np.ndarray],
        points: np.ndarray,
        log_pdf: np.ndarray,
        steps: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A finer grid over the box of the cloud (pdf above 1 % of its peak)."""
        cloud = points[log_pdf >= log_pdf.max() - _CLOUD_LEVEL]
        low = np.maximum(cloud.min(axis=0) - steps, self._bounds[0])
        high = np.minimum(cloud.max(axis=0) + steps, self._bounds[1])
        new_axes = [np.linspace(lo, hi, self.refine) for lo, hi in zip(low, high, strict=True)]
        fine = np.stack(np.meshgrid(*new_axes, indexing="ij"), axis=-1).reshape(-1, 3)
        new_log_pdf = self._log_pdf(observed, sigma, self._predict(keys, fine)) + prior(fine)
        if new_log_pdf.max() < log_pdf.max() - _CLOUD_LEVEL:
            return points, log_pdf, steps
        return fine, new_log_pdf, np.array([a[1] - a[0] for a in new_axes])

    @property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        axes = (self.tables.x_km, self.tables.y_km, self.tables.z_km)
        return np.array([a[0] for a in axes]), np.array([a[-1] for a in axes])

    def _summary(
        self,
        picks: pd.DataFrame,
        observed: np.ndarray,
        sigma: np.ndarray,
        keys: list[tuple[str, int]],
        points: np.ndarray,
        log_pdf: np.ndarray,
        steps: np.ndarray,
    ) -> GridSearchResult:
        best = int(np.argmax(log_pdf))
        weight = np.exp(log_pdf - log_pdf[best])
        weight /= weight.sum()
        mean = weight @ points
        centred = points - mean
        covariance = (centred * weight[:, None]).T @ centred
        # A cloud narrower than the grid step still has a step's worth of doubt.
        covariance += np.diag(steps**2 / 12.0)
        eigval, eigvec = np.linalg.eigh(covariance[:2, :2])
        major = eigvec[:, 1]
        hypocentre = points[best]
        travel = self._predict(keys, hypocentre[None, :])[:, 0]
        w = 1.0 / sigma**2
        origin = float(_weighted_median((observed - travel)[:, None], w)[0])
        residual = observed - travel - origin
        cloud = points[weight > 1e-4 * weight.max()]
        origins = _weighted_median(observed[:, None] - self._predict(keys, cloud), w)
        cloud_w = weight[weight > 1e-4 * weight.max()]
        origin_sd = float(np.sqrt(cloud_w @ (origins - origin) ** 2 / cloud_w.sum()))
        origin_sd = float(np.hypot(origin_sd, 1.0 / np.sqrt(w.sum())))
        table = picks.assign(predicted_s=travel + origin, residual_s=residual, used=True)
        return GridSearchResult(
            x_km=float(hypocentre[0]),
            y_km=float(hypocentre[1]),
            z_km=float(hypocentre[2]),
            origin_time_s=origin,
            misfit=float(np.sqrt(np.sum(w * residual**2) / w.sum())),
            n_picks=len(picks),
            semi_major_km=float(np.sqrt(CHI2_2D_68 * max(eigval[1], 0.0))),
            semi_minor_km=float(np.sqrt(CHI2_2D_68 * max(eigval[0], 0.0))),
            azimuth_deg=float(np.degrees(np.arctan2(major[0], major[1])) % 180.0),
            depth_uncertainty_km=float(np.sqrt(covariance[2, 2])),
            origin_time_uncertainty_s=origin_sd,
            azimuthal_gap_deg=self._gap(picks, hypocentre),
            residuals=table,
        )

    def _gap(self, picks: pd.DataFrame, hypocentre: np.ndarray) -> float:
        if self.station_xyz_km is None:
            return np.nan
        index = {s: i for i, s in enumerate(self.stations)}
        used = sorted({index[str(s)] for s in picks["station"]})
        xy = self.station_xyz_km[used, :2] - hypocentre[:2]
        azimuths = np.sort(np.degrees(np.arctan2(xy[:, 0], xy[:, 1])) % 360.0)
        gaps = np.diff(np.r_[azimuths, azimuths[0] + 360.0])
        return float(gaps.max())

    def predicted_arrivals(self, result: GridSearchResult) -> pd.DataFrame:
        """P and S arrival times (s after sample 0) at every station for a located event."""
        point = np.array([[result.x_km, result.y_km, result.z_km]])
        rows = []
        for phase in self.tables.times:
            times = self.tables.at(phase, point[:, 0], point[:, 1], point[:, 2])[0]
            for station, travel in zip(self.stations, times, strict=True):
                rows.append(
                    {
                        "station": station,
                        "phase": phase,
                        "time_s": result.origin_time_s
                        + float(travel)
                        + self._delay(station, phase),
                    }
                )
        return pd.DataFrame(rows)

    def _delay(self, station: str, phase: str) -> float:
        if self.corrections is None or self.corrections.empty:
            return 0.0
        match = self.corrections[
            (self.corrections["station"] == station) & (self.corrections["phase"] == phase)
        ]
        return float(match["delay_s"].iloc[0]) if len(match) else 0.0

    def residuals_at(
        self,
        picks: pd.DataFrame,
        xyz_km: tuple[float, float, float],
        origin_time_s: float | None = None,
    ) -> pd.DataFrame:
        """Residuals of picks (uncorrected) at a known hypocentre: calibration events.

        The origin time, when not given, is the weighted median of observed - predicted.
        """
        picks = self._usable(picks, None)
        observed = picks["time_s"].to_numpy(float)
        _, sigma = self._observed(picks)
        travel = self._predict(self._keys(picks), np.array([xyz_km], dtype=float))[:, 0]
        if origin_time_s is None:
            origin_time_s = float(_weighted_median((observed - travel)[:, None], sigma**-2)[0])
        return picks.assign(residual_s=observed - travel - origin_time_s)

    def kept_residuals_at(
        self,
        result: GridSearchResult,
        xyz_km: tuple[float, float, float] | None = None,
        origin_time_s: float | None = None,
    ) -> pd.DataFrame:
        """Residuals (uncorrected) of the picks `result`'s location kept, for station delays.

        At the location's own hypocentre (batch delays) or a known one (calibration events);
        picks the location rejected as outliers are left out, or their gross errors would
        shift their stations' delays.
        """
        kept = result.residuals[result.residuals["used"]]
        xyz = (result.x_km, result.y_km, result.z_km) if xyz_km is None else xyz_km
        return self.residuals_at(kept, xyz, origin_time_s)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted median along axis 0 of (n, m) values with (n,) weights."""
    order = np.argsort(values, axis=0)
    sorted_values = np.take_along_axis(values, order, axis=0)
    cumulative = np.cumsum(weights[order], axis=0)
    half = cumulative[-1] / 2.0
    index = np.argmax(cumulative >= half, axis=0)
    return sorted_values[index, np.arange(values.shape[1])]


def estimate_corrections(
    residuals: list[pd.DataFrame], *, min_events: int = 3, damping: float = 1.0
) -> pd.DataFrame:
    """Station delays per phase: the damped mean residual (sum / (n + damping)) over events.

    Residual tables come from `GridSearchResult.residuals` (the batch's own locations) or
    `GridSearchLocator.residuals_at` (calibration events). Station-phases seen in fewer than
    `min_events` events get no delay; each phase's delays are centred on zero (a common shift
    is the origin time's, not the stations').
    """
    frames = [
        (r[r["used"]] if "used" in r else r)[["station", "phase", "residual_s"]]
        for r in residuals
        if not r.empty
    ]
    if not frames:
        return pd.DataFrame(columns=["station", "phase", "delay_s", "n_events"])
    table = pd.concat(frames).groupby(["station", "phase"])["residual_s"].agg(["sum", "count"])
    table = table[table["count"] >= min_events]
    delay = table["sum"] / (table["count"] + damping)
    delay = delay - delay.groupby(level="phase").transform("mean")
    return pd.DataFrame({"delay_s": delay, "n_events": table["count"]}).reset_index()


def locate_event(
    values: np.ndarray,
    sampling_interval_s: float,
    locator: GridSearchLocator,
    picker: PickerConfig | None = None,
    *,
    source: str | None = None,
) -> tuple[GridSearchResult, pd.DataFrame]:
    """Pick, locate, re-pick P and S around the predicted arrivals, locate again.

    The first pass uses P picks in the network's detection window (with halved threshold
    and signal/noise excesses when too few stations pick); the second re-picks both
    phases within a window sized by the network's move-out around the first location's
    predictions, which keeps S picks off the P coda and drops onsets of other events. When the
    second pass finds fewer picks than needed the first location stands.

    Raises:
        InputError: too few picks in the first pass.
    """
    picker = picker or PickerConfig()
    moveout_s = locator.max_moveout_s
    picks = pick_event(
        values, sampling_interval_s, locator.stations, picker, max_moveout_s=moveout_s
    )
    if len(picks) < locator.min_picks:  # weak event: accept fainter onsets before giving up
        relaxed = picker.model_copy(
            update={
                "threshold_on": 1 + (picker.threshold_on - 1) / 2,
                "min_snr": 1 + (picker.min_snr - 1) / 2,
            }
        )
        picks = pick_event(
            values, sampling_interval_s, locator.stations, relaxed, max_moveout_s=moveout_s
        )
    first = locator.locate(picks, source=source)
    predicted = locator.predicted_arrivals(first)
    again = pick_event(
        values,
        sampling_interval_s,
        locator.stations,
        picker,
        max_moveout_s=moveout_s,
        predicted=predicted,
        tolerance_s=max(0.25 * moveout_s, 5 * sampling_interval_s),
    )
    try:
        return locator.locate(again, source=source), again
    except InputError:
        return first, picks


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
    refined: bool = True,
) -> TravelTimeTables:
    """P and S tables for the stations (pykonal via `traveltime.travel_time_tables`).

    A layered model is sampled on a grid covering the stations plus `margin_km`, from the
    highest station down to `depth_max_km` below sea level; a grid model is used on its axes.
    `refined` selects pykonal's near-source refinement (accurate near stations, ~10x slower).
    """
    xyz = station_xyz_km(stations, projection)
    if isinstance(model, LayeredModel):
        axes = []
        for low, high in (
            (xyz[:, 0].min() - margin_km, xyz[:, 0].max() + margin_km),
            (xyz[:, 1].min() - margin_km, xyz[:, 1].max() + margin_km),
            (np.floor(xyz[:, 2].min() / spacing_km) * spacing_km, depth_max_km),
        ):
            axes.append(Axis.covering(low, high, spacing_km).edges)
        model = model.to_grid(*axes)
    return travel_time_tables(
        model, xyz, ("P", "S"), station_names=list(stations["station"]), refined=refined
    )


def dataset_locator(
    meta: dict, velocity: LayeredModel | GridModel | None = None
) -> tuple[GridSearchLocator, LocalProjection]:
    """The classical locator of the exact network a dataset was simulated on, and its projection.

    Travel times on the dataset's own velocity grid (rebuilt from its saved simulate config
    with the SYNTH side's `resolve_network`, so the grid search and the networks stand on the
    same Earth model and station positions) or on `velocity`; station positions give the
    epicentre prior and the azimuthal gap, as in `locate predict --method gridsearch`.
    """
    network = resolve_network(SimulateConfig.model_validate(meta["config"]))
    names = [str(s) for s in network.stations["station"]]
    if velocity is None:
        tables = travel_time_tables(
            network.model, network.station_xyz_km, ("P", "S"), station_names=names
        )
    else:
        tables = build_tables(network.stations, velocity, network.projection)
    locator = GridSearchLocator(tables, names, station_xyz_km=network.station_xyz_km)
    return locator, network.projection
