"""The CLI contract: `forecast evaluate` with a column mapping writes metrics.json with every
model's scores and information gains; bad input exits non-zero with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from quakesense.cli import main
from quakesense.synth.forecast_catalog import simulate_catalog

FAST = [
    "--epochs",
    "1",
    "--window-steps",
    "30",
    "--warm-steps",
    "5",
    "--history-days",
    "120",
    "--cell-km",
    "40",
    "--no-progress",
    "--device",
    "cpu",
    "--max-tabular-rows",
    "5000",
]
MAPPING = "time=origin,latitude=lat_deg,longitude=lon_deg,depth=z_km,magnitude=mw"


@pytest.fixture(scope="module")
def catalog_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    catalog = simulate_catalog(5, n_days=900)
    frame = catalog.rename(
        columns={
            "time": "origin",
            "latitude_deg": "lat_deg",
            "longitude_deg": "lon_deg",
            "depth_km": "z_km",
            "magnitude": "mw",
        }
    )
    frame["origin"] = frame["origin"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    path = tmp_path_factory.mktemp("cat") / "catalog.csv"
    frame.drop(columns=["magnitude_type"]).to_csv(path, index=False)
    return path


def evaluate_args(path: Path, out: Path, *extra: str) -> list[str]:
    return [
        "forecast",
        "evaluate",
        "--catalog",
        str(path),
        "--columns",
        MAPPING,
        "--region",
        "35.5,40.5,139.5,144.5",
        "--mc",
        "4",
        "--horizon",
        "10d:50d",
        "--split-dates",
        "2001-07-01,2002-01-01",
        "--out",
        str(out),
        *FAST,
        *extra,
    ]


def test_evaluate_writes_every_model_and_gain(catalog_csv: Path, tmp_path: Path) -> None:
    models = ["uniform", "historical", "logistic", "convlstm"]
    args = evaluate_args(catalog_csv, tmp_path / "run")
    for name in models:
        args += ["--model", name]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for name in models:
        for key in ("roc_auc", "pr_auc", "brier", "log_likelihood", "molchan_area_skill_score"):
            assert key in metrics[name]
        assert 0.0 <= metrics[name]["all"]["brier"] <= 1.0
    gain = metrics["convlstm"]["vs"]["historical"]["information_gain"]
    assert gain["low"] <= gain["value"] <= gain["high"]
    assert "uniform" in metrics["historical"]["vs"]
    assert metrics["protocol"]["split"]["train_end"] == "2001-07-01"
    assert metrics["uniform"]["roc_auc"] == pytest.approx(0.5)
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000
    model_dir = tmp_path / "run" / "models" / "convlstm"
    out = tmp_path / "pred"
    assert (
        main(
            [
                "forecast",
                "predict",
                "--model",
                str(model_dir),
                "--catalog",
                str(catalog_csv),
                "--columns",
                MAPPING,
                "--date",
                "2002-03-01",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    forecast = np.genfromtxt(out / "forecast.csv", delimiter=",", names=True)
    assert np.all((forecast["probability"] > 0) & (forecast["probability"] < 1))


def test_bad_inputs_exit_with_clear_errors(catalog_csv: Path, tmp_path: Path, capsys) -> None:
    args = evaluate_args(catalog_csv, tmp_path / "a", "--model", "uniform")
    early = [a if a != "2001-07-01,2002-01-01" else "2000-02-01,2002-01-01" for a in args]
    assert main(early) == 2
    assert "train period holds no forecast time" in capsys.readouterr().err
    text = catalog_csv.read_text().splitlines()
    fields = text[5].split(",")
    fields[1] = ""
    bad = tmp_path / "nan.csv"
    bad.write_text("\n".join([*text[:5], ",".join(fields), *text[6:]]) + "\n")
    assert main(evaluate_args(bad, tmp_path / "b", "--model", "uniform")) == 2
    err = capsys.readouterr().err
    assert "row 4" in err and "latitude_deg" in err
    assert not (tmp_path / "b" / "metrics.json").exists()
    assert main(evaluate_args(catalog_csv, tmp_path / "c", "--horizon", "50d:10d")) == 2


def test_completeness_above_mc_is_a_warning_in_the_report(
    catalog_csv: Path, tmp_path: Path
) -> None:
    args = evaluate_args(catalog_csv, tmp_path / "w", "--model", "uniform", "--model", "historical")
    args[args.index("--mc") + 1] = "3.0"
    assert main(args) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["completeness"]["mc_maxc"] > 3.0
    assert any("above the target Mc" in w for w in metrics["warnings"])


@pytest.mark.slow
def test_demo_runs_every_model(tmp_path: Path) -> None:
    from quakesense.forecast.demo import run_demo

    report = run_demo(tmp_path / "demo", seed=1)
    metrics = json.loads((report.parent / "metrics.json").read_text())
    for name in ("etas", "convlstm", "cnn", "convlstm_hybrid", "lightgbm_rtl"):
        assert name in metrics, metrics.get("warnings")
    assert "information_gain" in metrics["convlstm_hybrid"]["vs"]["etas"]
