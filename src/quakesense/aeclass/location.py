"""Source location from arrival times: physics (Geiger, grid search) and learned regressors.

All locators follow scikit-learn conventions: `fit(times, sensors_xyz, truth_xyz)` then
`predict(times) -> LocationResult`. `times` is an (events, sensors) array of P arrival times in
seconds, or an (events, sensors, phases) array of P and S times, NaN where a pick is missing (a
sparse array where each event is picked at a few nearby sensors is simply mostly NaN). Each
(sensor, phase) pair is one observation with its own slowness, so S picks enter the same misfit
as P picks with one common origin time. Origin times are never needed as input: the grid search
eliminates them analytically (demeaned residuals, or the median for a robust loss), Geiger fits
them with the position, and the regressors see arrival-time profiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from quakesense.aeclass.profiles import arrival_time_profiles, profile_features
from quakesense.core.errors import InputError
from quakesense.core.persistence import Normalisation

PLANAR_TOLERANCE = 1e-3
"""Points whose smallest principal extent is below this fraction of the largest are coplanar."""


METHODS = ("geiger", "grid", "geiger-sc", "grid-sc", "aniso", "gp", "mlp", "hybrid")
"""Locators by name (see `make_locator`)."""

LEARNED = frozenset({"gp", "mlp", "hybrid", "aniso", "geiger-sc", "grid-sc"})
"""Methods fitted to events of known position."""


class LocateConfig(BaseModel):
    """Settings of `aeclass locate`; saved with every run and read back by `--config`."""

    model_config = ConfigDict(extra="forbid")

    method: Literal[METHODS] = "geiger"  # type: ignore[valid-type]
    velocity_m_s: float | None = Field(
        None, gt=0, description="P velocity; None: fitted to events of known position"
    )
    vs_m_s: float | None = Field(
        None, gt=0, description="S velocity; None: fitted to events of known position"
    )
    use_s: bool = Field(True, description="locate with S picks where present")
    folds: int | None = Field(
        None, ge=2, description="cross-validation folds over known events; None: leave-one-out"
    )
    seed: int = 0
    progress: bool = Field(True, description="a progress bar over the folds (stderr)")


def as_columns(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times as (events, observations), phase-major, and each observation's phase index.

    Accepts (events, sensors) P times or (events, sensors, phases) times.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim == 2:
        times = times[:, :, None]
    n_events, n_sensors, n_phases = times.shape
    columns = times.transpose(0, 2, 1).reshape(n_events, n_sensors * n_phases)
    return columns, np.repeat(np.arange(n_phases), n_sensors)


@dataclass
class LocationResult:
    """Located events: positions (metres), origin times (s) and RMS time residuals (s)."""

    xyz_m: np.ndarray
    origin_time_s: np.ndarray
    residual_s: np.ndarray


def _plane_basis(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and 3x2 orthonormal basis of the plane holding `points`, or None if not planar."""
    centre = points.mean(axis=0)
    _, singular, vt = np.linalg.svd(points - centre, full_matrices=False)
    if len(points) >= 3 and singular[-1] <= PLANAR_TOLERANCE * max(singular[0], 1e-30):
        return centre, vt[:2].T
    return None


def _misfit(times: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """Sum of squared demeaned residuals of every event (rows of `times`) at every candidate.

    Expands sum_j w (t - tt - t0)^2 minimised over t0 into matrix products, so all events are
    scored against all candidate sources at once; times are first centred per event, which
    leaves the misfit unchanged and avoids cancellation for large origin times.
    """
    weight = np.isfinite(times).astype(float)
    count = weight.sum(axis=1, keepdims=True)
    centre = np.where(weight > 0, times, 0.0).sum(axis=1, keepdims=True) / count
    t = np.where(weight > 0, times - centre, 0.0)
    cross = (weight * t) @ travel.T
    shift = (weight * t).sum(axis=1, keepdims=True) - weight @ travel.T
    return (
        (weight * t**2).sum(axis=1, keepdims=True)
        - 2 * cross
        + weight @ (travel**2).T
        - shift**2 / count
    )


LOSSES = ("linear", "soft_l1", "huber", "cauchy")
"""Misfits of the physics locators (scipy.optimize.least_squares names)."""

ROBUST_LOSS = "soft_l1"
"""Misfit of the anisotropic locators: outlier picks cost linearly, not quadratically."""

HUBER_K = 1.345
"""Robust-loss scale in units of the residuals' robust standard deviation (Huber's 95 % value)."""


def _robust_scale_m(residual_m: np.ndarray) -> float:
    """Scale where a robust loss turns from quadratic to linear: Huber's k times the MAD sigma.

    Taken from the training events' residuals, so it never looks at an event being located.
    """
    nonzero = np.abs(residual_m[residual_m != 0])
    return HUBER_K * 1.4826 * float(np.median(nonzero)) if nonzero.size else 1.0


def _l1_misfit(times: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """Sum of absolute residuals about their median of every event at every candidate.

    The outlier-robust counterpart of `_misfit` (the median is the L1-optimal origin time), so a
    grid search is not pulled into a wrong basin by one bad pick before a robust Geiger step.
    """
    residual = times[:, None, :] - travel[None]
    residual = residual - np.nanmedian(residual, axis=2, keepdims=True)
    return np.nansum(np.abs(residual), axis=2)


class PhysicsLocator:
    """Straight-ray locator: homogeneous or elliptically anisotropic velocity, station delays.

    The velocity (and the corrections) are fitted by linear least squares to training events of
    known position; without training truth `velocity_m_s` must be given. With `anisotropic`,
    travel time is |A^T (x - s)| with a lower-triangular slowness matrix A (6 parameters, an
    ellipsoidal velocity surface) fitted by nonlinear least squares from the isotropic solution.
    Sources are searched in the plane of the training sources when those are coplanar (a fault,
    a plate), else in the plane of the sensors when those are coplanar, else in 3-D.

    With (events, sensors, phases) times, S picks are extra observations with their own
    velocity (fitted with the P velocity, or `vs_m_s`); the anisotropic model scales the P
    slowness matrix by the fitted S/P slowness ratio.

    Args:
        method: "geiger" (Gauss-Newton least squares from a coarse-grid start) or "grid"
            (two-level grid search).
        velocity_m_s: Fixed P velocity; None: fit it to the training truth.
        vs_m_s: Fixed S velocity (used only with S times); None: fit it to the training truth.
        station_corrections: Fit one time delay per sensor (needs training truth).
        anisotropic: Fit an ellipsoidal velocity (needs training truth).
        grid_points: Grid points per axis of each grid level (None: 121 in 2-D, 41 in 3-D).
        margin: Search box around sensors and training sources, as a fraction of their span.
        loss: Misfit of the Geiger and anisotropy fits: "linear" (least squares) or one of
            scipy's robust losses ("soft_l1", "huber", "cauchy"), which down-weight outlier picks
            beyond a scale taken from the training residuals (needs training truth); with a
            robust loss the grid search minimises absolute residuals about their median.
    """

    def __init__(
        self,
        method: str = "geiger",
        velocity_m_s: float | None = None,
        station_corrections: bool = False,
        anisotropic: bool = False,
        grid_points: int | None = None,
        margin: float = 0.25,
        loss: str = "linear",
        vs_m_s: float | None = None,
    ) -> None:
        self.method = method
        self.velocity_m_s = velocity_m_s
        self.vs_m_s = vs_m_s
        self.station_corrections = station_corrections
        self.anisotropic = anisotropic
        self.grid_points = grid_points
        self.margin = margin
        self.loss = loss

    def fit(
        self, times: np.ndarray, sensors_xyz: np.ndarray, truth_xyz: np.ndarray | None = None
    ) -> PhysicsLocator:
        """Fit velocity/corrections to events of known position and choose the search domain."""
        if self.method not in {"geiger", "grid"}:
            raise InputError(f"unknown physics method '{self.method}'", field="method")
        if self.loss not in LOSSES:
            raise InputError(f"unknown loss '{self.loss}' ({', '.join(LOSSES)})", field="loss")
        times, self.column_phase_ = as_columns(times)
        self.sensors_xyz_ = np.asarray(sensors_xyz, dtype=float)
        self.n_phases_ = int(self.column_phase_.max()) + 1
        self.column_xyz_ = np.tile(self.sensors_xyz_, (self.n_phases_, 1))
        self.corrections_s_ = np.zeros(times.shape[1])
        self.slowness_matrix_ = None
        has_truth = truth_xyz is not None and np.isfinite(truth_xyz).all() and len(truth_xyz)
        if self.loss != "linear" and not has_truth:
            raise InputError(
                f"loss '{self.loss}' takes its scale from events of known position "
                "(x_m, y_m, z_m); the picks have none",
                field="loss",
            )
        if has_truth:
            truth_xyz = np.asarray(truth_xyz, dtype=float)
            self._fit_velocity(times, truth_xyz)
            if self.anisotropic:
                self._fit_anisotropy(times, truth_xyz)
            misfit = times - self.travel_time_s(truth_xyz)
            misfit = misfit - np.nanmean(misfit, axis=1, keepdims=True)
            self.f_scale_m_ = _robust_scale_m(misfit[np.isfinite(misfit)] * self.velocity_m_s_)
        elif self.anisotropic or self.station_corrections:
            raise InputError(
                "station corrections and anisotropy are fitted to events of known position "
                "(x_m, y_m, z_m); the picks have none",
                field="x_m",
            )
        elif self.velocity_m_s is None:
            raise InputError(
                "no velocity: give one or events with known positions (x_m, y_m, z_m)",
                field="velocity_m_s",
            )
        elif self.n_phases_ > 1 and self.vs_m_s is None:
            raise InputError(
                "S picks need an S velocity: give one or events with known positions",
                field="vs_m_s",
            )
        else:
            self.velocity_m_s_ = float(self.velocity_m_s)
            self.slowness_s_m_ = (
                1.0 / np.array([self.velocity_m_s, self.vs_m_s or np.nan])[: self.n_phases_]
            )
        anchors = self.sensors_xyz_
        plane = _plane_basis(np.asarray(truth_xyz, dtype=float)) if has_truth else None
        if has_truth:
            anchors = np.vstack([anchors, truth_xyz])
        if plane is None:
            plane = _plane_basis(self.sensors_xyz_)
        if plane is None:
            self.origin_, self.basis_ = anchors.mean(axis=0), np.eye(3)
        else:
            self.origin_, self.basis_ = plane
        local = (anchors - self.origin_) @ self.basis_
        span = np.ptp(local, axis=0).max()
        self.low_ = local.min(axis=0) - self.margin * span
        self.high_ = local.max(axis=0) + self.margin * span
        return self

    def _fit_velocity(self, times: np.ndarray, truth: np.ndarray) -> None:
        """Slowness per phase (unless given) and optional delays per observation, by linear
        least squares on residuals demeaned per event (the origin time drops out)."""
        distance = np.linalg.norm(truth[:, None, :] - self.column_xyz_[None], axis=2)
        observed = np.isfinite(times)
        count = observed.sum(axis=1, keepdims=True)

        def demean(values: np.ndarray) -> np.ndarray:
            values = np.where(observed, values, 0.0)
            return np.where(observed, values - values.sum(axis=1, keepdims=True) / count, 0.0)

        target = demean(times)[observed]
        given = [self.velocity_m_s, self.vs_m_s][: self.n_phases_]
        slowness = np.full(self.n_phases_, np.nan)
        columns, unknown = [], []
        for phase, velocity in enumerate(given):
            column = demean(distance * (self.column_phase_ == phase))[observed]
            if velocity is None:
                columns.append(column)
                unknown.append(phase)
            else:
                slowness[phase] = 1.0 / velocity
                target = target - column * slowness[phase]
        if self.station_corrections:
            for j in range(times.shape[1]):
                indicator = np.zeros_like(times)
                indicator[:, j] = 1.0
                columns.append(demean(indicator)[observed])
        design = np.column_stack(columns) if columns else np.zeros((len(target), 0))
        solution = np.linalg.lstsq(design, target, rcond=None)[0] if design.size else []
        slowness[unknown] = solution[: len(unknown)]
        if not (slowness > 0).all():
            raise InputError("fitted velocity is not positive: check picks and positions")
        self.slowness_s_m_ = slowness
        self.velocity_m_s_ = float(1.0 / slowness[0])
        if self.station_corrections:
            self.corrections_s_ = np.asarray(solution[len(unknown) :], dtype=float)

    def _fit_anisotropy(self, times: np.ndarray, truth: np.ndarray) -> None:
        """Fit the slowness matrix, delays and every event's origin time (unknowns, not
        eliminated by demeaning, so that a robust loss isolates a bad pick)."""
        observed = np.isfinite(times)
        offset = truth[:, None, :] - self.column_xyz_[None]
        factor = self._phase_factor()
        rows, cols = np.tril_indices(3)
        n_corr = times.shape[1] if self.station_corrections else 0

        def unpack(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            matrix = np.zeros((3, 3))
            matrix[rows, cols] = q[:6]
            corrections = q[6 : 6 + n_corr] if n_corr else np.zeros(times.shape[1])
            return matrix, corrections, q[6 + n_corr :, None]

        def residual(q: np.ndarray) -> np.ndarray:
            matrix, corrections, origin = unpack(q)
            travel = np.linalg.norm(offset @ matrix, axis=2) * factor
            misfit = times - travel - corrections - origin
            return misfit[observed] * self.velocity_m_s_

        start = np.eye(3)[rows, cols] / self.velocity_m_s_
        start = np.concatenate([start, self.corrections_s_[:n_corr], np.zeros(len(times))])
        start[6 + n_corr :] = np.nanmedian(times - self.travel_time_s(truth), axis=1)
        solution = least_squares(
            residual,
            start,
            x_scale="jac",
            loss=self.loss,
            f_scale=_robust_scale_m(residual(start)),
        )
        self.slowness_matrix_, self.corrections_s_, _ = unpack(solution.x)

    def _phase_factor(self) -> np.ndarray:
        """Each observation's slowness relative to P (1 for P, vp/vs for S)."""
        return (self.slowness_s_m_ / self.slowness_s_m_[0])[self.column_phase_]

    def travel_time_s(self, xyz_m: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Predicted travel times (candidates, observations), corrections included.

        Args:
            xyz_m: Candidate sources (candidates, 3).
            columns: Boolean mask of the observations wanted (default: all); a sparse array's
                event has only a few.
        """
        columns = np.ones(len(self.column_xyz_), bool) if columns is None else columns
        offset = np.asarray(xyz_m)[:, None, :] - self.column_xyz_[columns][None]
        corrections = self.corrections_s_[columns]
        if self.slowness_matrix_ is not None:
            distance = np.linalg.norm(offset @ self.slowness_matrix_, axis=2)
            return distance * self._phase_factor()[columns] + corrections
        slowness = self.slowness_s_m_[self.column_phase_[columns]]
        return np.linalg.norm(offset, axis=2) * slowness + corrections

    def _to_xyz(self, local: np.ndarray) -> np.ndarray:
        return self.origin_ + local @ self.basis_.T

    def _grid(self, low: np.ndarray, high: np.ndarray, points: int) -> np.ndarray:
        axes = [np.linspace(lo, hi, points) for lo, hi in zip(low, high, strict=True)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))

    def _grid_search(
        self, times: np.ndarray, points: int, levels: int, refine_points: int | None = None
    ) -> np.ndarray:
        """Best grid node per event: a coarse grid over the search box, then `levels - 1`
        finer grids of `refine_points` per axis around each event's best node."""
        refine_points = refine_points or points
        misfit = _misfit if self.loss == "linear" else _l1_misfit
        local = self._grid(self.low_, self.high_, points)
        travel = self.travel_time_s(self._to_xyz(local))
        chunk = max(1, int(2e7 // (len(local) * times.shape[1])))
        best = np.concatenate(
            [
                local[np.argmin(misfit(times[start : start + chunk], travel), 1)]
                for start in range(0, len(times), chunk)
            ]
        )
        step = (self.high_ - self.low_) / (points - 1)
        for _ in range(levels - 1):
            for i, centre in enumerate(best):
                fine = self._grid(centre - 2 * step, centre + 2 * step, refine_points)
                observed = np.isfinite(times[i])
                travel = self.travel_time_s(self._to_xyz(fine), observed)
                best[i] = fine[np.argmin(misfit(times[i : i + 1, observed], travel)[0])]
            step = 4 * step / (refine_points - 1)
        return best

    def _geiger(self, times: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Refine each event's position and origin time (both unknowns, so that a robust loss
        sees the raw residuals: demeaning would spread one bad pick over all of them)."""
        located = start.copy()
        scale = float(np.max(self.high_ - self.low_))
        to_units = self.velocity_m_s_ / scale
        options = (
            {"method": "lm"}
            if self.loss == "linear"
            else {"loss": self.loss, "f_scale": self.f_scale_m_ / scale}
        )
        for i, row in enumerate(times):
            observed = np.isfinite(row)
            # Times relative to the event's mean pick: an absolute origin time (thousands of
            # seconds into a record) would dominate the parameter norm on which least_squares
            # bases its convergence test, stopping it centimetres short of the minimum.
            row = row - np.nanmean(row)

            def residual(q: np.ndarray, row: np.ndarray = row, observed: np.ndarray = observed):
                travel = self.travel_time_s(self._to_xyz(q[None, :-1]), observed)[0]
                return (row[observed] - travel) * to_units - q[-1]

            origin = np.median(residual(np.r_[start[i], 0.0]))
            solution = least_squares(residual, np.r_[start[i], origin], **options).x[:-1]
            if (solution < self.low_).any() or (solution > self.high_).any():
                # Few picks (4-5 on a sparse array) can leave a second, distant minimum: keep
                # the search inside the box the grid search covered.
                bounds = (np.r_[self.low_, -np.inf], np.r_[self.high_, np.inf])
                solution = least_squares(
                    residual,
                    np.r_[start[i], origin],
                    bounds=bounds,
                    **{k: v for k, v in options.items() if k != "method"},
                ).x[:-1]
            located[i] = solution
        return located

    def predict(self, times: np.ndarray) -> LocationResult:
        """Locate every event (row of `times`)."""
        times = as_columns(times)[0]
        if self.method == "grid":
            planar = len(self.low_) == 2
            points = self.grid_points or (121 if planar else 41)
            # 3-D refinement on 21^3 nodes, one level more: a fifth of the cost of 41^3 nodes
            # for a finer final step (span / 5000).
            local = self._grid_search(
                times, points, levels=3 if planar else 4, refine_points=None if planar else 21
            )
        else:
            local = self._geiger(times, self._grid_search(times, 21, levels=1))
        xyz = self._to_xyz(local)
        misfit = times - self.travel_time_s(xyz)
        origin = np.nanmean(misfit, axis=1)
        residual = np.sqrt(np.nanmean((misfit - origin[:, None]) ** 2, axis=1))
        return LocationResult(xyz_m=xyz, origin_time_s=origin, residual_s=residual)


class ProfileRegressor:
    """Source coordinates regressed from arrival-time profiles (Gaussian process or MLP).

    Features are origin-time-free profiles in seconds (`scale="none"`) with the documented
    imputation, plus mask columns when the training picks have gaps, standardised on the
    training events. The MLP is scikit-learn's (L-BFGS): leave-one-out on tens of events needs
    many tiny fits, where a Lightning run per fit would cost more in start-up than in training.

    Args:
        kind: "gp" or "mlp".
        hidden_units: MLP hidden layer sizes.
        seed: Seed of the MLP initialisation and the GP optimiser restarts.
    """

    def __init__(self, kind: str = "gp", hidden_units: tuple[int, ...] = (32,), seed: int = 0):
        self.kind = kind
        self.hidden_units = hidden_units
        self.seed = seed

    def _features(self, times: np.ndarray, mask_channel: bool) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        profile = arrival_time_profiles(times[:, :, None] if times.ndim == 2 else times, "none")
        return profile_features(profile, mask_channel=mask_channel)

    def _model(self) -> Any:
        if self.kind == "gp":
            from sklearn.gaussian_process import GaussianProcessRegressor
            from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

            n_features = self.n_features_
            kernel = ConstantKernel(1.0) * RBF(np.full(n_features, 3.0), (1e-2, 1e3))
            kernel = kernel + WhiteKernel(1e-2, (1e-6, 1.0))
            return GaussianProcessRegressor(
                kernel, normalize_y=True, n_restarts_optimizer=2, random_state=self.seed
            )
        if self.kind == "mlp":
            from sklearn.neural_network import MLPRegressor

            return MLPRegressor(
                hidden_layer_sizes=self.hidden_units,
                activation="tanh",
                solver="lbfgs",
                alpha=1e-2,
                max_iter=5000,
                random_state=self.seed,
            )
        raise InputError(f"unknown regressor '{self.kind}' (gp or mlp)", field="method")

    def fit(self, times: np.ndarray, truth_xyz: np.ndarray) -> ProfileRegressor:
        """Fit on events of known position."""
        self.mask_channel_ = bool(np.isnan(times).any())
        features = self._features(times, self.mask_channel_)
        self.n_features_ = features.shape[1]
        self.inputs_ = Normalisation.fit(features)
        self.targets_ = Normalisation.fit(truth_xyz)
        self.model_ = self._model().fit(
            self.inputs_.apply(features), self.targets_.apply(truth_xyz)
        )
        return self

    def predict_xyz(self, times: np.ndarray) -> np.ndarray:
        """Predicted positions (events, 3)."""
        features = self._features(times, self.mask_channel_)
        return self.targets_.invert(self.model_.predict(self.inputs_.apply(features)))


class HybridLocator:
    """Physics location corrected by a Gaussian process trained on the physics errors.

    The anisotropic, station-corrected model explains most of the arrival times; what it misses
    (heterogeneity, sensor size, picking bias) varies smoothly with the source, so a GP on the
    arrival-time profile learns the location error of the physics model from the training events.
    """

    def __init__(self, method: str = "geiger", seed: int = 0) -> None:
        self.method = method
        self.seed = seed

    def fit(
        self, times: np.ndarray, sensors_xyz: np.ndarray, truth_xyz: np.ndarray
    ) -> HybridLocator:
        """Fit the physics model, locate the training events, fit the GP on their errors."""
        self.physics_ = PhysicsLocator(
            self.method, station_corrections=True, anisotropic=True, loss=ROBUST_LOSS
        ).fit(times, sensors_xyz, truth_xyz)
        located = self.physics_.predict(times).xyz_m
        self.correction_ = ProfileRegressor("gp", seed=self.seed).fit(times, truth_xyz - located)
        return self

    def predict(self, times: np.ndarray) -> LocationResult:
        """Physics location plus the learned correction."""
        result = self.physics_.predict(times)
        result.xyz_m = result.xyz_m + self.correction_.predict_xyz(times)
        return result


def make_locator(
    method: str, *, velocity_m_s: float | None = None, vs_m_s: float | None = None, seed: int = 0
) -> PhysicsLocator | ProfileRegressor | HybridLocator:
    """Locator named `method`: geiger, grid (homogeneous), geiger-sc/grid-sc (station
    corrections), aniso (anisotropic + station corrections, robust Geiger), gp, mlp, hybrid."""
    if method in {"geiger", "grid"}:
        return PhysicsLocator(method, velocity_m_s=velocity_m_s, vs_m_s=vs_m_s)
    if method in {"geiger-sc", "grid-sc"}:
        return PhysicsLocator(
            method[:-3], velocity_m_s=velocity_m_s, vs_m_s=vs_m_s, station_corrections=True
        )
    if method == "aniso":
        return PhysicsLocator(
            "geiger", station_corrections=True, anisotropic=True, loss=ROBUST_LOSS
        )
    if method in {"gp", "mlp"}:
        return ProfileRegressor(method, seed=seed)
    if method == "hybrid":
        return HybridLocator(seed=seed)
    raise InputError(f"unknown method '{method}' ({', '.join(METHODS)})", field="--method")


def fit_predict(
    method: str,
    train_times: np.ndarray,
    sensors_xyz: np.ndarray,
    train_truth: np.ndarray | None,
    times: np.ndarray,
    *,
    velocity_m_s: float | None = None,
    vs_m_s: float | None = None,
    seed: int = 0,
) -> LocationResult:
    """Fit the locator `method` on training events and locate `times`."""
    locator = make_locator(method, velocity_m_s=velocity_m_s, vs_m_s=vs_m_s, seed=seed)
    if isinstance(locator, ProfileRegressor):
        if train_truth is None:
            raise InputError(f"method '{method}' learns from events with known x_m, y_m, z_m")
        locator.fit(train_times, train_truth)
        xyz = locator.predict_xyz(times)
        physics = PhysicsLocator("grid", velocity_m_s=velocity_m_s, vs_m_s=vs_m_s).fit(
            train_times, sensors_xyz, train_truth
        )
        misfit = as_columns(times)[0] - physics.travel_time_s(xyz)
        origin = np.nanmean(misfit, axis=1)
        residual = np.sqrt(np.nanmean((misfit - origin[:, None]) ** 2, axis=1))
        return LocationResult(xyz_m=xyz, origin_time_s=origin, residual_s=residual)
    if isinstance(locator, HybridLocator):
        if train_truth is None:
            raise InputError("method 'hybrid' learns from events with known x_m, y_m, z_m")
        return locator.fit(train_times, sensors_xyz, train_truth).predict(times)
    return locator.fit(train_times, sensors_xyz, train_truth).predict(times)


def cross_validate(
    method: str,
    times: np.ndarray,
    sensors_xyz: np.ndarray,
    truth_xyz: np.ndarray,
    *,
    folds: int | None = None,
    velocity_m_s: float | None = None,
    vs_m_s: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> LocationResult:
    """Locate each event with a locator fitted on events of other folds only.

    Args:
        folds: Number of folds, events assigned by a seeded permutation; None: leave-one-out
            (one fold per event), affordable for physics locators but slow for the learned ones
            on hundreds of events.
        progress: Show a progress bar over the folds on stderr.
    """
    from tqdm import tqdm

    n = len(times)
    fold_of = (
        np.arange(n)
        if folds is None
        else np.random.default_rng(seed).permutation(n) % min(folds, n)
    )
    xyz, origin, residual = np.empty((n, 3)), np.empty(n), np.empty(n)
    for fold in tqdm(np.unique(fold_of), desc=f"{method} folds", disable=not progress):
        test = fold_of == fold
        result = fit_predict(
            method,
            times[~test],
            sensors_xyz,
            truth_xyz[~test],
            times[test],
            velocity_m_s=velocity_m_s,
            vs_m_s=vs_m_s,
            seed=seed,
        )
        xyz[test], origin[test], residual[test] = (
            result.xyz_m,
            result.origin_time_s,
            result.residual_s,
        )
    return LocationResult(xyz_m=xyz, origin_time_s=origin, residual_s=residual)


class FaultPlacement:
    """Rigid placement of a fault plane, known only by in-plane coordinates (u, w), in the block.

    Fits a rotation, a translation and a homogeneous velocity (7 parameters) to the arrival times
    of sources of known in-plane position by least squares, from many starting orientations; used
    where a data set gives source positions on a fault but not the fault's position in the block.
    `to_uw` maps located sources back to in-plane coordinates, where they are scored.

    Args:
        seed: Seed of the random starting translations.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(
        self, times: np.ndarray, sensors_xyz: np.ndarray, plane_uw: np.ndarray
    ) -> FaultPlacement:
        """Fit the placement to the arrival times of sources at `plane_uw` (events, 2)."""
        rng = np.random.default_rng(self.seed)
        flat = _flat(plane_uw)
        aperture = float(np.ptp(sensors_xyz, axis=0).max())
        spread = np.nanmedian(np.nanmax(times, 1) - np.nanmin(times, 1))
        observed = np.isfinite(times)

        def residual(p: np.ndarray) -> np.ndarray:
            placed = Rotation.from_rotvec(p[3:6]).apply(flat) + p[:3]
            travel = np.linalg.norm(placed[:, None] - sensors_xyz[None], axis=2) / p[6]
            misfit = np.where(observed, times - travel, 0.0)
            mean = misfit.sum(1, keepdims=True) / observed.sum(1, keepdims=True)
            return (np.where(observed, misfit - mean, 0.0) / spread).ravel()

        best = None
        for rotation in Rotation.create_group("O"):
            for _ in range(2):
                shift = sensors_xyz.mean(0) - rotation.apply(flat).mean(0)
                shift = shift + rng.normal(0, 0.2 * aperture, 3)
                start = np.r_[shift, rotation.as_rotvec(), aperture / spread]
                solution = least_squares(residual, start, x_scale="jac")
                if best is None or solution.cost < best.cost:
                    best = solution
        self.shift_m_ = best.x[:3]
        self.rotation_ = Rotation.from_rotvec(best.x[3:6])
        self.velocity_m_s_ = float(best.x[6])
        return self

    def to_xyz(self, plane_uw: np.ndarray) -> np.ndarray:
        """Block coordinates (events, 3) of in-plane positions (events, 2)."""
        return self.rotation_.apply(_flat(plane_uw)) + self.shift_m_

    def to_uw(self, xyz_m: np.ndarray) -> np.ndarray:
        """In-plane coordinates (events, 2) of block positions, projected onto the plane."""
        flat = self.rotation_.inv().apply(np.asarray(xyz_m, dtype=float) - self.shift_m_)
        return flat[:, [0, 2]]


def _flat(plane_uw: np.ndarray) -> np.ndarray:
    """In-plane (u, w) as 3-D points (u, 0, w) of the unrotated plane."""
    plane_uw = np.asarray(plane_uw, dtype=float)
    return np.column_stack([plane_uw[:, 0], np.zeros(len(plane_uw)), plane_uw[:, 1]])


def leave_one_out_on_fault(
    methods: list[str],
    times: np.ndarray,
    sensors_xyz: np.ndarray,
    plane_uw: np.ndarray,
    *,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Leave-one-out location of sources known only by their in-plane position on a fault.

    Each fold fits the fault's placement in the block on its training events only (so the
    held-out event informs neither the placement nor the locator), fits every method in that
    frame and maps the held-out location back to in-plane coordinates.

    Returns:
        Per method, the located in-plane positions (events, 2) in metres.
    """
    from tqdm import tqdm

    located = {method: np.empty((len(times), 2)) for method in methods}
    for i in tqdm(range(len(times)), desc="folds", disable=not progress):
        train = np.arange(len(times)) != i
        placement = FaultPlacement(seed).fit(times[train], sensors_xyz, plane_uw[train])
        truth_xyz = placement.to_xyz(plane_uw[train])
        for method in methods:
            result = fit_predict(
                method, times[train], sensors_xyz, truth_xyz, times[i : i + 1], seed=seed
            )
            located[method][i] = placement.to_uw(result.xyz_m)[0]
    return located
