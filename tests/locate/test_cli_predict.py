"""`quakesense locate train | predict | evaluate` end to end, and their bad-input messages."""

from __future__ import annotations

import json
import shutil
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from obspy import Stream, Trace, UTCDateTime, read, read_events

from quakesense.cli import main
from quakesense.locate.predictor import LocatePredictor
from quakesense.locate.train import LocateTrainConfig, SimulatedSet, TrainedLocator, train_locator
from tests.locate.tiny_data import TINY_TRIGGER
from tests.progress_bars import has_bar

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


def _station_file(data: SimulatedSet, path: Path, **changes: object) -> Path:
    data.stations.assign(elevation_m=0.0, **changes)[
        ["station", "latitude_deg", "longitude_deg", "elevation_m"]
    ].to_csv(path, index=False)
    return path


def test_predict_writes_a_run_folder_with_csv_and_quakeml(
    tiny_dataset: Path, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    waveforms = _waveform_folder(data, tmp_path / "waveforms")
    stations = _station_file(data, tmp_path / "stations.csv")
    out = tmp_path / "located"
    common = ["locate", "predict", "--waveforms", str(waveforms), "--units", "velocity"]
    args = [
        *common,
        "--stations",
        str(stations),
        "--method",
        "cnn2d",
        "--model",
        str(trained.parent),  # the run folder `locate train --out` wrote
        "--answer-after",
        "1.0",
    ]
    assert main([*args, "--out", str(out)]) == 0
    assert {"locations.csv", "locations.xml", "config.json", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    table = pd.read_csv(out / "locations.csv")
    assert len(table) == 3
    lonely = table[table["event_id"] == "only_one_station"].iloc[0]
    assert "only 1 of the model's" in lonely["status"]  # reported, the others still located
    for column in ("origin_time", "depth_km", "horizontal_uncertainty_km", "depth_uncertainty_km"):
        assert column in table
    cut = table.iloc[1]
    assert cut["event_id"] != "only_one_station"
    assert cut["missing_stations"] == str(data.stations["station"].iloc[0])  # cutout, no crash
    assert "UNKNO" in cut["notes"]  # a station not in the station list (miniSEED: 5 letters)
    located = table[table["status"] == "ok"]
    # each answer says whether its detection sits on energy (contrast >= TriggerConfig's 2)
    assert (located["detection_on_noise"] == (located["detection_contrast"] < 2.0)).all()
    no_gpu = not torch.cuda.is_available()  # --device cuda falls back to the CPU, same answers
    with pytest.warns(RuntimeWarning, match="no CUDA device") if no_gpu else nullcontext():
        assert main([*args, "--device", "cuda", "--out", str(tmp_path / "cuda")]) == 0
    again = pd.read_csv(tmp_path / "cuda" / "locations.csv")
    assert np.allclose(again["latitude_deg"], table["latitude_deg"], equal_nan=True)
    strict = tmp_path / "strict.yaml"  # a contrast no detection reaches: every answer flagged
    strict.write_text(
        yaml.safe_dump({"trigger": {**TINY_TRIGGER.model_dump(), "min_contrast": 1e9}})
    )
    capsys.readouterr()
    assert main([*args, "--config", str(strict), "--out", str(tmp_path / "strict")]) == 0
    flagged = pd.read_csv(tmp_path / "strict" / "locations.csv").query("status == 'ok'")
    assert len(flagged) == len(located) and flagged["detection_on_noise"].all()
    assert f"event {flagged['event_id'].iloc[0]}: the detection at" in capsys.readouterr().err
    catalog = read_events(str(out / "locations.xml"))
    assert len(catalog) == len(located)
    event = catalog[0]
    origin = event.preferred_origin()
    assert origin is not None and origin.evaluation_mode == "automatic"
    assert str(origin.method_id).endswith("/cnn2d")
    assert event.preferred_magnitude().magnitude_type == "M"  # uncalibrated: not Mw
    assert origin.origin_uncertainty.confidence_level == 68.0
    settings = json.loads((out / "config.json").read_text())
    assert settings["method"] == "cnn2d" and "datum" in settings["quakesense"]

    # A re-run needs --force; the config it wrote reads back.
    assert main([*args, "--out", str(out)]) == 2
    again = tmp_path / "again"
    assert (
        main(
            [
                *common,
                "--stations",
                str(stations),
                "--model",
                str(trained),
                "--config",
                str(out / "config.json"),
                "--out",
                str(again),
            ]
        )
        == 0
    )

    # StationXML names NET.STA match the model's STA.
    from obspy.core.inventory import Inventory, Network, Station

    inventory = Inventory(
        networks=[
            Network(
                "XX",
                stations=[
                    Station(str(r.station), r.latitude_deg, r.longitude_deg, 0.0)
                    for r in data.stations.itertuples()
                ],
            )
        ],
        source="test",
    )
    xml = tmp_path / "stations.xml"
    inventory.write(str(xml), format="STATIONXML")
    assert main([*args[:6], "--stations", str(xml), *args[8:], "--out", str(tmp_path / "x")]) == 0


def test_repeated_model_folders_predict_and_evaluate_as_an_ensemble(
    tiny_dataset: Path, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    other = tmp_path / "seed1"  # the CLI run's settings and dataset, another seed
    settings = TrainedLocator.load(trained).training["train_config"]
    train_locator(data, LocateTrainConfig(**{**settings, "seed": 1})).save(other)
    waveforms = _waveform_folder(data, tmp_path / "waveforms")
    stations = _station_file(data, tmp_path / "stations.csv")
    common = ["locate", "predict", "--waveforms", str(waveforms), "--stations", str(stations)]
    no_dropout = tmp_path / "no_dropout.yaml"
    no_dropout.write_text("mc_samples: 0\n")
    common += ["--units", "velocity", "--method", "cnn2d", "--config", str(no_dropout)]
    tables = []
    for name, models in [("a", [trained]), ("b", [other]), ("ab", [trained, other])]:
        flags = [arg for model in models for arg in ("--model", str(model))]
        assert main([*common, *flags, "--no-progress", "--out", str(tmp_path / name)]) == 0
        tables.append(pd.read_csv(tmp_path / name / "locations.csv").query("status == 'ok'"))
    first, second, ensemble = tables
    for column in ("latitude_deg", "longitude_deg", "depth_km"):
        mean = (first[column].to_numpy() + second[column].to_numpy()) / 2
        np.testing.assert_allclose(ensemble[column], mean, rtol=1e-5)
    assert first["horizontal_uncertainty_km"].isna().all()  # one network, no dropout: no spread
    assert (ensemble["horizontal_uncertainty_km"] > 0).all()
    assert (ensemble["uncertainty_method"] == "ensemble of 2 networks").all()
    assert "note: ensemble of 2 networks" in capsys.readouterr().out
    saved = json.loads((tmp_path / "ab" / "config.json").read_text())["quakesense"]["model"]
    assert saved == [str(trained), str(other)]
    event = ensemble["event_id"].iloc[0]  # the Python API takes several folders too
    stream = read(str(waveforms / event / "event.mseed"))
    api = LocatePredictor([trained, other]).predict(stream, units="velocity", mc_samples=0)
    assert api["latitude_deg"].iloc[0] == pytest.approx(ensemble["latitude_deg"].iloc[0])
    assert api["uncertainty_method"].iloc[0] == "ensemble of 2 networks"

    out = tmp_path / "evaluate"
    argv = ["locate", "evaluate", "--data", str(tiny_dataset), "--model", str(trained)]
    argv += ["--model", str(other), "--no-gridsearch", "--conditions", "clean"]
    assert main([*argv, "--max-events", "3", "--no-progress", "--out", str(out)]) == 0
    rows = pd.DataFrame(json.loads((out / "metrics.json").read_text())["rmse"])
    assert (rows.query("method == 'cnn2d'")["median_sigma_epicentre_km"] > 0).all()
    assert "ensemble of 2 networks" in (out / "report.html").read_text()


@pytest.mark.parametrize(("flag", "shown"), [("--progress", True), ("--no-progress", False)])
def test_predict_progress_bar_over_events_on_stderr(
    tiny_dataset: Path,
    trained: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    flag: str,
    shown: bool,
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    args = ["locate", "predict", "--waveforms", str(_waveform_folder(data, tmp_path / "w"))]
    args += ["--stations", str(_station_file(data, tmp_path / "stations.csv"))]
    args += ["--units", "velocity", "--model", str(trained), "--answer-after", "1.0"]
    capsys.readouterr()
    assert main([*args, "--device", "cpu", flag, "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert has_bar(captured.err, "locate cnn2d") is shown
    assert not has_bar(captured.out)  # stdout holds only the results
    assert json.loads((tmp_path / "run" / "config.json").read_text())["progress"] is shown


def test_predict_bad_input_one_line_and_nothing_written(
    tiny_dataset: Path, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = SimulatedSet.open(tiny_dataset)
    waveforms = _waveform_folder(data, tmp_path / "waveforms")
    stations = _station_file(data, tmp_path / "stations.csv")
    base = ["locate", "predict", "--waveforms", str(waveforms), "--model", str(trained)]
    base.append("--no-progress")  # stderr then holds the error line alone
    one = tmp_path / "one.csv"
    pd.read_csv(stations).iloc[:1].to_csv(one, index=False)
    cases = {
        "units": ([*base, "--stations", str(stations)], "units"),
        "method": (
            [*base, "--stations", str(stations), "--units", "velocity", "--method", "cnn3d"],
            "not a cnn3d",
        ),
        "velocity": (
            [*base, "--stations", str(stations), "--units", "velocity", "--method", "gridsearch"],
            "velocity model",
        ),
        "moved": (
            [
                *base,
                "--units",
                "velocity",
                "--stations",
                str(
                    _station_file(
                        data,
                        tmp_path / "moved.csv",
                        latitude_deg=data.stations["latitude_deg"] + 0.2,
                    )
                ),
            ],
            "km from where the model was trained",
        ),
        "single station": (
            [*base, "--units", "velocity", "--stations", str(one)],
            "holds 1 station",
        ),
        "far station": (
            [
                *base,
                "--units",
                "velocity",
                "--stations",
                str(
                    _station_file(
                        data,
                        tmp_path / "far.csv",
                        latitude_deg=data.stations["latitude_deg"].where(
                            data.stations.index != 0, data.stations["latitude_deg"] - 25.0
                        ),
                    )
                ),
            ],
            "from the network's median position",
        ),
    }
    cases["calibration without catalog"] = (
        [
            *base,
            "--stations",
            str(stations),
            "--units",
            "velocity",
            "--calibration",
            str(waveforms),
        ],
        "catalog hypocentre in the SAC headers",
    )
    (tmp_path / "file.csv").write_text("not a folder")
    cases["out is a file"] = (
        [*base, "--stations", str(stations), "--units", "velocity"],
        "not a folder",
    )
    for name, (args, message) in cases.items():
        out = tmp_path / ("file.csv" if name == "out is a file" else f"out_{name}")
        capsys.readouterr()
        assert main([*args, "--out", str(out)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (name, err)
        if name != "out is a file":
            assert not out.exists(), name


def _sac_events(data: SimulatedSet, root: Path, gain: dict[str, float]) -> Path:
    """Test events as SAC with their hypocentres in the headers; `gain` scales stations."""
    names = [str(s) for s in data.stations["station"]]
    for row in data.split_indices("test")[:4]:
        event = data.events.iloc[int(row)]
        origin = START + float(event["origin_time_s"])
        values = data.event_values(int(row))
        folder = root / str(event["event_id"])
        folder.mkdir(parents=True)
        for s, name in enumerate(names):
            trace = Trace(
                values[s, 0].astype(np.float64) * gain.get(name, 1.0),
                header={"station": name, "channel": "HHZ", "sampling_rate": 10.0},
            )
            trace.stats.starttime = START
            trace.stats.sac = {
                "evla": float(event["latitude_deg"]),
                "evlo": float(event["longitude_deg"]),
                "evdp": float(event["depth_km"]),
                "nzyear": origin.year,
                "nzjday": origin.julday,
                "nzhour": origin.hour,
                "nzmin": origin.minute,
                "nzsec": origin.second,
                "nzmsec": origin.microsecond // 1000,
                "o": 0.0,
            }
            trace.write(str(folder / f"{name}.HHZ.sac"), format="SAC")
    return root


def test_calibration_events_give_the_cnn_station_amplitude_terms(
    tiny_dataset: Path, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A station recording 12 dB loud in every calibration event gets the largest term."""
    data = SimulatedSet.open(tiny_dataset)
    loud = str(data.stations["station"].iloc[2])
    events = _sac_events(data, tmp_path / "events", {loud: 10.0 ** (12.0 / 20.0)})
    stations = _station_file(data, tmp_path / "stations.csv")
    out = tmp_path / "located"
    args = ["locate", "predict", "--waveforms", str(events), "--stations", str(stations)]
    args += ["--model", str(trained), "--units", "velocity", "--answer-after", "1.0"]
    assert main([*args, "--calibration", str(events), "--out", str(out), "--no-progress"]) == 0
    n_events = len(list(events.iterdir()))
    assert (
        f"station amplitude terms from {n_events} calibration event(s)" in capsys.readouterr().out
    )
    terms = pd.read_csv(out / "station_terms.csv").set_index("station")
    others = terms.drop(index=loud)
    assert terms.loc[loud, "n_events"] > 0
    assert terms.loc[loud, "term_db"] - others["term_db"].median() > 8.0
    assert terms.loc[loud, "term_db"] == terms["term_db"].max()
    assert "Station amplitude terms" in (out / "report.html").read_text()
    assert (pd.read_csv(out / "locations.csv")["status"] == "ok").any()
    # Without a catalog: terms from the batch itself, at the network's own first locations.
    batch = tmp_path / "batch"
    assert main([*args, "--station-corrections", "batch", "--out", str(batch)]) == 0
    assert "the batch's own events" in capsys.readouterr().out
    terms = pd.read_csv(batch / "station_terms.csv").set_index("station")
    assert terms.loc[loud, "term_db"] - terms.drop(index=loud)["term_db"].median() > 8.0

    # The terms are measured against the training synthetics: a model whose dataset is gone
    # is refused in one line, and nothing is written.
    moved = tmp_path / "moved_model"
    shutil.copytree(trained, moved)
    record = json.loads((moved / "model.json").read_text())
    record["extra"]["dataset"] = str(tmp_path / "gone")
    (moved / "model.json").write_text(json.dumps(record))
    capsys.readouterr()
    refused = [*args[:6], "--model", str(moved), *args[8:], "--calibration", str(events)]
    assert main([*refused, "--out", str(tmp_path / "refused"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "dataset folder is not there" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow  # the full classical chain on every event and condition: ~1-2 min
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
