"""`quakesense demo` for the locate pipeline: simulate a small training set, then train and locate.

The synthetic set comes from the embedded (synthetic) Hakone-like network with the default
`traveltime` backend; the CNN part (`quakesense.locate.train.demo_train_and_locate`) trains on
it, locates the held-out test events and compares with a classical grid search.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quakesense.core.config import build_config
from quakesense.core.report import RunFolder
from quakesense.locate.dataset import open_dataset
from quakesense.locate.figures_synth import (
    snapshot_sequence_figure,
    station_map_figure,
    velocity_slices_figure,
)
from quakesense.locate.simulate import SimulateConfig, simulate

DEMO_EVENTS = 200


def run_demo(out_dir: Path, seed: int) -> Path:
    """Simulate `DEMO_EVENTS` events, draw the Figs 1-3 analogues, train/locate; return report."""
    out_dir = Path(out_dir)
    config = build_config(
        SimulateConfig,
        {"n_events": DEMO_EVENTS, "seed": seed, "grid": {"spacing_deg": 0.01}, "figures": False},
    )
    result = simulate(config, out_dir / "dataset", progress=False)
    data = open_dataset(result.path)
    run = RunFolder(out_dir, "quakesense locate demo: synthetic wavefields -> CNN hypocentres")
    run.save_config(config)
    run.text(
        f"Synthetic training set: {len(data.events)} events on the embedded SYNTHETIC Hakone-like "
        f"network ({len(data.stations)} stations), backend traveltime, seed {seed}, "
        f"{result.n_images} snapshot images of {config.image.height} x {config.image.width} made "
        f"in {result.seconds:.1f} s; split by event {data.meta['split_counts']}."
    )
    network = result.network
    run.figure(station_map_figure(network.model, network.stations, data.events), "station_map")
    run.figure(velocity_slices_figure(network.model), "velocity_slices")
    strongest = int(data.events["magnitude"].to_numpy().argmax())
    run.figure(
        snapshot_sequence_figure(
            np.asarray(data.images[strongest]),
            data.events.iloc[strongest],
            data.meta["image"],
            config.sampling_interval_s,
        ),
        "snapshots",
    )
    from quakesense.locate.train import demo_train_and_locate

    metrics = demo_train_and_locate(result.path, run, seed)
    run.save_metrics(
        {"simulate_seconds": round(result.seconds, 2), "n_events": len(data.events), **metrics}
    )
    return run.write_report()
