"""The CLI entry point: help works, bad input exits non-zero with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from quakesense.cli import main


def test_help_lists_every_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("precursor", "locate", "aeclass", "forecast", "demo"):
        assert name in out


def test_unknown_demo_pipeline_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--only", "nosuch", "--out", "unused"]) == 2
    assert "unknown pipeline" in capsys.readouterr().err


def test_unknown_command_fails() -> None:
    assert main(["nosuch"]) != 0


def test_version_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    import quakesense

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"quakesense {quakesense.__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "quakesense", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and quakesense.__version__ in result.stdout


def test_group_help_says_what_and_cites_papers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--install-completion" in out and "--verbose" in out and "--quiet" in out
    for author in ("Jiang", "Sugiyama", "Kail"):
        assert author in out
    assert "(seed" not in out


def _fake_demo(out: Path, seed: int, *, progress: bool = False) -> Path:
    """A pipeline demo stand-in: one run folder with a report, like the real ones write."""
    from quakesense.core.report import RunFolder

    with RunFolder.create(out / "run", f"fake demo {seed}") as run:
        run.save_metrics({"seed": seed, "progress": progress})
        return run.write_report()


def test_demo_index_links_each_report_and_logs_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import quakesense.cli as cli

    monkeypatch.setattr(cli, "_demos", lambda: dict.fromkeys(cli.PIPELINES, _fake_demo))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--only", "precursor", "--only", "forecast"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "[demo] forecast: report" in captured.err
    index = (out / "report.html").read_text()
    for name in ("precursor", "forecast"):
        assert f'href="{name}/run/report.html"' in index
        assert (out / name / "run" / "report.html").is_file()
    assert "locate/" not in index and "aeclass/" not in index
    assert main(["-q", "demo", "--out", str(out), "--only", "aeclass", "--force"]) == 0
    assert capsys.readouterr().err == ""
    assert not (out / "precursor").exists() and (out / "aeclass" / "run" / "report.html").is_file()
    assert main(["demo", "--out", str(out), "--only", "aeclass"]) == 2
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "shown"), [([], True), (["--no-progress"], False)])
def test_demo_passes_progress_to_each_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], shown: bool
) -> None:
    import json

    import quakesense.cli as cli

    monkeypatch.setattr(cli, "_demos", lambda: dict.fromkeys(cli.PIPELINES, _fake_demo))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--only", "forecast", *flags]) == 0
    metrics = json.loads((out / "forecast" / "run" / "metrics.json").read_text())
    assert metrics["progress"] is shown


OLD_SPELLINGS = ("--max-epochs", "--model-type", "--kind", "--backend", "--mc", "--days")
"""Replaced option names: accepted as hidden deprecated aliases, never shown."""


def _leaf_commands(group: object, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        path = f"{prefix} {name}".strip()
        found += (
            _leaf_commands(command, path) if hasattr(command, "commands") else [(path, command)]
        )
    return found


def test_help_shows_no_old_spelling() -> None:
    import typer

    from quakesense.cli import app

    for path, command in _leaf_commands(typer.main.get_command(app)):
        shown = {
            name
            for option in command.params  # type: ignore[attr-defined]
            if option.param_type_name == "option" and not getattr(option, "hidden", False)
            for name in option.opts + option.secondary_opts
        }
        assert not shown & set(OLD_SPELLINGS), f"quakesense {path} shows an old spelling"


def test_old_spelling_still_works_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    out = tmp_path / "sim"
    assert main(["precursor", "simulate", "--out", str(out), "--days", "2", "--seed", "1"]) == 0
    assert json.loads((out / "config.json").read_text())["duration_days"] == 2
    assert "--days is deprecated; use --duration-days" in capsys.readouterr().err


def test_monitor_settings_go_through_the_config_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["precursor", "monitor", "--model", str(tmp_path), "--replay", str(tmp_path / "h.csv")]
    assert main([*argv, "--threshold", "2"]) == 2
    assert "--threshold" in capsys.readouterr().err
    config = tmp_path / "monitor.yaml"
    config.write_text("device: tpu\n")
    assert main([*argv, "--config", str(config)]) == 2
    assert "device" in capsys.readouterr().err
