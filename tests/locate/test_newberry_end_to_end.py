"""End to end on the real Newberry events: synthetics of a 1-D model -> CNN -> real locations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from quakesense.cli import main

NEWBERRY = Path("waveforms/newberry_egs_subset")
COSO = Path("velocity/rquake_wu_coso.vel.txt")


def _stations(shared_data: Path, tmp_path: Path) -> Path:
    """The Newberry station list as a CSV (its `depth` column is the elevation in km)."""
    raw = pd.read_csv(shared_data / NEWBERRY / "staInfo_df.csv")
    stations = tmp_path / "stations.csv"
    pd.DataFrame(
        {
            "station": raw.iloc[:, 0],
            "latitude_deg": raw["lat"],
            "longitude_deg": raw["lon"],
            "elevation_m": raw["depth"] * 1000.0,
        }
    ).to_csv(stations, index=False)
    return stations


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.shared_data
def test_newberry_gridsearch_within_a_km_of_the_catalog(shared_data: Path, tmp_path: Path) -> None:
    """Every event of the five is located, each within 1 km of its SAC-header catalog epicentre.

    Depth is km below sea level in both; the Coso 1-D model is not Newberry's, so depth is
    held to 1.5 km each (the median is what the blind set judges). The reported 68 % ellipse
    and depth deviation are finite and of the size of the errors (not metres, not tens of km).
    """
    from obspy import read_events

    from quakesense.core.geo import haversine_km
    from quakesense.io.waveforms import read_catalog_from_headers

    waveforms = shared_data / NEWBERRY / "raw_sac_subset"
    out = tmp_path / "grid"
    code = main(
        [
            "locate",
            "predict",
            "--waveforms",
            str(waveforms),
            "--stations",
            str(_stations(shared_data, tmp_path)),
            "--units",
            "velocity",
            "--method",
            "gridsearch",
            "--velocity",
            str(shared_data / COSO),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "locations.csv", dtype={"event_id": str})
    catalog = read_catalog_from_headers(waveforms).astype({"event_id": str})
    merged = catalog.merge(table, on="event_id", suffixes=("_cat", ""))
    assert (merged["status"] == "ok").all()
    epicentre_km = haversine_km(
        merged["latitude_deg_cat"],
        merged["longitude_deg_cat"],
        merged["latitude_deg"],
        merged["longitude_deg"],
    )
    assert epicentre_km.max() < 1.0, epicentre_km
    assert (merged["depth_km"] - merged["depth_km_cat"]).abs().median() < 1.0
    assert merged["horizontal_uncertainty_km"].between(0.02, 3.0).all()
    assert merged["depth_uncertainty_km"].between(0.02, 5.0).all()
    assert (merged["n_s_picks"] >= 3).all()
    assert len(read_events(str(out / "locations.xml"))) == 5


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.shared_data
def test_newberry_train_predict_evaluate(shared_data: Path, tmp_path: Path) -> None:
    stations = _stations(shared_data, tmp_path)
    velocity = shared_data / COSO
    sim = tmp_path / "sim.yaml"
    sim.write_text(
        yaml.safe_dump(
            {
                "stations": str(stations),
                "velocity": str(velocity),
                "n_events": 40,
                "seed": 0,
                "sampling_interval_s": 0.02,
                "n_samples": 200,
                "chunk_events": 40,
                "figures": False,
                "scheduler": "synchronous",
                "grid": {"depth_min_km": 0.0, "depth_max_km": 2.0},
                "source": {
                    "magnitude_min": 0.0,
                    "magnitude_max": 2.0,
                    "origin_time_min_s": 1.0,
                    "origin_time_max_s": 2.0,
                },
                "propagation": {
                    "highcut_hz": 15.0,
                    "noise_rms_min_m_s": 3e-9,
                    "noise_rms_max_m_s": 3e-8,
                },
                "model_grid": {"spacing_km": 0.5, "margin_km": 2.0, "max_depth_km": 6.0},
            }
        )
    )
    assert (
        main(
            [
                "locate",
                "simulate",
                "--config",
                str(sim),
                "--out",
                str(tmp_path / "set"),
                "--no-progress",
            ]
        )
        == 0
    )
    train = tmp_path / "train.yaml"
    train.write_text(
        yaml.safe_dump(
            {
                "transform": "rms",
                "channels": [4],
                "kernels": [5],
                "dense_units": [8],
                "epochs": 1,
                "frames_per_event": 2,
                "window_after_detection_s": 1.0,
                "patience": None,
                "trigger": {"sta_s": 0.1, "lta_s": 1.0, "answer_after_s": 1.0},
            }
        )
    )
    assert (
        main(
            [
                "locate",
                "train",
                "--data",
                str(tmp_path / "set"),
                "--config",
                str(train),
                "--out",
                str(tmp_path / "run"),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    waveforms = shared_data / NEWBERRY / "raw_sac_subset"
    common = ["--waveforms", str(waveforms), "--stations", str(stations), "--units", "velocity"]
    assert (
        main(
            [
                "locate",
                "predict",
                *common,
                "--method",
                "cnn2d",
                "--model",
                str(tmp_path / "run"),
                "--sta",
                "0.5",
                "--lta",
                "5",
                "--out",
                str(tmp_path / "cnn"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "locate",
                "predict",
                *common,
                "--method",
                "gridsearch",
                "--velocity",
                str(velocity),
                "--out",
                str(tmp_path / "grid"),
            ]
        )
        == 0
    )
    for name in ("cnn", "grid"):
        table = pd.read_csv(tmp_path / name / "locations.csv")
        assert len(table) == 5 and set(table["event_id"].astype(str)) == {
            p.name for p in waveforms.iterdir()
        }
    assert (
        main(
            [
                "locate",
                "evaluate",
                "--predictions",
                str(tmp_path / "cnn" / "locations.csv"),
                "--predictions",
                str(tmp_path / "grid" / "locations.csv"),
                "--reference-waveforms",
                str(waveforms),
                "--stations",
                str(stations),
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    assert (tmp_path / "eval" / "report.html").is_file()
