"""`quakesense demo` for aeclass: the profile classifier on the embedded hydrofrac test."""

from __future__ import annotations

from pathlib import Path

from quakesense.aeclass.classify import ClassifierConfig, profile_data
from quakesense.aeclass.training import run_training
from quakesense.core.store import atomic_dir, write_table
from quakesense.synth.hydrofrac import HydrofracConfig, simulate_hydrofrac


def run_demo(out_dir: Path, seed: int = 0, *, force: bool = False, progress: bool = False) -> Path:
    """Simulate the default test, train and evaluate the classifier and baselines.

    The demo folder (`data/` and the `classifier/` run) is built aside and moved into place
    only when everything succeeded.

    `progress` shows the network's training bar on stderr.

    Returns:
        The classifier run's report.html.
    """
    import torch

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    data = simulate_hydrofrac(HydrofracConfig(seed=seed))
    profiles = profile_data(data.picks, list(data.sensors["sensor"]), labels=data.events)
    config = ClassifierConfig(seed=seed)
    config.train = config.train.model_copy(update={"progress": progress})
    with atomic_dir(out_dir, force=force) as folder:
        write_table(data.picks, folder / "data" / "picks.csv")
        write_table(data.sensors, folder / "data" / "sensors.csv")
        write_table(data.events, folder / "data" / "events.csv")
        report = run_training(profiles, config, folder / "classifier")
    return out_dir / report.relative_to(folder)
