"""The ETAS flags of `forecast evaluate|train` reach the config, and a bad value is one line
naming the flag. The pipeline itself is replaced by a recorder: this tests the CLI's wiring,
not a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quakesense.cli import main
from quakesense.forecast import pipeline
from quakesense.forecast.config import ForecastConfig

FLAGS = [
    "--etas-max-lag-days",
    "365",
    "--etas-max-dist-km",
    "100",
    "--no-etas-cascade",
    "--etas-n-sim",
    "0",
    "--etas-mc",
    "4.5",
]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[ForecastConfig]:
    """Settings the verbs hand to the pipeline, which is not run."""
    seen: list[ForecastConfig] = []

    def record(settings: ForecastConfig, out: Path, **_: Any) -> Path:
        seen.append(settings)
        return tmp_path / "report.html"

    monkeypatch.setattr(pipeline, "evaluate", record)
    return seen


@pytest.mark.parametrize("verb", ["evaluate", "train"])
def test_etas_flags_reach_the_config(
    verb: str, recorded: list[ForecastConfig], tmp_path: Path
) -> None:
    assert main(["forecast", verb, "--out", str(tmp_path / "run"), *FLAGS]) == 0
    (settings,) = recorded
    assert settings.etas_max_lag_days == 365.0
    assert settings.etas_max_dist_km == 100.0
    assert settings.etas_cascade is False
    assert settings.etas_n_sim == 0
    assert settings.etas_mc == 4.5
    defaults = ForecastConfig()
    assert main(["forecast", verb, "--out", str(tmp_path / "run2"), "--etas-cascade"]) == 0
    assert recorded[1].etas_cascade is True
    assert recorded[1].etas_n_sim == defaults.etas_n_sim
    assert recorded[1].etas_max_lag_days == defaults.etas_max_lag_days


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--etas-n-sim", "1"), ("--etas-max-dist-km", "0"), ("--etas-max-lag-days", "-5")],
)
def test_bad_etas_value_is_one_line_naming_the_flag(
    flag: str, value: str, recorded: list[ForecastConfig], tmp_path: Path, capsys
) -> None:
    assert main(["forecast", "evaluate", "--out", str(tmp_path / "run"), flag, value]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 1 and flag in errors[0]
    assert not recorded and not (tmp_path / "run").exists()


def test_config_file_value_is_kept_unless_the_flag_is_given(
    recorded: list[ForecastConfig], tmp_path: Path
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("etas_n_sim: 200\netas_cascade: false\n")
    out = str(tmp_path / "run")
    assert main(["forecast", "evaluate", "--out", out, "--config", str(config)]) == 0
    assert (
        main(["forecast", "evaluate", "--out", out, "--config", str(config), "--etas-n-sim", "50"])
        == 0
    )
    assert (recorded[0].etas_n_sim, recorded[0].etas_cascade) == (200, False)
    assert (recorded[1].etas_n_sim, recorded[1].etas_cascade) == (50, False)
