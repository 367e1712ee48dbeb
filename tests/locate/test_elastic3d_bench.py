"""`benchmarks/bench_elastic3d.py` end to end on its small case (slow: deepwave runs)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_elastic3d.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_elastic3d", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_small_case_prints_phases_and_the_comparison(bench, capsys) -> None:
    """One station, compared with the tree's own elastic3d.py: identical Green's tensors."""
    pytest.importorskip("deepwave")
    own = ROOT / "src" / "quakesense" / "locate" / "elastic3d.py"
    assert bench.main(["--measure-stations", "1", "--compare-with", str(own)]) == 0
    out = capsys.readouterr().out
    for row in ("propagation", "bare propagation (reference)", "ratio end to end / bare"):
        assert row in out
    assert re.search(r"max \|new - old\| / peak\s+0\.0e\+00", out)


def test_processing_alone_with_random_velocities(bench, capsys) -> None:
    """`--no-propagation`: the phases after deepwave, no rate or bare-reference row."""
    assert bench.main(["--measure-stations", "1", "--no-propagation"]) == 0
    out = capsys.readouterr().out
    assert "strain differencing" in out
    assert "integration + deconvolution" in out
    assert "bare propagation" not in out
    assert "small | cpu | this tree" in out
