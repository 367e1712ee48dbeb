"""Leave-one-out location accuracy on the Zhao & Glaser (2019) pencil-lead breaks.

56 breaks at known positions on a laboratory fault, P picks at 11 sensors. The fault's position
in the block is not in the data set: it is fitted once from all breaks' arrival times (a rigid
placement of the fault plane plus a homogeneous velocity; 7 parameters for 616 picks), then each
method locates every break with a model fitted on the other 55. Prints RMSE (3-D distance, mm)
per method and its ratio to the homogeneous Geiger reference measured in the same run.

Usage: python benchmarks/bench_aeclass_plb.py [--methods geiger,grid,gp] [--data DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from quakesense.aeclass.locate import fit_plane_embedding, leave_one_out
from quakesense.aeclass.profiles import pick_matrix
from quakesense.io.picks import read_plb_relocation

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/ae/plb_relocation_lab_fault"
METHODS = "geiger,grid,geiger-sc,aniso,gp,mlp,hybrid"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    picks, sensors, fault = read_plb_relocation(args.data)
    times = pick_matrix(picks, list(sensors["sensor"]), ["P"]).time_s[:, :, 0]
    sensors_xyz = sensors[["x_m", "y_m", "z_m"]].to_numpy()
    truth = fit_plane_embedding(times, sensors_xyz, fault[["u_m", "w_m"]].to_numpy())
    rows = []
    for method in args.methods.split(","):
        start = time.perf_counter()
        result = leave_one_out(method, times, sensors_xyz, truth, seed=args.seed)
        error_mm = 1e3 * np.linalg.norm(result.xyz_m - truth, axis=1)
        rows.append(
            (
                method,
                np.sqrt(np.mean(error_mm**2)),
                np.median(error_mm),
                time.perf_counter() - start,
            )
        )
    reference = next((r[1] for r in rows if r[0] == "geiger"), rows[0][1])
    print(f"leave-one-out on {len(times)} pencil-lead breaks, 11 sensors, seed {args.seed}")
    print(f"{'method':<10} {'RMSE mm':>8} {'median mm':>10} {'ratio':>6} {'time s':>7}")
    for method, rmse_mm, median_mm, seconds in rows:
        print(
            f"{method:<10} {rmse_mm:8.2f} {median_mm:10.2f} "
            f"{rmse_mm / reference:6.2f} {seconds:7.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
