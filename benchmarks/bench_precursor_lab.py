"""Lab-quake-sized precursor training: every model, leave-one-event-out, on a synthetic table of
the shape a user reported (16 lab quakes in 163 s, 4,194 windows x 71 features, horizon 3 s,
times in seconds, event list with times only), which took 26 min and then crashed before.

Prints, per model, the wall and CPU time of all 16 folds (plus the 4 cross-event designs for the
MLP), the ratio to plain logistic regression in the same run, and pooled / per-cycle ROC AUC.
Data: `lab_table(seed)` below (70 noise features + 1 feature whose variance ramps up in the last
2 s before each failure, plus noise); split: leave-one-event-out, purged; seeds 0.

Run: `python benchmarks/bench_precursor_lab.py [--threads 1]` (torch threads; with 2 threads on a
loaded machine OpenMP spin-waiting doubled the CPU time).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def lab_table(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """4,194 windows x 71 features over 163 s with 16 failures (times in seconds)."""
    rng = np.random.default_rng(seed)
    n, span_s = 4194, 163.0
    step = span_s / n
    end_s = np.arange(1, n + 1) * step
    failures = np.sort(rng.uniform(4.0, 160.0, 16))
    nxt = np.searchsorted(failures, end_s)
    to_fail = np.where(nxt < failures.size, failures[np.minimum(nxt, 15)] - end_s, 99.0)
    ramp = np.clip(1.0 - to_fail / 2.0, 0.0, 1.0)
    features = {f"noise_{i:02d}": rng.normal(0, 1, n) for i in range(70)}
    features["log_variance"] = 1.5 * ramp + rng.normal(0, 0.6, n)
    windows = pd.DataFrame({"start_s": end_s - step, "end_s": end_s, **features})
    return windows, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from quakesense.core.metrics import binary_scores
    from quakesense.precursor.features import label_windows, make_folds
    from quakesense.precursor.pipeline import ExperimentConfig, cross_event_scores, fit_fold

    windows, failures = lab_table(0)
    columns = [c for c in windows.columns if c not in ("start_s", "end_s")]
    config = ExperimentConfig(horizon_s=3.0, splits=["leave-one-event-out"]).resolved(columns)
    x = windows[columns].to_numpy()
    y = label_windows(windows, failures, config.horizon_s)
    end_s = windows["end_s"].to_numpy()
    folds = make_folds(windows, failures, config.horizon_s, "leave-one-event-out")
    rows = []
    for kind in ["logistic", "mlp", "svm", "random_forest", "lightgbm"]:
        wall, cpu = time.perf_counter(), time.process_time()
        results = [fit_fold(kind, x, y, end_s, fold, config) for fold in folds]
        if kind == "mlp":
            cross_event_scores(windows, x, y, failures, config)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        idx = np.concatenate([r.test for r in results])
        per_cycle = [binary_scores(y[r.test], r.raw)["roc_auc"] for r in results]
        print(f"{kind}: {wall:.1f} s wall, {cpu:.1f} s cpu", flush=True)
        rows.append(
            {
                "model": kind,
                "wall_s": wall,
                "cpu_s": cpu,
                "pooled_auc": binary_scores(y[idx], np.concatenate([r.raw for r in results]))[
                    "roc_auc"
                ],
                "cycle_auc_min": np.nanmin(per_cycle),
                "cycle_auc_median": np.nanmedian(per_cycle),
                "cycle_auc_max": np.nanmax(per_cycle),
            }
        )
    table = pd.DataFrame(rows)
    table["wall_vs_logistic"] = table["wall_s"] / table.loc[0, "wall_s"]
    print(
        f"{len(windows)} windows x {len(columns)} features, {failures.size} events, horizon 3 s, "
        f"leave-one-event-out ({len(folds)} folds), {args.threads} threads; mlp includes the "
        "4 cross-event designs"
    )
    print(table.to_string(index=False, float_format="%.3f"))
    print(f"total wall {table['wall_s'].sum():.1f} s, cpu {table['cpu_s'].sum():.1f} s")


if __name__ == "__main__":
    main()
