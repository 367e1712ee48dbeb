"""The CLI contract: `forecast evaluate` with a column mapping writes metrics.json with every
model's scores and information gains; run folders are built atomically and never overwrite
foreign files; settings come from --config then flags and round-trip; bad input exits 2 with
one line naming file, row and field, leaving nothing at --out."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from quakesense.cli import main
from quakesense.core.config import resolve_config
from quakesense.forecast.config import ForecastConfig
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
        "--min-magnitude",
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


def test_evaluate_writes_every_model_and_gain(catalog_csv: Path, tmp_path: Path, capsys) -> None:
    models = ["uniform", "historical", "logistic", "convlstm"]
    args = evaluate_args(catalog_csv, tmp_path / "run", "--models", ",".join(models))
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
    html = (tmp_path / "run" / "report.html").read_text()
    assert len(html) > 10_000
    assert "{&#39;" not in html and "{'" not in html  # settings as tables, not Python dicts
    assert metrics["model_info"]["convlstm"]["best_epoch"] == 0
    csep = metrics["convlstm"]["csep"]
    t_test = csep["vs"]["historical"]["t_test"]
    assert t_test["low"] <= t_test["information_gain"] <= t_test["high"]
    assert 0.0 <= csep["m_test"]["quantile"] <= 1.0
    from csep.core.forecasts import GriddedForecast

    lonlat = GriddedForecast.load_ascii(str(tmp_path / "run" / "forecasts" / "convlstm_lonlat.dat"))
    assert lonlat.region.dh == pytest.approx(0.1)
    assert lonlat.event_count == pytest.approx(csep["n_expected"], rel=0.1)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    saved.pop("quakesense")
    again = resolve_config(ForecastConfig, tmp_path / "run" / "config.json", {})
    assert again.model_dump(mode="json") == saved
    assert saved["models"] == models and saved["min_magnitude"] == 4.0
    out = tmp_path / "pred"
    no_gpu = not torch.cuda.is_available()
    with pytest.warns(RuntimeWarning, match="no CUDA device") if no_gpu else nullcontext():
        status = main(
            [
                "forecast",
                "predict",
                "--model",
                str(tmp_path / "run"),
                "--catalog",
                str(catalog_csv),
                "--columns",
                MAPPING,
                "--date",
                "2002-03-01",
                "--device",
                "cuda",
                "--out",
                str(out),
            ]
        )
    assert status == 0
    assert json.loads((out / "config.json").read_text())["device"] == "cuda"
    forecast = np.genfromtxt(out / "forecast.csv", delimiter=",", names=True)
    assert np.all((forecast["probability"] > 0) & (forecast["probability"] < 1))
    predict = ["forecast", "predict", "--model", str(tmp_path / "run"), "--catalog"]
    predict += [str(catalog_csv), "--columns", MAPPING, "--out", str(tmp_path / "p2")]
    for date, expected in (
        ("2006-02-30", "'2006-02-30' is not a date"),
        ("2009-03-01", "days after the catalog's last event"),
    ):
        capsys.readouterr()
        assert main([*predict, "--date", date]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(errors) == 1 and expected in errors[0] and "--date" in errors[0]
        assert not (tmp_path / "p2").exists()


def test_bad_inputs_exit_with_clear_errors(catalog_csv: Path, tmp_path: Path, capsys) -> None:
    args = evaluate_args(catalog_csv, tmp_path / "a", "--models", "uniform")
    early = [a if a != "2001-07-01,2002-01-01" else "2000-02-01,2002-01-01" for a in args]
    assert main(early) == 2
    assert "train period holds no forecast time" in capsys.readouterr().err
    text = catalog_csv.read_text().splitlines()
    fields = text[5].split(",")
    fields[1] = ""
    bad = tmp_path / "nan.csv"
    bad.write_text("\n".join([*text[:5], ",".join(fields), *text[6:]]) + "\n")
    assert main(evaluate_args(bad, tmp_path / "b", "--models", "uniform")) == 2
    err = capsys.readouterr().err
    assert "row 4" in err and "latitude_deg" in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "a").exists()
    assert main(evaluate_args(catalog_csv, tmp_path / "c", "--horizon", "50d:10d")) == 2


def test_warnings_are_shown_on_the_console_and_old_flags_work(
    catalog_csv: Path, tmp_path: Path, capsys
) -> None:
    args = evaluate_args(catalog_csv, tmp_path / "w", "--model", "uniform", "--model", "historical")
    at = args.index("--min-magnitude")
    args[at : at + 2] = ["--mc", "3.0"]
    assert main([*args, "--region", "37.0,40.5,139.5,144.5"]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["completeness"]["mc_maxc"] > 3.0
    assert sorted(metrics["uniform"]["vs"]) == ["historical"]
    shown = capsys.readouterr().err
    assert "--mc is deprecated" in shown and "--model NAME is deprecated" in shown
    for warning in metrics["warnings"]:
        assert warning in shown
    assert any("above the target --min-magnitude" in w for w in metrics["warnings"])
    assert any("events outside" in w for w in metrics["warnings"])


def grid_args(path: Path, out: Path, *extra: str) -> list[str]:
    return ["forecast", "grid", "--catalog", str(path), "--columns", MAPPING, "--out", str(out)]


def test_run_folders_are_atomic_and_never_touch_foreign_files(
    catalog_csv: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "g"
    assert main([*grid_args(catalog_csv, out), "--cell-km", "40", "--no-progress"]) == 0
    first = json.loads((out / "metrics.json").read_text())
    assert main([*grid_args(catalog_csv, out), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    config = tmp_path / "settings.yaml"
    config.write_text("cell_km: 40\nprogress: false\n")
    again = grid_args(catalog_csv, out)
    assert main([*again, "--config", str(out / "config.json"), "--force"]) == 0
    assert json.loads((out / "metrics.json").read_text())["grid"] == first["grid"]
    assert main([*grid_args(catalog_csv, tmp_path / "y"), "--config", str(config)]) == 0
    assert json.loads((tmp_path / "y" / "metrics.json").read_text())["grid"]["x"]["step"] == 40
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("precious")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for target in (foreign, a_file):
        capsys.readouterr()
        assert main([*grid_args(catalog_csv, target), "--force"]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(errors) == 1 and str(target) in errors[0]
    assert (foreign / "chapter1.tex").read_text() == "precious" and a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "file.txt",
        "g",
        "settings.yaml",
        "thesis",
        "y",
    ]


@pytest.mark.parametrize(
    ("row", "field", "value", "expected"),
    [
        (3, "origin", "2003-13-45T10:00:00", "row 3, field 'time'"),
        (3, "origin", "2003-02-30 24:00:00", "row 3, field 'time'"),
        (2, "mw", "M4.5", "row 2, field 'magnitude'"),
        (2, "lat_deg", "north", "row 2, field 'latitude_deg'"),
    ],
)
def test_bad_catalog_cells_are_one_line_errors(
    catalog_csv: Path, tmp_path: Path, capsys, row: int, field: str, value: str, expected: str
) -> None:
    frame = pd.read_csv(catalog_csv, dtype=str)
    frame.loc[row, field] = value
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    capsys.readouterr()
    assert main([*grid_args(bad, tmp_path / "g"), "--no-progress"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert str(bad) in errors[0] and expected in errors[0] and value in errors[0]
    assert not (tmp_path / "g").exists()


@pytest.mark.slow
def test_demo_runs_every_model(tmp_path: Path) -> None:
    from quakesense.forecast.demo import run_demo

    report = run_demo(tmp_path / "demo", seed=1)
    metrics = json.loads((report.parent / "metrics.json").read_text())
    for name in ("etas", "convlstm", "cnn", "convlstm_hybrid", "lightgbm_rtl"):
        assert name in metrics, metrics.get("warnings")
    assert "information_gain" in metrics["convlstm_hybrid"]["vs"]["etas"]


def train_args(path: Path, out: Path, *extra: str) -> list[str]:
    args = evaluate_args(path, out, *extra)
    at = args.index("--max-tabular-rows")  # train fits no tabular model
    return ["forecast", "train", *args[2:at], *args[at + 2 :]]


def test_scale_out_needs_a_spawning_strategy_and_enough_streams(
    catalog_csv: Path, tmp_path: Path, capsys
) -> None:
    assert main(train_args(catalog_csv, tmp_path / "d", "--devices", "2", "--strategy", "ddp")) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "--strategy" in errors[0] and "ddp_spawn" in errors[0]
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_train_with_two_cpu_processes(catalog_csv: Path, tmp_path: Path) -> None:
    """Two CPU processes (`ddp_spawn`, gloo) train the ConvLSTM on their share of the streams;
    the saved model loads and forecasts. About a minute on two busy cores (process start-up)."""
    import torch.multiprocessing as mp

    import quakesense

    out = tmp_path / "ddp"
    args = train_args(catalog_csv, out, "--devices", "2", "--strategy", "ddp_spawn")
    previous = mp.get_sharing_strategy()
    # This sandbox cannot resize the memfd files of torch's default "file_descriptor" sharing.
    mp.set_sharing_strategy("file_system")
    try:
        assert main([*args, "--batch-size", "2"]) == 0
    finally:
        mp.set_sharing_strategy(previous)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_info"]["convlstm"]["devices"] == 2
    assert json.loads((out / "config.json").read_text())["strategy"] == "ddp_spawn"
    forecast = quakesense.load(out / "models" / "convlstm").predict(
        pd.read_csv(catalog_csv), "2002-03-01", columns=MAPPING
    )
    values = forecast.to_numpy()
    assert np.all((values > 0) & (values < 1))
