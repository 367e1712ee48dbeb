"""One causal preprocessing; default volumes from the network; domain randomisation options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from quakesense.core.config import build_config
from quakesense.core.errors import InputError
from quakesense.locate import simulate as sim
from quakesense.locate.dataset import open_dataset
from quakesense.locate.preprocess import PreprocessConfig, preprocess
from quakesense.locate.train import Augmenter

from .synth_fixtures import tiny_config

FAST = {"eikonal_refined": False, "figures": False}


def _config(folder: Path, **changes: object) -> sim.SimulateConfig:
    return build_config(sim.SimulateConfig, tiny_config(folder, **{**FAST, **changes}))


def test_preprocess_is_causal_and_refuses_corners_above_nyquist() -> None:
    values = np.zeros((2, 3, 200))
    values[..., 100] = 1.0
    out = preprocess(values, 0.1, PreprocessConfig(highcut_hz=2.0, lowcut_hz=0.1))
    assert out.dtype == np.float32
    assert np.all(out[..., :100] == 0.0)  # nothing before the impulse: causal
    assert np.abs(out[..., 100:]).max() > 0
    with pytest.raises(InputError, match="Nyquist"):
        preprocess(values, 0.1, PreprocessConfig(highcut_hz=6.0))
    np.testing.assert_array_equal(preprocess(values, 0.1, PreprocessConfig()), values)


def test_stored_synthetics_are_the_preprocessed_backend_output(tmp_path: Path) -> None:
    config = _config(tmp_path, n_events=4, chunk_events=4)
    sim.simulate(config, tmp_path / "out", progress=False)
    data = open_dataset(tmp_path / "out")
    network = sim.resolve_network(config)
    backend = sim.make_backend(
        config, network, data.events, lambda tasks: [t[0](*t[1:]) for t in tasks]
    )
    raw = backend.synthesize(
        sim.events_batch(data.events), sim.event_rngs(config.seed, 0, len(data.events))
    )
    band = PreprocessConfig(**data.meta["preprocess"])
    stored = np.asarray(data.velocity[:])
    np.testing.assert_allclose(stored, preprocess(raw, 0.1, band), rtol=1e-6, atol=1e-14)
    # a zero-phase filter (what real records got before) would not reproduce the training data
    zero_phase = sosfiltfilt(butter(4, 2.0, fs=10.0, output="sos"), raw, axis=-1)
    assert not np.allclose(stored, zero_phase, rtol=1e-3, atol=1e-12)


def test_default_volume_starts_at_the_surface_and_follows_the_aperture(tmp_path: Path) -> None:
    config = _config(tmp_path, grid={})
    network = sim.resolve_network(config)
    volume = sim.hypocentre_volume(config, network)
    lowest_station_km = -network.stations["elevation_m"].min() / 1000.0
    assert volume.depth_min_km == pytest.approx(lowest_station_km)
    extent = max(0.5 * sim.network_aperture_km(network), config.grid.min_depth_extent_km)
    assert volume.depth_max_km == pytest.approx(
        min(volume.depth_min_km + extent, network.model.z_km[-1] - network.model.spacing_km[0])
    )
    assert sim.SimulateConfig().n_events == sim.DEFAULT_EVENTS


@pytest.mark.shared_data
def test_newberry_defaults_give_a_paper_size_shallow_training_set(
    shared_data: Path, tmp_path: Path
) -> None:
    raw = pd.read_csv(shared_data / "waveforms/newberry_egs_subset/staInfo_df.csv")
    table = pd.DataFrame(
        {
            "station": raw.iloc[:, 0],
            "latitude_deg": raw["lat"],
            "longitude_deg": raw["lon"],
            "elevation_m": raw["depth"] * 1000.0,
        }
    )
    stations = tmp_path / "stations.csv"
    table.to_csv(stations, index=False)
    config = sim.SimulateConfig(
        stations=stations, velocity=shared_data / "velocity/rquake_wu_coso.vel.txt"
    )
    network = sim.resolve_network(config)
    events = sim.build_events(config, network)
    assert 2000 <= len(events) <= 4000
    # the catalogued Newberry EGS events sit 0.6-1.2 km below sea level, 2-3 km below the
    # surface: inside the default volume, which starts at the surface (1.4 km above sea level)
    assert events["depth_km"].min() < -1.0 and events["depth_km"].max() > 2.0
    assert ((events["depth_km"] > 0.5) & (events["depth_km"] < 1.3)).sum() > 300


def test_catalog_hypocentres_join_the_train_split(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    pd.DataFrame(
        {"latitude_deg": [35.02, 35.03], "longitude_deg": [139.02, 139.03], "depth_km": [3.0, 3.5]}
    ).to_csv(catalog, index=False)
    config = _config(tmp_path, catalog=str(catalog), catalog_events_per_entry=5)
    events = sim.build_events(config, sim.resolve_network(config))
    assert len(events) == config.n_events + 10
    extra = events.iloc[config.n_events :]
    assert (extra["split"] == "train").all()
    assert extra["depth_km"].between(1.0, 5.5).all()
    pd.DataFrame({"latitude_deg": ["x"], "longitude_deg": [1.0], "depth_km": [1.0]}).to_csv(
        catalog, index=False
    )
    with pytest.raises(InputError, match="row 2: expected a number"):
        sim.build_events(config, sim.resolve_network(config))


def test_velocity_perturbation_moves_arrivals_within_bounds(tmp_path: Path) -> None:
    config = _config(tmp_path, propagation={"velocity_perturbation": 0.1})
    # One fixed mechanism: the peak-sample proxy below must stay on the same phase (with a
    # random one the largest vertical motion may sit on P at one speed and S at the other).
    config = config.model_copy(
        update={"source": config.source.model_copy(update={"mechanism": "reverse"})}
    )
    events = sim.build_events(config, sim.resolve_network(config))
    assert events["velocity_factor"].between(0.9, 1.1).all()
    assert events["velocity_factor"].std() > 0
    network = sim.resolve_network(config)
    backend = sim.make_backend(config, network, events, lambda tasks: [t[0](*t[1:]) for t in tasks])
    quiet = config.model_copy(
        update={"propagation": config.propagation.model_copy(update={"noise_rms_max_m_s": 0.0})}
    )
    backend.params = sim.wave_parameters(quiet)
    batch = sim.events_batch(events.iloc[:1])
    slow = sim.events_batch(events.iloc[:1].assign(velocity_factor=0.9))
    peak = [
        np.argmax(np.abs(backend.synthesize(b, sim.event_rngs(0, 0, 1))[0, :, 0]), axis=-1)
        for b in (batch, slow)
    ]  # sample of each station's largest vertical motion: later with 10 % slower rocks
    assert (peak[1] >= peak[0]).all() and (peak[1] > peak[0]).any()
    with pytest.raises(InputError, match="traveltime backend"):
        _config(tmp_path, backend="elastic3d", propagation={"velocity_perturbation": 0.1})
    with pytest.raises(InputError, match="traveltime backend"):
        _config(tmp_path, backend="elastic3d", propagation={"p_site_sigma_log10": 0.3})


def test_station_gains_scale_whole_stations() -> None:
    values = np.ones((5, 3, 20), dtype=np.float32)
    out = Augmenter(0, 0.0, 0.0, 0, np.random.default_rng(1), station_gain_sigma_db=6.0)(values)
    per_station = out[:, 0, 0]
    assert np.allclose(out, per_station[:, None, None])
    assert per_station.std() > 0
