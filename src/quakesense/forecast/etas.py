"""Space-time ETAS: EM inversion, continuation simulation and gridded expected counts.

No package on PyPI fits this job (the reference implementations are unpublished there or temporal
only), so the model is written here on NumPy/SciPy and checked by recovering the parameters of
catalogs simulated from known values (tests/forecast/test_etas.py, benchmarks/bench_etas.py).

Conditional intensity (events/day/km^2) of events with m >= mc at (t, x, y):

    lambda(t, x, y) = mu * u(x, y) + sum_{t_i < t} kappa(m_i) g(t - t_i) f(x - x_i, y - y_i | m_i)

    kappa(m) = k0 * exp(alpha * (m - mc))                 expected number of direct aftershocks
    g(t)     = (p - 1) / c * (1 + t / c)^(-p)             Omori-Utsu law, normalised on t > 0
    f(r | m) = (q - 1) / (pi sigma) (1 + r^2 / sigma)^-q,  sigma = d * exp(gamma * (m - mc))

`mu` is the mean background rate density over the region (events/day/km^2) and u(x, y) >= 0 a
relative background intensity with mean 1 over the region (0 outside), so the background produces
mu * area * duration events in the region. Magnitudes follow Gutenberg-Richter with `b_value`,
truncated at `mmax`, independently of the branching; the branching ratio is
k0 * E[exp(alpha (m - mc))].
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, sparse
from scipy.spatial import cKDTree

from quakesense.core.errors import InputError
from quakesense.forecast.etas_kernels import (
    CascadeTimeTables,
    PlanarRegion,
    RayCrossings,
    cascade_time_tables,
    cell_masses,
    gr_fraction,
    gr_sample,
    omori_cdf,
    omori_log_pdf,
    omori_sample,
    spatial_log_pdf,
    spatial_sample_radius,
)

CATALOG_COLUMNS = ("t_days", "x_km", "y_km", "magnitude")
_EPS = 1e-300


@dataclass(frozen=True)
class EtasParams:
    """Parameters of the space-time ETAS model (see the module docstring for the formulas).

    Attributes:
        mu: Background rate density, events/day/km^2 (mean over the region).
        k0: Productivity: expected direct aftershocks of an m = mc event.
        alpha: Productivity growth per magnitude unit (1/magnitude).
        c_days: Omori c (days).
        p: Omori decay exponent (> 1).
        d_km2: Spatial scale of an m = mc event (km^2).
        q: Spatial decay exponent (> 1).
        gamma: Growth of the spatial scale per magnitude unit.
    """

    mu: float
    k0: float
    alpha: float
    c_days: float
    p: float
    d_km2: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        bad = [
            name
            for name, ok in (
                ("mu", self.mu >= 0),
                ("k0", self.k0 >= 0),
                ("c_days", self.c_days > 0),
                ("p", self.p > 1),
                ("d_km2", self.d_km2 > 0),
                ("q", self.q > 1),
            )
            if not (ok and np.isfinite(getattr(self, name)))
        ]
        if bad:
            raise InputError(f"invalid ETAS parameters {bad}: {self}", field=bad[0])

    def to_dict(self) -> dict[str, float]:
        """JSON-ready dict."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EtasParams:
        """Inverse of `to_dict`; unknown or missing keys raise InputError."""
        names = set(cls.__dataclass_fields__)
        unknown, missing = set(data) - names, names - set(data)
        if unknown or missing:
            raise InputError(
                f"ETAS parameters: unknown {sorted(unknown)}, missing {sorted(missing)}",
                field=sorted(unknown | missing)[0],
            )
        return cls(**{k: float(data[k]) for k in names})

    def productivity(self, magnitude: np.ndarray, mc: float) -> np.ndarray:
        """kappa(m): expected number of direct aftershocks."""
        return self.k0 * np.exp(self.alpha * (np.asarray(magnitude, float) - mc))

    def sigma_km2(self, magnitude: np.ndarray, mc: float) -> np.ndarray:
        """Spatial scale sigma(m) in km^2."""
        return self.d_km2 * np.exp(self.gamma * (np.asarray(magnitude, float) - mc))

    def branching_ratio(self, mc: float, b_value: float, mmax: float) -> float:
        """Mean number of direct aftershocks per event under truncated Gutenberg-Richter."""
        beta, span = b_value * np.log(10.0), mmax - mc
        if abs(beta - self.alpha) < 1e-12:
            mean_exp = beta * span / -np.expm1(-beta * span)
        else:
            mean_exp = (
                beta / (beta - self.alpha) * -np.expm1((self.alpha - beta) * span)
            ) / -np.expm1(-beta * span)
        return float(self.k0 * mean_exp)


class UniformBackground:
    """Relative background intensity u = 1 inside the region, 0 outside."""

    def __init__(self, region: PlanarRegion) -> None:
        self.region = region

    def __call__(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """u(x, y)."""
        return self.region.contains(x_km, y_km).astype(float)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n background epicentres."""
        return self.region.sample_uniform(rng, n)

    def cell_integrals(
        self, x_edges_km: np.ndarray, y_edges_km: np.ndarray, n_sub: int = 4
    ) -> np.ndarray:
        """(ny, nx) integral of u over each cell (km^2): mean of n_sub x n_sub points x area."""
        return _cell_integrals(self, x_edges_km, y_edges_km, n_sub)


class KernelBackground(UniformBackground):
    """Variable-bandwidth Gaussian kernel estimate of u (Zhuang et al. 2002 style).

    u(x) = area * sum_j phi_j k_{h_j}(x - x_j) / sum_j phi_j F_j inside the region, where phi_j is
    the probability that event j is a background event, h_j = max(h_min, distance to its
    n-th nearest neighbour) and F_j the mass of kernel j inside the region; kernels are cut at
    4 h_j.
    """

    def __init__(
        self,
        region: PlanarRegion,
        x_km: np.ndarray,
        y_km: np.ndarray,
        weight: np.ndarray,
        bandwidth_km: np.ndarray,
        mass_inside: np.ndarray,
    ) -> None:
        super().__init__(region)
        self.x_km, self.y_km = np.asarray(x_km, float), np.asarray(y_km, float)
        self.weight = np.asarray(weight, float)
        self.bandwidth_km = np.asarray(bandwidth_km, float)
        self.norm = float(np.sum(self.weight * mass_inside)) / region.area_km2

    def __call__(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """u(x, y)."""
        shape = np.shape(x_km)
        x, y = np.ravel(x_km).astype(float), np.ravel(y_km).astype(float)
        dens = np.zeros(len(x))
        tree = cKDTree(np.column_stack([x, y]))
        for s in range(0, len(self.x_km), 64):  # source chunks bound the pair memory
            sl = slice(s, s + 64)
            kern = _kde_pairs(self.x_km[sl], self.y_km[sl], self.bandwidth_km[sl], x, y, tree)
            dens += kern.T @ self.weight[sl]
        return (dens / max(self.norm, _EPS) * self.region.contains(x, y)).reshape(shape)

    def cell_integrals(
        self, x_edges_km: np.ndarray, y_edges_km: np.ndarray, n_sub: int = 4
    ) -> np.ndarray:
        """(ny, nx) integral of u over each cell (km^2).

        Cells wholly inside the region (all n_sub x n_sub sample points inside) get the exact
        Gaussian cell masses of every kernel (normal CDF products over the cells within 4
        bandwidths); cells cut by the boundary average u over their sample points. Cost ~
        kernels x cells per kernel, plus boundary cells x n_sub^2 points.
        """
        area = np.outer(np.diff(y_edges_km), np.diff(x_edges_km))
        share = _cell_integrals(UniformBackground(self.region), x_edges_km, y_edges_km, n_sub)
        share /= area
        out = _gaussian_cell_sums(
            self.x_km, self.y_km, self.bandwidth_km, self.weight, x_edges_km, y_edges_km
        ) / max(self.norm, _EPS)
        out[share < 1.0] = 0.0
        iy, ix = np.nonzero((share > 0.0) & (share < 1.0))
        if iy.size:
            frac = (np.arange(n_sub) + 0.5) / n_sub
            px = x_edges_km[ix, None] + np.diff(x_edges_km)[ix, None] * frac
            py = y_edges_km[iy, None] + np.diff(y_edges_km)[iy, None] * frac
            gx = np.broadcast_to(px[:, None, :], (iy.size, n_sub, n_sub))
            gy = np.broadcast_to(py[:, :, None], (iy.size, n_sub, n_sub))
            out[iy, ix] = self(gx, gy).mean(axis=(1, 2)) * area[iy, ix]
        return out

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n background epicentres: pick a kernel by weight, add Gaussian noise, keep inside."""
        prob = self.weight / self.weight.sum()
        xs, ys, have = [np.zeros(0)], [np.zeros(0)], 0
        while have < n:
            m = max(64, 2 * (n - have))
            j = rng.choice(len(prob), size=m, p=prob)
            x = self.x_km[j] + rng.normal(size=m) * self.bandwidth_km[j]
            y = self.y_km[j] + rng.normal(size=m) * self.bandwidth_km[j]
            keep = self.region.contains(x, y)
            xs.append(x[keep])
            ys.append(y[keep])
            have += int(keep.sum())
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _gaussian_cell_sums(
    x: np.ndarray,
    y: np.ndarray,
    h: np.ndarray,
    weight: np.ndarray,
    xe: np.ndarray,
    ye: np.ndarray,
    batch_elems: int = 4_000_000,
) -> np.ndarray:
    """(ny, nx) sum_j weight_j x mass of the Gaussian N((x_j, y_j), h_j^2 I) in each cell, over
    the block of cells within 4 h_j (mass outside the grid is dropped)."""
    from scipy import special

    nx, ny = len(xe) - 1, len(ye) - 1
    out = np.zeros(ny * nx)
    wx = np.ceil(8.0 * h / np.diff(xe).min()).astype(np.int64) + 2
    wy = np.ceil(8.0 * h / np.diff(ye).min()).astype(np.int64) + 2
    ix0 = np.searchsorted(xe, x - 4.0 * h, side="right") - 1
    iy0 = np.searchsorted(ye, y - 4.0 * h, side="right") - 1
    order = np.argsort(wx * wy, kind="stable")
    start = 0
    while start < len(order):
        big = int(wx[order[start]] * wy[order[start]])
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * int(
            wx[order[stop]] * wy[order[stop]]
        ) <= max(batch_elems, big):
            stop += 1
        b = order[start:stop]
        start = stop
        cx = ix0[b, None] + np.arange(int(wx[b].max()) + 1)
        cy = iy0[b, None] + np.arange(int(wy[b].max()) + 1)
        px = np.diff(special.ndtr((xe[np.clip(cx, 0, nx)] - x[b, None]) / h[b, None]), axis=1)
        py = np.diff(special.ndtr((ye[np.clip(cy, 0, ny)] - y[b, None]) / h[b, None]), axis=1)
        cells = (
            np.clip(cy[:, :-1], 0, ny - 1)[:, :, None] * nx
            + np.clip(cx[:, :-1], 0, nx - 1)[:, None, :]
        )
        values = weight[b, None, None] * py[:, :, None] * px[:, None, :]
        out += np.bincount(cells.ravel(), values.ravel(), minlength=ny * nx)
    return out.reshape(ny, nx)


def _cell_integrals(
    background: UniformBackground, x_edges_km: np.ndarray, y_edges_km: np.ndarray, n_sub: int
) -> np.ndarray:
    frac = (np.arange(n_sub) + 0.5) / n_sub
    xs = (x_edges_km[:-1, None] + np.diff(x_edges_km)[:, None] * frac).ravel()
    ys = (y_edges_km[:-1, None] + np.diff(y_edges_km)[:, None] * frac).ravel()
    gx, gy = np.meshgrid(xs, ys)
    u = background(gx, gy).reshape(len(y_edges_km) - 1, n_sub, len(x_edges_km) - 1, n_sub)
    area = np.outer(np.diff(y_edges_km), np.diff(x_edges_km))
    return u.mean(axis=(1, 3)) * area


def _kde_pairs(
    sx: np.ndarray,
    sy: np.ndarray,
    h: np.ndarray,
    ex: np.ndarray,
    ey: np.ndarray,
    tree: cKDTree | None = None,
) -> sparse.csr_matrix:
    """Sparse (n_sources, n_eval) matrix of Gaussian kernel values, cut at 4 bandwidths.

    Sources are grouped by bandwidth (factor-2 bins, at most 20 000 a query) and each group is
    matched to the evaluation points with one `sparse_distance_matrix` call at the group's largest
    radius, so memory is ~ the number of pairs in numeric arrays (no per-pair Python objects).
    """
    tree = tree or cKDTree(np.column_stack([ex, ey]))
    level = np.floor(np.log2(h)).astype(np.int64)
    order = np.lexsort((np.arange(len(h)), level))
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for lv in np.unique(level):
        members = order[level[order] == lv]
        for s in range(0, len(members), 20_000):
            src = members[s : s + 20_000]
            found = cKDTree(np.column_stack([sx[src], sy[src]])).sparse_distance_matrix(
                tree, 4.0 * float(h[src].max()), output_type="ndarray"
            )
            keep = found["v"] <= 4.0 * h[src][found["i"]]
            rows.append(src[found["i"][keep]])
            cols.append(found["j"][keep].astype(np.int64))
    row, col = np.concatenate(rows), np.concatenate(cols)
    d2 = (ex[col] - sx[row]) ** 2 + (ey[col] - sy[row]) ** 2
    val = np.exp(-d2 / (2.0 * h[row] ** 2)) / (2.0 * np.pi * h[row] ** 2)
    return sparse.csr_matrix((val, (row, col)), shape=(len(sx), len(ex)))


def magnitude_bin_width(
    magnitude: np.ndarray,
    *,
    candidates: tuple[float, ...] = (0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001),
    share: float = 0.99,
) -> float:
    """Bin width of catalog magnitudes: the coarsest candidate step on whose grid at least
    `share` of the values lie (a few finer values are common in merged catalogs); 0.0 when none
    fits (continuous magnitudes)."""
    m = np.asarray(magnitude, dtype=float)
    m = m[np.isfinite(m)]
    for step in candidates:
        if m.size and np.mean(np.abs(m / step - np.round(m / step)) < 1e-6 / step) >= share:
            return step
    return 0.0


def estimate_b_value(magnitude: np.ndarray, mc: float, *, bin_width: float | None = None) -> float:
    """Gutenberg-Richter b of magnitudes >= mc: Aki-Utsu maximum likelihood with the half-bin
    correction (seismostats `estimate_b`, i.e. mean over mc - bin_width / 2).

    Treating 0.1-binned magnitudes as continuous biases b upwards (1.13 instead of 1.00 at
    Mc = 3.0), and the bias cuts every forecast count above mc; so the bin width is always passed.

    Args:
        magnitude: Magnitudes (values below mc are ignored).
        mc: Completeness magnitude (on the bin grid for binned catalogs).
        bin_width: Magnitude bin width; None detects it (`magnitude_bin_width`) and rounds the
            few off-grid values onto the grid; an explicit width must match the data.

    Raises:
        InputError: magnitudes that do not fit the given bin width.
    """
    from seismostats.analysis import estimate_b

    m = np.asarray(magnitude, dtype=float)
    if bin_width is None:
        bin_width = magnitude_bin_width(m)
        if bin_width > 0:
            m = np.round(m / bin_width) * bin_width
    m = m[m >= mc - bin_width / 2 - 1e-9]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(estimate_b(m, mc=mc, delta_m=bin_width))
        except ValueError as exc:
            raise InputError(
                f"b-value estimate failed ({exc}); set magnitude_bin to the catalog's "
                "magnitude bin width (0 for continuous magnitudes) or pass b_value",
                field="magnitude",
            ) from exc


def _as_arrays(
    t_days: Any, x_km: Any, y_km: Any, magnitude: Any, source: str
) -> tuple[np.ndarray, ...]:
    arrays = []
    for name, values in zip(CATALOG_COLUMNS, (t_days, x_km, y_km, magnitude), strict=True):
        arr = np.asarray(values, dtype=float).ravel()
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(
                f"non-finite value {arr[bad[0]]}", source=source, field=name, row=int(bad[0])
            )
        arrays.append(arr)
    if len({len(a) for a in arrays}) != 1:
        raise InputError(
            f"columns differ in length: {[len(a) for a in arrays]}", source=source, field="t_days"
        )
    return tuple(arrays)


def _history_arrays(history: pd.DataFrame | None) -> tuple[np.ndarray, ...]:
    if history is None or len(history) == 0:
        return tuple(np.zeros(0) for _ in CATALOG_COLUMNS)
    missing = [c for c in CATALOG_COLUMNS if c not in history.columns]
    if missing:
        raise InputError(f"history lacks columns {missing}", source="history", field=missing[0])
    return _as_arrays(*(history[c] for c in CATALOG_COLUMNS), source="history")


def _simulate_cascade(
    params: EtasParams,
    mc: float,
    b_value: float,
    mmax: float,
    background: UniformBackground,
    t_start_days: float,
    t_end_days: float,
    history: tuple[np.ndarray, ...],
    rng: np.random.Generator,
    max_events: int,
    *,
    n_sim: int = 1,
    max_lag_days: float = np.inf,
    max_dist_km: float = np.inf,
) -> pd.DataFrame:
    """`n_sim` independent continuations in [t_start, t_end), given earlier `history`.

    Each holds background events plus aftershock cascades of history and new events; all
    continuations advance together, one generation at a time. The Omori law is truncated at
    `max_lag_days` and the spatial law at `max_dist_km` (children further away are dropped, not
    redrawn): the kernels a fit with these pair cut-offs estimates. Columns: t_days, x_km, y_km,
    magnitude, generation (0 = background), sim (continuation index) and first_order
    (background events and direct children of history events: the events the first-order
    forecast counts, a Poisson process given the history), sorted by (sim, t_days).
    """
    area = background.region.area_km2
    per_sim = rng.poisson(params.mu * area * (t_end_days - t_start_days), n_sim)
    n0 = int(per_sim.sum())
    bx, by = background.sample(rng, n0)
    new = (
        rng.uniform(t_start_days, t_end_days, n0),
        bx,
        by,
        gr_sample(rng, n0, mc, b_value, mmax),
        np.repeat(np.arange(n_sim), per_sim),
    )
    parts = [(*new, np.zeros(n0, dtype=np.int64), np.ones(n0, dtype=bool))]
    c, p = params.c_days, params.p
    ht, hx, hy, hm = history
    keep = ht < t_start_days
    ht, hx, hy, hm = ht[keep], hx[keep], hy[keep], hm[keep]
    expected = params.productivity(hm, mc) * (
        omori_cdf(t_end_days - ht, c, p, max_lag_days)
        - omori_cdf(t_start_days - ht, c, p, max_lag_days)
    )
    live = expected > 0
    ht, hx, hy, hm, expected = ht[live], hx[live], hy[live], hm[live], expected[live]
    n_child = rng.poisson(np.broadcast_to(expected, (n_sim, len(ht)))).ravel()
    src = np.repeat(np.tile(np.arange(len(ht)), n_sim), n_child)
    child_sim = np.repeat(np.repeat(np.arange(n_sim), len(ht)), n_child)
    first = (ht[src], hx[src], hy[src], hm[src], child_sim)
    frontier = [(first, np.zeros(len(src), dtype=np.int64), True), (new, parts[0][5], False)]
    total = n0
    while frontier:
        next_frontier = []
        for (pt, px, py, pm, ps), pg, given in frontier:
            if given:  # one row per child of a history event (counts drawn above)
                idx = np.arange(len(pt))
            else:
                mean = params.productivity(pm, mc) * omori_cdf(t_end_days - pt, c, p, max_lag_days)
                idx = np.repeat(np.arange(len(pt)), rng.poisson(mean))
            total += idx.size
            if total > max_events:
                raise InputError(
                    f"simulation exceeded max_events={max_events} (branching ratio "
                    f"{params.branching_ratio(mc, b_value, mmax):.2f}); the cascade is explosive",
                    field="max_events",
                )
            if idx.size == 0:
                continue
            low = np.maximum(t_start_days - pt[idx], 0.0)
            high = np.minimum(t_end_days - pt[idx], max_lag_days)
            t = pt[idx] + omori_sample(rng, c, p, low, high)
            r = spatial_sample_radius(rng, params.sigma_km2(pm[idx], mc), params.q)
            if np.isfinite(max_dist_km):
                near = r <= max_dist_km
                idx, t, r = idx[near], t[near], r[near]
            theta = rng.uniform(0.0, 2 * np.pi, idx.size)
            child = (
                t,
                px[idx] + r * np.cos(theta),
                py[idx] + r * np.sin(theta),
                gr_sample(rng, idx.size, mc, b_value, mmax),
                ps[idx],
            )
            g = pg[idx] + 1
            parts.append((*child, g, np.full(idx.size, given)))
            next_frontier.append((child, g, False))
        frontier = next_frontier
    cols = [np.concatenate(col) for col in zip(*parts, strict=True)]
    out = pd.DataFrame(
        dict(
            zip(
                ("t_days", "x_km", "y_km", "magnitude", "sim", "generation", "first_order"),
                cols,
                strict=True,
            )
        )
    )
    out = out.sort_values(["sim", "t_days"], kind="stable").reset_index(drop=True)
    return out[["t_days", "x_km", "y_km", "magnitude", "generation", "sim", "first_order"]]


def simulate_catalog(
    params: EtasParams,
    region: PlanarRegion | tuple | np.ndarray,
    t_end_days: float,
    mc: float,
    b_value: float,
    rng: np.random.Generator,
    *,
    mmax: float = 8.0,
    t_start_days: float = 0.0,
    max_events: int = 2_000_000,
) -> pd.DataFrame:
    """Synthetic ETAS catalog with a uniform background in `region`.

    Aftershocks may fall outside the region; they are kept (they trigger) and a fit treats them as
    history only. Columns: t_days, x_km, y_km, magnitude, generation (0 = background).
    """
    region = PlanarRegion.coerce(region)
    if params.branching_ratio(mc, b_value, mmax) >= 1.0:
        raise InputError(
            f"branching ratio {params.branching_ratio(mc, b_value, mmax):.3f} >= 1: explosive",
            field="k0",
        )
    empty = tuple(np.zeros(0) for _ in CATALOG_COLUMNS)
    return _simulate_cascade(
        params,
        mc,
        b_value,
        mmax,
        UniformBackground(region),
        t_start_days,
        t_end_days,
        empty,
        rng,
        max_events,
    ).drop(columns=["sim", "first_order"])


@dataclass(frozen=True)
class _Pairs:
    """Candidate (trigger i, target j) pairs with t_i < t_j within the lag/distance cut-offs.

    Stored compactly (int32 indices, float32 lags and squared distances: 16 bytes a pair).
    """

    i: np.ndarray  # index into all events
    j: np.ndarray  # index into targets
    dt_days: np.ndarray
    r2_km2: np.ndarray


def _build_pairs(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    target_idx: np.ndarray,
    max_lag_days: float,
    max_dist_km: float,
    *,
    m_rel: np.ndarray | None = None,
    max_parents: int | None = None,
    chunk_pairs: int = 4_000_000,
) -> _Pairs:
    """Pairs (parent i, target j) with 0 < t_j - t_i <= max_lag and distance <= max_dist.

    A spatial hash: events sorted by (tile of side max_dist, time), so each target's candidates
    in each of the 3 x 3 tiles around it are one contiguous time range. Work and memory are
    ~ the number of candidates (never n^2 when the cut-offs are finite), in chunks of
    `chunk_pairs`. With `max_parents`, a target keeps only its `max_parents` candidates of
    smallest nearest-neighbour proximity eta = dt (r^2 + 1 km^2)^0.8 10^-(m_i - mc) (Zaliapin et
    al. 2008, fractal dimension 1.6, b = 1), so memory is at most targets x max_parents.

    Args:
        t: Event times, sorted.
        x, y: Event positions (km).
        target_idx: Indices of the target events.
        max_lag_days, max_dist_km: Cut-offs (inf allowed).
        m_rel: Magnitudes above mc (needed with `max_parents`).
        max_parents: Most candidate parents per target (None: all).
        chunk_pairs: Candidate pairs handled at once.
    """
    n = len(t)
    if n == 0 or len(target_idx) == 0:
        return _Pairs(*(np.zeros(0, d) for d in (np.int32, np.int32, np.float32, np.float32)))
    side = max_dist_km if np.isfinite(max_dist_km) else max(np.ptp(x), np.ptp(y), 1.0) * 2.0
    tx = np.floor((x - x.min()) / side).astype(np.int64) + 1
    ty = np.floor((y - y.min()) / side).astype(np.int64) + 1
    n_ty = int(ty.max()) + 2
    key = tx * n_ty + ty
    t_rel = t - t[0]
    span = float(t_rel[-1]) + 1.0
    order = np.lexsort((t_rel, key))
    composite = key[order] * span + t_rel[order]
    offsets = np.array([dx * n_ty + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    tk = key[target_idx][:, None] + offsets  # (n_target, 9) neighbour tiles
    tt = t_rel[target_idx][:, None]
    lo = np.searchsorted(composite, tk * span + np.maximum(tt - max_lag_days, 0.0), side="left")
    hi = np.searchsorted(composite, tk * span + tt, side="left")
    counts = (hi - lo).sum(axis=1)
    bounds = np.searchsorted(np.cumsum(counts), np.arange(chunk_pairs, counts.sum(), chunk_pairs))
    parts: list[tuple[np.ndarray, ...]] = []
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(target_idx)], strict=True):
        if b <= a:
            continue
        seg_lo, seg_n = lo[a:b].ravel(), (hi[a:b] - lo[a:b]).ravel()
        total = int(seg_n.sum())
        if total == 0:
            continue
        seg_start = np.cumsum(seg_n) - seg_n
        pos = np.repeat(seg_lo - seg_start, seg_n) + np.arange(total)
        ii = order[pos]
        jj = np.repeat(np.repeat(np.arange(a, b), 9), seg_n)
        tj = target_idx[jj]
        dt = t[tj] - t[ii]
        r2 = (x[tj] - x[ii]) ** 2 + (y[tj] - y[ii]) ** 2
        ok = (r2 <= max_dist_km**2) & (dt > 0) & (dt <= max_lag_days)
        ii, jj, dt, r2 = ii[ok], jj[ok], dt[ok], r2[ok]
        if max_parents is not None and m_rel is not None and len(jj):
            eta = np.log(dt) + 0.8 * np.log1p(r2) - np.log(10.0) * m_rel[ii]
            rank_order = np.lexsort((eta, jj))
            first = np.searchsorted(jj[rank_order], jj[rank_order], side="left")
            keep = rank_order[np.arange(len(jj)) - first < max_parents]
            ii, jj, dt, r2 = ii[keep], jj[keep], dt[keep], r2[keep]
        parts.append(
            (ii.astype(np.int32), jj.astype(np.int32), dt.astype(np.float32), r2.astype(np.float32))
        )
    if not parts:
        return _Pairs(*(np.zeros(0, d) for d in (np.int32, np.int32, np.float32, np.float32)))
    return _Pairs(*(np.concatenate(col) for col in zip(*parts, strict=True)))


_BOUNDS = (  # alpha, log c, log(p-1), log d, log(q-1), gamma
    (0.0, 5.0),
    (np.log(1e-6), np.log(10.0)),
    (np.log(1e-3), np.log(3.0)),
    (np.log(1e-4), np.log(1e5)),
    (np.log(1e-3), np.log(5.0)),
    (0.0, 5.0),
)


class _TriggerObjective:
    """Negative expected complete log-likelihood of the triggering part, with analytic gradient.

    k0 is profiled out in closed form (k0 = S / Z), leaving theta = (alpha, log c, log(p - 1),
    log d, log(q - 1), gamma). The expected number of triggered events counts only the Omori mass
    inside [t_start, t_end] and the spatial mass inside the region (exact up to the ray quadrature).
    Sums run over chunks of `chunk` pairs or events, so float64 temporaries stay bounded.
    """

    def __init__(
        self,
        pairs: _Pairs,
        m_rel: np.ndarray,
        t_rel_start: np.ndarray,
        t_rel_end: np.ndarray,
        rays: RayCrossings,
        chunk: int = 1 << 20,
        max_r_km: float = np.inf,
    ) -> None:
        self.pairs, self.m_rel = pairs, m_rel
        self.t_lo, self.t_hi = t_rel_start, t_rel_end
        self.chunk = chunk
        # Events whose rays meet no boundary before the cut-off radius R (interior, or outside and
        # farther than R) need one term: mass inside = inside x (1 - S(R)).
        plain = np.zeros(len(m_rel), dtype=bool)
        if np.isfinite(max_r_km) and rays.dist.shape[-1]:
            plain = ~np.any(rays.coef[..., :-1] != 0, axis=(1, 2))
        edge = np.flatnonzero(~plain)
        self.ray_groups = [
            (edge, rays.dist[edge], rays.coef[edge], rays.inside[edge]),
            (
                np.flatnonzero(plain),
                np.full((int(plain.sum()), 1, 1), max_r_km, dtype=np.float32),
                -rays.inside[plain].astype(np.int8)[:, None, None],
                rays.inside[plain],
            ),
        ]
        self.set_weights(np.zeros(len(pairs.i)))

    def set_weights(self, weight: np.ndarray, floor: float = 1e-10) -> None:
        """Use branching probabilities `weight`; pairs below `floor` are dropped (negligible)."""
        keep = np.flatnonzero(weight > floor)
        self.w = weight[keep].astype(np.float32)
        self.mp = self.m_rel[self.pairs.i[keep]].astype(np.float32)
        self.dt, self.r2 = self.pairs.dt_days[keep], self.pairs.r2_km2[keep]
        self.s_total = float(np.sum(weight, dtype=np.float64))

    @staticmethod
    def unpack(theta: np.ndarray) -> tuple[float, ...]:
        a, lc, lp, ld, lq, g = theta
        return a, np.exp(lc), 1.0 + np.exp(lp), np.exp(ld), 1.0 + np.exp(lq), g

    def z_terms(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Z = sum_i exp(alpha m_i) H_i F_i and its gradient."""
        a, c, p, d, q, g = self.unpack(theta)
        z, grad = 0.0, np.zeros(6)
        for sl, dist, coef_all, inside_all in self._ray_chunks():
            m_rel = self.m_rel[sl]
            e = np.exp(a * m_rel)
            h = omori_cdf(self.t_hi[sl], c, p) - omori_cdf(self.t_lo[sl], c, p)
            dh_lc, dh_lp = np.zeros_like(h), np.zeros_like(h)
            for tau, sign in ((self.t_hi[sl], 1.0), (self.t_lo[sl], -1.0)):
                u = 1.0 + np.maximum(tau, 0.0) / c
                dh_lc += sign * -(p - 1.0) * u ** (-p) * (u - 1.0)
                dh_lp += sign * (p - 1.0) * u ** (1.0 - p) * np.log(u)
            sig = (d * np.exp(g * m_rel))[:, None, None]
            coef = coef_all.astype(float)
            r2s = np.square(dist, dtype=float) / sig
            log_term = np.log1p(r2s)
            surv = coef * np.exp((1.0 - q) * log_term)
            f = np.clip(inside_all + np.sum(surv, axis=-1).mean(axis=-1), 0.0, 1.0)
            df_lsig = (q - 1.0) * np.sum(r2s / (1.0 + r2s) * surv, axis=-1).mean(axis=-1)
            df_lq = -(q - 1.0) * np.sum(log_term * surv, axis=-1).mean(axis=-1)
            ehf = e * h * f
            z += float(np.sum(ehf))
            grad += [
                np.sum(m_rel * ehf),
                np.sum(e * dh_lc * f),
                np.sum(e * dh_lp * f),
                np.sum(e * h * df_lsig),
                np.sum(e * h * df_lq),
                np.sum(e * h * df_lsig * m_rel),
            ]
        return z, grad

    def _ray_chunks(self) -> Iterator[tuple[np.ndarray, ...]]:
        """(event indices, ray distances, coefficients, inside) in chunks of ~`chunk` values."""
        for idx, dist, coef, inside in self.ray_groups:
            step = max(1, self.chunk // max(dist[0].size if len(dist) else 1, 1))
            for s in range(0, len(idx), step):
                yield (
                    idx[s : s + step],
                    dist[s : s + step],
                    coef[s : s + step],
                    inside[s : s + step],
                )

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, c, p, d, q, g = self.unpack(theta)
        value, grad = 0.0, np.zeros(6)
        for s in range(0, len(self.w), self.chunk):
            sl = slice(s, s + self.chunk)
            w, mp = self.w[sl].astype(float), self.mp[sl].astype(float)
            dt, r2 = self.dt[sl].astype(float), self.r2[sl].astype(float)
            sig = d * np.exp(g * mp)
            value += np.sum(w * (a * mp + omori_log_pdf(dt, c, p) + spatial_log_pdf(r2, sig, q)))
            rt, rs = dt / c, r2 / sig
            spatial = w * (-1.0 + q * rs / (1.0 + rs))
            grad += [
                np.sum(w * mp),
                np.sum(w * (-1.0 + p * rt / (1.0 + rt))),
                np.sum(w * (1.0 - (p - 1.0) * np.log1p(rt))),
                np.sum(spatial),
                np.sum(w * (1.0 - (q - 1.0) * np.log1p(rs))),
                np.sum(mp * spatial),
            ]
        z, dz = self.z_terms(theta)
        s = self.s_total
        value += s * np.log(s / z) - s
        grad -= s / z * dz
        return -float(value), -grad

    def k0(self, theta: np.ndarray) -> float:
        """Closed-form k0 given the other parameters."""
        return self.s_total / self.z_terms(theta)[0]

    def triggering(self, params: EtasParams, mc: float, m: np.ndarray) -> np.ndarray:
        """kappa_i g(dt) f(r | m_i) of every pair (float32), computed in chunks."""
        pairs = self.pairs
        out = np.empty(len(pairs.i), dtype=np.float32)
        for s in range(0, len(out), self.chunk):
            sl = slice(s, s + self.chunk)
            mi = m[pairs.i[sl]]
            out[sl] = params.productivity(mi, mc) * np.exp(
                omori_log_pdf(pairs.dt_days[sl].astype(float), params.c_days, params.p)
                + spatial_log_pdf(
                    pairs.r2_km2[sl].astype(float), params.sigma_km2(mi, mc), params.q
                )
            )
        return out


@dataclass(frozen=True)
class SimulatedCounts:
    """Monte Carlo forecast from simulated continuations.

    Attributes:
        mean: (ny, nx) mean count per cell.
        std_error: (ny, nx) Monte Carlo standard error of each cell's mean.
        totals: (n_sim,) events in the grid's window per continuation.
        probability: (ny, nx) fraction of continuations with at least one event in the cell:
            the occurrence probability of a clustered process, which 1 - exp(-mean) overstates
            where the mean comes from rare large cascades.
        first_order_probability: (ny, nx) the same for the first-order events only (background
            events and direct children of history events).
    """

    mean: np.ndarray
    std_error: np.ndarray
    totals: np.ndarray
    probability: np.ndarray
    first_order_probability: np.ndarray

    @property
    def total_std_error(self) -> float:
        """Monte Carlo standard error of the mean grid total."""
        return float(self.totals.std(ddof=1) / np.sqrt(len(self.totals)))


class _CascadeOperator:
    """Spreads generations >= 2 in space by powers of the offspring kernel.

    Convolutions run by FFT on the padded grid; the kernel is centred on index 0 and the FFT grid
    exceeds the padded grid by two kernel widths, so wrap-around needs several generations all
    travelling the full kernel reach the same way (negligible mass, landing in the padding).
    """

    def __init__(
        self, kernel: np.ndarray, tables: CascadeTimeTables, shape_ext: tuple[int, int]
    ) -> None:
        from scipy import fft

        self.tables, self.shape_ext = tables, shape_ext
        ky, kx = kernel.shape
        self.pad_y, self.pad_x = ky // 2, kx // 2
        self.fft_shape = tuple(
            fft.next_fast_len(n + 2 * k, real=True)
            for n, k in zip(shape_ext, kernel.shape, strict=True)
        )
        centred = np.zeros(self.fft_shape)
        centred[:ky, :kx] = kernel
        spec = fft.rfft2(np.roll(centred, (-self.pad_y, -self.pad_x), axis=(0, 1))).ravel()
        n_gen = tables.generation_prob.shape[1]
        self.powers = np.empty((n_gen, spec.size), dtype=np.complex64)
        current = spec
        for j in range(n_gen):
            self.powers[j] = current
            current = current * spec
        self.spec_shape = (self.fft_shape[0], self.fft_shape[1] // 2 + 1)
        self.nu_pow = tables.nu ** np.arange(1, n_gen + 1)

    def _apply(self, maps: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """sum_j mix[:, j] K^(j + 1) * maps for (n, cells) maps and (n, K) mixes."""
        from scipy import fft

        n = len(maps)
        transfer = (mix.astype(np.complex64) @ self.powers).reshape(n, *self.spec_shape)
        spec = fft.rfft2(maps.reshape(n, *self.shape_ext), s=self.fft_shape) * transfer
        full = fft.irfft2(spec, s=self.fft_shape)
        return full[:, : self.shape_ext[0], : self.shape_ext[1]].reshape(n, -1)

    def spread_background(self, rate_per_day: np.ndarray) -> np.ndarray:
        """Descendants in the window of background events born in [T, T + h1), per cell."""
        return self._apply(rate_per_day[None], self.tables.background[None])[0]

    def history_weights(
        self, lag_days: np.ndarray, kappa: np.ndarray, c_days: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per (T, event): expected generation >= 2 descendants in the window (kappa times the
        cascade factor of its lag), and per T the kappa-weighted generation mix (n_T, K)."""
        tables = self.tables
        idx, w = tables.lookup(lag_days, c_days)
        weights = kappa * ((1.0 - w) * tables.cascade[idx] + w * tables.cascade[idx + 1])
        n, n_lag = lag_days.shape[0], len(tables.lag_x)
        key = (np.arange(n)[:, None] * n_lag + idx).ravel()
        binned = np.bincount(key, (kappa * (1.0 - w)).ravel(), minlength=n * n_lag)
        binned += np.bincount(key + 1, (kappa * w).ravel(), minlength=n * n_lag + 1)[:-1]
        return weights, binned.reshape(n, n_lag) @ tables.generation_prob

    def spread_history(self, maps: np.ndarray, generations: np.ndarray) -> np.ndarray:
        """Spread the children-born-after-T maps by the generation mix of each forecast time."""
        total = generations @ self.nu_pow
        mix = np.divide(
            generations,
            total[:, None],
            out=np.zeros_like(generations),
            where=total[:, None] > 0,
        )
        return self._apply(maps, mix)


def _time_chunks(
    t0: np.ndarray, t_sorted: np.ndarray, max_lag: float, chunk_size: int, max_elements: int
) -> list[np.ndarray]:
    """Groups of forecast times (in time order) whose lag block stays under `max_elements`."""
    order = np.argsort(t0, kind="stable")
    ts = t0[order]
    first = np.searchsorted(t_sorted, ts - max_lag, side="left")
    last = np.searchsorted(t_sorted, ts, side="left")
    chunks, s = [], 0
    while s < len(ts):
        e = s + 1
        while (
            e < len(ts)
            and e - s < chunk_size
            and (e + 1 - s) * (last[e] - first[s]) <= max_elements
        ):
            e += 1
        chunks.append(order[s:e])
        s = e
    return chunks


class SpaceTimeETAS:
    """Space-time ETAS fitted by EM (stochastic declustering), with simulation and forecasts.

    Fit: the E-step gives each target event j its background probability phi_j and branching
    probabilities p_ij; the M-step sets mu = sum(phi) / (area * duration) and maximises the expected
    complete log-likelihood of the triggering part over (k0, alpha, c, p, d, q, gamma) with L-BFGS-B
    (analytic gradient, k0 in closed form); with `background="kde"` the background shape u is
    re-estimated from phi by variable-bandwidth Gaussian kernels (`KernelBackground`). Events before
    `t_start` and events outside the region only trigger (auxiliary history); the log-likelihood
    integrates the triggering over [t_start, t_end] x region.

    Args:
        mc: Magnitude threshold; smaller events are ignored.
        b_value: Gutenberg-Richter b; None estimates it (seismostats, Aki-Utsu) from the targets.
        mmax: Largest magnitude for simulations and the Gutenberg-Richter truncation.
        magnitude_bin: Bin width of catalog magnitudes (0 for continuous) for the b-value
            estimate; None (default) detects it from the magnitudes (`magnitude_bin_width`).
        background: "kde" (variable-bandwidth kernels) or "uniform" (u = 1 in the region).
        n_neighbors: Neighbour rank that sets each kernel's bandwidth.
        min_bandwidth_km: Smallest kernel bandwidth.
        max_lag_days: Pairs further apart in time are not considered as triggering.
        max_dist_km: Pairs further apart in space are not considered as triggering.
        max_parents: Candidate parents kept per target, by nearest-neighbour proximity
            (`_build_pairs`); None keeps all. Bounds the fit's memory at ~40 bytes x targets x
            max_parents whatever the clustering.
        tol: EM stops when the log-likelihood changes by less than tol * (1 + |loglik|).
        max_iter: Most EM iterations.
        n_angles: Rays for the kernel mass inside the region.
        init_params: Starting parameters (mu is always re-initialised from the data).

    Fitted attributes: `params_` (EtasParams), `background_` (callable u(x, y)), `region_`,
    `b_value_`, `loglik_` (observed log-likelihood at the last E-step, i.e. of the returned
    parameters once converged), `n_iter_`, `n_target_`, `background_probability_` (phi per target).
    """

    def __init__(
        self,
        mc: float,
        *,
        b_value: float | None = None,
        mmax: float = 9.0,
        magnitude_bin: float | None = None,
        background: Literal["kde", "uniform"] = "kde",
        n_neighbors: int = 5,
        min_bandwidth_km: float = 2.0,
        max_lag_days: float = np.inf,
        max_dist_km: float = np.inf,
        max_parents: int | None = 200,
        tol: float = 1e-7,
        max_iter: int = 200,
        n_angles: int = 36,
        init_params: EtasParams | None = None,
    ) -> None:
        self.mc = mc
        self.b_value = b_value
        self.mmax = mmax
        self.magnitude_bin = magnitude_bin
        self.background = background
        self.n_neighbors = n_neighbors
        self.min_bandwidth_km = min_bandwidth_km
        self.max_lag_days = max_lag_days
        self.max_dist_km = max_dist_km
        self.max_parents = max_parents
        self.tol = tol
        self.max_iter = max_iter
        self.n_angles = n_angles
        self.init_params = init_params

    @classmethod
    def from_params(
        cls,
        params: EtasParams,
        mc: float,
        region: PlanarRegion | tuple | np.ndarray,
        *,
        b_value: float = 1.0,
        mmax: float = 9.0,
        background: UniformBackground | None = None,
        max_lag_days: float = np.inf,
    ) -> SpaceTimeETAS:
        """A ready-to-forecast model with given parameters (uniform background by default);
        `max_lag_days` truncates the Omori law as a fit with that cut-off does."""
        model = cls(mc, b_value=b_value, mmax=mmax, background="uniform", max_lag_days=max_lag_days)
        model.region_ = PlanarRegion.coerce(region)
        model.params_ = params
        model.background_ = background or UniformBackground(model.region_)
        model.b_value_ = float(b_value)
        model.loglik_, model.n_iter_ = float("nan"), 0
        return model

    def fit(
        self,
        t_days: np.ndarray,
        x_km: np.ndarray,
        y_km: np.ndarray,
        magnitude: np.ndarray,
        t_start_days: float,
        t_end_days: float,
        region: PlanarRegion | tuple | np.ndarray,
    ) -> SpaceTimeETAS:
        """Estimate the parameters by EM from events in [t_start, t_end] inside `region`.

        Raises:
            InputError: non-finite values, an empty target set or t_end <= t_start.
        """
        if self.background not in ("kde", "uniform"):
            raise InputError(
                f"background must be 'kde' or 'uniform', got {self.background!r}",
                field="background",
            )
        if not t_end_days > t_start_days:
            raise InputError(
                f"t_end_days {t_end_days} must exceed t_start_days {t_start_days}",
                field="t_end_days",
            )
        t, x, y, m = _as_arrays(t_days, x_km, y_km, magnitude, source="catalog")
        keep = (m >= self.mc) & (t <= t_end_days)
        order = np.argsort(t[keep], kind="stable")
        t, x, y, m = (a[keep][order] for a in (t, x, y, m))
        self.region_ = region = PlanarRegion.coerce(region)
        is_target = (t >= t_start_days) & region.contains(x, y)
        target_idx = np.flatnonzero(is_target)
        n_target = len(target_idx)
        if n_target < 10:
            raise InputError(
                f"only {n_target} events with m >= {self.mc} in [{t_start_days}, {t_end_days}] "
                "inside the region; ETAS needs at least 10",
                field="t_days",
            )
        self.b_value_ = self._b_value(m[target_idx])
        area, duration = region.area_km2, t_end_days - t_start_days
        m_rel = m - self.mc
        pairs = _build_pairs(
            t,
            x,
            y,
            target_idx,
            self.max_lag_days,
            self.max_dist_km,
            m_rel=m_rel,
            max_parents=self.max_parents,
        )
        self.n_pairs_ = len(pairs.i)
        objective = _TriggerObjective(
            pairs,
            m_rel,
            np.minimum(t_start_days - t, self.max_lag_days),
            np.minimum(t_end_days - t, self.max_lag_days),
            region.ray_crossings(x, y, self.n_angles, self.max_dist_km),
            max_r_km=self.max_dist_km,
        )
        params = self._initial_params(n_target, area, duration, x[target_idx], y[target_idx])
        xt, yt = x[target_idx], y[target_idx]
        if self.background == "kde":
            bandwidth = self._bandwidths(xt, yt)
            kde = _kde_pairs(xt, yt, bandwidth, xt, yt)  # (sources, targets)
            gauss_inside = region.ray_crossings(xt, yt, self.n_angles).mass(
                lambda r: np.exp(-(r**2) / (2.0 * bandwidth[:, None, None] ** 2))
            )
            phi = np.full(n_target, 0.5)
            u = area * (kde.T @ phi) / np.sum(phi * gauss_inside)
        else:
            u = np.ones(n_target)
        theta = np.array(
            [
                params.alpha,
                np.log(params.c_days),
                np.log(params.p - 1.0),
                np.log(params.d_km2),
                np.log(params.q - 1.0),
                params.gamma,
            ]
        )
        loglik, n_iter = -np.inf, 0
        while n_iter < self.max_iter:
            n_iter += 1
            trig = objective.triggering(params, self.mc, m)
            lam = params.mu * u + np.bincount(pairs.j, trig, minlength=n_target)
            lam = np.maximum(lam, _EPS)
            z = objective.z_terms(theta)[0]
            new_loglik = float(np.sum(np.log(lam)) - params.mu * area * duration - params.k0 * z)
            converged = abs(new_loglik - loglik) < self.tol * (1.0 + abs(new_loglik))
            loglik = new_loglik
            if converged:
                break
            phi = params.mu * u / lam
            trig /= lam[pairs.j]  # branching probabilities p_ij, in place
            objective.set_weights(trig)
            del trig
            mu = float(phi.sum()) / (area * duration)
            if objective.s_total > 0:
                result = optimize.minimize(
                    objective,
                    theta,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=_BOUNDS,
                    options={"maxiter": 200},
                )
                theta = result.x
                k0 = objective.k0(theta)
            else:
                k0 = 0.0
            a, c, p, d, q, g = objective.unpack(theta)
            params = EtasParams(
                **dict(
                    zip(
                        EtasParams.__dataclass_fields__,
                        map(float, (mu, k0, a, c, p, d, q, g)),
                        strict=True,
                    )
                )
            )
            if self.background == "kde":
                u = area * (kde.T @ phi) / max(np.sum(phi * gauss_inside), _EPS)
        self.params_ = params
        self.loglik_ = loglik
        self.n_iter_ = n_iter
        self.n_target_ = n_target
        self.background_probability_ = phi
        if self.background == "kde":
            self.background_ = KernelBackground(region, xt, yt, phi, bandwidth, gauss_inside)
        else:
            self.background_ = UniformBackground(region)
        return self

    def _b_value(self, magnitude: np.ndarray) -> float:
        if self.b_value is not None:
            return float(self.b_value)
        return estimate_b_value(magnitude, self.mc, bin_width=self.magnitude_bin)

    def _bandwidths(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        k = min(self.n_neighbors + 1, len(x))
        dist, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=k)
        return np.maximum(dist[:, -1], self.min_bandwidth_km)

    def _initial_params(
        self, n_target: int, area: float, duration: float, x: np.ndarray, y: np.ndarray
    ) -> EtasParams:
        mu = 0.5 * n_target / (area * duration)
        if self.init_params is not None:
            return EtasParams(**{**self.init_params.to_dict(), "mu": mu})
        nn = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)[0][:, 1]
        d = float(np.clip(np.median(nn) ** 2 / 4.0, 0.01, 1e4))
        return EtasParams(mu=mu, k0=0.2, alpha=1.0, c_days=0.01, p=1.2, d_km2=d, q=1.7, gamma=0.5)

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise InputError("the ETAS model is not fitted; call fit() or from_params() first")

    def simulate(
        self,
        t_start_days: float,
        t_end_days: float,
        history: pd.DataFrame | None,
        rng: np.random.Generator,
        *,
        max_events: int = 2_000_000,
    ) -> pd.DataFrame:
        """Continuation in [t_start, t_end): background + cascades, including from `history`.

        History events at or after t_start are ignored. Returns t_days, x_km, y_km, magnitude,
        generation (0 = background, k = k-th generation after its history or background ancestor).
        """
        self._check_fitted()
        hist = _history_arrays(history)
        mask = hist[3] >= self.mc
        return _simulate_cascade(
            self.params_,
            self.mc,
            self.b_value_,
            self.mmax,
            self.background_,
            t_start_days,
            t_end_days,
            tuple(a[mask] for a in hist),
            rng,
            max_events,
            max_lag_days=self.max_lag_days,
            max_dist_km=self.max_dist_km,
        ).drop(columns=["sim", "first_order"])

    def expected_counts(
        self,
        history_t_days: np.ndarray,
        history_x_km: np.ndarray,
        history_y_km: np.ndarray,
        history_magnitude: np.ndarray,
        t0_days: float,
        *,
        x_edges_km: np.ndarray,
        y_edges_km: np.ndarray,
        horizon_days: tuple[float, float] = (10.0, 50.0),
        m_min: float | None = None,
        method: Literal["analytic", "first_order", "simulation"] = "analytic",
        n_sim: int = 10_000,
        rng: np.random.Generator | None = None,
        window_km: float = 100.0,
    ) -> np.ndarray:
        """Expected number of m >= m_min events per cell in [T + h0, T + h1), from data before T.

        History events at or after T are ignored, so the forecast cannot see the future.
        `method="analytic"` (default) counts every generation of aftershocks, including those of
        events that occur after T (see `expected_counts_many`); `"first_order"` is background plus
        the direct aftershocks of past events only (it under-predicts by about the branching
        ratio's cascade factor); `"simulation"` is the mean of `n_sim` continuations
        (`simulated_counts`, which also gives its Monte Carlo error).

        Returns:
            (ny, nx) expected counts.
        """
        history = pd.DataFrame(
            dict(
                zip(
                    CATALOG_COLUMNS,
                    (history_t_days, history_x_km, history_y_km, history_magnitude),
                    strict=True,
                )
            )
        )
        grid = {"x_edges_km": x_edges_km, "y_edges_km": y_edges_km}
        if method == "simulation":
            if rng is None:
                raise InputError("method='simulation' needs an explicit rng", field="rng")
            return self.simulated_counts(
                history,
                t0_days,
                **grid,
                horizon_days=horizon_days,
                m_min=m_min,
                n_sim=n_sim,
                rng=rng,
            ).mean
        if method not in ("analytic", "first_order"):
            raise InputError(
                f"method must be 'analytic', 'first_order' or 'simulation', got {method!r}",
                field="method",
            )
        return self.expected_counts_many(
            history,
            np.array([t0_days], dtype=float),
            **grid,
            horizon_days=horizon_days,
            m_min=m_min,
            window_km=window_km,
            cascade=method == "analytic",
        )[0]

    def simulated_counts(
        self,
        history: pd.DataFrame | None,
        t0_days: float,
        *,
        x_edges_km: np.ndarray,
        y_edges_km: np.ndarray,
        horizon_days: tuple[float, float] = (10.0, 50.0),
        m_min: float | None = None,
        n_sim: int = 10_000,
        rng: np.random.Generator,
        max_draws: int = 5_000_000,
    ) -> SimulatedCounts:
        """Monte Carlo forecast: `n_sim` continuations from T, counted per cell in the window.

        The continuations run in vectorised batches (at most `max_draws` parent x continuation
        Poisson draws per batch). The result's `total_std_error` is the Monte Carlo error of the
        grid total, `std_error` that of each cell.
        """
        self._check_fitted()
        if n_sim < 2:
            raise InputError(f"n_sim must be >= 2, got {n_sim}", field="n_sim")
        xe, ye = _edges(x_edges_km, "x_edges_km"), _edges(y_edges_km, "y_edges_km")
        lo, hi = _horizon(horizon_days)
        t0 = float(t0_days)
        m_min = self.mc if m_min is None else m_min
        hist = _history_arrays(history)
        mask = (hist[3] >= self.mc) & (hist[0] < t0) & (hist[0] >= t0 - self.max_lag_days)
        hist = tuple(a[mask] for a in hist)
        ny, nx = len(ye) - 1, len(xe) - 1
        n_cell = ny * nx
        batch = max(1, min(n_sim, max_draws // max(len(hist[0]), 1), 10_000_000 // n_cell))
        total, total_sq, totals = np.zeros(n_cell), np.zeros(n_cell), []
        hits, first_hits = np.zeros(n_cell), np.zeros(n_cell)
        for start in range(0, n_sim, batch):
            nb = min(batch, n_sim - start)
            sim = _simulate_cascade(
                self.params_,
                self.mc,
                self.b_value_,
                self.mmax,
                self.background_,
                t0,
                t0 + hi,
                hist,
                rng,
                50_000_000,
                n_sim=nb,
                max_lag_days=self.max_lag_days,
                max_dist_km=self.max_dist_km,
            )
            sel = sim[(sim["t_days"] >= t0 + lo) & (sim["magnitude"] >= m_min)]
            ix = np.searchsorted(xe, sel["x_km"].to_numpy(), side="right") - 1
            iy = np.searchsorted(ye, sel["y_km"].to_numpy(), side="right") - 1
            inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            key = sel["sim"].to_numpy()[inside] * n_cell + iy[inside] * nx + ix[inside]
            counts = np.bincount(key, minlength=nb * n_cell).reshape(nb, n_cell).astype(float)
            total += counts.sum(axis=0)
            total_sq += np.square(counts).sum(axis=0)
            hits += (counts > 0).sum(axis=0)
            first = sel["first_order"].to_numpy()[inside]
            first_counts = np.bincount(key[first], minlength=nb * n_cell).reshape(nb, n_cell)
            first_hits += (first_counts > 0).sum(axis=0)
            totals.append(counts.sum(axis=1))
        mean = total / n_sim
        var = np.maximum(total_sq / n_sim - mean**2, 0.0) * n_sim / (n_sim - 1)
        return SimulatedCounts(
            mean=mean.reshape(ny, nx),
            std_error=np.sqrt(var / n_sim).reshape(ny, nx),
            totals=np.concatenate(totals),
            probability=(hits / n_sim).reshape(ny, nx),
            first_order_probability=(first_hits / n_sim).reshape(ny, nx),
        )

    def expected_counts_many(
        self,
        history: pd.DataFrame | None,
        t0_days: np.ndarray,
        *,
        x_edges_km: np.ndarray,
        y_edges_km: np.ndarray,
        horizon_days: tuple[float, float] = (10.0, 50.0),
        m_min: float | None = None,
        window_km: float = 100.0,
        chunk_size: int = 128,
        n_nodes: int = 48,
        dtype: type = np.float64,
        progress: bool = False,
        cascade: bool = True,
        max_chunk_elements: int = 2_000_000,
    ) -> np.ndarray:
        """Expected counts per cell in [T + h0, T + h1) for many forecast times T, all generations.

        Terms (each T uses only events with t < T, and with T - t <= `max_lag_days`, the fitted
        model's Omori cut-off):

        - background events in the window: mu (h1 - h0) x cell integral of u;
        - direct aftershocks of past events: kappa_i (G(T + h1 - t_i) - G(T + h0 - t_i)) spread by
          each event's exact cell masses (a sparse event x cell matrix M over a block of
          2 `window_km` around it);
        - with `cascade` (default), every later generation: children of past events born after T
          and of background events born after T, and their descendants. Time factors of each
          generation come from `cascade_time_tables` (exact lattice convolutions of Omori
          delays); in space each further generation is spread by the offspring kernel of an
          event with a Gutenberg-Richter magnitude (`offspring_kernel`, FFT convolution on a grid
          padded by `window_km`, so mass leaving and re-entering the grid is kept). The counts of
          every generation are exact; the only approximation is that the generation mix used to
          spread grandchildren is the T-wide mix of all past events rather than each event's own.

        Memory is linear in events: M holds ~(2 window_km / cell)^2 float32 values per event in
        [min T - max_lag, max T), and the dense lag block per chunk of times stays under
        `max_chunk_elements`.

        Args:
            history: Events (t_days, x_km, y_km, magnitude); each T uses only those with t < T.
            t0_days: (n_T,) forecast times.
            x_edges_km, y_edges_km: Increasing cell edges (nx + 1,), (ny + 1,); uniform steps
                when `cascade`.
            horizon_days: (h0, h1) of the target window [T + h0, T + h1).
            m_min: Smallest target magnitude (default mc), via the Gutenberg-Richter fraction.
            window_km: Reach of each event's kernel block and of the grid padding.
            chunk_size: Most forecast times per dense block.
            n_nodes: Quadrature nodes of the exact cell integrals.
            dtype: Output dtype (float32 halves the memory of large maps).
            progress: Show a tqdm bar over chunks.
            cascade: Count all generations (default); False gives the first-order forecast.
            max_chunk_elements: Bound on forecast times x active events per chunk.

        Returns:
            (n_T, ny, nx) expected counts.
        """
        self._check_fitted()
        xe, ye = _edges(x_edges_km, "x_edges_km"), _edges(y_edges_km, "y_edges_km")
        lo, hi = _horizon(horizon_days)
        t0 = np.atleast_1d(np.asarray(t0_days, dtype=float))
        if not np.all(np.isfinite(t0)):
            raise InputError("forecast times must be finite", field="t0_days")
        params, mc, lmax = self.params_, self.mc, self.max_lag_days
        c, p = params.c_days, params.p
        ht, hx, hy, hm = _history_arrays(history)
        keep = hm >= mc
        order = np.argsort(ht[keep], kind="stable")
        ht, hx, hy, hm = (a[keep][order] for a in (ht, hx, hy, hm))
        if len(t0):
            near = slice(
                int(np.searchsorted(ht, t0.min() - lmax, side="left")),
                int(np.searchsorted(ht, t0.max(), side="left")),
            )
            ht, hx, hy, hm = (a[near] for a in (ht, hx, hy, hm))
        ny, nx = len(ye) - 1, len(xe) - 1
        frac = gr_fraction(mc if m_min is None else m_min, mc, self.b_value_, self.mmax)
        lag_max = min(lmax, float(t0.max() - ht[0])) if len(ht) and len(t0) else hi
        op = (
            self._cascade_operator(xe, ye, (lo, hi), window_km, n_nodes, lag_max)
            if cascade
            else None
        )
        pad_x, pad_y = (op.pad_x, op.pad_y) if op else (0, 0)
        xe_ext = np.r_[
            xe[0] - np.diff(xe)[0] * np.arange(pad_x, 0, -1),
            xe,
            xe[-1] + np.diff(xe)[-1] * np.arange(1, pad_x + 1),
        ]
        ye_ext = np.r_[
            ye[0] - np.diff(ye)[0] * np.arange(pad_y, 0, -1),
            ye,
            ye[-1] + np.diff(ye)[-1] * np.arange(1, pad_y + 1),
        ]
        shape_ext = (len(ye_ext) - 1, len(xe_ext) - 1)
        background = params.mu * self.background_.cell_integrals(xe_ext, ye_ext).ravel()
        base = (hi - lo) * background
        if op is not None:
            base = base + op.spread_background(background)
        masses = self._cell_mass_matrix(hx, hy, hm, xe_ext, ye_ext, window_km, n_nodes)
        kappa = params.productivity(hm, mc)
        out = np.empty((len(t0), ny, nx), dtype=dtype)
        chunks = _time_chunks(t0, ht, lmax, chunk_size, max_chunk_elements)
        if progress:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc="ETAS expected counts", unit="chunk")
        crop = (slice(None), slice(pad_y, pad_y + ny), slice(pad_x, pad_x + nx))
        for idx in chunks:
            tc = t0[idx]
            first = int(np.searchsorted(ht, tc.min() - lmax, side="left"))
            last = int(np.searchsorted(ht, tc.max(), side="left"))
            lag = tc[:, None] - ht[None, first:last]
            k_live = np.where(lag > 0, kappa[first:last], 0.0)
            weights = [k_live * (omori_cdf(lag + hi, c, p, lmax) - omori_cdf(lag + lo, c, p, lmax))]
            if op is not None:
                cascade_w, generations = op.history_weights(lag, k_live, c)
                weights.append(cascade_w)
            stacked = np.vstack(weights).T.astype(np.float32)
            spread = (masses[first:last].T @ stacked).T if last > first else None
            total = np.broadcast_to(base, (len(idx), base.size)).astype(np.float64)
            if spread is not None:
                total = total + spread[: len(idx)]
                if op is not None:
                    total = total + op.spread_history(spread[len(idx) :], generations)
            out[idx] = (frac * total.reshape(len(idx), *shape_ext))[crop]
        return out

    def occurrence_probabilities_many(
        self,
        history: pd.DataFrame | None,
        t0_days: np.ndarray,
        *,
        x_edges_km: np.ndarray,
        y_edges_km: np.ndarray,
        horizon_days: tuple[float, float] = (10.0, 50.0),
        m_min: float | None = None,
        n_sim: int = 1000,
        seed: int = 0,
        count_scale: float = 1.0,
        window_km: float = 100.0,
    ) -> np.ndarray:
        """P(at least one m >= m_min event) per cell in [T + h0, T + h1), all generations.

        The binary target needs this probability, not the expected count: later generations
        come in clusters (one rare large event brings many), so 1 - exp(-expected count)
        overstates it. First-order events (background events in the window and direct
        aftershocks of past events) form a Poisson process given the history, so
        P(none in a cell) = exp(-N1) x P(no later-generation event | no first-order event), with
        N1 the exact first-order count (`expected_counts_many(cascade=False)`). The second factor
        comes from `n_sim` continuations per T (`simulated_counts`): continuations without any
        event in the cell over those without a first-order event there (1 where none is
        without; at least 0.5 / n_sim). Each T's continuations are seeded by (seed, the bits of
        T), so a map does not depend on which other times are asked for.

        Args:
            history: Events (t_days, x_km, y_km, magnitude); each T uses only those with t < T.
            t0_days: (n_T,) forecast times.
            x_edges_km, y_edges_km: Increasing cell edges.
            horizon_days: (h0, h1) of the target window.
            m_min: Smallest target magnitude (default mc).
            n_sim: Continuations per forecast time.
            seed: Seed of the continuations.
            count_scale: Factor on the Poisson rate -log P(none) (the pipeline's Gutenberg-Richter
                extrapolation to targets below mc).
            window_km: Reach of the first-order kernel blocks (`expected_counts_many`).

        Returns:
            (n_T, ny, nx) probabilities.
        """
        t0 = np.atleast_1d(np.asarray(t0_days, dtype=float))
        if n_sim < 2:
            raise InputError(f"n_sim must be >= 2, got {n_sim}", field="n_sim")
        grid = {"x_edges_km": x_edges_km, "y_edges_km": y_edges_km}
        first = self.expected_counts_many(
            history,
            t0,
            **grid,
            horizon_days=horizon_days,
            m_min=m_min,
            window_km=window_km,
            cascade=False,
        )
        out = np.empty_like(first)
        for k, t in enumerate(t0):
            sim = self.simulated_counts(
                history,
                float(t),
                **grid,
                horizon_days=horizon_days,
                m_min=m_min,
                n_sim=n_sim,
                rng=np.random.default_rng([seed, int(np.float64(t).view(np.uint64))]),
            )
            no_first = 1.0 - sim.first_order_probability
            ratio = np.divide(
                1.0 - sim.probability,
                no_first,
                out=np.ones_like(no_first),
                where=no_first > 0,
            )
            rate = first[k] - np.log(np.maximum(ratio, 0.5 / n_sim))
            out[k] = -np.expm1(-count_scale * rate)
        return out

    def offspring_kernel(
        self,
        dx_km: float,
        dy_km: float,
        pad_x: int,
        pad_y: int,
        *,
        n_sub: int = 4,
        n_mag: int = 48,
        n_nodes: int = 48,
    ) -> np.ndarray:
        """Expected direct aftershocks, per cell offset, of an event with a Gutenberg-Richter
        magnitude placed uniformly inside the centre cell.

        Returns:
            (2 pad_y + 1, 2 pad_x + 1) array; its sum nu is the branching ratio less the kernel
            mass beyond the block.
        """
        self._check_fitted()
        params, mc = self.params_, self.mc
        nodes, weights = np.polynomial.legendre.leggauss(n_mag)
        half = (self.mmax - mc) / 2.0
        m = mc + (nodes + 1.0) * half
        beta = self.b_value_ * np.log(10.0)
        density = beta * np.exp(-beta * (m - mc)) / -np.expm1(-beta * (self.mmax - mc))
        per_mag = params.productivity(m, mc) * density * weights * half
        frac = (np.arange(n_sub) + 0.5) / n_sub
        sx, sy = (a.ravel() for a in np.meshgrid(frac * dx_km, frac * dy_km))
        n_pos = sx.size
        x, y = np.tile(sx, n_mag), np.tile(sy, n_mag)
        sigma = np.repeat(params.sigma_km2(m, mc), n_pos)
        x_edges = np.broadcast_to(np.arange(-pad_x, pad_x + 2) * dx_km, (x.size, 2 * pad_x + 2))
        y_edges = np.broadcast_to(np.arange(-pad_y, pad_y + 2) * dy_km, (y.size, 2 * pad_y + 2))
        mass = cell_masses(x, y, sigma, params.q, x_edges, y_edges, n_nodes)
        return np.tensordot(np.repeat(per_mag, n_pos) / n_pos, mass, axes=1)

    def _cascade_operator(
        self,
        xe: np.ndarray,
        ye: np.ndarray,
        horizon: tuple[float, float],
        window_km: float,
        n_nodes: int,
        lag_max_days: float,
    ) -> _CascadeOperator:
        dx, dy = np.diff(xe), np.diff(ye)
        if not (np.allclose(dx, dx[0], rtol=1e-6) and np.allclose(dy, dy[0], rtol=1e-6)):
            raise InputError(
                "cascade forecasts need cells of one size; pass cascade=False for uneven edges",
                field="x_edges_km",
            )
        pad_x = int(np.ceil(window_km / dx[0]))
        pad_y = int(np.ceil(window_km / dy[0]))
        kernel = self.offspring_kernel(dx[0], dy[0], pad_x, pad_y, n_nodes=n_nodes)
        tables = cascade_time_tables(
            self.params_.c_days,
            self.params_.p,
            float(kernel.sum()),
            horizon,
            self.max_lag_days,
            lag_max_days,
        )
        return _CascadeOperator(kernel, tables, (len(ye) - 1 + 2 * pad_y, len(xe) - 1 + 2 * pad_x))

    def _cell_mass_matrix(
        self,
        x: np.ndarray,
        y: np.ndarray,
        m: np.ndarray,
        xe: np.ndarray,
        ye: np.ndarray,
        window_km: float,
        n_nodes: int,
        batch: int = 512,
    ) -> sparse.csr_matrix:
        """Sparse (n_events, ny * nx) kernel mass of each event in the cells of its block."""
        nx, ny = len(xe) - 1, len(ye) - 1
        wx = min(nx, int(np.ceil(2 * window_km / np.diff(xe).min())) + 1)
        wy = min(ny, int(np.ceil(2 * window_km / np.diff(ye).min())) + 1)
        ix = np.clip(np.searchsorted(xe, x, side="right") - 1 - wx // 2, 0, nx - wx)
        iy = np.clip(np.searchsorted(ye, y, side="right") - 1 - wy // 2, 0, ny - wy)
        sig = self.params_.sigma_km2(m, self.mc)
        counts, cols, vals = [], [], []
        for s in range(0, len(x), batch):
            sl = slice(s, s + batch)
            mass = cell_masses(
                x[sl],
                y[sl],
                sig[sl],
                self.params_.q,
                xe[ix[sl, None] + np.arange(wx + 1)],
                ye[iy[sl, None] + np.arange(wy + 1)],
                n_nodes,
            )
            cell = (iy[sl, None, None] + np.arange(wy)[:, None]) * nx + (
                ix[sl, None, None] + np.arange(wx)
            )
            ok = mass > 1e-12
            counts.append(ok.sum(axis=(1, 2)))
            cols.append(cell[ok].astype(np.int32))
            vals.append(mass[ok].astype(np.float32))
        # Rows are events in order and columns increase within a row, so CSR is built directly.
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts or [np.zeros(0, int)]))])
        return sparse.csr_matrix(
            (
                np.concatenate(vals or [np.zeros(0, np.float32)]),
                np.concatenate(cols or [np.zeros(0, np.int32)]),
                indptr,
            ),
            shape=(len(x), ny * nx),
        )


def _edges(edges: np.ndarray, field: str) -> np.ndarray:
    arr = np.asarray(edges, dtype=float).ravel()
    if len(arr) < 2 or not np.all(np.isfinite(arr)) or not np.all(np.diff(arr) > 0):
        raise InputError("cell edges must be >= 2 finite, strictly increasing values", field=field)
    return arr


def _horizon(horizon_days: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in horizon_days)
    if not (0.0 <= lo < hi and np.isfinite(hi)):
        raise InputError(
            f"horizon must satisfy 0 <= h0 < h1, got {horizon_days}", field="horizon_days"
        )
    return lo, hi


def occurrence_probability(expected_counts: np.ndarray) -> np.ndarray:
    """P(at least one event) per cell from Poisson expected counts: 1 - exp(-N).

    This is the ETAS probability to compare with binary targets, and its logit is the prior of the
    hybrid ConvLSTM.
    """
    return -np.expm1(-np.maximum(np.asarray(expected_counts, dtype=float), 0.0))
