"""CPU time of one 3-D CNN training sample: three components or the vertical; the onset channel.

A training sample of an image network is one event's station values, augmented (station time
shifts, gains, real pre-event noise, Gaussian noise, cutout), then turned into a clip of
snapshots (causal running maximum, `snr` amplitudes, interpolation). The snapshots show the
vertical component only, so `SampleSet` cuts the horizontals before augmenting
(`InputSpec.n_components`). This script times in one run the data path with three components
and with the vertical, the vertical with the onset channel (`InputSpec.onset_channel`: a
recursive STA/LTA per station and sample, one more image channel), and the network's training
step (forward, backward, Adam) for each input, on the Newberry shape (15 stations, 1,100
samples of 0.02 s, 20 frames 0.15 s apart, 32 x 32 images) with random values and a random
noise pool.

    python benchmarks/bench_locate_train_samples.py [--samples 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

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


def _step_s(spec: InputSpec, batch: np.ndarray, repeats: int = 5) -> float:
    """Seconds per sample of one training step (forward, backward, Adam) on `batch`."""
    network = SnapshotCNN3D(n_frames=spec.n_frames, in_channels=spec.in_channels)
    optimiser = torch.optim.Adam(network.parameters())
    inputs = torch.from_numpy(batch)
    targets = torch.zeros(len(batch), 5)
    start = time.perf_counter()
    for _ in range(repeats):
        optimiser.zero_grad()
        torch.nn.functional.mse_loss(network(inputs), targets).backward()
        optimiser.step()
    return (time.perf_counter() - start) / repeats / len(batch)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Time the three input paths and their training steps; print the table."""
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
    onsets = replace(spec, onset_channel=True, onset_sta_s=0.16, onset_lta_s=1.6)
    paths = (
        ("three components (before)", 3, spec),
        ("vertical only (now)", 1, spec),
        ("vertical only, onset channel", 1, onsets),
    )
    rows = []
    for label, components, path_spec in paths:
        start = time.perf_counter()
        inputs = [
            build_inputs(path_spec, augment(event[:, :components]), frame)[0] for event in events
        ]
        data_ms = 1e3 * (time.perf_counter() - start) / args.samples
        step_ms = 1e3 * _step_s(path_spec, np.stack(inputs[:50]))
        rows.append(
            {
                "inputs": label,
                "data path ms": data_ms,
                "network step ms": step_ms,
                "ms per sample": data_ms + step_ms,
            }
        )
    table = pd.DataFrame(rows)
    table["ratio to the vertical-only sample"] = table["ms per sample"] / table["ms per sample"][1]
    print(f"{args.samples} samples, {args.threads} torch thread(s); network steps in batches of 50")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return table


if __name__ == "__main__":
    main()
