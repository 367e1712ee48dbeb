"""`quakesense demo` for aeclass: the profile classifier on the embedded hydrofrac test."""

from __future__ import annotations

from pathlib import Path

from quakesense.aeclass.classify import ClassifierConfig, profile_data
from quakesense.aeclass.training import run_training
from quakesense.core.store import write_table
from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac


def run_demo(out_dir: Path, seed: int = 0) -> Path:
    """Simulate the default test, train and evaluate the classifier and baselines.

    Returns:
        The run's report.html.
    """
    import torch

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    data = simulate_hydrofrac(HydrofracConfig(seed=seed))
    write_table(data.picks, out_dir / "data" / "picks.csv")
    write_table(data.sensors, out_dir / "data" / "sensors.csv")
    write_table(data.events, out_dir / "data" / "events.csv")
    profiles = profile_data(data.picks, list(data.sensors["sensor"]), labels=data.events)
    return run_training(profiles, ClassifierConfig(seed=seed), out_dir / "classifier")
