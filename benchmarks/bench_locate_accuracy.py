"""Accuracy of trained hypocentre networks on the same off-node test events, one table.

Every run folder is evaluated on the dataset's random test split and its spatial hold-out
block, clean and with 2 stations cut out (evaluation seed 0), with a 10-pass MC-dropout spread,
beside the no-skill reference (the train-split mean). The networks must come from the same
dataset; the data, split and seeds are those of the dataset and the runs. 3-D CNN and
ConvNetQuake rows name their clip length (e.g. `cnn3d (60 frames)`).

    python benchmarks/bench_locate_accuracy.py --data set1500 run_cnn2d run_cnn3d run_cnq
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from quakesense.locate.evaluate import MEAN_METHOD, Condition, evaluate_synthetic, synthetic_rmse
from quakesense.locate.train import SimulatedSet, TrainedLocator

CONDITIONS = (Condition("clean"), Condition("cutout 2", n_cutout=2))
COLUMNS = [
    "test_set",
    "condition",
    "method",
    "n_events",
    "epicentre_km",
    "median_epicentre_km",
    "depth_km",
    "origin_time_s",
    "magnitude",
    "median_sigma_epicentre_km",
    "within_2_sigma",
]


def main() -> None:
    """Print the accuracy table of the given run folders on one dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder")
    parser.add_argument("runs", type=Path, nargs="+", help="train run (or model) folders")
    parser.add_argument("--mc-samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = SimulatedSet.open(args.data)
    tables = []
    for k, run in enumerate(args.runs):
        locator = TrainedLocator.load(run)
        results = evaluate_synthetic(
            data,
            locator,
            conditions=CONDITIONS,
            trigger=locator.trigger,
            seed=0,
            mc_samples=args.mc_samples,
        )
        spec = locator.spec
        if spec.model_type != "cnn2d":  # the 3-D CNN of 10 and of 60 frames side by side
            label = f"{spec.model_type} ({spec.n_frames} frames)"
            results["method"] = results["method"].replace(spec.model_type, label)
        table = synthetic_rmse(results, data)
        tables.append(table if k == 0 else table[table["method"] != MEAN_METHOD])
    table = pd.concat(tables, ignore_index=True).sort_values(["test_set", "condition"])
    counts = data.events["split"].value_counts().to_dict()
    print(f"data {args.data}: splits {counts}; evaluation seed 0; RMSE unless 'median'")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.reindex(columns=COLUMNS).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
