"""Acquisition settings scaled to the network: the rule, explicit values, the embedded default."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from quakesense.core.config import build_config
from quakesense.core.errors import InputError
from quakesense.locate.acquisition import describe, fill_acquisition, network_acquisition
from quakesense.locate.dataset import open_dataset
from quakesense.locate.simulate import (
    SimulateConfig,
    dataset_complete,
    json_config,
    network_aperture_km,
    resolve_network,
    simulate,
)

from .synth_fixtures import tiny_config

NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S = 5.72, 2.43


def _scale(config: SimulateConfig) -> tuple[float, float]:
    network = resolve_network(config)
    return network_aperture_km(network), float(network.model.vs_km_s.min())


def test_embedded_default_keeps_the_papers_regional_values_and_its_data() -> None:
    config = SimulateConfig()
    filled, record = fill_acquisition(config, *_scale(config))
    assert json_config(filled) == json_config(config)  # the same dataset as before
    assert set(record["source"].values()) == {"network"}
    assert record["values"] == {
        "sampling_interval_s": 0.1,
        "n_samples": 300,
        "highcut_hz": 2.0,
        "magnitude_min": 2.2,
        "magnitude_max": 4.5,
        "noise_rms_min_m_s": 2e-7,
        "noise_rms_max_m_s": 2e-6,
    }


def test_small_aperture_network_gets_microearthquake_settings() -> None:
    chosen = network_acquisition(NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S)
    assert (chosen.sampling_interval_s, chosen.highcut_hz) == (0.02, 15.0)
    assert (chosen.magnitude_min, chosen.magnitude_max) == (-1.5, 1.5)
    assert (chosen.noise_rms_min_m_s, chosen.noise_rms_max_m_s) == (3e-9, 3e-8)
    assert chosen.n_samples * chosen.sampling_interval_s == pytest.approx(22.0)
    # a 1 km mine network keeps the local values (no extrapolation beyond the anchors)
    mine = network_acquisition(1.0, COSO_SLOWEST_S_KM_S)
    assert replace(mine, crossing_time_s=0.0) == replace(chosen, crossing_time_s=0.0)


def test_values_move_monotonically_between_local_and_regional() -> None:
    sizes_km = [4.0, 8.0, 12.0, 16.0, 20.0, 60.0]
    chosen = [network_acquisition(a, COSO_SLOWEST_S_KM_S) for a in sizes_km]
    for smaller, larger in pairwise(chosen):
        assert larger.highcut_hz <= smaller.highcut_hz
        assert larger.sampling_interval_s >= smaller.sampling_interval_s
        assert larger.magnitude_min >= smaller.magnitude_min
        assert larger.noise_rms_max_m_s >= smaller.noise_rms_max_m_s
    middle = chosen[2]
    assert 2.0 < middle.highcut_hz < 15.0 and -1.5 < middle.magnitude_min < 2.2
    assert 0.5 / middle.sampling_interval_s >= 1.6 * middle.highcut_hz  # below Nyquist


def test_explicit_values_win_and_dependent_ones_follow() -> None:
    config = SimulateConfig.model_validate(
        {"sampling_interval_s": 0.05, "source": {"magnitude_max": 3.0}}
    )
    filled, record = fill_acquisition(config, NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S)
    assert filled.sampling_interval_s == 0.05 and filled.source.magnitude_max == 3.0
    assert filled.propagation.highcut_hz == 6.25  # capped below the given rate's Nyquist
    assert filled.n_samples == 440  # the network's 22 s at the given rate
    assert filled.source.magnitude_min == -1.5
    assert record["source"]["sampling_interval_s"] == "given"
    assert record["source"]["highcut_hz"] == "network"
    assert "sampling_interval_s 0.05," in describe(record)
    assert "highcut_hz 6.25*" in describe(record)
    band = SimulateConfig.model_validate({"propagation": {"highcut_hz": 40.0}})
    filled, _ = fill_acquisition(band, NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S)
    assert filled.sampling_interval_s == 0.005 and filled.n_samples == 4400


def test_elastic_backend_and_contradicting_values() -> None:
    elastic = SimulateConfig(backend="elastic3d")
    filled, record = fill_acquisition(elastic, NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S)
    assert json_config(filled) == json_config(elastic)
    assert set(record["source"].values()) == {"given"}
    clash = SimulateConfig.model_validate({"source": {"magnitude_min": 3.0}})
    with pytest.raises(InputError, match=r"magnitude_max must be >= magnitude_min.*1\.5"):
        fill_acquisition(clash, NEWBERRY_APERTURE_KM, COSO_SLOWEST_S_KM_S)


def test_simulate_uses_the_network_values_and_states_them(tmp_path: Path) -> None:
    settings = tiny_config(tmp_path, eikonal_refined=False, figures=False, n_events=4)
    for name in ("sampling_interval_s", "n_samples", "propagation"):
        settings.pop(name)
    config = build_config(SimulateConfig, settings)
    simulate(config, tmp_path / "out", progress=False)
    meta = open_dataset(tmp_path / "out").meta
    record = meta["acquisition"]
    assert record["source"]["sampling_interval_s"] == "network"
    assert record["source"]["magnitude_min"] == "given"
    assert meta["sampling_interval_s"] == record["values"]["sampling_interval_s"] < 0.1
    assert meta["preprocess"]["highcut_hz"] == record["values"]["highcut_hz"] > 2.0
    assert meta["config"]["n_samples"] == record["values"]["n_samples"]
    assert dataset_complete(config, tmp_path / "out")  # the same command finds it done
