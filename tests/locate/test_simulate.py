"""`locate simulate`: the dataset contract, resume to byte-identical output, bad input, CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from quakesense.cli import main
from quakesense.core.config import build_config
from quakesense.core.errors import InputError
from quakesense.core.store import ChunkedZarrWriter
from quakesense.locate.dataset import open_dataset
from quakesense.locate.images import snapshots
from quakesense.locate.simulate import SimulateConfig, simulate

from .synth_fixtures import tiny_config

FAST = {"eikonal_refined": False, "figures": False}


def _config(folder: Path, **changes: object) -> SimulateConfig:
    return build_config(SimulateConfig, tiny_config(folder, **{**FAST, **changes}))


def _digest(folder: Path) -> dict[str, str]:
    """Hashes of every data file (not the report, whose timestamp and timings differ)."""
    names = ["events.parquet", "stations.parquet", "dataset.json"]
    files = [folder / n for n in names] + sorted((folder / "dataset.zarr").rglob("*"))
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    simulate(_config(folder), folder / "out", progress=False)
    return folder


def test_dataset_follows_the_contract(finished: Path) -> None:
    data = open_dataset(finished / "out")
    n_events, n_stations = len(data.events), len(data.stations)
    assert (n_events, n_stations) == (10, 5)
    assert data.velocity.shape == (10, 5, 3, 100)
    assert data.images.shape == (10, 100, 8, 8)
    assert data.velocity.dtype == np.float32 and data.images.dtype == np.float32
    assert data.interpolation_matrix.shape == (64, 5)
    assert data.meta["components"] == ["Z", "N", "E"]
    assert data.meta["sampling_interval_s"] == 0.1
    assert {"x_min_km", "latitude_max_deg", "height"} <= set(data.meta["image"])
    assert set(data.events["split"]) <= {"train", "val", "test", "holdout"}
    assert "below sea level" in data.meta["datum"]
    assert data.meta["preprocess"]["highcut_hz"] == 2.0
    assert {"x_km", "y_km"} <= set(data.stations.columns)
    velocity = np.asarray(data.velocity[:3])
    np.testing.assert_allclose(
        np.asarray(data.images[:3]),
        snapshots(velocity[:, :, 0], data.interpolation_matrix, 8, 8),
        rtol=1e-5,
        atol=1e-12,
    )
    assert np.abs(velocity).max() > 0
    assert (finished / "out" / "report.html").is_file()


def test_interrupted_run_resumes_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    simulate(config, tmp_path / "whole", progress=False)
    original = ChunkedZarrWriter.write_chunk
    calls = {"n": 0}

    def crash_on_second(self: ChunkedZarrWriter, chunk: int, data: dict) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        original(self, chunk, data)

    monkeypatch.setattr(ChunkedZarrWriter, "write_chunk", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        simulate(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # no partial dataset under the requested name
    monkeypatch.setattr(ChunkedZarrWriter, "write_chunk", original)
    result = simulate(config, tmp_path / "out", progress=False)
    assert result.resumed_chunks == 1
    assert _digest(tmp_path / "out") == _digest(tmp_path / "whole")


def test_other_seed_changes_the_data(finished: Path, tmp_path: Path) -> None:
    simulate(_config(tmp_path, seed=8, n_events=4), tmp_path / "out", progress=False)
    other = open_dataset(tmp_path / "out")
    same = open_dataset(finished / "out")
    assert not np.array_equal(np.asarray(other.velocity[:1]), np.asarray(same.velocity[:1]))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid": {"depth_min_km": -5.0}}, "grid.depth_min_km"),
        ({"grid": {"depth_min_km": 3.0, "depth_max_km": 2.0}}, "grid.depth_max_km"),
        ({"grid": {"depth_max_km": 50.0}}, "grid.depth_max_km"),
        (
            {"grid": {"latitude_min_deg": 35.2, "latitude_max_deg": 35.1}},
            "grid.latitude_max_deg",
        ),
        ({"grid": {"latitude_min_deg": 34.5}}, "grid"),
    ],
)
def test_bad_grids_name_the_field_and_write_nothing(
    tmp_path: Path, changes: dict, field: str
) -> None:
    with pytest.raises(InputError, match=f"field '{field}'"):
        simulate(_config(tmp_path, **changes), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".out.partial").exists()


def test_nan_velocity_is_rejected(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.velocity.write_text("0.0 nan 0 0.0 2.6 0\n")
    with pytest.raises(InputError, match="vp_km_s"):
        simulate(config, tmp_path / "out", progress=False)


def test_station_outside_a_3d_model_is_named(tmp_path: Path) -> None:
    import xarray as xr

    axis = np.linspace(-3, 3, 4)
    z = np.linspace(0, 6, 4)
    vp = np.full((4, 4, 4), 5.0)
    xr.Dataset(
        {
            "vp_km_s": (("x_km", "y_km", "z_km"), vp),
            "vs_km_s": (("x_km", "y_km", "z_km"), vp / 1.8),
        },
        coords={"x_km": axis, "y_km": axis, "z_km": z},
    ).to_netcdf(tmp_path / "small.nc")
    config = _config(
        tmp_path,
        velocity=str(tmp_path / "small.nc"),
        grid={
            "spacing_deg": 0.01,
            "latitude_min_deg": 35.02,
            "latitude_max_deg": 35.03,
            "longitude_min_deg": 139.02,
            "longitude_max_deg": 139.03,
            "depth_min_km": 2.0,
            "depth_max_km": 2.5,
        },
    )
    with pytest.raises(InputError, match=r"station A2 .* outside the velocity model"):
        simulate(config, tmp_path / "out", progress=False)
    assert not (tmp_path / ".out.partial").exists()


def test_cli_simulate_and_config_typo(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = tiny_config(tmp_path, **FAST, n_events=4)
    good = tmp_path / "network.yaml"
    good.write_text(yaml.safe_dump(settings))
    assert (
        main(
            [
                "locate",
                "simulate",
                "--config",
                str(good),
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "simulated 4 events x 5 stations" in capsys.readouterr().out
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*")}
    rerun = ["locate", "simulate", "--config", str(good), "--out", str(tmp_path / "o")]
    assert main([*rerun, "--no-progress"]) == 0
    assert "already complete for this config; nothing to do" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*")} == stamps
    assert main([*rerun, "--seed", "99"]) == 2
    assert f"{tmp_path / 'o'}: folder holds a dataset made with another config" in (
        capsys.readouterr().err
    )
    settings["grid"]["spacing"] = 0.1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(settings))
    assert main(["locate", "simulate", "--config", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "field 'grid.spacing': unknown setting" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_dask_threads_give_the_same_bytes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    simulate(config, tmp_path / "sync", progress=False)
    threaded = config.model_copy(update={"scheduler": "threads", "n_workers": 2})
    simulate(threaded, tmp_path / "threads", progress=False)
    sync, threads = _digest(tmp_path / "sync"), _digest(tmp_path / "threads")
    data_files = [name for name in sync if name != "dataset.json"]  # json holds the scheduler
    assert [sync[n] for n in data_files] == [threads[n] for n in data_files]


def test_elastic_cuda_without_gpu_is_an_input_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    config = _config(tmp_path, backend="elastic3d", elastic={"device": "cuda"})
    with pytest.raises(InputError, match="no CUDA device"):
        simulate(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".out.partial").exists()


@pytest.mark.slow
def test_elastic_backend_end_to_end(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    config = _config(
        tmp_path,
        backend="elastic3d",
        n_events=4,
        elastic={"spacing_km": 1.0, "time_step_s": 0.05, "highcut_hz": 0.3, "pml_cells": 6},
    )
    simulate(config, tmp_path / "out", progress=False)
    data = open_dataset(tmp_path / "out")
    velocity = np.asarray(data.velocity[:])
    assert velocity.shape == (4, 5, 3, 100)
    assert np.isfinite(velocity).all()
    assert data.meta["backend"]["name"] == "elastic3d"
    peak = np.abs(velocity).max(axis=(1, 2, 3))
    # Hypocentres are drawn continuously (other distances per event), so only the clearly
    # weakest event (here ~0.7 magnitude units, ~10x less moment, below the others) must
    # give the smallest peak; close magnitudes may swap with distance.
    magnitude = data.events["magnitude"].to_numpy()
    assert np.sort(magnitude)[1] - magnitude.min() > 0.3
    assert np.argmin(peak) == np.argmin(magnitude)
