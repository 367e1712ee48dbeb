"""End to end on a small simulated record: CLI verbs, users'-own-data contract, monitor, errors."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.cli import main
from quakesense.precursor.monitor import HitFollower, Monitor
from quakesense.precursor.pipeline import fit_peaks, peak_function
from tests.progress_bars import has_bar


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("precursor")
    assert main(["precursor", "simulate", "--out", str(root / "sim"), "--days", "14"]) == 0
    assert (
        main(
            [
                "precursor",
                "features",
                "--hits",
                str(root / "sim" / "hits.csv"),
                "--out",
                str(root / "windows.csv"),
            ]
        )
        == 0
    )
    catalog = pd.read_csv(root / "sim" / "catalog.csv")
    origin = pd.Timestamp("2024-03-01T00:00:00Z")
    seconds = (pd.to_datetime(catalog["time"], utc=True) - origin).dt.total_seconds()
    pd.DataFrame({"time": seconds, "magnitude": catalog["magnitude"]}).to_csv(
        root / "events.csv", index=False
    )
    assert (
        main(
            [
                "precursor",
                "train",
                "--features",
                str(root / "windows.csv"),
                "--events",
                str(root / "events.csv"),
                "--min-magnitude",
                "2.4",
                "--horizon",
                "17h",
                "--split",
                "time-blocked",
                "--split",
                "random",
                "--max-epochs",
                "8",
                "--out",
                str(root / "run"),
            ]
        )
        == 0
    )
    return root


def test_train_writes_metrics_for_every_model_and_split(campaign: Path) -> None:
    metrics = json.loads((campaign / "run" / "metrics.json").read_text())
    assert set(metrics["splits"]) == {"time-blocked", "random"}
    for by_model in metrics["splits"].values():
        assert set(by_model) == {"mlp", "logistic", "svm", "random_forest", "lightgbm"}
        for scores in by_model.values():
            assert {"accuracy", "precision", "recall", "f1", "roc_auc"} <= set(scores)
    # the simulated precursors are learnable: the forest ranks windows far above chance
    assert metrics["splits"]["time-blocked"]["random_forest"]["roc_auc"] > 0.7
    assert (campaign / "run" / "report.html").stat().st_size > 10_000
    assert (campaign / "run" / "model" / "model.json").is_file()


def test_mlp_beats_all_zero_classifier_on_leakage_free_split(campaign: Path) -> None:
    """The default (fast) MLP, 8 epochs, purged time-blocked split of a 14-day simulated record
    (seed 0): an all-zero classifier has F1 0 and ROC AUC 0.5; the MLP must do better."""
    metrics = json.loads((campaign / "run" / "metrics.json").read_text())
    mlp = metrics["splits"]["time-blocked"]["mlp"]
    assert mlp["f1"] > 0.2
    assert mlp["roc_auc"] > 0.7


def test_monitor_reads_a_file_written_in_pieces_once(campaign: Path, tmp_path: Path) -> None:
    source = (campaign / "sim" / "hits.csv").read_bytes()
    live = tmp_path / "live.csv"
    monitor = Monitor.from_model(campaign / "run" / "model")
    follower = HitFollower(live)
    done = []
    cuts = np.linspace(0, len(source), 9).astype(int)
    for a, b in itertools.pairwise(cuts):
        with live.open("ab") as handle:
            handle.write(source[a:b])  # pieces end mid-line: a truncated last record
        done.append(monitor.push(follower.poll()))
        done.append(monitor.push(follower.poll()))  # a paused writer: nothing new
    total = len(pd.read_csv(campaign / "sim" / "hits.csv"))
    assert monitor.seen_hits == total
    windows = pd.concat(done, ignore_index=True)
    assert windows["end_s"].is_unique and windows["probability"].between(0, 1).all()
    offline = pd.read_csv(campaign / "windows.csv")
    for name in ("n_hits", "cumulative_hits", "amplitude_db_mean", "b_value", "ib_value"):
        np.testing.assert_allclose(windows[name], offline[name].iloc[: len(windows)], rtol=1e-9)
    assert windows["b_value"].notna().sum() > 100  # most windows hold enough hits for b
    # (with the completeness of its buffer instead, b differed by up to 0.5 % here)


def test_features_record_the_resolved_threshold_and_the_model_keeps_it(campaign: Path) -> None:
    """The b-value completeness floor defaults to the record's maximum curvature, is written
    beside the table and saved in the model; recomputing the windows with that config
    reproduces the table."""
    from quakesense.io.ae import read_hits
    from quakesense.precursor.features import WindowConfig, max_curvature_db, window_features
    from quakesense.precursor.models import MLPClassifier

    hits = read_hits(campaign / "sim" / "hits.csv")
    saved = json.loads((campaign / "windows.csv.window.json").read_text())
    assert saved["threshold_db"] == max_curvature_db(hits["amplitude_db"].to_numpy(), 1.0)
    assert saved["amplitude_bin_db"] == 0.0  # continuous amplitudes: no Aki-Utsu correction
    _, extra = MLPClassifier.load(campaign / "run" / "model")
    assert extra["window"] == saved
    offline = pd.read_csv(campaign / "windows.csv")
    again = window_features(hits, WindowConfig.model_validate(saved))
    np.testing.assert_allclose(again["b_value"], offline["b_value"], rtol=1e-9)


def test_features_threshold_option_sets_b_completeness(campaign: Path, tmp_path: Path) -> None:
    """With a fixed completeness (from --config), a lower --threshold-db lowers b."""
    out = tmp_path / "w.parquet"
    config = tmp_path / "window.yaml"
    config.write_text("mc_method: fixed\n")
    hits = str(campaign / "sim" / "hits.csv")
    argv = ["precursor", "features", "--hits", hits, "--out", str(out), "--config", str(config)]
    assert main([*argv, "--threshold-db", "30"]) == 0
    saved = json.loads((tmp_path / "w.parquet.window.json").read_text())
    assert saved["threshold_db"] == 30.0 and saved["mc_method"] == "fixed"
    default = pd.read_csv(campaign / "windows.csv")
    lower_mc = pd.read_parquet(out)
    np.testing.assert_allclose(lower_mc["rate_per_hour"], default["rate_per_hour"])
    assert (lower_mc["b_value"] < default["b_value"]).sum() > 100  # larger excess: smaller b
    assert main([*argv, "--threshold-db", "30"]) == 2  # the table exists: --force to overwrite
    assert main([*argv, "--threshold-db", "30", "--force"]) == 0


def test_train_rejects_settings_of_another_table(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "w.csv"
    table.write_bytes((campaign / "windows.csv").read_bytes())
    settings = json.loads((campaign / "windows.csv.window.json").read_text())
    (tmp_path / "w.csv.window.json").write_text(json.dumps({**settings, "step_s": 600.0}))
    args = ["--events", str(campaign / "events.csv"), "--out", str(tmp_path / "o")]
    assert main(["precursor", "train", "--features", str(table), *args]) == 2
    assert "step_s" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_monitor_refuses_b_value_model_without_window_settings(
    campaign: Path, tmp_path: Path
) -> None:
    from quakesense.core.errors import InputError
    from quakesense.precursor.models import MLPClassifier

    model, extra = MLPClassifier.load(campaign / "run" / "model")
    model.save(tmp_path / "model", extra={**extra, "window": None})
    with pytest.raises(InputError, match="b_value"):
        Monitor.from_model(tmp_path / "model")


def test_monitor_replay_cli(campaign: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "precursor",
                "monitor",
                "--model",
                str(campaign / "run" / "model"),
                "--replay",
                str(campaign / "sim" / "hits.csv"),
                "--speed",
                "0",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) >= 300 and {"probability", "warning"} <= set(lines[0])


@pytest.mark.parametrize(
    ("table", "events", "message"),
    [
        (pd.DataFrame({"tim": [1, 2], "a": [1, 2]}), None, "'time'"),
        (pd.DataFrame({"time": [2.0, 1.0], "a": [1, 2]}), None, "increase"),
        (pd.DataFrame({"time": [1.0, 1.0], "a": [1, 2]}), None, "increase"),
        (
            pd.DataFrame({"time": np.arange(30.0) * 3600, "a": np.arange(30.0)}),
            pd.DataFrame({"time": [1e5], "magnitude": [1.0]}),
            "no target event",
        ),
    ],
)
def test_bad_user_tables_exit_2_without_output(
    tmp_path: Path,
    table: pd.DataFrame,
    events: pd.DataFrame | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table.to_csv(tmp_path / "w.csv", index=False)
    (events if events is not None else pd.DataFrame({"time": [5e4], "magnitude": [3.0]})).to_csv(
        tmp_path / "e.csv", index=False
    )
    code = main(
        [
            "precursor",
            "train",
            "--features",
            str(tmp_path / "w.csv"),
            "--events",
            str(tmp_path / "e.csv"),
            "--min-magnitude",
            "2.4",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_horizon_and_hits_exit_2(tmp_path: Path) -> None:
    pd.DataFrame({"time_s": [1.0], "channel": [1], "amplitude_db": [-1e9]}).to_csv(
        tmp_path / "h.csv", index=False
    )
    assert (
        main(
            [
                "precursor",
                "features",
                "--hits",
                str(tmp_path / "h.csv"),
                "--out",
                str(tmp_path / "w.csv"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "w.csv").exists()


def test_multi_peak_fit_recovers_centres() -> None:
    x = np.linspace(0, 100, 400)
    y = peak_function(x, 2.0, 10.0, 30.0, 4.0, 6.0, 70.0, 5.0)
    y = y + np.random.default_rng(0).normal(0, 0.3, x.size)
    fit = fit_peaks(x, y, np.array([26.0, 75.0]), 5.0, 20.0)
    assert fit.reasons == [None, None]
    np.testing.assert_allclose(fit.params[:, 1], [30.0, 70.0], atol=0.5)
    np.testing.assert_allclose(fit.params[:, 2], [4.0, 5.0], rtol=0.2)
    np.testing.assert_allclose(fit.baseline, 2.0, atol=0.3)


def test_multi_peak_fit_keeps_each_peak_near_its_event() -> None:
    """Two close peaks of very different size: neither fit jumps onto the other's event, and a
    centre with no peak at all is reported as a failure, not a number."""
    x = np.arange(0.0, 300.0)
    y = peak_function(x, 5.0, 200.0, 100.0, 3.0, 15.0, 130.0, 4.0)
    y = y + np.random.default_rng(1).poisson(3.0, x.size)
    fit = fit_peaks(x, y, np.array([100.0, 130.0, 250.0]), 6.0, 24.0)
    np.testing.assert_allclose(fit.params[:2, 1], [100.0, 130.0], atol=1.5)
    assert fit.reasons[:2] == [None, None]
    assert np.isnan(fit.params[2]).all() and fit.reasons[2]


def test_train_config_reads_back_unchanged(campaign: Path) -> None:
    from quakesense.core.config import resolve_config
    from quakesense.precursor.pipeline import ExperimentConfig

    saved = json.loads((campaign / "run" / "config.json").read_text())
    meta = saved.pop("quakesense")
    assert meta["events"].endswith("events.csv")
    again = resolve_config(ExperimentConfig, campaign / "run" / "config.json", {"seed": None})
    assert again.model_dump(mode="json") == saved
    assert again.resolved(list(saved["features"])).model_dump(mode="json") == saved
    assert saved["horizon_s"] == 17 * 3600 and saved["epochs"] == 8


def test_evaluate_scores_held_out_windows_only(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: evaluate scored the saved MLP on every window, training windows included, and
    retrained every model."""
    windows = pd.read_csv(campaign / "windows.csv")
    model = json.loads((campaign / "run" / "model" / "model.json").read_text())["extra"]
    argv = ["precursor", "evaluate", "--model", str(campaign / "run")]
    argv += ["--events", str(campaign / "events.csv"), "--min-magnitude", "2.4"]
    assert (
        main([*argv, "--features", str(campaign / "windows.csv"), "--out", str(tmp_path / "e")])
        == 0
    )
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert not metrics["training_data"]
    assert 0 < metrics["n_scored"] < len(windows)
    last_trained_s = model["trained_spans_s"][-1][1]
    assert metrics["n_scored"] == int((windows["time"] - 3600.0 >= last_trained_s).sum())
    assert {"hit_rate", "false_alarms_per_day", "lead_times_s"} <= set(metrics["events"])
    assert not (tmp_path / "e" / "model").exists()  # nothing retrained or saved
    windows.iloc[:100].to_csv(tmp_path / "train_part.csv", index=False)
    capsys.readouterr()
    out = ["--features", str(tmp_path / "train_part.csv"), "--out", str(tmp_path / "t")]
    assert main([*argv, *out]) == 0
    assert "TRAINING-DATA" in capsys.readouterr().err
    assert json.loads((tmp_path / "t" / "metrics.json").read_text())["training_data"]


def test_monitor_drops_late_and_repeated_hits_with_their_file_row(
    campaign: Path, tmp_path: Path
) -> None:
    """Before: each poll was checked on its own: a hit repeated in a later poll was counted
    twice and row numbers were relative to the poll."""
    hits = pd.read_csv(campaign / "sim" / "hits.csv").iloc[:400]
    live = tmp_path / "live.csv"
    hits.iloc[:300].to_csv(live, index=False)
    reports: list[str] = []
    follower = HitFollower(live, report=reports.append)
    monitor = Monitor.from_model(campaign / "run")
    monitor.push(follower.poll())
    late = pd.concat([hits.iloc[[299, 10]], hits.iloc[300:]])  # a repeat, a late hit, new ones
    late.to_csv(live, mode="a", header=False, index=False)
    monitor.push(follower.poll())
    assert monitor.seen_hits == 400 and follower.n_dropped == 2
    assert "row 300" in reports[0] and "repeat" in reports[0]
    assert "row 301" in reports[1] and "earlier" in reports[1]
    live.unlink()
    from quakesense.core.errors import InputError

    with pytest.raises(InputError, match="not found"):
        follower.poll()


def test_monitor_missing_source_and_idle_exit_are_explicit(
    campaign: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a missing source exited 0 with 'read 0 hits'; 10 empty polls ended monitoring."""
    argv = ["precursor", "monitor", "--model", str(campaign / "run")]
    assert main([*argv, "--source", str(tmp_path / "nowhere.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    live = tmp_path / "live.csv"
    live.write_bytes((campaign / "sim" / "hits.csv").read_bytes())
    argv += ["--source", str(live), "--poll-s", "0.01", "--idle-polls", "2"]
    assert main([*argv, "--origin", "2024-03-01T00:00:00Z"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["window_end_utc"] == "2024-03-01T01:00:00+00:00"


def test_device_and_scale_out_settings_reach_the_mlp_training() -> None:
    from quakesense.core.config import resolve_config
    from quakesense.precursor.models import MLP_PRESETS
    from quakesense.precursor.pipeline import ExperimentConfig

    given = {"device": "cpu", "devices": 2, "strategy": "ddp_spawn", "epochs": 3}
    train = resolve_config(ExperimentConfig, None, given).resolved(["rate"]).mlp.train
    assert (train.device, train.devices, train.strategy, train.max_epochs) == (
        "cpu",
        2,
        "ddp_spawn",
        3,
    )
    preset = MLP_PRESETS["fast"].train
    default = ExperimentConfig().resolved(["rate"]).mlp.train
    assert (default.device, default.devices, default.strategy) == (
        preset.device,
        preset.devices,
        preset.strategy,
    )
    resolved = ExperimentConfig(**given).resolved(["rate"])
    assert resolved.resolved(["rate"]) == resolved  # config.json reads back to the same run


@pytest.mark.parametrize(("flag", "shown"), [("--progress", True), ("--no-progress", False)])
def test_progress_bars_of_evaluate_monitor_simulate_on_stderr(
    campaign: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    shown: bool,
) -> None:
    """Before: evaluate, monitor and simulate refused --progress/--no-progress."""
    argv = ["precursor", "evaluate", "--model", str(campaign / "run"), "--min-magnitude", "2.4"]
    argv += ["--events", str(campaign / "events.csv"), "--features", str(campaign / "windows.csv")]
    capsys.readouterr()
    assert main([*argv, flag, "--out", str(tmp_path / "e")]) == 0
    assert has_bar(capsys.readouterr().err, "score windows") is shown
    assert json.loads((tmp_path / "e" / "config.json").read_text())["progress"] is shown
    pd.read_csv(campaign / "sim" / "hits.csv").iloc[:1500].to_csv(tmp_path / "h.csv", index=False)
    argv = ["precursor", "monitor", "--model", str(campaign / "run"), "--replay"]
    assert main([*argv, str(tmp_path / "h.csv"), flag]) == 0
    captured = capsys.readouterr()
    assert has_bar(captured.err, "monitor") is shown
    assert all(line.startswith("{") for line in captured.out.splitlines())  # JSON lines only
    argv = ["precursor", "simulate", "--out", str(tmp_path / "sim"), "--duration-days", "2"]
    assert main([*argv, flag]) == 0
    assert has_bar(capsys.readouterr().err, "simulate hits") is shown
