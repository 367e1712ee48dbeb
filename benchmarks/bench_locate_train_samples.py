"""CPU time of one 3-D CNN training sample: the data path with three components or the vertical.

A training sample of an image network is one event's station values, augmented (station time
shifts, gains, real pre-event noise, Gaussian noise, cutout), then turned into a clip of
snapshots (causal running maximum, `snr` amplitudes, interpolation). The snapshots show the
vertical component only, so `SampleSet` now cuts the horizontals before augmenting
(`InputSpec.n_components`); this script times both data paths and the network's training step
(forward, backward, Adam) in the same run, on the Newberry shape (15 stations, 1,100 samples of
0.02 s, 20 frames 0.15 s apart, 32 x 32 images) with random values and a random noise pool.

    python benchmarks/bench_locate_train_samples.py [--samples 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from quakesense.locate.inputs import InputSpec, build_inputs
from quakesense.locate.models import SnapshotCNN3D
from quakesense.locate.noise import NoisePool
from quakesense.locate.train import Augmenter

N_STATIONS, N_SAMPLES, DT_S = 15, 1100, 0.02


def _spec(rng: np.random.Generator) -> InputSpec:
    matrix = rng.random((32 * 32, N_STATIONS)).astype(np.float32)
    return InputSpec(
        "cnn3d",
        [f"S{k:02d}" for k in range(N_STATIONS)],
        DT_S,
        32,
        32,
        matrix / matrix.sum(axis=1, keepdims=True),
        20,
        1e-7,
        transform="max",
        amplitude="snr",
        frame_step=8,
    )


def _pool(rng: np.random.Generator) -> NoisePool:
    loops = rng.normal(0.0, 1e-8, (5, N_STATIONS, 3, 1300)).astype(np.float32)
    return NoisePool(
        loops, np.ones((5, N_STATIONS), bool), [f"S{k:02d}" for k in range(N_STATIONS)], DT_S, None
    )


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Time both data paths and the training step; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    spec = _spec(rng)
    events = rng.normal(0.0, 1e-7, (args.samples, N_STATIONS, 3, N_SAMPLES)).astype(np.float32)
    augment = Augmenter(3, 0.5, 0.05, 1, rng, 1e-7, 8.0, _pool(rng), (0.5, 2.0))
    frame = np.array([700])
    rows = []
    for label, components in (("three components (before)", 3), ("vertical only (now)", 1)):
        start = time.perf_counter()
        inputs = [build_inputs(spec, augment(event[:, :components]), frame)[0] for event in events]
        seconds = (time.perf_counter() - start) / args.samples
        rows.append({"step": f"data path, {label}", "ms per sample": 1e3 * seconds})
    network = SnapshotCNN3D(n_frames=20, in_channels=spec.in_channels)
    optimiser = torch.optim.Adam(network.parameters())
    batch = torch.from_numpy(np.stack(inputs[:50]))
    targets = torch.zeros(len(batch), 5)
    start, repeats = time.perf_counter(), 5
    for _ in range(repeats):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(network(batch), targets)
        loss.backward()
        optimiser.step()
    step_s = (time.perf_counter() - start) / repeats / len(batch)
    rows.append({"step": "network training step (batch 50)", "ms per sample": 1e3 * step_s})
    table = pd.DataFrame(rows)
    before, now = table["ms per sample"].iloc[0], table["ms per sample"].iloc[1]
    table["ratio to the vertical-only path"] = table["ms per sample"] / now
    print(
        f"{args.samples} samples, {args.threads} torch thread(s); one sample in all: "
        f"{before + 1e3 * step_s:.2f} ms before, {now + 1e3 * step_s:.2f} ms now"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return table


if __name__ == "__main__":
    main()
