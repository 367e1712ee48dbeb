"""Leave-one-out location accuracy on the Zhao & Glaser (2019) pencil-lead breaks.

56 breaks at known positions on a laboratory fault, P picks at 11 sensors. The fault's position
in the block is not in the data set: it is fitted from arrival times (a rigid placement of the
fault plane plus a homogeneous velocity; 7 parameters). Each method locates every break with a
model fitted on the other 55, twice: with one placement fitted to all 56 breaks and shared by
every fold ("shared", a small leak), and with the placement refitted in each fold on its 55
training breaks only ("per fold", honest). Errors are in-plane distances (mm); the ratio is to
the homogeneous Geiger reference of the same run.

Usage: python benchmarks/bench_aeclass_plb.py [--methods geiger,grid,gp] [--data DIR]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from quakesense.aeclass.location import FaultPlacement, cross_validate, leave_one_out_on_fault
from quakesense.aeclass.profiles import pick_matrix
from quakesense.io.picks import read_plb_relocation

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/ae/plb_relocation_lab_fault"
METHODS = "geiger,grid,geiger-sc,aniso,gp,mlp,hybrid"


def _scores_mm(located_uw: np.ndarray, truth_uw: np.ndarray) -> tuple[float, float]:
    error_mm = 1e3 * np.linalg.norm(located_uw - truth_uw, axis=1)
    return float(np.sqrt(np.mean(error_mm**2))), float(np.median(error_mm))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="sklearn")
    methods = args.methods.split(",")
    picks, sensors, fault = read_plb_relocation(args.data)
    times = pick_matrix(picks, list(sensors["sensor"]), ["P"]).time_s[:, :, 0]
    sensors_xyz = sensors[["x_m", "y_m", "z_m"]].to_numpy()
    truth_uw = fault[["u_m", "w_m"]].to_numpy()
    shared = FaultPlacement(args.seed).fit(times, sensors_xyz, truth_uw)
    truth_xyz = shared.to_xyz(truth_uw)
    rows = {}
    for method in methods:
        start = time.perf_counter()
        result = cross_validate(method, times, sensors_xyz, truth_xyz, seed=args.seed)
        rows[method] = [*_scores_mm(shared.to_uw(result.xyz_m), truth_uw)]
        rows[method].append(time.perf_counter() - start)
    start = time.perf_counter()
    per_fold = leave_one_out_on_fault(
        methods, times, sensors_xyz, truth_uw, seed=args.seed, progress=True
    )
    per_fold_s = time.perf_counter() - start
    for method in methods:
        rows[method].extend(_scores_mm(per_fold[method], truth_uw))
    reference = rows["geiger"][3] if "geiger" in rows else rows[methods[0]][3]
    print(f"leave-one-out on {len(times)} pencil-lead breaks, 11 sensors, seed {args.seed}")
    print(f"in-plane error, mm; per-fold placement + all methods took {per_fold_s:.0f} s")
    print(
        f"{'method':<10} {'shared RMSE':>11} {'shared med':>10} {'time s':>7} "
        f"{'fold RMSE':>9} {'fold med':>8} {'ratio':>6}"
    )
    for method, (rmse, median, seconds, fold_rmse, fold_median) in rows.items():
        print(
            f"{method:<10} {rmse:11.2f} {median:10.2f} {seconds:7.1f} "
            f"{fold_rmse:9.2f} {fold_median:8.2f} {fold_rmse / reference:6.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
