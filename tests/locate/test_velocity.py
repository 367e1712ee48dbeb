"""Velocity models: the .vel.txt reader, layered -> grid, grid validation, NetCDF round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quakesense.core.errors import InputError
from quakesense.locate.velocity import (
    GridModel,
    LayeredModel,
    read_grid_model,
    read_layered_model,
    read_velocity_model,
)


@pytest.mark.shared_data
def test_read_rquake_japan_model(shared_data: Path) -> None:
    model = read_layered_model(shared_data / "velocity" / "rquake_jap1.vel.txt")
    assert model.depth_top_km[:3].tolist() == [0.0, 2.5, 5.0]
    assert model.vp_km_s[0] == pytest.approx(5.47)
    assert model.vs_km_s[0] == pytest.approx(3.24)
    assert model.velocity_at(np.array([1.0, 3.0]), "P").tolist() == [5.47, 5.73]


def test_different_p_and_s_tops_are_merged(tmp_path: Path) -> None:
    path = tmp_path / "m.vel.txt"
    path.write_text("# header\n0 5.0 0 0 3.0 0\n2 6.0 0 1 3.2 0\n")
    model = read_layered_model(path)
    assert model.depth_top_km.tolist() == [0.0, 1.0, 2.0]
    assert model.vp_km_s.tolist() == [5.0, 5.0, 6.0]
    assert model.vs_km_s.tolist() == [3.0, 3.2, 3.2]


def test_negative_velocity_names_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.vel.txt"
    path.write_text("0 -5.0 0 0 3.0 0\n")
    with pytest.raises(InputError, match="vp_km_s"):
        read_layered_model(path)


def test_to_grid_samples_layers() -> None:
    layered = LayeredModel([0.0, 2.0], [4.0, 6.0], [2.3, 3.5])
    grid = layered.to_grid(np.linspace(0, 4, 5), np.linspace(0, 4, 5), np.linspace(0, 4, 5))
    assert grid.shape == (5, 5, 5)
    assert grid.vp_km_s[0, 0].tolist() == [4.0, 4.0, 6.0, 6.0, 6.0]
    assert grid.to_dict()["kind"] == "grid"


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0])
def test_grid_rejects_bad_velocities(bad: float) -> None:
    axis = np.linspace(0, 1, 3)
    vp = np.full((3, 3, 3), 5.0)
    vp[1, 2, 0] = bad
    with pytest.raises(InputError, match=r"vp_km_s.*\(1, 2, 0\)"):
        GridModel(axis, axis, axis, vp, np.full((3, 3, 3), 3.0))


def test_grid_rejects_irregular_axis() -> None:
    axis = np.array([0.0, 1.0, 3.0])
    with pytest.raises(InputError, match="x_km"):
        GridModel(axis, axis[:2], axis[:2], np.full((3, 2, 2), 5.0), np.full((3, 2, 2), 3.0))


def test_netcdf_roundtrip(tmp_path: Path) -> None:
    import xarray as xr

    x, y, z = np.linspace(-2, 2, 5), np.linspace(-1, 1, 3), np.linspace(0, 3, 4)
    vp = 5.0 + np.arange(60, dtype=float).reshape(5, 3, 4) / 60
    dataset = xr.Dataset(
        {
            "vp_km_s": (("z_km", "x_km", "y_km"), vp.transpose(2, 0, 1)),
            "vs_km_s": (("z_km", "x_km", "y_km"), vp.transpose(2, 0, 1) / 1.73),
        },
        coords={"x_km": x, "y_km": y, "z_km": z},
    )
    path = tmp_path / "model.nc"
    dataset.to_netcdf(path)
    model = read_velocity_model(path)
    assert isinstance(model, GridModel)
    np.testing.assert_allclose(model.vp_km_s, vp)
    with pytest.raises(InputError, match="vs_km_s"):
        dataset.drop_vars("vs_km_s").to_zarr(tmp_path / "m.zarr", consolidated=False)
        read_grid_model(tmp_path / "m.zarr")
