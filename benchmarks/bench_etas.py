"""ETAS benchmark: EM inversion time, peak memory and parameter recovery vs catalog size, and the
cost of `expected_counts_many` on a Japan-size grid (200 x 250 cells of 10 km).

Catalogs are simulated from known parameters (uniform background in a 100 x 100 km box, mc 3,
b 1, seeds printed). Ratios are against the smallest catalog / the one-forecast-at-a-time loop
measured in the same run. Run: `python benchmarks/bench_etas.py [--quick]`.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from quakesense.forecast.etas import EtasParams, SpaceTimeETAS, simulate_catalog

TRUE = EtasParams(mu=5e-5, k0=0.17, alpha=1.5, c_days=0.01, p=1.2, d_km2=1.0, q=1.7, gamma=0.8)
BOX = (0.0, 100.0, 0.0, 100.0)
MC, B_VALUE = 3.0, 1.0


def _measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run fn; return its result, wall seconds and traced peak memory (MiB)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def bench_inversion(durations_days: list[float], seed: int) -> None:
    """Fit time / peak memory / recovery for growing catalogs."""
    print("\n## EM inversion (uniform background, max_dist_km=30, tol=1e-7)")
    names = ["mu", "k0", "alpha", "c_days", "p", "d_km2", "q", "gamma"]
    header = f"{'days':>6} {'events':>7} {'iter':>4} {'fit_s':>7} {'x_ref':>6} "
    print(header + f"{'peak_MiB':>8} " + " ".join(f"{n:>9}" for n in names))
    print(
        f"{'true':>6} {'':>7} {'':>4} {'':>7} {'':>6} {'':>8} "
        + " ".join(f"{TRUE.to_dict()[n]:9.3g}" for n in names)
    )
    ref = None
    for duration in durations_days:
        cat = simulate_catalog(TRUE, BOX, duration, MC, B_VALUE, np.random.default_rng(seed))
        model = SpaceTimeETAS(MC, b_value=B_VALUE, background="uniform", max_dist_km=30.0)
        start = 0.05 * duration
        _, seconds, peak = _measure(
            lambda cat=cat, model=model, start=start, duration=duration: model.fit(
                cat.t_days, cat.x_km, cat.y_km, cat.magnitude, start, duration, BOX
            )
        )
        ref = ref or seconds
        est = model.params_.to_dict()
        print(
            f"{duration:6.0f} {len(cat):7d} {model.n_iter_:4d} {seconds:7.2f} "
            f"{seconds / ref:6.2f} {peak:8.1f} " + " ".join(f"{est[n]:9.3g}" for n in names)
        )


def bench_expected_counts(n_times: int, seed: int) -> None:
    """expected_counts_many on 200 x 250 cells of 10 km with ~20 k past events."""
    print("\n## expected_counts_many, Japan-size grid (250 x 200 cells of 10 km, horizon 10-50 d)")
    region = (0.0, 2000.0, 0.0, 2500.0)
    params = EtasParams(
        mu=4e-7, k0=0.17, alpha=1.5, c_days=0.01, p=1.2, d_km2=1.0, q=1.7, gamma=0.8
    )
    cat = simulate_catalog(params, region, 10_000.0, MC, B_VALUE, np.random.default_rng(seed))
    model = SpaceTimeETAS.from_params(params, MC, region, b_value=B_VALUE)
    xe, ye = np.linspace(0.0, 2000.0, 201), np.linspace(0.0, 2500.0, 251)
    t0 = np.linspace(9000.0, 10_000.0, n_times)
    _, loop_s, _ = _measure(
        lambda: [
            model.expected_counts_many(cat, t0[k : k + 1], x_edges_km=xe, y_edges_km=ye)
            for k in range(4)
        ]
    )
    per_t_loop = loop_s / 4
    maps, many_s, peak = _measure(
        lambda: model.expected_counts_many(cat, t0, x_edges_km=xe, y_edges_km=ye, dtype=np.float32)
    )
    per_t = many_s / n_times
    print(f"events {len(cat)}, forecast times {n_times}, output {maps.shape} float32")
    print(f"{'method':<34} {'s/forecast':>10} {'ratio':>7} {'10k days':>9} {'peak_MiB':>9}")
    print(
        f"{'one T at a time (reference)':<34} {per_t_loop:10.3f} {1.0:7.2f} "
        f"{per_t_loop * 1e4 / 60:8.1f}m {'':>9}"
    )
    print(
        f"{'expected_counts_many (batched)':<34} {per_t:10.3f} {per_t_loop / per_t:7.2f} "
        f"{per_t * 1e4 / 60:8.1f}m {peak:9.0f}"
    )
    print(
        "(10k days column: projected minutes for a daily map over 10,000 days, events before the "
        "last forecast time only; the first times in a series see fewer events and cost less)"
    )


def bench_japan(csv_path: str, mc: float) -> None:
    """Fit on the real Japan ComCat catalog, training years 1990-2009 (projection: core.geo)."""
    import pandas as pd

    from quakesense.core.geo import LocalProjection

    frame = pd.read_csv(csv_path)
    # 3 of 37,581 magnitudes carry two decimals; the b-value estimate needs one 0.1 grid.
    frame["magnitude"] = frame["magnitude"].round(1)
    times = pd.to_datetime(frame["time"], utc=True)
    t_days = ((times - pd.Timestamp("1990-01-01", tz="UTC")) / pd.Timedelta(days=1)).to_numpy()
    x, y = LocalProjection(36.0, 138.0).to_xy_km(frame["latitude"], frame["longitude"])
    region = (-800.0, 800.0, -1000.0, 900.0)
    t_end = (pd.Timestamp("2010-01-01", tz="UTC") - pd.Timestamp("1990-01-01", tz="UTC")).days
    model = SpaceTimeETAS(
        mc, magnitude_bin=0.1, max_lag_days=365.0, max_dist_km=100.0, tol=1e-6, max_iter=100
    )
    _, seconds, peak = _measure(
        lambda: model.fit(t_days, x, y, frame["magnitude"], 365.0, float(t_end), region)
    )
    print(f"\n## Japan ComCat, mc {mc}, fit 1991-2009 (1990 as history), KDE background")
    print(
        f"target events {model.n_target_}, b {model.b_value_:.2f}, iterations {model.n_iter_}, "
        f"fit {seconds:.0f} s, peak {peak:.0f} MiB, branching ratio "
        f"{model.params_.branching_ratio(mc, model.b_value_, model.mmax):.2f}"
    )
    print({k: float(f"{v:.4g}") for k, v in model.params_.to_dict().items()})
    # Forecasts every 30 days in 2010-2019 (after the fit period; each uses only earlier events).
    events = pd.DataFrame({"t_days": t_days, "x_km": x, "y_km": y, "magnitude": frame["magnitude"]})
    xe, ye = np.linspace(-800.0, 800.0, 161), np.linspace(-1000.0, 900.0, 191)
    t0 = np.arange(float(t_end), t_days.max() - 50.0, 30.0)
    (maps, seconds, peak) = _measure(
        lambda: model.expected_counts_many(events, t0, x_edges_km=xe, y_edges_km=ye)
    )
    inside = model.region_.contains(x, y) & (frame["magnitude"].to_numpy() >= mc)
    observed = np.array([np.sum(inside & (t_days >= t + 10.0) & (t_days < t + 50.0)) for t in t0])
    expected = maps.sum(axis=(1, 2))
    print(
        f"{len(t0)} forecasts (160 x 190 cells of 10 km) in {seconds:.1f} s, peak {peak:.0f} MiB;"
        f" expected events per [T+10, T+50): median {np.median(expected):.1f}, observed median "
        f"{np.median(observed):.1f}; share of windows with observed inside the Poisson 95 % "
        f"interval {np.mean(np.abs(observed - expected) <= 1.96 * np.sqrt(expected)):.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--japan", help="Japan_catalog.csv (../shared/data/catalogs/...)")
    parser.add_argument("--japan-mc", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.japan:
        bench_japan(args.japan, args.japan_mc)
        return 0
    durations = [500.0, 1000.0, 2000.0] if args.quick else [500.0, 1000.0, 2000.0, 4000.0]
    bench_inversion(durations, args.seed)
    bench_expected_counts(16 if args.quick else 64, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
