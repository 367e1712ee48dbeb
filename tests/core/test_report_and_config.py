"""Run folders hold config, metrics, figures and one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.config import load_config, resolve_config
from quakesense.core.errors import InputError
from quakesense.core.report import RunFolder, confusion_matrix_figure
from quakesense.core.store import read_json
from quakesense.core.units import parse_duration_s, time_column_to_seconds


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_s: float = 3600.0
    seed: int = 0


def test_run_folder_writes_everything(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run", "test run")
    run.save_config(_Cfg(seed=4))
    run.save_metrics({"mlp": {"f1": 0.5}})
    run.heading("Scores")
    run.table(pd.DataFrame({"model": ["mlp"], "f1": [0.5]}))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    run.figure(fig, "line", "a line")
    run.figure(confusion_matrix_figure([[3, 1], [0, 4]], ["quiet", "precursor"], "cm"), "cm")
    report = run.write_report()
    text = report.read_text()
    assert text.count("data:image/png;base64,") == 2
    assert "<td>mlp</td>" in text
    assert read_json(tmp_path / "run" / "config.json")["seed"] == 4
    assert (tmp_path / "run" / "figures" / "cm.png").stat().st_size > 1000


def test_config_typo_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("window_s: 60\nsede: 3\n")
    with pytest.raises(InputError, match=r"field 'sede'.*typo"):
        load_config(path, _Cfg)
    path.write_text("window_s: sixty\n")
    with pytest.raises(InputError, match="window_s"):
        load_config(path, _Cfg)
    path.write_text("window_s: 60\n")
    assert load_config(path, _Cfg, seed=9) == _Cfg(window_s=60, seed=9)


def test_durations_need_units() -> None:
    assert parse_duration_s("17h") == 17 * 3600
    assert parse_duration_s("2d") == 172800
    assert parse_duration_s("3s") == 3
    for bad in ("17", "5 parsecs", "-2h", "0s"):
        with pytest.raises(InputError):
            parse_duration_s(bad)


def test_time_columns_iso_or_seconds() -> None:
    seconds, origin = time_column_to_seconds(pd.Series([1.0, 2.5]))
    assert origin is None and seconds.tolist() == [1.0, 2.5]
    seconds, origin = time_column_to_seconds(pd.Series(["1970-01-01T00:00:10Z", "1970-01-02"]))
    assert origin is not None and seconds.tolist() == [10.0, 86400.0]
    with pytest.raises(InputError, match="row 1"):
        time_column_to_seconds(pd.Series(["2020-01-01", None]))


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_epochs: int = Field(10, ge=1)


class _Verb(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_type: str = "cnn2d"
    seed: int = 0
    train: _Inner = _Inner()


def test_resolve_config_file_then_given_flags(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("model_type: cnn3d\nseed: 7\n")
    settings = resolve_config(_Verb, path, {"model_type": None, "seed": None})
    assert (settings.model_type, settings.seed) == ("cnn3d", 7)
    settings = resolve_config(_Verb, path, {"seed": 3, "train.max_epochs": 2})
    assert (settings.model_type, settings.seed, settings.train.max_epochs) == ("cnn3d", 3, 2)


def test_resolve_config_errors_name_the_flag_or_the_file_field(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--max-epochs"):
        resolve_config(_Verb, None, {"train.max_epochs": 0})
    path = tmp_path / "f.yaml"
    path.write_text("train:\n  max_epochs: 0\n")
    with pytest.raises(InputError, match=r"f\.yaml.*train\.max_epochs"):
        resolve_config(_Verb, path, {})


def test_saved_config_reads_back_unchanged(tmp_path: Path) -> None:
    settings = _Verb(model_type="cnn3d", seed=5, train=_Inner(max_epochs=3))
    with RunFolder.create(tmp_path / "run", "t") as run:
        run.save_config(settings, data="somewhere.zarr")
    assert resolve_config(_Verb, tmp_path / "run" / "config.json", {}) == settings


def test_report_links_run_files_rounds_and_never_prints_reprs(tmp_path: Path) -> None:
    with RunFolder.create(tmp_path / "run", "<b>title</b>") as run:
        run.save_config(_Cfg(seed=4))
        run.save_metrics({"f1": 0.5})
        (run.path / "model").mkdir()
        run.table(
            pd.DataFrame(
                {
                    "station": ["<script>alert(1)</script>"],
                    "rmse_km": [0.123456789],
                    "fit": [{"b": 1.23456789, "ok": True}],
                    "ids": [[1, 2]],
                }
            ),
            "Errors per station",
        )
        run.table(pd.DataFrame({"x": range(40)}), "A long table")
        run.table({"window_s": 3600.0, "splits": ["random", "time-blocked"]}, "Settings")
        run.table(
            {
                "split": {"train": {"first": "2000-04-30", "n": 38}},
                "sweep": [{"weight": 1000.0, "auc": 0.5410090334019225}, {"weight": 10.0}],
            },
            "Nested settings",
        )
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        run.figure(fig, "event_counts")
        run.link(run.path / "figures", "all figures")
        run.link(run.path / "absent.csv", "a file that was never written")
        report = run.write_report()
    text = report.read_text()
    for href in ('href="config.json"', 'href="metrics.json"', 'href="model/"', 'href="figures/"'):
        assert href in text
    assert "absent.csv" not in text and "never written" not in text
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;title" in text
    assert "0.1235" in text and "0.123456789" not in text
    assert "b: 1.235\nok: yes" in text and "{" not in text.split("<body>")[1].split("<img")[0]
    assert "1, 2" in text and "random, time-blocked" in text
    assert "train.first: 2000-04-30\ntrain.n: 38" in text
    assert "weight: 1000\nauc: 0.541\n\nweight: 10" in text and "0.54100" not in text
    assert "<details>" in text and "40 rows" in text
    assert "<figcaption>Event counts</figcaption>" in text


def test_report_without_run_files_links_none(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run", "bare")
    text = run.write_report().read_text()
    assert "config.json" not in text and "metrics.json" not in text and "Run files" not in text


def test_one_epoch_loss_curve_has_markers() -> None:
    from quakesense.core.report import loss_curve_figure

    fig = loss_curve_figure([{"epoch": 0, "train_loss": 0.5, "val_loss": 0.6}], "loss")
    lines = fig.axes[0].get_lines()
    assert lines and all(line.get_marker() == "o" for line in lines)
    plt.close(fig)
