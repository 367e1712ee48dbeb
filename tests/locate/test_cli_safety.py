"""Issue 9 for `locate train | evaluate | simulate`: one config path, nothing lost or partial."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from quakesense.cli import main
from quakesense.core.config import resolve_config
from quakesense.core.store import RUN_MARKER
from quakesense.locate.evaluate import MEAN_METHOD, EvaluateConfig
from quakesense.locate.simulate import SimulateConfig
from quakesense.locate.train import LocateTrainConfig, SimulatedSet, TrainedLocator
from tests.locate.tiny_data import TINY_TRIGGER

TINY = {
    "channels": [4],
    "kernels": [5],
    "dense_units": [8],
    "epochs": 1,
    "frames_per_event": 1,
    "window_after_detection_s": 3.0,
    "n_frames": 3,
    "patience": None,
    "device": "cpu",
    "progress": False,
    "trigger": TINY_TRIGGER.model_dump(),
}


def _train(data: Path, out: Path, config: Path, *extra: str) -> int:
    argv = ["locate", "train", "--data", str(data), "--out", str(out), "--config", str(config)]
    return main([*argv, *extra])


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cnn3d run trained through `--config` alone (the file says cnn3d, no flag does)."""
    folder = tmp_path_factory.mktemp("train")
    config = folder / "train.yaml"
    config.write_text(yaml.safe_dump({**TINY, "model_type": "cnn3d"}))
    assert _train(tiny_dataset, folder / "run", config) == 0
    return folder / "run"


def test_config_file_model_type_is_not_overridden_by_a_default(run: Path) -> None:
    assert json.loads((run / "model" / "model.json").read_text())["model"] == "locate.cnn3d"
    assert (run / RUN_MARKER).is_file()


def test_the_model_keeps_its_clip_step_in_samples(run: Path, tiny_dataset: Path) -> None:
    """Prediction rebuilds the clips the network was trained on, whatever today's default."""
    spec = TrainedLocator.load(run / "model").spec
    interval_s = SimulatedSet.open(tiny_dataset).sampling_interval_s
    clip_step_s = json.loads((run / "config.json").read_text())["clip_step_s"]
    assert spec.frame_step == round(clip_step_s / interval_s) > 1


def test_run_config_reads_back_unchanged(run: Path) -> None:
    saved = json.loads((run / "config.json").read_text())
    settings = resolve_config(LocateTrainConfig, run / "config.json")
    assert settings.model_type == "cnn3d" and settings.n_frames == 3
    assert settings.model_dump(mode="json") == {k: v for k, v in saved.items() if k != "quakesense"}
    assert saved["quakesense"]["data"]


def test_rerun_needs_force_and_a_failed_rerun_keeps_the_good_run(
    run: Path, tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    before = _digest(run)
    assert _train(tiny_dataset, run, run / "config.json") == 2
    assert "pass --force" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**TINY, "model_type": "cnn2d", "kernels": [60]}))
    assert _train(tiny_dataset, run, broken, "--force") == 2
    assert "error:" in capsys.readouterr().err
    assert _digest(run) == before
    assert not list(run.parent.glob(f".{run.name}.*"))


def test_failed_train_leaves_nothing_and_foreign_files_survive(
    tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**TINY, "kernels": [60]}))
    assert _train(tiny_dataset, tmp_path / "out", broken) == 2
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(TINY))
    assert _train(tiny_dataset, thesis, good) == 2
    assert "did not write" in capsys.readouterr().err
    assert (thesis / "chapter1.tex").read_text() == "precious"


def test_method_flag_and_its_deprecated_alias(tiny_dataset: Path, tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert _train(tiny_dataset, tmp_path / "a", config, "--method", "convnetquake") == 0
    assert _train(tiny_dataset, tmp_path / "b", config, "--model-type", "convnetquake") == 0
    for name in ("a", "b"):
        model = json.loads((tmp_path / name / "model" / "model.json").read_text())
        assert model["model"] == "locate.convnetquake"


def test_evaluate_writes_both_test_sets_and_round_trips(
    run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    argv = ["locate", "evaluate", "--data", str(tiny_dataset), "--model", str(run)]
    assert main([*argv, "--out", str(out), "--no-gridsearch", "--mc-samples", "3"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {row["test_set"] for row in metrics["rmse"]} == {"test", "holdout"}
    cnn = [row for row in metrics["rmse"] if row["method"] == "cnn3d"]
    assert all(row["median_sigma_epicentre_km"] >= 0 for row in cnn)
    settings = resolve_config(EvaluateConfig, out / "config.json")
    assert settings.mc_samples == 3 and settings.gridsearch is False
    before = _digest(out)
    assert main([*argv[:-2], "--model", str(tmp_path), "--out", str(out), "--force"]) == 2
    assert _digest(out) == before


def test_evaluate_runs_only_the_chosen_conditions_on_the_first_events(
    run: Path, tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "eval"
    argv = ["locate", "evaluate", "--data", str(tiny_dataset), "--model", str(run)]
    quick = ["--no-gridsearch", "--conditions", "clean", "--conditions", "cutout 1"]
    assert main([*argv, "--out", str(out), *quick, "--max-events", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {row["condition"] for row in metrics["rmse"]} == {"clean", "cutout 1"}
    assert metrics["events_per_test_set"] == {"test": 2, "holdout": 2}
    for row in metrics["rmse"]:
        assert row["n_events"] + row["n_failed"] <= 2
    per_event = pd.read_csv(out / "events.csv")
    assert len(per_event[per_event["method"] != MEAN_METHOD]) == 2 * 2 * 2  # sets x conditions
    for row in metrics["rmse"]:
        chosen = per_event[
            (per_event["test_set"] == row["test_set"])
            & (per_event["condition"] == row["condition"])
            & (per_event["method"] == row["method"])
        ]
        median_km = chosen["epicentre_error_km"].dropna().median()
        assert median_km == pytest.approx(row["median_epicentre_km"], rel=1e-6)
    settings = resolve_config(EvaluateConfig, out / "config.json")
    assert settings.conditions == ["clean", "cutout 1"] and settings.max_events == 2
    bad = tmp_path / "bad"
    assert main([*argv, "--out", str(bad), "--conditions", "rain"]) == 2
    assert "rain" in capsys.readouterr().err
    assert not bad.exists()


def test_simulate_config_round_trips(tiny_dataset: Path) -> None:
    settings = resolve_config(SimulateConfig, tiny_dataset / "config.json")
    saved = json.loads((tiny_dataset / "config.json").read_text())
    assert settings.model_dump(mode="json") == {k: v for k, v in saved.items() if k != "quakesense"}
