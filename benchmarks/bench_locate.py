"""CPU inference speed of the hypocentre networks against the grid-search baseline, same run.

Prints one table: per-estimate latency at batch 1, per-estimate time in batches, and the grid
search per event (picks given; the pick step is timed separately), with ratios. Targets (issue
4): <= 1 ms per 2-D image, <= 5 ms per 3-D clip on 2 cores, CNN >= 20x faster than the grid
search per event. Networks carry random weights: speed does not depend on training.

    python benchmarks/bench_locate.py [--threads 2] [--spacing-km 0.25]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from quakesense.core.geo import LocalProjection
from quakesense.locate.gridsearch import (
    GridSearchLocator,
    PickerConfig,
    build_tables,
    pick_event,
)
from quakesense.locate.inputs import InputSpec, build_inputs
from quakesense.locate.models import SnapshotCNN2D, SnapshotCNN3D
from quakesense.locate.velocity import LayeredModel


def _median_s(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _network(n_stations: int, rng: np.random.Generator) -> tuple[pd.DataFrame, LocalProjection]:
    projection = LocalProjection(43.73, -121.31)
    x, y = rng.uniform(-3, 3, n_stations), rng.uniform(-3, 3, n_stations)
    lat, lon = projection.to_latlon(x, y)
    stations = pd.DataFrame(
        {
            "station": [f"S{k:02d}" for k in range(n_stations)],
            "latitude_deg": lat,
            "longitude_deg": lon,
            "elevation_m": 1500.0,
        }
    )
    return stations, projection


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stations", type=int, default=15)
    parser.add_argument("--spacing-km", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--events", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n_st = args.stations
    stations, projection = _network(n_st, rng)

    matrix = rng.random((32 * 32, n_st)).astype(np.float32)
    matrix /= matrix.sum(axis=1, keepdims=True)
    values = rng.normal(0, 1e-6, (n_st, 3, 300)).astype(np.float32)
    rows = []
    for name, net, spec in (
        (
            "2-D CNN (paper LeNet)",
            SnapshotCNN2D(in_channels=2),
            InputSpec("cnn2d", list(stations["station"]), 0.1, 32, 32, matrix, 1, 1e-8),
        ),
        (
            "3-D CNN (10 frames)",
            SnapshotCNN3D(n_frames=10, in_channels=2),
            InputSpec("cnn3d", list(stations["station"]), 0.1, 32, 32, matrix, 10, 1e-8),
        ),
    ):
        net.eval()
        with torch.inference_mode():
            one = torch.from_numpy(build_inputs(spec, values, np.array([150])))
            batch = torch.from_numpy(build_inputs(spec, values, np.arange(44, 300)))
            latency = _median_s(lambda: net(one), args.repeats)  # noqa: B023
            batched = _median_s(lambda: net(batch), max(3, args.repeats // 10)) / len(batch)  # noqa: B023
            per_event = _median_s(
                lambda: net(torch.from_numpy(build_inputs(spec, values, np.array([150])))),  # noqa: B023
                args.repeats,
            )
        rows.append(
            {
                "method": name,
                "batch 1 (ms)": 1e3 * latency,
                "batched, per estimate (ms)": 1e3 * batched,
                "per event: inputs + 1 estimate (ms)": 1e3 * per_event,
            }
        )

    model = LayeredModel([0.0, 1.0, 2.0, 4.0], [4.5, 4.9, 5.5, 5.6], [2.4, 3.0, 3.2, 3.4])
    start = time.perf_counter()
    tables = build_tables(stations, model, projection, spacing_km=args.spacing_km)
    table_s = time.perf_counter() - start
    names = list(stations["station"])
    nodes = int(np.prod(tables.times["P"].shape[1:]))
    for misfit in ("l1", "edt"):
        locator = GridSearchLocator(tables, names, misfit=misfit)
        times = []
        for _ in range(args.events):
            x, y, z = rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0, 4)
            picks = pd.DataFrame(
                [
                    {"station": n, "phase": p, "time_s": 5.0 + t + rng.normal(0, 0.01)}
                    for p in ("P", "S")
                    for n, t in zip(
                        names,
                        tables.at(p, np.array([x]), np.array([y]), np.array([z]))[0],
                        strict=True,
                    )
                ]
            )
            times.append(_median_s(lambda: locator.locate(picks), 3))  # noqa: B023
        rows.append(
            {
                "method": f"grid search ({misfit}, {nodes} nodes)",
                "per event: inputs + 1 estimate (ms)": 1e3 * float(np.median(times)),
            }
        )
    waves = rng.normal(0, 1e-8, (n_st, 3, 3000)).astype(np.float32)
    waves[:, :, 1500:1600] += 1e-6
    pick_ms = 1e3 * _median_s(lambda: pick_event(waves, 0.01, names, PickerConfig()), 3)
    rows.append(
        {
            "method": "AR-AIC picking, all stations (100 Hz, 30 s)",
            "per event: inputs + 1 estimate (ms)": pick_ms,
        }
    )

    table = pd.DataFrame(rows)
    grid_ms = table.loc[
        table["method"].str.startswith("grid search (edt"), "per event: inputs + 1 estimate (ms)"
    ].iloc[0]
    table["grid search (edt) / this, per event"] = (
        grid_ms / table["per event: inputs + 1 estimate (ms)"]
    )
    print(
        f"threads {args.threads}, {n_st} stations, travel-time tables built once in "
        f"{table_s:.1f} s (spacing {args.spacing_km} km)"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return table


if __name__ == "__main__":
    main()
