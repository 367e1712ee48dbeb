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


def _fake_demo(out: Path, seed: int) -> Path:
    """A pipeline demo stand-in: one run folder with a report, like the real ones write."""
    from quakesense.core.report import RunFolder

    with RunFolder.create(out / "run", f"fake demo {seed}") as run:
        run.save_metrics({"seed": seed})
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
