"""Embedded default network for the locate pipeline: a SYNTHETIC Hakone-like volcanic setting.

Nothing here is observed data. The 20 station positions are invented (scattered over about
20 x 20 km around a point near Hakone caldera, 35.23 N 139.02 E) and the 3-D model is a smooth
layered crust with a shallow low-velocity body under the caldera centre, loosely shaped after the
published picture of the area (Yukutake et al., 2015) but with made-up numbers. It exists so the
pipeline runs end to end without any download.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quakesense.core.geo import LocalProjection
from quakesense.core.tables import STATIONS
from quakesense.locate.velocity import GridModel

CENTRE_LATITUDE_DEG = 35.23
CENTRE_LONGITUDE_DEG = 139.02
N_STATIONS = 20
HALF_WIDTH_KM = 10.0
MODEL_HALF_WIDTH_KM = 14.0
MODEL_SPACING_KM = 1.0
MODEL_TOP_KM = -1.0
MODEL_BOTTOM_KM = 16.0

# Layered crust: depth of each layer top (km below sea level) and P velocity (km/s).
LAYER_TOP_KM = np.array([-1.0, 1.0, 3.0, 6.0, 10.0])
LAYER_VP_KM_S = np.array([3.6, 4.8, 5.7, 6.0, 6.4])
VP_VS_RATIO = 1.73
# Low-velocity body (a Gaussian P-velocity reduction; stronger in S, as for fluids/melt).
BODY_CENTRE_KM = (0.5, -0.5, 3.5)
BODY_RADIUS_KM = (3.0, 3.0, 2.0)
BODY_VP_REDUCTION = 0.18
BODY_VP_VS_RATIO = 1.95


def projection() -> LocalProjection:
    """Local projection about the network centre."""
    return LocalProjection(CENTRE_LATITUDE_DEG, CENTRE_LONGITUDE_DEG)


def stations(seed: int = 20) -> pd.DataFrame:
    """The 20 synthetic stations (canonical STATIONS table plus x_km, y_km).

    Positions are a jittered 5 x 4 pattern over about 20 x 20 km, so the network covers the box
    fairly evenly as real networks try to; elevations 200-1200 m.
    """
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.linspace(-8.0, 8.0, 5), np.linspace(-7.5, 7.5, 4))
    x_km = np.clip(gx.ravel() + rng.uniform(-1.8, 1.8, N_STATIONS), -HALF_WIDTH_KM, HALF_WIDTH_KM)
    y_km = np.clip(gy.ravel() + rng.uniform(-1.8, 1.8, N_STATIONS), -HALF_WIDTH_KM, HALF_WIDTH_KM)
    latitude, longitude = projection().to_latlon(x_km, y_km)
    frame = pd.DataFrame(
        {
            "station": [f"HK{i:02d}" for i in range(1, N_STATIONS + 1)],
            "latitude_deg": np.round(latitude, 5),
            "longitude_deg": np.round(longitude, 5),
            "elevation_m": np.round(rng.uniform(200.0, 900.0, N_STATIONS), 0),
        }
    )
    return STATIONS.validate(frame, source="synthetic Hakone-like network")


def velocity_model() -> GridModel:
    """The synthetic 3-D model: layered crust (smoothed steps) plus a shallow low-velocity body."""
    n_xy = round(2 * MODEL_HALF_WIDTH_KM / MODEL_SPACING_KM) + 1
    n_z = round((MODEL_BOTTOM_KM - MODEL_TOP_KM) / (MODEL_SPACING_KM / 2)) + 1
    x_km = -MODEL_HALF_WIDTH_KM + np.arange(n_xy) * MODEL_SPACING_KM
    z_km = MODEL_TOP_KM + np.arange(n_z) * (MODEL_SPACING_KM / 2)
    # Smooth steps (0.5 km transition) keep the eikonal and finite-difference solvers well behaved.
    vp_1d = np.full(n_z, LAYER_VP_KM_S[0])
    for top, jump in zip(LAYER_TOP_KM[1:], np.diff(LAYER_VP_KM_S), strict=True):
        vp_1d += jump / (1.0 + np.exp(-(z_km - top) / 0.25))
    gx, gy, gz = np.meshgrid(x_km, x_km, z_km, indexing="ij")
    body = np.exp(
        -0.5
        * sum(
            ((g - c) / r) ** 2
            for g, c, r in zip((gx, gy, gz), BODY_CENTRE_KM, BODY_RADIUS_KM, strict=True)
        )
    )
    vp = vp_1d[None, None, :] * (1.0 - BODY_VP_REDUCTION * body)
    vs = vp / (VP_VS_RATIO + (BODY_VP_VS_RATIO - VP_VS_RATIO) * body)
    return GridModel(
        x_km,
        x_km.copy(),
        z_km,
        vp,
        vs,
        source="quakesense.locate.hakone",
        description="SYNTHETIC Hakone-like model: layered crust + shallow low-velocity body",
        rebuild={"generator": "quakesense.locate.hakone.velocity_model"},
    )
