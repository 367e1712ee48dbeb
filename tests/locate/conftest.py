"""Shared fixtures of the locate tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a 30-event dataset written by `quakesense.locate.simulate.simulate` (once)."""
    from quakesense.locate.simulate import SimulateConfig, simulate

    out = tmp_path_factory.mktemp("locate") / "tiny"
    config = SimulateConfig(
        n_events=30,
        seed=3,
        n_samples=120,
        chunk_events=30,
        figures=False,
        scheduler="synchronous",
        source={"origin_time_min_s": 1.0, "origin_time_max_s": 5.0},
    )
    simulate(config, out, progress=False)
    return out
