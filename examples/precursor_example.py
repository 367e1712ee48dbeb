"""Precursor pipeline from Python: simulate an AE station, train, then score hits and windows.

Run `python examples/precursor_example.py` for the embedded default (35 simulated days, every
split; a few minutes on 2 cores) or add `--tiny` for a seconds-scale smoke run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

import quakesense
from quakesense.api import precursor
from quakesense.precursor.features import WindowConfig, target_events
from quakesense.precursor.models import MLP_PRESETS
from quakesense.precursor.pipeline import ExperimentConfig
from quakesense.synth.ae_monitoring import AEMonitoringConfig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Train on a simulated record and return the scored windows of the trained model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="8 days, 2 epochs, one split")
    parser.add_argument("--out", type=Path, help="run folder to create (default: a temp folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="quakesense-example-")) / "precursor"

    sim = AEMonitoringConfig(seed=0, duration_days=8 if args.tiny else 35)
    hits, catalog = precursor.simulate(sim)
    window = WindowConfig(threshold_db=sim.threshold_db)
    windows = precursor.window_features(hits, window)
    event_s = (catalog["time"] - pd.Timestamp(sim.start_time)).dt.total_seconds().to_numpy()
    targets = target_events(
        event_s, catalog["magnitude"].to_numpy(), None, min_magnitude=2.4, max_distance_km=None
    )
    config = ExperimentConfig(seed=0)
    if args.tiny:
        fast = MLP_PRESETS["fast"]
        train = fast.train.model_copy(update={"max_epochs": 2, "progress": False})
        config = ExperimentConfig(
            splits=["time-blocked"],
            baselines=[],
            cross_event=False,
            mlp=fast.model_copy(update={"train": train}),
        )
    report = precursor.train(windows, targets, config, out, window=window)
    print(f"report: {report}")

    model = quakesense.load(out)  # the run folder; its model/ is found
    scored = model.predict(hits, origin=sim.start_time)  # windows exactly as the monitor makes them
    print(f"{len(scored)} windows, {int(scored['warning'].sum())} with a warning")
    print(scored[["time", "probability", "warning"]].tail().to_string(index=False))
    return scored


if __name__ == "__main__":
    main()
