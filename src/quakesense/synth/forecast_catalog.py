"""Embedded default catalog of the forecast pipeline: a SYNTHETIC clustered (ETAS-like) catalog.

Nothing here is observed data. Background events occur at a constant rate in three elongated
invented "fault zones" around 38 N 142 E; every event triggers aftershocks (Poisson number growing
as 10^(alpha (m - m_min)), Omori-law delays, Gaussian offsets growing with magnitude); magnitudes
follow Gutenberg-Richter with b = 1. The branching is subcritical, so the catalog is stationary
apart from its aftershock sequences. It exists so the forecast pipeline runs end to end (demo,
tests) without any download.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quakesense.core.geo import LocalProjection
from quakesense.core.tables import CATALOG

CENTRE_LATITUDE_DEG = 38.0
CENTRE_LONGITUDE_DEG = 142.0
# Fault zones: centre x, y (km), half-length along strike (km), strike (deg from east), weight.
ZONES = (
    (-60.0, 40.0, 80.0, 60.0, 0.5),
    (50.0, -50.0, 60.0, 20.0, 0.3),
    (0.0, 90.0, 30.0, 120.0, 0.2),
)


def simulate_catalog(
    seed: int,
    n_days: int = 2000,
    background_per_day: float = 0.6,
    m_min: float = 3.0,
    b_value: float = 1.0,
    m_max: float = 7.5,
    productivity: float = 0.08,
    alpha: float = 0.8,
    omori_c_days: float = 0.02,
    omori_p: float = 1.2,
    start: str = "2000-01-01",
    zone_scale: float = 1.0,
) -> pd.DataFrame:
    """Simulate a clustered catalog and return it as a validated `CATALOG` table (time-sorted).

    Args:
        seed: Seed of the `numpy.random.Generator` behind every draw.
        n_days: Length of the catalog.
        background_per_day: Rate of background events (M >= m_min).
        m_min: Smallest magnitude.
        b_value: Gutenberg-Richter b.
        m_max: Largest magnitude (truncation).
        productivity: Mean aftershocks of an m_min event.
        alpha: Productivity growth per magnitude unit (log10).
        omori_c_days: Omori c.
        omori_p: Omori p (> 1).
        start: UTC date of day 0.
        zone_scale: Factor on the fault zones' positions, lengths and widths: 1 spans about
            300 km; 4 spans a national region of about 11.5 x 12.5 degrees.
    """
    rng = np.random.default_rng(seed)
    beta = b_value * np.log(10.0)
    n_bg = rng.poisson(background_per_day * n_days)
    zone = rng.choice(len(ZONES), size=n_bg, p=[z[4] for z in ZONES])
    cx, cy, half, strike, _ = (np.array(v)[zone] for v in zip(*ZONES, strict=True))
    cx, cy, half = cx * zone_scale, cy * zone_scale, half * zone_scale
    along = rng.uniform(-1.0, 1.0, n_bg) * half
    across = rng.normal(0.0, 8.0 * zone_scale, n_bg)
    angle = np.radians(strike)
    t = [rng.uniform(0.0, n_days, n_bg)]
    x = [cx + along * np.cos(angle) - across * np.sin(angle)]
    y = [cy + along * np.sin(angle) + across * np.cos(angle)]
    m = [_gr(rng, n_bg, m_min, beta, m_max)]
    parents = (t[0], x[0], y[0], m[0])
    while parents[0].size:
        mean = productivity * 10.0 ** (alpha * (parents[3] - m_min))
        n_children = rng.poisson(mean)
        pt, px, py, pm = (np.repeat(v, n_children) for v in parents)
        u = rng.random(pt.size)
        delay = omori_c_days * ((1.0 - u) ** (1.0 / (1.0 - omori_p)) - 1.0)
        spread_km = 1.0 * 10.0 ** (0.5 * (pm - m_min))
        child = (
            pt + delay,
            px + rng.normal(0.0, 1.0, pt.size) * spread_km,
            py + rng.normal(0.0, 1.0, pt.size) * spread_km,
            _gr(rng, pt.size, m_min, beta, m_max),
        )
        keep = child[0] < n_days
        parents = tuple(v[keep] for v in child)
        for store, values in zip((t, x, y, m), parents, strict=True):
            store.append(values)
    t_all, x_all, y_all, m_all = (np.concatenate(v) for v in (t, x, y, m))
    order = np.argsort(t_all, kind="stable")
    lat, lon = LocalProjection(CENTRE_LATITUDE_DEG, CENTRE_LONGITUDE_DEG).to_latlon(
        x_all[order], y_all[order]
    )
    origin = pd.Timestamp(start, tz="UTC")
    frame = pd.DataFrame(
        {
            "time": origin + pd.to_timedelta(np.round(t_all[order] * 86_400e3), unit="ms"),
            "latitude_deg": lat,
            "longitude_deg": lon,
            "depth_km": rng.uniform(5.0, 40.0, order.size),
            "magnitude": np.round(m_all[order], 1),
            "magnitude_type": "mw",
            "event_id": [f"syn{i:06d}" for i in range(order.size)],
        }
    )
    return CATALOG.validate(frame, source="synthetic")


def _gr(rng: np.random.Generator, n: int, m_min: float, beta: float, m_max: float) -> np.ndarray:
    """Truncated Gutenberg-Richter magnitudes by inverse transform."""
    span = 1.0 - np.exp(-beta * (m_max - m_min))
    return m_min - np.log1p(-rng.random(n) * span) / beta
