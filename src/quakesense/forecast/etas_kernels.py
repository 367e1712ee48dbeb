"""Kernels of the space-time ETAS model: Omori time law, power-law spatial law, region geometry.

Pure NumPy functions shared by the fit, the simulator and the forecasts of `forecast.etas`.

Spatial kernel (isotropic, magnitude scaled, normalised over the plane):

    f(r | m) = (q - 1) / (pi * sigma) * (1 + r^2 / sigma)^(-q),   sigma = d * exp(gamma * (m - mc)).

Its radial survival is S(r) = (1 + r^2 / sigma)^(1 - q). It is a bivariate Student-t law, i.e. a
Gaussian scale mixture: x | w ~ N(0, sigma / w * I) with w ~ Gamma(shape q - 1, scale 2). The
mixture form gives exact rectangle (grid-cell) integrals as a 1-D quadrature over w of products of
normal CDFs (`cell_masses`), which stays accurate for kernels far narrower than a cell, where the
density at the cell centre times the cell area is badly wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as MplPath
from scipy import special

from quakesense.core.errors import InputError

_TINY = 1e-300


def omori_cdf(
    tau_days: np.ndarray, c_days: float, p: float, max_lag_days: float = np.inf
) -> np.ndarray:
    """G(tau): integral of the Omori law g(t) = (p-1)/c (1+t/c)^-p over [0, tau] (0 if tau <= 0).

    `max_lag_days` truncates the law (g = 0 beyond it), as a fit with that pair cut-off assumes.
    """
    tau = np.clip(np.asarray(tau_days, dtype=float), 0.0, max_lag_days)
    return -np.expm1((1.0 - p) * np.log1p(tau / c_days))


def omori_log_pdf(tau_days: np.ndarray, c_days: float, p: float) -> np.ndarray:
    """log g(tau) for tau > 0."""
    return np.log(p - 1.0) - np.log(c_days) - p * np.log1p(np.asarray(tau_days) / c_days)


def omori_sample(
    rng: np.random.Generator, c_days: float, p: float, low_days: np.ndarray, high_days: np.ndarray
) -> np.ndarray:
    """Delays from the Omori law truncated to [low, high] (inverse-CDF sampling)."""
    g_lo = omori_cdf(low_days, c_days, p)
    g_hi = omori_cdf(high_days, c_days, p)
    u = g_lo + rng.random(np.shape(g_lo)) * (g_hi - g_lo)
    u = np.clip(u, 0.0, 1.0 - 1e-15)
    return c_days * np.expm1(np.log1p(-u) / (1.0 - p))


def spatial_log_pdf(r2_km2: np.ndarray, sigma_km2: np.ndarray, q: float) -> np.ndarray:
    """log f(r | m) given the squared distance and sigma = d exp(gamma (m - mc))."""
    return np.log(q - 1.0) - np.log(np.pi) - np.log(sigma_km2) - q * np.log1p(r2_km2 / sigma_km2)


def spatial_survival(r_km: np.ndarray, sigma_km2: np.ndarray, q: float) -> np.ndarray:
    """Probability that the power-law kernel puts an event farther than r."""
    return np.exp((1.0 - q) * np.log1p(np.square(r_km) / sigma_km2))


def spatial_sample_radius(rng: np.random.Generator, sigma_km2: np.ndarray, q: float) -> np.ndarray:
    """Distances drawn from the power-law kernel (inverse radial CDF)."""
    u = np.clip(rng.random(np.shape(sigma_km2)), 1e-15, 1.0)
    return np.sqrt(sigma_km2 * np.expm1(np.log(u) / (1.0 - q)))


def gr_sample(
    rng: np.random.Generator, n: int, mc: float, b_value: float, mmax: float
) -> np.ndarray:
    """Gutenberg-Richter magnitudes >= mc, truncated at mmax (inverse CDF)."""
    tail = 10.0 ** (-b_value * (mmax - mc))
    u = rng.random(n)
    return mc - np.log10(1.0 - u * (1.0 - tail)) / b_value


def gr_fraction(m_min: float, mc: float, b_value: float, mmax: float) -> float:
    """Fraction of events >= mc that are >= m_min under the truncated Gutenberg-Richter law."""
    if m_min <= mc:
        return 1.0
    if m_min >= mmax:
        return 0.0
    tail = 10.0 ** (-b_value * (mmax - mc))
    return float((10.0 ** (-b_value * (m_min - mc)) - tail) / (1.0 - tail))


@dataclass(frozen=True)
class PlanarRegion:
    """A polygon in the local km frame (x east, y north); the study region of an ETAS model.

    Attributes:
        vertices_km: (n, 2) polygon vertices, not repeating the first one.
    """

    vertices_km: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        verts = np.asarray(self.vertices_km, dtype=float)
        if verts.ndim != 2 or verts.shape[1] != 2 or len(verts) < 3:
            raise InputError("region needs >= 3 (x_km, y_km) vertices", field="region")
        if not np.all(np.isfinite(verts)):
            raise InputError("region vertices must be finite", field="region")
        if self.area_km2 <= 0:
            raise InputError("region polygon has zero area", field="region")

    @classmethod
    def from_bbox(
        cls, x_min_km: float, x_max_km: float, y_min_km: float, y_max_km: float
    ) -> PlanarRegion:
        """Axis-aligned rectangle."""
        if not (x_max_km > x_min_km and y_max_km > y_min_km):
            raise InputError(
                f"bounding box needs min < max, got x [{x_min_km}, {x_max_km}], "
                f"y [{y_min_km}, {y_max_km}]",
                field="region",
            )
        return cls(
            (
                (float(x_min_km), float(y_min_km)),
                (float(x_max_km), float(y_min_km)),
                (float(x_max_km), float(y_max_km)),
                (float(x_min_km), float(y_max_km)),
            )
        )

    @classmethod
    def coerce(cls, region: PlanarRegion | tuple | list | np.ndarray) -> PlanarRegion:
        """Accept a PlanarRegion, a bbox (x_min, x_max, y_min, y_max) or an (n, 2) vertex array."""
        if isinstance(region, PlanarRegion):
            return region
        arr = np.asarray(region, dtype=float)
        if arr.shape == (4,):
            return cls.from_bbox(*arr)
        if arr.ndim == 2 and arr.shape[1] == 2:
            return cls(tuple(map(tuple, arr.tolist())))
        raise InputError(
            "region must be (x_min, x_max, y_min, y_max) or an (n, 2) array of vertices in km",
            field="region",
        )

    @property
    def vertices(self) -> np.ndarray:
        """(n, 2) vertex array."""
        return np.asarray(self.vertices_km, dtype=float)

    @property
    def area_km2(self) -> float:
        """Polygon area (shoelace formula)."""
        v = np.asarray(self.vertices_km, dtype=float)
        x, y = v[:, 0], v[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max)."""
        v = self.vertices
        return (
            float(v[:, 0].min()),
            float(v[:, 0].max()),
            float(v[:, 1].min()),
            float(v[:, 1].max()),
        )

    def contains(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """Boolean mask of points inside the polygon (matplotlib Path)."""
        pts = np.column_stack([np.ravel(x_km), np.ravel(y_km)])
        if len(pts) == 0:
            return np.zeros(0, dtype=bool)
        return MplPath(self.vertices).contains_points(pts).reshape(np.shape(x_km))

    def sample_uniform(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n points uniform in the polygon (rejection from the bounding box)."""
        x0, x1, y0, y1 = self.bounds
        xs, ys = [np.zeros(0)], [np.zeros(0)]
        have = 0
        while have < n:
            m = max(64, int(1.3 * (n - have) * (x1 - x0) * (y1 - y0) / self.area_km2))
            x = rng.uniform(x0, x1, m)
            y = rng.uniform(y0, y1, m)
            keep = self.contains(x, y)
            xs.append(x[keep])
            ys.append(y[keep])
            have += int(keep.sum())
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]

    def ray_crossings(
        self, x_km: np.ndarray, y_km: np.ndarray, n_angles: int = 72, max_r_km: float = np.inf
    ) -> RayCrossings:
        """Crossings of `n_angles` rays from each point with the boundary, for kernel masses.

        Along a ray the inside indicator starts at I0 and toggles at each crossing r_k, so a radial
        kernel with survival S puts mass I0 + sum_k delta_k S(r_k) on the ray's inside part
        (delta_k alternating from 1 - 2 I0); a kernel cut at `max_r_km` adds -I(R) S(R). The
        distances and coefficients do not depend on kernel parameters, so the fit computes them
        once and gets the mass inside the region for any parameters cheaply (`RayCrossings.mass`).
        """
        px_all, py_all = np.asarray(x_km, float).ravel(), np.asarray(y_km, float).ravel()
        inside = self.contains(px_all, py_all).astype(float)
        step = max(1, 2_000_000 // (n_angles * len(self.vertices)))
        parts = [
            self._rays(
                px_all[s : s + step], py_all[s : s + step], inside[s : s + step], n_angles, max_r_km
            )
            for s in range(0, len(px_all), step)
        ]
        width = max([d.shape[-1] for d, _ in parts], default=0)
        dist = np.concatenate(
            [np.pad(d, ((0, 0), (0, 0), (0, width - d.shape[-1]))) for d, _ in parts]
            or [np.zeros((0, n_angles, 0), np.float32)]
        )
        coef = np.concatenate(
            [np.pad(c, ((0, 0), (0, 0), (0, width - c.shape[-1]))) for _, c in parts]
            or [np.zeros((0, n_angles, 0), np.int8)]
        )
        if np.isfinite(max_r_km):
            at_r = inside[:, None] + coef.sum(axis=-1)  # indicator at the cut-off radius
            dist = np.concatenate([dist, np.full((*at_r.shape, 1), max_r_km, np.float32)], -1)
            coef = np.concatenate([coef, -at_r[..., None].astype(np.int8)], axis=-1)
        return RayCrossings(dist=dist, coef=coef, inside=inside)

    def _rays(
        self, px: np.ndarray, py: np.ndarray, inside: np.ndarray, n_angles: int, max_r_km: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted crossing distances (float32, 0 where unused) and +-1 coefficients (int8) of
        the rays from a chunk of points, trimmed to the most crossings any ray has."""
        v = self.vertices
        a, b = v, np.roll(v, -1, axis=0)
        theta = (np.arange(n_angles) + 0.5) * (2 * np.pi / n_angles)
        ux, uy = np.cos(theta), np.sin(theta)
        px, py = px[:, None, None], py[:, None, None]
        ex, ey = (b - a)[:, 0], (b - a)[:, 1]
        # Solve P + s u = A + t e for s > 0, t in [0, 1).
        den = ux[:, None] * ey[None, :] - uy[:, None] * ex[None, :]
        safe = np.where(np.abs(den) < 1e-12, np.nan, den)
        wx, wy = a[:, 0] - px, a[:, 1] - py
        s = (wx * ey - wy * ex) / safe
        t = (wx * uy[:, None] - wy * ux[:, None]) / safe
        hit = (s > 0) & (t >= 0) & (t < 1) & (s < max_r_km)
        dist = np.sort(np.where(hit, s, np.inf), axis=-1)
        width = int(np.isfinite(dist).sum(axis=-1).max(initial=0))
        dist = dist[..., :width]
        first = (1.0 - 2.0 * inside)[:, None, None]
        coef = np.where(np.isfinite(dist), first * (-1.0) ** np.arange(width), 0.0)
        return np.where(np.isfinite(dist), dist, 0.0).astype(np.float32), coef.astype(np.int8)


@dataclass(frozen=True)
class RayCrossings:
    """Ray crossings (n_points, n_angles, k): distances (0 where unused) and their coefficients."""

    dist: np.ndarray
    coef: np.ndarray
    inside: np.ndarray

    def mass(self, survival: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Mass inside the region of a radial kernel centred on each point.

        Args:
            survival: S(r) of the kernel, broadcast against `dist` ((n_points, 1, 1) parameters).
        """
        per_ray = self.inside[:, None] + np.sum(self.coef * survival(self.dist), axis=-1)
        return np.clip(per_ray.mean(axis=-1), 0.0, 1.0)


def _mixture_nodes(q: float, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights over w ~ Gamma(q - 1, scale 2): Gauss-Legendre in log w, weights sum to 1."""
    from scipy import stats  # heavy import, only needed for forecasts

    law = stats.gamma(a=q - 1.0, scale=2.0)
    lo, hi = np.log(law.ppf(1e-7) + _TINY), np.log(law.isf(1e-12))
    x, wt = np.polynomial.legendre.leggauss(n_nodes)
    s = lo + (x + 1.0) * (hi - lo) / 2.0
    w = np.exp(s)
    weights = wt * law.pdf(w) * w
    return w, weights / weights.sum()


def cell_masses(
    x_km: np.ndarray,
    y_km: np.ndarray,
    sigma_km2: np.ndarray,
    q: float,
    x_edges_rel_km: np.ndarray,
    y_edges_rel_km: np.ndarray,
    n_nodes: int = 48,
) -> np.ndarray:
    """Exact-to-quadrature kernel mass of each event in each cell of a window of cells.

    Args:
        x_km, y_km, sigma_km2: (n,) event positions and kernel scales.
        q: Spatial decay exponent (> 1).
        x_edges_rel_km: (n, nx + 1) cell edges for each event (absolute km).
        y_edges_rel_km: (n, ny + 1) cell edges for each event (absolute km).
        n_nodes: Quadrature nodes over the Gamma mixing variable.

    Returns:
        (n, ny, nx) masses; summed over the whole plane they are 1.
    """
    w, wt = _mixture_nodes(q, n_nodes)
    scale = np.sqrt(w[None, :] / np.asarray(sigma_km2, float)[:, None])  # (n, K) = 1 / std
    zx = (x_edges_rel_km - np.asarray(x_km, float)[:, None])[:, None, :] * scale[:, :, None]
    zy = (y_edges_rel_km - np.asarray(y_km, float)[:, None])[:, None, :] * scale[:, :, None]
    dx = np.diff(special.ndtr(zx), axis=-1)  # (n, K, nx)
    dy = np.diff(special.ndtr(zy), axis=-1)  # (n, K, ny)
    return np.einsum("k,nky,nkx->nyx", wt, dy, dx, optimize=True)


@dataclass(frozen=True)
class CascadeTimeTables:
    """Time factors of every aftershock generation for a target window [T + h0, T + h1).

    Generation j + 1 of a history event at lag L = T - t_i counts when its first delay ends after
    T (earlier children are in the history already) and the sum of its j + 1 delays lands in the
    window. Tabulated on a grid uniform in x = log1p(L / c) (`lag_x`, step `lag_step`).

    Attributes:
        lag_x: (n_lag,) grid of log1p(L / c).
        lag_step: Grid step in x.
        generation_prob: (n_lag, K): P(generation j + 1 in the window) for j = 1..K per unit
            productivity, without the per-generation offspring factors nu^j.
        cascade: (n_lag,) sum_j nu^j generation_prob[:, j - 1]: all generations >= 2.
        background: (K,) expected generation-j descendants in the window of the background events
            of one day-unit of rate in [T, T + h1), without nu^j.
        nu: Mean direct offspring per event used for the tables.
    """

    lag_x: np.ndarray
    lag_step: float
    generation_prob: np.ndarray
    cascade: np.ndarray
    background: np.ndarray
    nu: float

    def lookup(self, lag_days: np.ndarray, c_days: float) -> tuple[np.ndarray, np.ndarray]:
        """Grid index and linear weight of each lag (clamped to the grid)."""
        pos = np.log1p(np.maximum(lag_days, 0.0) / c_days) / self.lag_step
        idx = np.clip(pos.astype(np.int64), 0, len(self.lag_x) - 2)
        return idx, np.clip(pos - idx, 0.0, 1.0)


def cascade_time_tables(
    c_days: float,
    p: float,
    nu: float,
    horizon_days: tuple[float, float],
    max_lag_days: float,
    lag_max_days: float,
    *,
    n_lattice: int = 4000,
    n_lag: int = 1024,
    tol: float = 1e-9,
    max_generations: int = 2000,
) -> CascadeTimeTables:
    """Tables of `CascadeTimeTables` by exact convolution of Omori delays on a lattice.

    Delays after the first are rounded to multiples of dt = h1 / n_lattice (each sum of delays is
    off by at most a few dt, against a window of h1 - h0 days); the first delay of a history
    event's child is integrated in closed form per lattice cell. Generations stop when
    nu^j P(j delays < h1) < tol, so branching ratios >= 1 still give finite window counts.
    """
    from scipy import signal

    h0, h1 = horizon_days
    dt = h1 / n_lattice
    i0 = round(h0 / dt)
    grid = np.r_[0.0, (np.arange(n_lattice) + 0.5) * dt]
    pmf1 = np.diff(omori_cdf(grid, c_days, p, max_lag_days))  # mass at lattice point n
    pmf, rows = pmf1, []
    for j in range(1, max_generations + 1):
        cdf = np.cumsum(pmf)
        early = (
            np.zeros(n_lattice) if i0 == 0 else np.r_[cdf[i0 - 1 :: -1], np.zeros(n_lattice - i0)]
        )
        rows.append(cdf[::-1] - early)  # P(n dt + S_j in window) for n = 0..n_lattice - 1
        if nu**j * cdf[-1] < tol:
            break
        pmf = np.maximum(signal.fftconvolve(pmf, pmf1)[:n_lattice], 0.0)
    window_w = np.array(rows)  # (K, n_lattice)
    lag_x = np.linspace(0.0, np.log1p(max(lag_max_days, h1) / c_days), n_lag)
    lag = c_days * np.expm1(lag_x)
    first = np.diff(omori_cdf(lag[:, None] + grid[None, :], c_days, p, max_lag_days), axis=1)
    generation_prob = first @ window_w.T  # (n_lag, K)
    nu_pow = nu ** np.arange(1, len(rows) + 1)
    return CascadeTimeTables(
        lag_x=lag_x,
        lag_step=float(lag_x[1] - lag_x[0]),
        generation_prob=generation_prob,
        cascade=generation_prob @ nu_pow,
        background=dt * window_w.sum(axis=1),
        nu=float(nu),
    )
