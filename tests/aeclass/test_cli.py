"""End-to-end tests of `quakesense aeclass simulate|train|evaluate|locate|cluster`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.aeclass.classify import load_classifier
from quakesense.cli import main
from quakesense.core.store import read_json
from tests.progress_bars import has_bar


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    config = folder / "sim.yaml"
    config.write_text("events_per_stage: [20, 20, 20, 20, 20, 20]\n")
    assert main(["aeclass", "simulate", "--out", str(folder / "sim"), "--config", str(config)]) == 0
    return folder / "sim"


def test_train_then_evaluate_held_out_only(simulated: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "cls.yaml"
    config.write_text(
        "baselines: [logistic, knn]\nn_bootstrap: 50\ntsne: false\n"
        "train: {max_epochs: 30, patience: 10, learning_rate: 0.02, progress: false}\n"
    )
    args = ["--picks", str(simulated / "picks.csv"), "--sensors", str(simulated / "sensors.csv")]
    args += ["--labels", str(simulated / "events.csv")]
    run = tmp_path / "run"
    train = ["aeclass", "train", *args, "--out", str(run), "--config", str(config)]
    with pytest.warns(RuntimeWarning, match="no CUDA device"):  # this machine has no GPU
        assert main([*train, "--max-epochs", "30", "--device", "cuda", "--devices", "1"]) == 0
    assert "--max-epochs is deprecated; use --epochs" in capsys.readouterr().err
    assert read_json(run / "config.json")["train"]["device"] == "cuda"
    metrics = read_json(run / "metrics.json")
    assert metrics["split_sizes"] == {"train": 84, "val": 18, "test": 18}
    assert metrics["test"]["accuracy"] > 0.5  # six classes: chance is 1/6
    assert set(metrics["baselines"]) == {"logistic", "knn"}
    assert (run / "report.html").stat().st_size > 10_000
    saved = load_classifier(run / "model")
    assert saved.extra["classes"] == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert "trained_on" in saved.extra and len(saved.extra["trained_on"]) == 102
    evaluate = ["aeclass", "evaluate", "--model", str(run), *args]
    assert main([*evaluate, "--no-progress", "--out", str(tmp_path / "eval")]) == 0
    assert not has_bar(capsys.readouterr().err)
    scored = read_json(tmp_path / "eval" / "metrics.json")
    assert scored["scored"] == "held_out" and scored["n_training_events_given"] == 102
    again = ["--config", str(tmp_path / "eval" / "config.json"), "--out", str(tmp_path / "eval2")]
    assert main([*evaluate, *again]) == 0
    settings = [read_json(tmp_path / name / "config.json") for name in ("eval", "eval2")]
    assert [{k: v for k, v in c.items() if k != "quakesense"} for c in settings] == [
        {"seed": 0, "include_training": False, "device": "auto"}
    ] * 2
    assert scored["held_out"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert len(predictions) == 120 and predictions["training_event"].sum() == 102
    training_only = tmp_path / "train_picks.csv"
    picks = pd.read_csv(simulated / "picks.csv")
    picks[picks["event_id"].isin(saved.extra["trained_on"])].to_csv(training_only, index=False)
    refused = [*evaluate, "--picks", str(training_only), "--out", str(tmp_path / "e2")]
    assert main(refused) == 2
    assert "used to train this model" in capsys.readouterr().err
    assert not (tmp_path / "e2").exists()
    assert main([*refused, "--include-training"]) == 0
    assert "WARNING: 102 of 102 events were training data" in capsys.readouterr().err


def test_simulate_config_file_wins_over_defaults_and_round_trips(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("events_per_stage: [3, 3]\nstage_depths_m: [2.0, 6.0]\nseed: 7\n")
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["aeclass", "simulate", "--out", str(first), "--config", str(config)]) == 0
    assert read_json(first / "config.json")["seed"] == 7
    again = ["aeclass", "simulate", "--out", str(second), "--config", str(first / "config.json")]
    assert main(again) == 0
    saved = {k: v for k, v in read_json(first / "config.json").items() if k != "quakesense"}
    assert saved == {
        k: v for k, v in read_json(second / "config.json").items() if k != "quakesense"
    }
    pd.testing.assert_frame_equal(
        pd.read_csv(first / "picks.csv"), pd.read_csv(second / "picks.csv")
    )
    assert main(["aeclass", "simulate", "--out", str(second), "--seed", "8"]) == 2
    assert main(["aeclass", "simulate", "--out", str(second), "--seed", "8", "--force"]) == 0
    assert read_json(second / "config.json")["seed"] == 8


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_simulate_accepts_the_progress_flag_and_draws_no_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    """The simulator is vectorised (under a second): the shared flag is accepted, no bar."""
    argv = ["aeclass", "simulate", "--out", str(tmp_path / "sim"), "--seed", "1", flag]
    assert main(argv) == 0
    assert not has_bar(capsys.readouterr().err)


@pytest.mark.parametrize("case", ["file", "foreign"])
def test_bad_out_is_refused_and_foreign_files_survive(
    simulated: Path, tmp_path: Path, case: str, capsys
) -> None:
    out = tmp_path / "out"
    if case == "file":
        out.write_text("thesis")
    else:
        out.mkdir()
        (out / "thesis.txt").write_text("thesis")
    args = ["aeclass", "locate", "--picks", str(simulated / "picks.csv")]
    args += ["--sensors", str(simulated / "sensors.csv"), "--out", str(out), "--force"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert (out.read_text() if case == "file" else (out / "thesis.txt").read_text()) == "thesis"


def test_empty_label_cell_names_file_row_and_field(simulated: Path, tmp_path: Path, capsys) -> None:
    labels = pd.read_csv(simulated / "events.csv")
    labels.loc[4, "label"] = np.nan
    labels.to_csv(tmp_path / "labels.csv", index=False)
    args = ["aeclass", "train", "--picks", str(simulated / "picks.csv")]
    args += ["--sensors", str(simulated / "sensors.csv"), "--labels", str(tmp_path / "labels.csv")]
    assert main([*args, "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "labels.csv, row 4, field 'label'" in err and "E0004" in err
    assert not (tmp_path / "run").exists()


def test_duplicate_picks_are_refused_with_their_rows(
    simulated: Path, tmp_path: Path, capsys
) -> None:
    picks = pd.read_csv(simulated / "picks.csv")
    pd.concat([picks, picks.iloc[[3]]]).to_csv(tmp_path / "picks.csv", index=False)
    args = ["aeclass", "locate", "--picks", str(tmp_path / "picks.csv")]
    args += ["--sensors", str(simulated / "sensors.csv"), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"rows 3, {len(picks)}" in err and "keep one pick per event" in err
    assert not (tmp_path / "o").exists()


def test_cluster_recovers_stages_without_labels(simulated: Path, tmp_path: Path) -> None:
    args = ["aeclass", "cluster", "--picks", str(simulated / "picks.csv")]
    args += ["--sensors", str(simulated / "sensors.csv"), "--labels", str(simulated / "events.csv")]
    assert main([*args, "--out", str(tmp_path / "cl"), "--n-clusters", "6"]) == 0
    metrics = read_json(tmp_path / "cl" / "metrics.json")
    assert metrics["n_clusters"] == 6 and sum(metrics["sizes"].values()) == 120
    assert metrics["adjusted_rand"] > 0.25  # chance is 0
    clusters = pd.read_csv(tmp_path / "cl" / "clusters.csv")
    assert len(clusters) == 120 and clusters["probability"].between(0, 1).all()
    assert (tmp_path / "cl" / "figures" / "tsne_clusters.png").is_file()
    assert (tmp_path / "cl" / "figures" / "mean_output_cluster.png").is_file()


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
    assert metrics["phases"] == ["P", "S"]
    for figure in ("location_map", "residuals"):
        assert (out / "figures" / f"{figure}.png").is_file()
    assert (out / "report.html").is_file()
    again = tmp_path / "again"
    rerun = ["aeclass", "locate", "--picks", str(tmp_path / "picks.csv")]
    rerun += ["--sensors", str(simulated / "sensors.csv"), "--config", str(out / "config.json")]
    assert main([*rerun, "--out", str(again)]) == 0
    first, second = read_json(out / "config.json"), read_json(again / "config.json")
    assert {k: v for k, v in first.items() if k != "quakesense"} == {
        k: v for k, v in second.items() if k != "quakesense"
    }
    assert read_json(again / "metrics.json")["rmse_m"] == metrics["rmse_m"]


def test_locate_without_truth_needs_a_velocity(simulated: Path, tmp_path: Path, capsys) -> None:
    picks = pd.read_csv(simulated / "picks.csv").drop(columns=["x_m", "y_m", "z_m"])
    picks = picks[picks["event_id"].isin(picks["event_id"].unique()[:3])]
    picks.to_csv(tmp_path / "picks.csv", index=False)
    base = ["aeclass", "locate", "--picks", str(tmp_path / "picks.csv")]
    base += ["--sensors", str(simulated / "sensors.csv"), "--out", str(tmp_path / "o")]
    assert main([*base, "--method", "grid"]) == 2
    assert "velocity" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main([*base, "--method", "gp"]) == 2
    assert main([*base, "--method", "geiger", "--velocity-m-s", "5900"]) == 0
    assert "S picks left out: no S velocity" in capsys.readouterr().err
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
