"""The scripts in `examples/` run end to end at their `--tiny` sizes and give sane results."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> ModuleType:
    """Import `examples/<name>.py` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pipeline_has_an_example() -> None:
    names = {p.stem for p in EXAMPLES.glob("*_example.py")}
    assert names == {f"{p}_example" for p in ("precursor", "locate", "aeclass", "forecast")}


@pytest.mark.slow
def test_precursor_example(tmp_path: Path) -> None:
    scored = example("precursor_example").main(["--tiny", "--out", str(tmp_path / "run")])
    assert len(scored) > 100 and scored["probability"].between(0, 1).all()
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.slow
def test_aeclass_example(tmp_path: Path) -> None:
    table = example("aeclass_example").main(["--tiny", "--out", str(tmp_path / "run")])
    assert len(table) == 150
    probabilities = table.filter(like="p_").to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_locate_example(tmp_path: Path) -> None:
    table = example("locate_example").main(["--tiny", "--out", str(tmp_path / "ex")])
    assert list(table["event_id"]) == ["held-out"] and table["status"].iloc[0] == "ok"
    assert np.isfinite(table[["latitude_deg", "longitude_deg", "depth_km"]].to_numpy()).all()


@pytest.mark.slow
def test_forecast_example(tmp_path: Path) -> None:
    probability = example("forecast_example").main(["--tiny", "--out", str(tmp_path / "run")])
    assert probability.dims == ("y", "x") and 0 <= float(probability.max()) <= 1
