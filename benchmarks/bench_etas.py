"""ETAS benchmark: EM inversion time, peak memory and parameter recovery vs catalog size, the
cost of `expected_counts_many` on a Japan-size grid (200 x 250 cells of 10 km), the cascade against
first-order forecasts and fresh simulations, and fit + forecast time and memory at national scale.

Catalogs are simulated from known parameters (uniform background, mc 3, b 1, seeds printed).
Ratios are against the smallest catalog / the one-forecast-at-a-time loop / the first-order
forecast measured in the same run.
Run: `python benchmarks/bench_etas.py [--quick] [--cascade] [--national 25000,100000,400000]
[--cutoffs 10000:3650/300,365/100] [--real japan|italy]` (`--real`: the pipeline's ETAS on the
real catalogs of ../shared/data, cut-offs x forecast kind, against the observed counts).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from quakesense.forecast.etas import (
    EtasParams,
    SpaceTimeETAS,
    occurrence_probability,
    simulate_catalog,
)

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


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (robust on a shared, loaded machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def bench_cascade(n_sim: int, seed: int) -> None:
    """Cascade vs first-order forecasts and vs the mean of fresh simulated continuations; the
    probability of >= 1 event per cell (summed over cells) from `occurrence_probabilities_many`
    (1 000 continuations) and from 1 - exp(-cascade count), against the simulated fraction."""
    print(f"\n## Cascade forecast vs first order and vs {n_sim} simulated continuations")
    print("(100 x 100 km box, 10 km cells, horizon [T+10, T+50) d, history simulated 2000 days)")
    print(
        f"{'branching':>9} {'T':>6} {'first':>8} {'cascade':>8} {'ratio':>6} "
        f"{'sim mean':>9} {'sim SE':>7} {'z':>6} {'cells z^2':>9} {'s cascade':>9} {'s sim':>7} "
        f"{'P sim':>7} {'P ours':>7} {'P 1-e^-N':>8}"
    )
    edges = np.linspace(0.0, 100.0, 11)
    for k0 in (0.17, 0.248):
        params = EtasParams(**{**TRUE.to_dict(), "k0": k0})
        history = simulate_catalog(params, BOX, 2000.0, MC, B_VALUE, np.random.default_rng(seed))
        model = SpaceTimeETAS.from_params(params, MC, BOX, b_value=B_VALUE, mmax=8.0)
        for t0 in (1000.0, 1990.0):
            past = history[history.t_days < t0]
            grid = {"x_edges_km": edges, "y_edges_km": edges}
            t_start = time.perf_counter()
            cascade = model.expected_counts_many(past, np.array([t0]), **grid)[0]
            s_cascade = time.perf_counter() - t_start
            first = model.expected_counts_many(past, np.array([t0]), **grid, cascade=False)[0]
            t_start = time.perf_counter()
            sim = model.simulated_counts(
                past, t0, **grid, n_sim=n_sim, rng=np.random.default_rng(seed + int(t0))
            )
            s_sim = time.perf_counter() - t_start
            z = (cascade.sum() - sim.mean.sum()) / sim.total_std_error
            z2 = np.mean(((cascade - sim.mean) / sim.std_error) ** 2)
            ours = model.occurrence_probabilities_many(past, [t0], **grid, n_sim=1000, seed=seed)
            print(
                f"{params.branching_ratio(MC, B_VALUE, 8.0):9.2f} {t0:6.0f} {first.sum():8.3f} "
                f"{cascade.sum():8.3f} {cascade.sum() / first.sum():6.2f} {sim.mean.sum():9.3f} "
                f"{sim.total_std_error:7.3f} {z:6.2f} {z2:9.2f} {s_cascade:9.2f} {s_sim:7.1f} "
                f"{sim.probability.sum():7.2f} {ours.sum():7.2f} "
                f"{occurrence_probability(cascade).sum():8.2f}"
            )


NATIONAL_BOX = (0.0, 1060.0, 0.0, 1280.0)  # ~11.5 deg lat x 12.5 deg lon at 40 N
NATIONAL_DAYS = 21_915.0  # 60 years


def national_catalog(n_events: int, seed: int) -> tuple[EtasParams, Any]:
    """The true parameters (TRUE with mu set for about `n_events`) and a 60-year catalog."""
    branching = TRUE.branching_ratio(MC, B_VALUE, 8.0)
    area = (NATIONAL_BOX[1] - NATIONAL_BOX[0]) * (NATIONAL_BOX[3] - NATIONAL_BOX[2])
    mu = n_events * (1.0 - branching) / (area * NATIONAL_DAYS)
    params = EtasParams(**{**TRUE.to_dict(), "mu": mu})
    cat = simulate_catalog(
        params, NATIONAL_BOX, NATIONAL_DAYS, MC, B_VALUE, np.random.default_rng(seed)
    )
    return params, cat


def national_run(n_events: int, seed: int, max_iter: int, n_forecasts: int) -> dict[str, float]:
    """One size: simulate, fit (50 years), forecast daily in year 51; time and memory."""
    _, cat = national_catalog(n_events, seed)
    t_end = 50 * 365.25
    model = SpaceTimeETAS(MC, max_lag_days=365.0, max_dist_km=100.0, max_iter=max_iter)
    cpu0 = _cpu_seconds()
    _, fit_s, fit_peak = _measure(
        lambda: model.fit(cat.t_days, cat.x_km, cat.y_km, cat.magnitude, 365.0, t_end, NATIONAL_BOX)
    )
    xe = np.arange(NATIONAL_BOX[0], NATIONAL_BOX[1] + 1e-9, 10.0)
    ye = np.arange(NATIONAL_BOX[2], NATIONAL_BOX[3] + 1e-9, 10.0)
    fit_cpu = _cpu_seconds() - cpu0
    t0 = t_end + np.arange(n_forecasts, dtype=float)
    cpu0 = _cpu_seconds()
    maps, fc_s, fc_peak = _measure(
        lambda: model.expected_counts_many(cat, t0, x_edges_km=xe, y_edges_km=ye, dtype=np.float32)
    )
    fc_cpu = _cpu_seconds() - cpu0
    first = model.expected_counts_many(
        cat, t0[:8], x_edges_km=xe, y_edges_km=ye, dtype=np.float32, cascade=False
    )
    return {
        "events": len(cat),
        "targets": model.n_target_,
        "pairs": model.n_pairs_,
        "iterations": model.n_iter_,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu,
        "fit_peak_mib": fit_peak,
        "forecasts": n_forecasts,
        "forecast_s": fc_s,
        "forecast_cpu_s": fc_cpu,
        "forecast_peak_mib": fc_peak,
        "cascade_ratio": float(maps[:8].sum() / first.sum()),
        "branching_fit": model.params_.branching_ratio(MC, model.b_value_, model.mmax),
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_national(sizes: list[int], seed: int, max_iter: int, n_forecasts: int) -> None:
    """Fit + forecast time and memory against catalog size, each size in a fresh process."""
    print(
        f"\n## National scale: {NATIONAL_BOX[1]:.0f} x {NATIONAL_BOX[3]:.0f} km, 60 years, mc 3, "
        f"branching 0.48, seed {seed}; fit years 1-50 (KDE background, max_lag 365 d, "
        f"max_dist 100 km, max_parents 200, EM iterations <= {max_iter}); cascade forecasts "
        f"daily for {n_forecasts} days of year 51 on 10 km cells (float32)"
    )
    print(
        f"{'events':>7} {'targets':>7} {'pairs':>9} {'iter':>4} {'fit_s':>7} {'fit_cpu':>7} "
        f"{'fit_MiB':>7} {'fc_s':>6} {'fc_cpu':>6} {'fc_MiB':>6} {'RSS_MiB':>7} {'x_events':>8} "
        f"{'x_fit_cpu':>9} {'x_RSS':>6} {'casc/1st':>8}"
    )
    ref = None
    for n in sizes:
        cmd = [sys.executable, __file__, "--national-one", str(n), "--seed", str(seed)]
        cmd += ["--max-iter", str(max_iter), "--forecasts", str(n_forecasts)]
        row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        ref = ref or row
        print(
            f"{row['events']:7d} {row['targets']:7d} {row['pairs']:9d} {row['iterations']:4d} "
            f"{row['fit_s']:7.1f} {row['fit_cpu_s']:7.1f} {row['fit_peak_mib']:7.0f} "
            f"{row['forecast_s']:6.1f} {row['forecast_cpu_s']:6.1f} "
            f"{row['forecast_peak_mib']:6.0f} {row['maxrss_mib']:7.0f} "
            f"{row['events'] / ref['events']:8.2f} {row['fit_cpu_s'] / ref['fit_cpu_s']:9.2f} "
            f"{row['maxrss_mib'] / ref['maxrss_mib']:6.2f} {row['cascade_ratio']:8.2f}"
        )
    print(
        "(_s: wall seconds, _cpu: CPU seconds of the process; fit/fc MiB: tracemalloc peaks; "
        "RSS: peak resident memory of the whole process, simulation included)"
    )


def bench_cutoffs(n_events: int, seed: int, cutoffs: list[tuple[float, float]]) -> None:
    """Parameter recovery and fit cost under different (max_lag_days, max_dist_km) cut-offs.

    The forecast pipeline fits with one pair of cut-offs; this shows what the cut-offs cost in
    recovery of the true parameters and gain in fit time on a national-size box.
    """
    params, cat = national_catalog(n_events, seed)
    names = ["mu", "k0", "alpha", "c_days", "p", "d_km2", "q", "gamma"]
    print(
        f"\n## Cut-offs: {NATIONAL_BOX[1]:.0f} x {NATIONAL_BOX[3]:.0f} km, 60 years, mc {MC}, "
        f"{len(cat)} events, seed {seed}; EM fit years 1-50 to convergence (KDE background, "
        "max_parents 200)"
    )
    print(
        f"{'lag_d':>6} {'dist_km':>7} {'pairs':>9} {'iter':>4} {'fit_cpu':>7} {'x_cpu':>6} "
        f"{'branch':>6} " + " ".join(f"{n:>9}" for n in names)
    )
    truth = params.to_dict()
    branching = params.branching_ratio(MC, B_VALUE, 8.0)
    print(
        f"{'true':>6} {'':>7} {'':>9} {'':>4} {'':>7} {'':>6} {branching:6.3f} "
        + " ".join(f"{truth[n]:9.3g}" for n in names)
    )
    ref = None
    for max_lag, max_dist in cutoffs:
        model = SpaceTimeETAS(MC, b_value=B_VALUE, max_lag_days=max_lag, max_dist_km=max_dist)
        cpu0 = _cpu_seconds()
        model.fit(cat.t_days, cat.x_km, cat.y_km, cat.magnitude, 365.0, 50 * 365.25, NATIONAL_BOX)
        cpu = _cpu_seconds() - cpu0
        ref = ref or cpu
        est = model.params_.to_dict()
        print(
            f"{max_lag:6.0f} {max_dist:7.0f} {model.n_pairs_:9d} {model.n_iter_:4d} {cpu:7.1f} "
            f"{cpu / ref:6.2f} {model.params_.branching_ratio(MC, B_VALUE, 8.0):6.3f} "
            + " ".join(f"{est[n]:9.3g}" for n in names)
        )
    print("(fit_cpu: CPU seconds of the fit; x_cpu: ratio to the first row; branch: n at mmax 8)")


REAL_CATALOGS = {
    "japan": {
        "catalog": "catalogs/japan_comcat_1990_2019/Japan_catalog.csv",
        "columns": "time=time,latitude=latitude,longitude=longitude,magnitude=magnitude",
        "region": "22,46,122,150",
        "min_magnitude": 5.0,
        "split_dates": "2012-01-01,2015-01-01",
        "etas_mc": 5.0,
    },
    "italy": {
        "catalog": "catalogs/italy_iside_2005_2021/catalog_central_italy_iside_2005_2021.csv",
        "sort": True,
        "region": "35.8,47.6,5.7,19.4",
        "min_magnitude": 3.5,
        "split_dates": "2016-01-01,2018-01-01",
        "etas_mc": 3.5,
    },
}
"""The `forecast evaluate` settings of the Japan and Italy tables (docs/pipelines/forecast.md)."""


def bench_real(name: str, data_root: str, cutoffs: list[tuple[float, float]]) -> None:
    """The pipeline's own ETAS stages on a real catalog (20 km cells, seed 0): per pair of
    cut-offs, the fit and three forecasts (cascade with simulated clusters, the pipeline's
    default; cascade through 1 - exp(-count); first order), with the summed Poisson rates of the
    non-overlapping test windows against the observed count, the same in the training period
    (in-sample, from the second year), and the information gain over the historical rate on
    validation (the period that chooses) and test."""
    import tempfile
    from pathlib import Path

    from quakesense.forecast.config import ForecastConfig
    from quakesense.forecast.prepare import prepare

    settings = {**REAL_CATALOGS[name], "cell_km": 20.0, "seed": 0, "progress": False}
    settings["catalog"] = str(Path(data_root) / settings["catalog"])
    config = ForecastConfig(**settings, models=["historical", "etas"])
    with tempfile.TemporaryDirectory() as folder:
        _real_rows(name, prepare(config, Path(folder)), cutoffs)


def _real_rows(name: str, prep: Any, cutoffs: list[tuple[float, float]]) -> None:
    from quakesense.forecast.evaluation import information_gain
    from quakesense.forecast.pipeline import fit_baselines, fit_etas
    from quakesense.forecast.scoring import Predictions

    config = prep.config
    split, (h0, h1) = prep.split, prep.horizon
    stride = -(-(h1 - h0) // config.eval_stride_days)
    windows = {
        "test": split.test_days[::stride],
        "train": np.arange(730, split.train_end_day - h1, h1 - h0),
    }
    preds = Predictions()
    fit_baselines(prep, split, {"train": prep.labels(split.train_days)}, preds)
    region, active = prep.masks["all"], prep.masks["active"]

    def observed(days: np.ndarray) -> int:
        hits = [prep.events.window(int(d) + h0, int(d) + h1, config.min_magnitude) for d in days]
        return int(sum(region[e.iy, e.ix].sum() for e in hits))

    def rate(prob: np.ndarray) -> float:
        return float(-np.log1p(-np.clip(prob.astype(float), 0, 1 - 1e-9)).sum(axis=0)[region].sum())

    print(f"\n## {name}: ETAS cut-offs x forecast, pipeline stages, 20 km cells, seed 0")
    print(
        f"observed target events: test windows {observed(windows['test'])}, training windows "
        f"{observed(windows['train'])}; historical rate's test sum "
        f"{rate(preds.test['historical'][::stride]):.1f}"
    )
    print(
        f"{'cut-offs':>9} {'forecast':>16} {'mu':>9} {'branch':>6} {'b':>5} {'pairs':>8} "
        f"{'test sum':>8} {'train sum':>9} {'gain valid':>22} {'gain test':>22} {'CPU s':>6}"
    )
    for lag, dist in cutoffs:
        for label, update in (
            ("cascade, clusters", {"etas_n_sim": 1000}),
            ("cascade, 1-e^-N", {"etas_n_sim": 0}),
            ("first order", {"etas_cascade": False}),
        ):
            prep.config = config.model_copy(
                update={"etas_max_lag_days": lag, "etas_max_dist_km": dist, **update}
            )
            cpu0 = _cpu_seconds()
            probability = fit_etas(prep, split, preds)
            gains = {
                period: information_gain(
                    probability(getattr(split, f"{period}_days")).astype(float),
                    getattr(preds, period)["historical"],
                    prep.labels(getattr(split, f"{period}_days")),
                    active,
                )
                for period in ("valid", "test")
            }
            sums = {k: rate(probability(days)) for k, days in windows.items()}
            info = preds.info["etas"]
            text = {
                k: f"{g['value']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"
                for k, g in gains.items()
            }
            print(
                f"{lag:.0f}/{dist:.0f} {label:>16} {info['params']['mu']:9.3g} "
                f"{info['branching_ratio']:6.3f} {info['b_value']:5.2f} {info['n_pairs']:8d} "
                f"{sums['test']:8.1f} {sums['train']:9.1f} {text['valid']:>22} {text['test']:>22} "
                f"{_cpu_seconds() - cpu0:6.0f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--japan", help="Japan_catalog.csv (../shared/data/catalogs/...)")
    parser.add_argument("--japan-mc", type=float, default=5.0)
    parser.add_argument("--cascade", action="store_true", help="cascade checks only")
    parser.add_argument("--n-sim", type=int, default=10_000)
    parser.add_argument("--national", help="comma-separated catalog sizes, e.g. 25000,100000")
    parser.add_argument("--national-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-iter", type=int, default=5)
    parser.add_argument("--forecasts", type=int, default=365)
    parser.add_argument(
        "--cutoffs",
        help="recovery vs cut-offs: N_EVENTS:LAG_D/DIST_KM,..., e.g. 10000:3650/300,365/100",
    )
    parser.add_argument("--real", choices=sorted(REAL_CATALOGS), help="real-catalog ETAS check")
    parser.add_argument("--data", default="../shared/data", help="folder of the real catalogs")
    parser.add_argument("--real-cutoffs", default="365/100,3650/300", help="LAG_D/DIST_KM,...")
    args = parser.parse_args(argv)
    if args.real:
        pairs = [tuple(float(v) for v in pair.split("/")) for pair in args.real_cutoffs.split(",")]
        bench_real(args.real, args.data, pairs)
        return 0
    if args.cutoffs:
        size, _, pairs = args.cutoffs.partition(":")
        cutoffs = [tuple(float(v) for v in pair.split("/")) for pair in pairs.split(",")]
        bench_cutoffs(int(size), args.seed, cutoffs)
        return 0
    if args.national_one:
        row = national_run(args.national_one, args.seed, args.max_iter, args.forecasts)
        print(json.dumps(row))
        return 0
    if args.national:
        sizes = [int(v) for v in args.national.split(",")]
        bench_national(sizes, args.seed, args.max_iter, args.forecasts)
        return 0
    if args.cascade:
        bench_cascade(args.n_sim, args.seed)
        return 0
    if args.japan:
        bench_japan(args.japan, args.japan_mc)
        return 0
    durations = [500.0, 1000.0, 2000.0] if args.quick else [500.0, 1000.0, 2000.0, 4000.0]
    bench_inversion(durations, args.seed)
    bench_expected_counts(16 if args.quick else 64, args.seed)
    bench_cascade(args.n_sim, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
