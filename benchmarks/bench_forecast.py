"""Forecast pipeline benchmarks: gridding throughput and ConvLSTM training cost on the Japan grid.

Prints two tables:
1. Gridding events/s of `write_grid` (vectorised, Zarr) against a plain per-event loop into a
   dense NumPy array measured in the same run (the reference).
2. ConvLSTM (paper sizes: embedding 16, hidden 32) training seconds per step and per epoch of
   stateful truncated BPTT (one pass over the daily training sequence per epoch; extrapolated
   from the measured windows), against the training it replaced (independent windows of 50
   steps, each after 50 warm-up steps from a zero state, so every step is processed twice per
   epoch; the reference), peak resident memory, on the Japan grid
   (10 km cells over 22-46 N, 122-150 E) with blocks streamed from Zarr, against the memory the
   materialised sequence of the training period would take (reference).

Run: `python benchmarks/bench_forecast.py [--windows 2] [--threads 2]`; uses
../shared/data/catalogs/japan_comcat_1990_2019 when present, else a synthetic catalog.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from quakesense.core.training import TrainConfig, make_optimizer
from quakesense.forecast.convlstm import ConvLSTMForecaster, read_block, weighted_bce
from quakesense.forecast.grid import GriddedEvents, GridSpec, grid_events, open_grid, write_grid
from quakesense.io.catalog import Region, read_catalog
from quakesense.synth.forecast_catalog import simulate_catalog

JAPAN = (
    Path(__file__).resolve().parents[2]
    / "shared/data/catalogs/japan_comcat_1990_2019/Japan_catalog.csv"
)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_grid(events: GriddedEvents, spec: GridSpec) -> np.ndarray:
    """Plain per-event loop into a dense (days, ny, nx) array: the reference for throughput."""
    dense = np.zeros((spec.n_days, *spec.shape), dtype=np.float32)
    for d, iy, ix, m in zip(events.day, events.iy, events.ix, events.magnitude, strict=True):
        dense[d, iy, ix] = max(dense[d, iy, ix], m)
    return dense


def main() -> None:
    """Run both benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=2, help="TBPTT windows to time")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--cell-km", type=float, default=10.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    region = Region.from_bbox(22, 46, 122, 150)
    if JAPAN.is_file():
        catalog, _ = read_catalog(JAPAN, region=region)
        source = "Japan ComCat 1990-2019"
    else:
        catalog = simulate_catalog(0, n_days=10_000, background_per_day=3.0)
        source = "synthetic (shared data absent)"
    start = catalog["time"].iloc[0].normalize()
    spec = GridSpec.from_region(
        region, args.cell_km, start, catalog["time"].iloc[-1] + pd.Timedelta(days=1)
    )
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        events, _ = grid_events(catalog, spec)
        path = write_grid(events, spec, Path(scratch) / "grid.zarr", progress=False)
        fast_s = time.perf_counter() - t0
        group, _ = open_grid(path)
        window = 30
        steps = np.arange(365, spec.n_days - 50)
        mask = np.ones(spec.shape, np.float32)
        module = ConvLSTMForecaster(*spec.shape).train()
        optimizer = make_optimizer(module.parameters(), TrainConfig())
        rss_before = peak_rss_mb()
        times, state = [], None
        for index in range(args.windows):
            first = int(steps[0]) + index * window
            t0 = time.perf_counter()
            block = read_block(
                group, first, window, 1, (10, 50), 5.0, (first, first + window), mask, 1000.0
            )
            x, offset, target, weight = (torch.from_numpy(a)[None] for a in block)
            logits, state = module(x, offset, state)
            state = tuple(s.detach() for s in state)
            loss = weighted_bce(logits, target, weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - t0)
        per_step = float(np.median(times)) / window
        epoch_s = per_step * steps.size
        materialised_mb = steps.size * 2 * spec.shape[0] * spec.shape[1] * 4 / 1e6
        print(
            f"\nConvLSTM training, grid {spec.shape}, windows of {window} steps, "
            f"{args.threads} threads, daily steps, {steps.size} training days"
        )
        print(f"{'quantity':<48}{'value':>12}")
        print(f"{'seconds per step (median of windows)':<48}{per_step:>12.3f}")
        print(f"{'seconds per epoch, stateful TBPTT':<48}{epoch_s:>12.0f}")
        print(f"{'seconds per epoch, warm-up per window (ref)':<48}{epoch_s * 2:>12.0f}")
        print(f"{'peak RSS during training, MB':<48}{peak_rss_mb():>12.0f}")
        print(f"{'peak RSS before training, MB':<48}{rss_before:>12.0f}")
        print(f"{'materialised input sequence, MB (ref)':<48}{materialised_mb:>12.0f}")
        print(f"{'streamed block inputs, MB':<48}{window * 2 * mask.size * 4 / 1e6:>12.1f}")

        t0 = time.perf_counter()
        reference_grid(events, spec)
        ref_s = time.perf_counter() - t0
        n = len(events)
        n_cells = spec.n_days * spec.shape[0] * spec.shape[1]
        print(f"\nGridding: {source}, {n} events, grid {spec.shape} x {spec.n_days} days")
        print(f"{'method':<34}{'seconds':>10}{'events/s':>14}{'cells/s':>14}{'ratio':>8}")
        print(
            f"{'plain loop, dense array (ref)':<34}{ref_s:>10.2f}{n / ref_s:>14.0f}"
            f"{n_cells / ref_s:>14.3g}{1.0:>8.2f}"
        )
        print(
            f"{'grid_events + write_grid (Zarr)':<34}{fast_s:>10.2f}{n / fast_s:>14.0f}"
            f"{n_cells / fast_s:>14.3g}{ref_s / fast_s:>8.2f}"
        )


if __name__ == "__main__":
    main()
