"""End-to-end tests of `quakesense aeclass simulate|train|evaluate|locate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.aeclass.classify import load_classifier
from quakesense.cli import main
from quakesense.core.store import read_json


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    config = folder / "sim.yaml"
    config.write_text("events_per_stage: [20, 20, 20, 20, 20, 20]\n")
    assert main(["aeclass", "simulate", "--out", str(folder), "--config", str(config)]) == 0
    return folder


def test_train_then_evaluate(simulated: Path, tmp_path: Path) -> None:
    config = tmp_path / "cls.yaml"
    config.write_text(
        "baselines: [logistic, knn]\nn_bootstrap: 50\ntsne: false\n"
        "train: {max_epochs: 30, patience: 10, learning_rate: 0.02, progress: false}\n"
    )
    args = ["--picks", str(simulated / "picks.csv"), "--sensors", str(simulated / "sensors.csv")]
    args += ["--labels", str(simulated / "events.csv")]
    run = tmp_path / "run"
    assert main(["aeclass", "train", *args, "--out", str(run), "--config", str(config)]) == 0
    metrics = read_json(run / "metrics.json")
    assert metrics["split_sizes"] == {"train": 84, "val": 18, "test": 18}
    assert metrics["test"]["accuracy"] > 0.5  # six classes: chance is 1/6
    assert set(metrics["baselines"]) == {"logistic", "knn"}
    assert (run / "report.html").stat().st_size > 10_000
    saved = load_classifier(run / "model")
    assert saved.extra["classes"] == ["C1", "C2", "C3", "C4", "C5", "C6"]
    evaluation = tmp_path / "eval"
    assert (
        main(
            ["aeclass", "evaluate", "--model", str(run / "model"), *args, "--out", str(evaluation)]
        )
        == 0
    )
    scored = read_json(evaluation / "metrics.json")
    assert scored["all"]["accuracy"] == pytest.approx(metrics["all"]["accuracy"], abs=1e-9)
    predictions = pd.read_csv(evaluation / "predictions.csv")
    assert len(predictions) == 120


def test_locate_with_truth_writes_rmse(simulated: Path, tmp_path: Path) -> None:
    picks = pd.read_csv(simulated / "picks.csv")
    picks = picks[picks["event_id"].isin(picks["event_id"].unique()[:20])]
    picks.to_csv(tmp_path / "picks.csv", index=False)
    out = tmp_path / "loc"
    code = main(
        [
            "aeclass",
            "locate",
            "--picks",
            str(tmp_path / "picks.csv"),
            "--sensors",
            str(simulated / "sensors.csv"),
            "--method",
            "geiger",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "locations.csv")
    assert list(table.columns[:6]) == [
        "event_id",
        "x_m",
        "y_m",
        "z_m",
        "origin_time_s",
        "residual_s",
    ]
    metrics = read_json(out / "metrics.json")
    assert metrics["n_scored"] == 20
    assert metrics["rmse_m"] < 0.1  # 2 us pick noise at 5.9 km/s: centimetres


def test_locate_without_truth_needs_a_velocity(simulated: Path, tmp_path: Path, capsys) -> None:
    picks = pd.read_csv(simulated / "picks.csv").drop(columns=["x_m", "y_m", "z_m"])
    picks = picks[picks["event_id"].isin(picks["event_id"].unique()[:3])]
    picks.to_csv(tmp_path / "picks.csv", index=False)
    base = ["aeclass", "locate", "--picks", str(tmp_path / "picks.csv")]
    base += ["--sensors", str(simulated / "sensors.csv"), "--out", str(tmp_path / "o")]
    assert main([*base, "--method", "grid"]) == 2
    assert "velocity" in capsys.readouterr().err
    assert not (tmp_path / "o" / "locations.csv").exists()
    assert main([*base, "--method", "gp"]) == 2
    assert main([*base, "--method", "geiger", "--velocity-m-s", "5900"]) == 0
    located = pd.read_csv(tmp_path / "o" / "locations.csv")
    truth = pd.read_csv(simulated / "events.csv").set_index("event_id").loc[located["event_id"]]
    error = np.linalg.norm(
        located[["x_m", "y_m", "z_m"]].to_numpy() - truth[["x_m", "y_m", "z_m"]].to_numpy(), axis=1
    )
    assert error.max() < 0.1


def test_bad_picks_exit_2_naming_the_event(simulated: Path, tmp_path: Path, capsys) -> None:
    picks = pd.read_csv(simulated / "picks.csv")
    picks.loc[5, "sensor"] = "S99"
    picks.to_csv(tmp_path / "picks.csv", index=False)
    code = main(
        [
            "aeclass",
            "locate",
            "--picks",
            str(tmp_path / "picks.csv"),
            "--sensors",
            str(simulated / "sensors.csv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert f"event '{picks.loc[5, 'event_id']}'" in capsys.readouterr().err
