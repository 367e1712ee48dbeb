"""Velocity models: 1-D layered (`.vel.txt`) and 3-D grids (NetCDF/Zarr via xarray).

Coordinates are local km: x east, y north (core.geo.LocalProjection), z positive down from sea
level (negative z is above sea level, where topography puts stations). A `GridModel` is what the
travel-time and finite-difference backends consume; a `LayeredModel` becomes one with `to_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quakesense.core.errors import InputError


def _check_velocities(values: np.ndarray, name: str, source: str | None) -> None:
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"velocity must be finite and > 0 km/s, got {values[where]} at index {where}",
            source=source,
            field=name,
        )


@dataclass
class LayeredModel:
    """A stack of constant-velocity layers.

    Args:
        depth_top_km: Depth of each layer's top (km, increasing; the first is the surface).
        vp_km_s: P velocity of each layer (km/s).
        vs_km_s: S velocity of each layer (km/s).
        source: File the model came from (for error messages and provenance).
    """

    depth_top_km: np.ndarray
    vp_km_s: np.ndarray
    vs_km_s: np.ndarray
    source: str | None = None

    def __post_init__(self) -> None:
        self.depth_top_km = np.asarray(self.depth_top_km, dtype=float)
        self.vp_km_s = np.asarray(self.vp_km_s, dtype=float)
        self.vs_km_s = np.asarray(self.vs_km_s, dtype=float)
        n = len(self.depth_top_km)
        if n == 0:
            raise InputError(
                "layered model has no layers", source=self.source, field="depth_top_km"
            )
        if self.vp_km_s.shape != (n,) or self.vs_km_s.shape != (n,):
            raise InputError(
                "depth_top_km, vp_km_s and vs_km_s need one value per layer",
                source=self.source,
                field="vp_km_s",
            )
        if not np.all(np.isfinite(self.depth_top_km)) or np.any(np.diff(self.depth_top_km) <= 0):
            raise InputError(
                "layer tops must be finite and strictly increasing",
                source=self.source,
                field="depth_top_km",
            )
        _check_velocities(self.vp_km_s, "vp_km_s", self.source)
        _check_velocities(self.vs_km_s, "vs_km_s", self.source)
        if np.any(self.vs_km_s >= self.vp_km_s):
            raise InputError(
                "vs must be below vp in every layer", source=self.source, field="vs_km_s"
            )

    def velocity_at(self, depth_km: np.ndarray, phase: str) -> np.ndarray:
        """P or S velocity (km/s) at the given depths; above the first top, the top layer's."""
        values = self.vp_km_s if phase == "P" else self.vs_km_s
        return _step(self.depth_top_km, values, np.asarray(depth_km, float))

    def to_grid(self, x_km: np.ndarray, y_km: np.ndarray, z_km: np.ndarray) -> GridModel:
        """Sample the layers on a regular 3-D grid (node coordinates per axis)."""
        z_km = np.asarray(z_km, float)
        shape = (len(x_km), len(y_km), len(z_km))
        vp = np.broadcast_to(self.velocity_at(z_km, "P"), shape)
        vs = np.broadcast_to(self.velocity_at(z_km, "S"), shape)
        return GridModel(
            x_km, y_km, z_km, vp.copy(), vs.copy(), source=self.source, rebuild=self.to_dict()
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form that rebuilds the model."""
        return {
            "kind": "layered",
            "source": self.source,
            "depth_top_km": self.depth_top_km.tolist(),
            "vp_km_s": self.vp_km_s.tolist(),
            "vs_km_s": self.vs_km_s.tolist(),
        }


def read_layered_model(path: str | Path) -> LayeredModel:
    """Read a `.vel.txt` file: `P_depth P_vel P_err S_depth S_vel S_err` per line, `#` comments.

    P and S may list different layer tops; the model uses the union of both sets of tops.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("velocity model file not found", source=path)
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines()):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            values = [float(v) for v in text.split()]
        except ValueError as exc:
            raise InputError(f"not a number in {text!r}", source=path, row=number) from exc
        if len(values) != 6:
            raise InputError(
                "expected 6 columns: P_depth P_vel P_err S_depth S_vel S_err",
                source=path,
                row=number,
            )
        rows.append(values)
    if not rows:
        raise InputError("no layers found", source=path)
    table = np.asarray(rows)
    tops = np.union1d(table[:, 0], table[:, 3])
    return LayeredModel(
        tops,
        _step(table[:, 0], table[:, 1], tops),
        _step(table[:, 3], table[:, 4], tops),
        source=str(path),
    )


def _step(tops_km: np.ndarray, values: np.ndarray, depth_km: np.ndarray) -> np.ndarray:
    """Evaluate a step function (value of the last top at or above each depth)."""
    layer = np.searchsorted(tops_km, depth_km, side="right") - 1
    return values[np.clip(layer, 0, len(values) - 1)]


def density_g_cm3(vp_km_s: np.ndarray) -> np.ndarray:
    """Density from P velocity by Brocher's (2005) Nafe-Drake fit (valid 1.5-8.5 km/s)."""
    v = np.asarray(vp_km_s, float)
    return 1.6612 * v - 0.4721 * v**2 + 0.0671 * v**3 - 0.0043 * v**4 + 0.000106 * v**5


@dataclass
class GridModel:
    """A 3-D velocity grid on regular axes (node coordinates, km).

    Args:
        x_km, y_km, z_km: Node coordinates along east, north and depth (uniform spacing each).
        vp_km_s, vs_km_s: Velocities, shape (nx, ny, nz).
        source: File or generator the model came from.
        description: Free text (e.g. "synthetic Hakone-like model").
    """

    x_km: np.ndarray
    y_km: np.ndarray
    z_km: np.ndarray
    vp_km_s: np.ndarray
    vs_km_s: np.ndarray
    source: str | None = None
    description: str = ""
    rebuild: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("x_km", "y_km", "z_km"):
            axis = np.asarray(getattr(self, name), dtype=float)
            setattr(self, name, axis)
            steps = np.diff(axis)
            if axis.ndim != 1 or len(axis) < 2:
                raise InputError("axis needs at least 2 nodes", source=self.source, field=name)
            if not np.all(steps > 0) or not np.allclose(steps, steps[0], rtol=1e-6):
                raise InputError(
                    "axis must be increasing with uniform spacing", source=self.source, field=name
                )
        shape = (len(self.x_km), len(self.y_km), len(self.z_km))
        for name in ("vp_km_s", "vs_km_s"):
            values = np.asarray(getattr(self, name), dtype=float)
            if values.shape != shape:
                raise InputError(
                    f"shape {values.shape} does not match the axes {shape}",
                    source=self.source,
                    field=name,
                )
            _check_velocities(values, name, self.source)
            setattr(self, name, values)
        if np.any(self.vs_km_s >= self.vp_km_s):
            raise InputError("vs must be below vp everywhere", source=self.source, field="vs_km_s")

    @property
    def spacing_km(self) -> tuple[float, float, float]:
        """Node interval along x, y, z."""
        return tuple(float(a[1] - a[0]) for a in (self.x_km, self.y_km, self.z_km))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nx, ny, nz)."""
        return self.vp_km_s.shape

    def velocity(self, phase: str) -> np.ndarray:
        """The (nx, ny, nz) velocity of `phase` ("P" or "S")."""
        if phase not in ("P", "S"):
            raise InputError(f"unknown phase '{phase}' (expected P or S)", field="phases")
        return self.vp_km_s if phase == "P" else self.vs_km_s

    def contains(self, x_km: np.ndarray, y_km: np.ndarray, z_km: np.ndarray) -> np.ndarray:
        """Whether each point lies inside the grid (bounds inclusive)."""
        inside = np.ones(np.broadcast(x_km, y_km, z_km).shape, dtype=bool)
        for axis, values in ((self.x_km, x_km), (self.y_km, y_km), (self.z_km, z_km)):
            values = np.asarray(values, float)
            inside &= (values >= axis[0] - 1e-9) & (values <= axis[-1] + 1e-9)
        return inside

    def sample(
        self, phase: str, x_km: np.ndarray, y_km: np.ndarray, z_km: np.ndarray
    ) -> np.ndarray:
        """Velocity of `phase` at points (trilinear)."""
        from scipy.interpolate import RegularGridInterpolator

        interpolator = RegularGridInterpolator(
            (self.x_km, self.y_km, self.z_km),
            self.velocity(phase),
            bounds_error=False,
            fill_value=None,
        )
        points = np.stack(np.broadcast_arrays(x_km, y_km, z_km), axis=-1)
        return interpolator(points)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description that says how to rebuild the model."""
        return {
            "kind": "grid",
            "source": self.source,
            "description": self.description,
            "x_km": [float(self.x_km[0]), float(self.x_km[-1]), len(self.x_km)],
            "y_km": [float(self.y_km[0]), float(self.y_km[-1]), len(self.y_km)],
            "z_km": [float(self.z_km[0]), float(self.z_km[-1]), len(self.z_km)],
            "rebuild": self.rebuild,
        }


def read_grid_model(path: str | Path) -> GridModel:
    """Read a 3-D model from NetCDF (`.nc`) or Zarr (`.zarr`) with xarray.

    The dataset needs variables `vp_km_s` and `vs_km_s` on dimensions (x_km, y_km, z_km), which
    are also its coordinates (any order of dimensions is accepted). Global attributes
    `latitude_deg`, `longitude_deg` give the centre of the local projection of x/y (else the
    stations' mean position is used).
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError("velocity model file not found", source=path)
    try:
        if path.suffix.lower() == ".zarr" or path.is_dir():
            dataset = xr.open_zarr(path, consolidated=False)
        else:
            dataset = xr.open_dataset(path)
    except Exception as exc:  # xarray's engines raise many types; report them uniformly
        raise InputError(
            f"cannot open grid model ({type(exc).__name__}: {exc})", source=path
        ) from exc
    with dataset:
        for name in ("vp_km_s", "vs_km_s"):
            if name not in dataset:
                raise InputError(
                    f"grid model lacks variable '{name}' (have {sorted(dataset.data_vars)})",
                    source=path,
                    field=name,
                )
        dims = ("x_km", "y_km", "z_km")
        try:
            vp = dataset["vp_km_s"].transpose(*dims)
            vs = dataset["vs_km_s"].transpose(*dims)
        except ValueError as exc:
            raise InputError(f"variables must have dimensions {dims} ({exc})", source=path) from exc
        return GridModel(
            vp["x_km"].to_numpy(),
            vp["y_km"].to_numpy(),
            vp["z_km"].to_numpy(),
            vp.to_numpy(),
            vs.to_numpy(),
            source=str(path),
            description=str(dataset.attrs.get("description", "")),
            rebuild={"path": str(path), **_projection_attrs(dataset.attrs)},
        )


def _projection_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """The projection centre stored in a grid file's attributes, if any."""
    if "latitude_deg" in attrs and "longitude_deg" in attrs:
        return {
            "projection": {
                "latitude_deg": float(attrs["latitude_deg"]),
                "longitude_deg": float(attrs["longitude_deg"]),
            }
        }
    return {}


def read_velocity_model(path: str | Path) -> LayeredModel | GridModel:
    """A layered model for `.txt` files, a grid model for NetCDF/Zarr."""
    path = Path(path)
    if path.suffix.lower() in {".nc", ".zarr", ".nc4", ".netcdf"} or path.is_dir():
        return read_grid_model(path)
    return read_layered_model(path)
