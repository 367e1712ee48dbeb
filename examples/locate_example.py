"""locate pipeline from Python: simulate a training set, train a CNN, locate an ObsPy Stream.

Run `python examples/locate_example.py` for the embedded default (the Hakone-like network and
3-D model; the simulation and training take a while on 2 cores) or add `--tiny` for a small run
(30 events, 12 s records, a two-layer network, one epoch).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from obspy import Stream, Trace, UTCDateTime

import quakesense
from quakesense.api import locate
from quakesense.locate.detect import TriggerConfig
from quakesense.locate.train import SimulatedSet


def held_out_stream(data_dir: Path) -> Stream:
    """The first test-split event of a simulated set as a 3-component ObsPy Stream (m/s)."""
    data = SimulatedSet.open(data_dir)
    values = data.event_values(int(data.split_indices("test")[0]))
    rate_hz = 1.0 / data.sampling_interval_s
    return Stream(
        [
            Trace(
                values[s, c].astype(np.float64),
                header={
                    "network": "XX",
                    "station": str(name),
                    "channel": f"HH{component}",
                    "sampling_rate": rate_hz,
                    "starttime": UTCDateTime(2020, 6, 1),
                },
            )
            for s, name in enumerate(data.stations["station"])
            for c, component in enumerate("ZNE")
        ]
    )


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Simulate, train and locate one held-out event; return the location table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="30 events, tiny network, 1 epoch")
    parser.add_argument("--out", type=Path, help="folder to create (default: a temp folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="quakesense-example-")) / "locate"

    simulation = locate.SimulateConfig(seed=0, figures=False)
    training = locate.LocateTrainConfig(seed=0, device="cpu", progress=False)
    answer_after_s = None
    if args.tiny:
        simulation = locate.SimulateConfig(
            n_events=30,
            seed=3,
            n_samples=120,
            chunk_events=30,
            figures=False,
            scheduler="synchronous",
            source={"origin_time_min_s": 1.0, "origin_time_max_s": 5.0},
        )
        trigger = TriggerConfig(sta_s=0.3, lta_s=1.5, answer_after_s=2.0)
        training = locate.LocateTrainConfig(
            channels=[4, 8],
            kernels=[5, 5],
            dense_units=[16],
            epochs=1,
            frames_per_event=2,
            window_after_detection_s=3.0,
            trigger=trigger,
            device="cpu",
            progress=False,
            patience=None,
        )
        answer_after_s = 1.0
    locate.simulate(simulation, out / "data", progress=False)
    report, _ = locate.train(out / "data", out / "run", training)
    print(f"report: {report}")

    model = quakesense.load(out / "run")
    settings = {} if answer_after_s is None else {"answer_after_s": answer_after_s}
    table, catalog = model.predict(
        {"held-out": held_out_stream(out / "data")}, units="velocity", catalog=True, **settings
    )
    print(table[["event_id", "latitude_deg", "longitude_deg", "depth_km", "status"]])
    print(catalog)
    return table


if __name__ == "__main__":
    main()
