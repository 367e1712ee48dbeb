"""Per-cell features at a forecast time T from events strictly before T (baselines' inputs).

Indicator features: counts of events in the cell and its 3 x 3 neighbourhood over several past
windows, and the largest recent magnitude. RTL features (Sobolev and Tyupkin 1997): the epicentral
(R), temporal (T) and rupture-length (L) sums over events within 2 r0 and 2 t0, on the grid by
spatial convolution of per-cell sums (scipy), for a few (r0, t0) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.signal import fftconvolve

from quakesense.forecast.grid import GriddedEvents

INDICATOR_WINDOWS_DAYS = (10, 30, 90, 180, 365)


@dataclass
class FeatureConfig:
    """Which features to build; the defaults are documented in docs/pipelines/forecast.md."""

    m_min: float = -np.inf
    windows_days: tuple[int, ...] = INDICATOR_WINDOWS_DAYS
    rtl_scales: tuple[tuple[float, float], ...] = ((25.0, 90.0), (50.0, 180.0))


def indicator_feature_names(config: FeatureConfig) -> list[str]:
    """Names of the indicator features, in column order."""
    names = []
    for w in config.windows_days:
        names += [f"log_count_{w}d", f"log_count_3x3_{w}d"]
    return [*names, "max_magnitude_365d", "log_prior"]


def rtl_feature_names(config: FeatureConfig) -> list[str]:
    """Names of the RTL features, in column order."""
    names = []
    for r0, t0 in config.rtl_scales:
        tag = f"r{r0:g}km_t{t0:g}d"
        names += [f"R_{tag}", f"T_{tag}", f"L_{tag}", f"RTL_{tag}"]
    return [*names, "log_prior"]


def indicator_features(
    events: GriddedEvents,
    shape: tuple[int, int],
    day: int,
    log_prior: np.ndarray,
    config: FeatureConfig,
) -> np.ndarray:
    """Indicator features at the start of `day`: array (ny * nx, n_features), float32."""
    columns = []
    past = events.window(day - max(config.windows_days), day, config.m_min)
    for w in config.windows_days:
        counts = past.window(day - w, day).count_map(shape)
        columns.append(np.log1p(counts))
        columns.append(np.log1p(9.0 * uniform_filter(counts, size=3, mode="constant")))
    recent = past.window(day - 365, day)
    max_mag = np.zeros(shape)
    np.maximum.at(max_mag, (recent.iy, recent.ix), recent.magnitude)
    columns += [max_mag, log_prior]
    return np.stack([c.ravel() for c in columns], axis=1).astype(np.float32)


def _radial_kernel(cell_km: float, radius_km: float) -> np.ndarray:
    half = int(np.ceil(radius_km / cell_km))
    offsets = np.arange(-half, half + 1, dtype=np.int64) * cell_km
    xx, yy = np.meshgrid(offsets, offsets)
    return np.hypot(xx, yy)


def rtl_features(
    events: GriddedEvents,
    shape: tuple[int, int],
    day: int,
    cell_km: float,
    log_prior: np.ndarray,
    config: FeatureConfig,
) -> np.ndarray:
    """RTL features at the start of `day`: array (ny * nx, n_features), float32.

    Distances are between cell centres (the event's own cell counts at r = cell/2), which is the
    grid approximation of the event-based RTL sums.
    """
    columns = []
    for r0, t0 in config.rtl_scales:
        past = events.window(day - int(2 * t0), day, config.m_min)
        counts = past.count_map(shape)
        decay = past.count_map(shape, weights=np.exp(-(day - past.t_days) / t0))
        rupture_km = 10.0 ** (0.5 * past.magnitude - 1.8)
        length = past.count_map(shape, weights=rupture_km)
        r = _radial_kernel(cell_km, 2 * r0)
        inside = r <= 2 * r0
        r_floor = np.maximum(r, cell_km / 2)
        big_r = fftconvolve(counts, np.exp(-r / r0) * inside, mode="same")
        big_t = fftconvolve(decay, inside.astype(float), mode="same")
        big_l = fftconvolve(length, inside / r_floor, mode="same")
        big_r, big_t, big_l = (np.clip(a, 0.0, None) for a in (big_r, big_t, big_l))
        columns += [np.log1p(big_r), np.log1p(big_t), np.log1p(big_l)]
        columns.append(np.log1p(big_r * big_t * big_l))
    columns.append(log_prior)
    return np.stack([c.ravel() for c in columns], axis=1).astype(np.float32)
