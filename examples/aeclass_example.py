"""aeclass pipeline from Python: simulate a hydraulic-fracturing test, train, classify picks.

Run `python examples/aeclass_example.py` for the embedded default (765 events, the paper's
network) or add `--tiny` for a seconds-scale smoke run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

import quakesense
from quakesense.api import aeclass
from quakesense.core.training import TrainConfig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Train the arrival-time-profile classifier and return its class probabilities."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="150 events, 20 epochs, no extras")
    parser.add_argument("--out", type=Path, help="run folder to create (default: a temp folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="quakesense-example-")) / "aeclass"

    simulator = aeclass.HydrofracConfig(seed=0)
    config = aeclass.ClassifierConfig(seed=0)
    if args.tiny:
        simulator = aeclass.HydrofracConfig(seed=0, events_per_stage=[25] * 6)
        config = aeclass.ClassifierConfig(
            seed=0,
            baselines=[],
            tsne=False,
            n_bootstrap=10,
            train=TrainConfig(max_epochs=20, batch_size=32, learning_rate=0.01, progress=False),
        )
    data = aeclass.simulate(simulator)
    profiles = aeclass.profile_data(data.picks, list(data.sensors["sensor"]), labels=data.events)
    print(f"report: {aeclass.train(profiles, config, out)}")

    model = quakesense.load(out)
    table = model.predict(data.picks)
    truth = data.events.set_index("event_id").loc[table["event_id"], "label"].astype(str)
    accuracy = (table["predicted"].to_numpy() == truth.to_numpy()).mean()
    print(f"{len(table)} events; accuracy on all events (train + val + test) {accuracy:.3f}")
    print(table.head().round(3).to_string(index=False))
    return table


if __name__ == "__main__":
    main()
