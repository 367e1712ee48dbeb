"""Hostile-but-realistic input through `quakesense.cli.main`: every refusal is one line.

Each case runs one verb in a scratch working folder that also holds a user's own files, and
checks the exit status, that the message names the file, row or field, that nothing is left
at `--out`, and that the user's files are untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quakesense.cli import main
from quakesense.core.store import RUN_MARKER


@dataclass(frozen=True)
class Case:
    """One bad invocation: argv (with {in} for the inputs folder), exit code, message pattern."""

    name: str
    argv: tuple[str, ...]
    code: int
    message: str
    out: str | None = "out"


def _windows(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "time": np.arange(n) * 3600.0,
            "rate_per_hour": rng.poisson(20, n).astype(float),
            "amplitude_db_mean": rng.normal(45, 2, n),
        }
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny input files, good and bad, shared by every case."""
    folder = tmp_path_factory.mktemp("inputs")
    windows = _windows()
    windows.to_csv(folder / "windows.csv", index=False)
    bad = windows.astype({"rate_per_hour": object})
    bad.loc[17, "rate_per_hour"] = "n/a"
    bad.to_csv(folder / "windows_text.csv", index=False)
    events_s = [60 * 3600.0, 130 * 3600.0, 200 * 3600.0]
    pd.DataFrame({"time": events_s, "magnitude": [3.0, 3.5, 4.0]}).to_csv(
        folder / "events.csv", index=False
    )
    pd.DataFrame({"time": events_s}).to_csv(folder / "events_time_only.csv", index=False)
    pd.DataFrame({"time": events_s, "magnitude": ["3.0", "big", "4.0"]}).to_csv(
        folder / "events_text_magnitude.csv", index=False
    )
    catalog = pd.DataFrame(
        {
            "time": ["2003-01-05T00:00:00", "2003-13-45T00:00:00", "2003-02-01T00:00:00"],
            "latitude": [38.0, 38.1, 38.2],
            "longitude": [141.0, 141.1, 141.2],
            "depth": [10.0, 12.0, 8.0],
            "magnitude": [4.0, 4.2, 4.5],
        }
    )
    catalog.to_csv(folder / "catalog_bad_date.csv", index=False)
    (folder / "a_file.txt").write_text("not a folder")
    return folder


def _cases() -> list[Case]:
    train_precursor = (
        "precursor",
        "train",
        "--features",
        "{in}/windows.csv",
        "--events",
        "{in}/events.csv",
        "--horizon",
        "12h",
    )
    return [
        Case(
            "simulate into the working folder",
            ("precursor", "simulate", "--days", "2"),
            2,
            "working folder",
            out=".",
        ),
        Case(
            "simulate into a parent folder",
            ("precursor", "simulate", "--days", "2"),
            2,
            "working folder",
            out="..",
        ),
        Case(
            "simulate into a folder of foreign files",
            ("precursor", "simulate", "--days", "2"),
            2,
            "did not write",
            out="thesis",
        ),
        Case(
            "simulate onto a file",
            ("precursor", "simulate", "--days", "2"),
            2,
            "not a folder",
            out="notes.txt",
        ),
        Case("simulate too short", ("precursor", "simulate", "--days", "1"), 2, "days"),
        Case(
            "aeclass simulate onto a file",
            ("aeclass", "simulate"),
            2,
            "not a folder",
            out="notes.txt",
        ),
        Case(
            "aeclass simulate into foreign files",
            ("aeclass", "simulate"),
            2,
            "did not write",
            out="thesis",
        ),
        Case(
            "locate simulate onto a file",
            ("locate", "simulate", "--n-events", "10"),
            2,
            "not a folder",
            out="notes.txt",
        ),
        Case(
            "forecast grid onto a file",
            ("forecast", "grid", "--catalog", "{in}/catalog_bad_date.csv"),
            2,
            "not a folder",
            out="notes.txt",
        ),
        Case("precursor train onto a file", train_precursor, 2, "not a folder", out="notes.txt"),
        Case(
            "non-numeric window feature",
            (
                "precursor",
                "train",
                "--features",
                "{in}/windows_text.csv",
                "--events",
                "{in}/events.csv",
                "--horizon",
                "12h",
            ),
            2,
            r"windows_text\.csv.*row",
        ),
        Case(
            "text magnitude in the event list",
            (
                "precursor",
                "train",
                "--features",
                "{in}/windows.csv",
                "--events",
                "{in}/events_text_magnitude.csv",
                "--horizon",
                "12h",
                "--min-magnitude",
                "3",
            ),
            2,
            r"events_text_magnitude\.csv.*magnitude",
        ),
        Case(
            "min magnitude without magnitudes",
            (
                "precursor",
                "train",
                "--features",
                "{in}/windows.csv",
                "--events",
                "{in}/events_time_only.csv",
                "--horizon",
                "12h",
                "--min-magnitude",
                "3",
            ),
            2,
            "magnitude",
        ),
        Case(
            "bad calendar date in a catalog",
            ("forecast", "grid", "--catalog", "{in}/catalog_bad_date.csv"),
            2,
            r"catalog_bad_date\.csv.*row.*time",
        ),
        Case(
            "config file missing",
            ("aeclass", "simulate", "--config", "{in}/nosuch.yaml"),
            2,
            "nosuch.yaml",
        ),
    ]


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_loses_nothing(
    case: Case,
    inputs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    (work / "thesis").mkdir(parents=True)
    (work / "thesis" / "chapter1.tex").write_text("precious")
    (work / "notes.txt").write_text("my notes")
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    argv = [arg.replace("{in}", str(inputs)) for arg in case.argv]
    if case.out is not None:
        argv += ["--out", case.out]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == case.code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no message"
    assert lines[-1].startswith("error:"), err
    assert "Traceback" not in err
    assert pd.Series([lines[-1]]).str.contains(case.message, regex=True).iloc[0], lines[-1]
    assert _snapshot(tmp_path) == before, "files changed or left behind"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".pytest" not in p.parts
    }


def test_earlier_run_is_kept_without_force_and_replaced_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    assert main(["precursor", "simulate", "--days", "2", "--out", str(out)]) == 0
    assert (out / RUN_MARKER).is_file()
    hits = (out / "hits.csv").read_bytes()
    assert main(["precursor", "simulate", "--days", "2", "--seed", "1", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "hits.csv").read_bytes() == hits
    argv = ["precursor", "simulate", "--days", "2", "--seed", "1", "--out", str(out), "--force"]
    assert main(argv) == 0
    assert (out / "hits.csv").read_bytes() != hits
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]


def test_config_file_settings_are_not_overridden_by_flag_defaults(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("seed: 7\nevents_per_stage: [5, 5, 5, 5, 5, 5]\n")
    out = tmp_path / "sim"
    assert main(["aeclass", "simulate", "--config", str(config), "--out", str(out)]) == 0
    from quakesense.core.store import read_json

    saved = read_json(out / "config.json")
    assert saved["seed"] == 7
    again = tmp_path / "again"
    argv = ["aeclass", "simulate", "--config", str(out / "config.json"), "--out", str(again)]
    assert main(argv) == 0
    assert (again / "picks.csv").read_bytes() == (out / "picks.csv").read_bytes()


def _run_and_interrupt(argv: list[str], cwd: Path, wait_for: Path, timeout_s: float) -> tuple:
    """Start the CLI in a child process, send SIGINT once `wait_for` appears, collect the result."""
    code = "import sys; from quakesense.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if any(cwd.glob(str(wait_for))):
            break
        time.sleep(0.05)
    if not any(cwd.glob(str(wait_for))):
        process.kill()
        process.communicate()
        pytest.fail(f"{wait_for} never appeared")
    assert process.poll() is None, "finished before it could be interrupted"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


def test_ctrl_c_mangled_by_a_c_extension_still_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted_inside_c_code(argv: list[str] | None) -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5.0)
        except KeyboardInterrupt:
            raise ValueError("Invalid affine transformation matrix") from None
        return 0

    monkeypatch.setattr("quakesense.cli._run", interrupted_inside_c_code)
    assert main(["locate", "simulate"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_a_failure_without_ctrl_c_is_not_called_an_interrupt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fails(argv: list[str] | None) -> int:
        raise ValueError("a bug")

    monkeypatch.setattr("quakesense.cli._run", fails)
    with pytest.raises(ValueError, match="a bug"):
        main(["locate", "simulate"])


def test_ctrl_c_during_locate_simulate_leaves_nothing_partial(tmp_path: Path) -> None:
    # 3,000 events keep the event loop running ~14 s after the staging folder appears (400 gave
    # ~4 s, and a fast machine finished before the signal landed).
    argv = ["locate", "simulate", "--n-events", "3000", "--out", "sim", "--no-progress"]
    code, _, stderr = _run_and_interrupt(argv, tmp_path, Path(".sim.partial"), timeout_s=300)
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    out = tmp_path / "sim"
    assert not out.exists() or not (out / RUN_MARKER).exists()


def test_ctrl_c_during_training_leaves_nothing(tmp_path: Path) -> None:
    pd.DataFrame(_windows(2000)).to_csv(tmp_path / "windows.csv", index=False)
    events_s = np.arange(100, 2000, 150) * 3600.0
    pd.DataFrame({"time": events_s}).to_csv(tmp_path / "events.csv", index=False)
    argv = ["precursor", "train", "--features", "windows.csv", "--events", "events.csv"]
    argv += ["--horizon", "12h", "--epochs", "100000", "--out", "run"]
    code, _, stderr = _run_and_interrupt(argv, tmp_path, Path(".run.partial-*"), timeout_s=300)
    assert code == 130, stderr
    assert "interrupted" in stderr
    assert not (tmp_path / "run").exists()
    assert not list(tmp_path.glob(".run.*"))
