"""Surface snapshot images: station values interpolated onto a regular grid by one matrix product.

The interpolation weights depend only on the station and pixel positions, so they are computed
once as a (H*W, n_stations) matrix; turning every time step of every event into an image is then
a single `matmul`. Row r = i * W + j of the matrix is pixel (row i <-> grid_y_km[i], column
j <-> grid_x_km[j]); plot images with `origin="lower"` so north is up.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from quakesense.core.errors import InputError

Method = Literal["idw", "linear", "nearest"]
METHODS: tuple[str, ...] = ("idw", "linear", "nearest")


def pixel_axes(
    x_min_km: float, x_max_km: float, y_min_km: float, y_max_km: float, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (grid_x_km (W,), grid_y_km (H,)) of an image over a box."""
    if height < 1 or width < 1:
        raise InputError(f"image needs height, width >= 1, got {height} x {width}", field="image")
    dx = (x_max_km - x_min_km) / width
    dy = (y_max_km - y_min_km) / height
    grid_x = x_min_km + (np.arange(width) + 0.5) * dx
    grid_y = y_min_km + (np.arange(height) + 0.5) * dy
    return grid_x, grid_y


def build_interpolation_matrix(
    station_x_km: np.ndarray,
    station_y_km: np.ndarray,
    grid_x_km: np.ndarray,
    grid_y_km: np.ndarray,
    method: Method = "idw",
    power: float = 2.0,
) -> np.ndarray:
    """Weights (H*W, n_stations), float32, mapping station values to image pixels.

    Args:
        station_x_km, station_y_km: Station positions.
        grid_x_km: Pixel-centre x of the W columns; grid_y_km: pixel-centre y of the H rows.
        method: "idw" (inverse distance to the `power`), "linear" (barycentric weights in the
            stations' Delaunay triangulation via scipy; pixels outside the hull take the nearest
            station), or "nearest".
        power: Exponent of the inverse-distance weights.

    Every row sums to 1, so a constant field is reproduced exactly.
    """
    sx = np.asarray(station_x_km, float)
    sy = np.asarray(station_y_km, float)
    if sx.ndim != 1 or sx.shape != sy.shape or len(sx) == 0:
        raise InputError("need matching, non-empty station coordinates", field="stations")
    if method not in METHODS:
        raise InputError(f"unknown method '{method}'; choose from {METHODS}", field="method")
    px, py = np.meshgrid(np.asarray(grid_x_km, float), np.asarray(grid_y_km, float))
    pixels = np.column_stack([px.ravel(), py.ravel()])
    distance = np.hypot(pixels[:, :1] - sx[None, :], pixels[:, 1:] - sy[None, :])
    nearest = np.zeros_like(distance)
    nearest[np.arange(len(pixels)), distance.argmin(axis=1)] = 1.0
    if method == "nearest":
        return nearest.astype(np.float32)
    if method == "linear":
        return _barycentric(np.column_stack([sx, sy]), pixels, nearest).astype(np.float32)
    with np.errstate(divide="ignore"):
        weights = 1.0 / distance**power
    on_station = ~np.isfinite(weights).all(axis=1)
    weights[on_station] = nearest[on_station]
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _barycentric(stations: np.ndarray, pixels: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay

    if len(stations) < 3:
        return fallback
    triangulation = Delaunay(stations)
    simplex = triangulation.find_simplex(pixels)
    weights = fallback.copy()
    inside = simplex >= 0
    transform = triangulation.transform[simplex[inside]]
    partial = np.einsum("nij,nj->ni", transform[:, :2], pixels[inside] - transform[:, 2])
    barycentric = np.column_stack([partial, 1.0 - partial.sum(axis=1)])
    rows = np.flatnonzero(inside)
    weights[rows] = 0.0
    vertices = triangulation.simplices[simplex[inside]]
    np.add.at(weights, (rows[:, None], vertices), barycentric)
    return weights


def snapshots(
    station_values: np.ndarray, matrix: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Images (..., n_t, H, W) from station time series (..., n_stations, n_t), one matmul.

    Cutout augmentation (a dead station) is done by zeroing that station's values first.
    """
    values = np.asarray(station_values)
    if matrix.shape != (height * width, values.shape[-2]):
        raise InputError(
            f"matrix shape {matrix.shape} does not fit {values.shape[-2]} stations and a "
            f"{height} x {width} image",
            field="matrix",
        )
    # One 2-D GEMM over every (event, time) row: a contiguous 2-D operand keeps NumPy on BLAS
    # (a batched matmul of strided views can fall back to a slow loop).
    rows = np.ascontiguousarray(np.swapaxes(values, -1, -2)).reshape(-1, values.shape[-2])
    frames = rows @ matrix.T.astype(rows.dtype, copy=False)
    return frames.reshape(*values.shape[:-2], values.shape[-1], height, width)
