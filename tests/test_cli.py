"""The CLI entry point: help works, bad input exits non-zero with one clear line."""

from __future__ import annotations

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
