"""`quakesense locate train | predict | evaluate` end to end, and their bad-input messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from obspy import Stream, Trace, UTCDateTime, read_events

from quakesense.cli import main
from quakesense.locate.train import SimulatedSet
from tests.locate.tiny_data import TINY_TRIGGER

START = UTCDateTime(2020, 6, 1)


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained through the CLI (1 epoch, tiny network)."""
    out = tmp_path_factory.mktemp("train")
    config = out / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "channels": [4],
                "kernels": [5],
                "dense_units": [8],
                "epochs": 1,
                "frames_per_event": 2,
                "window_after_detection_s": 3.0,
                "patience": None,
                "trigger": TINY_TRIGGER.model_dump(),
            }
        )
    )
    code = main(
        [
            "locate",
            "train",
            "--data",
            str(tiny_dataset),
            "--out",
            str(out / "run"),
            "--config",
            str(config),
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert code == 0
    assert (out / "run" / "report.html").is_file()
    assert (out / "run" / "model" / "model.json").is_file()
    return out / "run" / "model"


def _waveform_folder(data: SimulatedSet, root: Path) -> Path:
    """Two test events as miniSEED: the second misses one station and has an unknown one."""
    names = [str(s) for s in data.stations["station"]]
    for k, row in enumerate(data.split_indices("test")[:2]):
        values = data.event_values(int(row))
        folder = root / str(data.events["event_id"].iloc[int(row)])
        folder.mkdir(parents=True)
        traces = []
        for s, name in enumerate(names):
            if k == 1 and s == 0:
                continue
            for c, comp in enumerate("ZNE"):
                traces.append(
                    Trace(
                        values[s, c].astype(np.float64),
                        header={
                            "network": "XX",
                            "station": name,
                            "channel": f"HH{comp}",
                            "sampling_rate": 10.0,
                            "starttime": START,
                        },
                    )
                )
        if k == 1:
            traces.append(
                Trace(
                    values[1, 0].astype(np.float64),
                    header={
                        "station": "UNKNOWN",
                        "channel": "HHZ",
                        "sampling_rate": 10.0,
                        "starttime": START,
                    },
                )
            )
        Stream(traces).write(str(folder / "event.mseed"), format="MSEED")
    lonely = root / "only_one_station"
    lonely.mkdir()
    Stream([trace for trace in traces if trace.stats.station == names[1]]).write(
        str(lonely / "event.mseed"), format="MSEED"
    )
    return root


def test_predict_writes_csv_and_quakeml(tiny_dataset: Path, trained: Path, tmp_path: Path) -> None:
    data = SimulatedSet.open(tiny_dataset)
    waveforms = _waveform_folder(data, tmp_path / "waveforms")
    stations = tmp_path / "stations.csv"
    data.stations.assign(elevation_m=0.0)[
        ["station", "latitude_deg", "longitude_deg", "elevation_m"]
    ].to_csv(stations, index=False)
    out = tmp_path / "located.csv"
    args = [
        "locate",
        "predict",
        "--waveforms",
        str(waveforms),
        "--stations",
        str(stations),
        "--method",
        "cnn2d",
        "--model",
        str(trained),
        "--out",
        str(out),
        "--units",
        "velocity",
        "--answer-after",
        "1.0",
    ]
    assert main(args) == 0
    table = pd.read_csv(out)
    assert len(table) == 3
    lonely = table[table["event_id"] == "only_one_station"].iloc[0]
    assert "only 1 of the model's" in lonely["status"]  # reported, the others still located
    for column in (
        "event_id",
        "origin_time",
        "latitude_deg",
        "longitude_deg",
        "depth_km",
        "magnitude",
    ):
        assert column in table
    cut = table.iloc[1]
    assert cut["event_id"] != "only_one_station"
    assert cut["missing_stations"] == str(data.stations["station"].iloc[0])  # cutout, no crash
    located = table[table["status"] == "ok"]
    assert len(read_events(str(out.with_suffix(".xml")))) == len(located)

    # Bad input: clear messages and exit status 2, nothing written.
    assert main([*args[:-4], "--units", "auto", "--out", str(tmp_path / "a.csv")]) == 2
    assert main([a if a != "cnn2d" else "cnn3d" for a in args[:-2]]) == 2
    assert main([*args[:6], "--method", "gridsearch", "--out", str(tmp_path / "g.csv")]) == 2
    moved = tmp_path / "moved.csv"
    pd.read_csv(stations).assign(latitude_deg=lambda f: f["latitude_deg"] + 0.2).to_csv(
        moved, index=False
    )
    assert main([a if a != str(stations) else str(moved) for a in args]) == 2
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "g.csv").exists()


def test_evaluate_on_test_split_against_grid_search(
    tiny_dataset: Path, trained: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    assert (
        main(
            [
                "locate",
                "evaluate",
                "--data",
                str(tiny_dataset),
                "--model",
                str(trained),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = yaml.safe_load((out / "metrics.json").read_text())
    table = pd.DataFrame(metrics["rmse"])
    assert {"cnn2d", "gridsearch"} <= set(table["method"])
    assert {"clean", "cutout 3"} <= set(table["condition"])
    assert (out / "report.html").is_file() and (out / "figures" / "error_map.png").is_file()


def test_evaluate_against_a_reference_catalog(tmp_path: Path) -> None:
    reference = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "time": ["2020-01-01T00:00:00Z"] * 2,
            "latitude_deg": [35.0, 35.1],
            "longitude_deg": [139.0, 139.1],
            "depth_km": [5.0, 6.0],
            "magnitude": [3.0, 3.5],
        }
    )
    estimates = reference.assign(
        latitude_deg=reference["latitude_deg"] + 0.009,
        depth_km=reference["depth_km"] + 1.0,
        method="x",
        origin_time=reference["time"],
        status="ok",
    )
    reference.to_csv(tmp_path / "ref.csv", index=False)
    estimates.drop(columns="time").to_csv(tmp_path / "est.csv", index=False)
    out = tmp_path / "eval"
    assert (
        main(
            [
                "locate",
                "evaluate",
                "--predictions",
                str(tmp_path / "est.csv"),
                "--reference",
                str(tmp_path / "ref.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rmse = pd.DataFrame(yaml.safe_load((out / "metrics.json").read_text())["rmse"]).iloc[0]
    assert rmse["north_km"] == pytest.approx(1.0, rel=0.01)  # 0.009 deg of latitude
    assert rmse["depth_km"] == pytest.approx(1.0)
    assert rmse["origin_time_s"] == pytest.approx(0.0)
    assert main(["locate", "evaluate", "--out", str(out)]) == 2
