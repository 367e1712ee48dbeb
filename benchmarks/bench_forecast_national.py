"""National-scale forecast benchmark: peak memory and wall time of `forecast evaluate`.

Simulates a clustered catalog (`synth/forecast_catalog.py`, seed 0, M >= 2.5, b = 1, fault zones
scaled to a national region of 11.5 x 12.5 degrees around 38 N 142 E) spanning 60 years, writes it
as a raw CSV with its own column names, and runs, in a child process per size,

    quakesense forecast evaluate --catalog CAT.csv --columns ... --region 32.25,43.75,135.75,148.25
        --min-magnitude 3.5 --horizon 10d:50d --split-dates <45 y>,<50 y> --out DIR --no-progress

with every default model and default setting (the issue's national case). Prints a table of
events, wall seconds, CPU seconds (user + system; on a shared machine the wall time depends on
the other jobs, the CPU time much less) and peak resident memory (the child's `ru_maxrss`, from
`os.wait4`) per catalog size; the reference row is the smallest size, and ratios are against it.

`--profile` instead runs the smallest size in this process under `tracemalloc` and prints the
peak traced memory of each pipeline phase (reading, gridding, baselines, ETAS, networks,
scoring), which is how the memory bounds were found.

Run: `python benchmarks/bench_forecast_national.py [--events 25000 100000 400000]
[--timeout-min 60] [--extra "--epochs 1"] [--profile]`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from quakesense.synth.forecast_catalog import simulate_catalog

REGION = "32.25,43.75,135.75,148.25"
MAPPING = "time=origin,latitude=lat_deg,longitude=lon_deg,depth=z_km,magnitude=mw"
START = "1960-01-01"
# Events of the 60-year simulation per unit of background rate (per day), measured for seed 0.
EVENTS_PER_BACKGROUND_RATE = 33_055


def write_catalog(n_events: int, years: int, path: Path, seed: int) -> int:
    """Simulate about `n_events` over `years` years and write a raw CSV; return the count."""
    n_days = round(years * 365.25)
    rate = n_events / EVENTS_PER_BACKGROUND_RATE * (21_915 / n_days)
    catalog = simulate_catalog(
        seed, n_days=n_days, background_per_day=rate, m_min=2.5, zone_scale=4.0, start=START
    )
    frame = pd.DataFrame(
        {
            "origin": catalog["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "lat_deg": catalog["latitude_deg"].round(4),
            "lon_deg": catalog["longitude_deg"].round(4),
            "z_km": catalog["depth_km"].round(1),
            "mw": catalog["magnitude"],
        }
    )
    frame.to_csv(path, index=False)
    return len(frame)


def evaluate_args(catalog: Path, out: Path, years: int, extra: list[str]) -> list[str]:
    """The national case's `forecast evaluate` arguments."""
    start = pd.Timestamp(START)
    split = ",".join(str((start + pd.DateOffset(years=y)).date()) for y in (years - 15, years - 10))
    return [
        "forecast",
        "evaluate",
        "--catalog",
        str(catalog),
        "--columns",
        MAPPING,
        "--region",
        REGION,
        "--min-magnitude",
        "3.5",
        "--horizon",
        "10d:50d",
        "--split-dates",
        split,
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def run_child(args: list[str], timeout_s: float, log: Path) -> tuple[int, float, float, float]:
    """Run the CLI in a child process (stderr to `log`); return (exit status, wall s, CPU s,
    peak RSS MB)."""
    code = "import sys; from quakesense.cli import main; sys.exit(main(sys.argv[1:]))"
    t0 = time.perf_counter()
    with log.open("w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", code, *args], stderr=stderr)
    deadline = t0 + timeout_s
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            child.kill()
            pid, status, usage = os.wait4(child.pid, 0)
            status = -9
            break
        time.sleep(1.0)
    wall = time.perf_counter() - t0
    code_out = os.waitstatus_to_exitcode(status) if status != -9 else -9
    return code_out, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def profile(args: list[str]) -> None:
    """Run `forecast evaluate` in-process under tracemalloc; print each phase's peak."""
    import quakesense.forecast.pipeline as pipeline
    from quakesense.cli import main

    rows: list[tuple[str, float, float, float]] = []

    def traced(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            tracemalloc.reset_peak()
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                rows.append((name, wall, cpu, peak))

        return wrapper

    for name in pipeline.PROFILED_PHASES:
        setattr(pipeline, name, traced(name, getattr(pipeline, name)))
    tracemalloc.start()
    status = main(args)
    print(f"\nexit status {status}; peak traced memory per phase (tracemalloc)")
    print(f"{'phase':<28}{'wall s':>10}{'CPU s':>10}{'peak MB':>10}")
    for name, wall, cpu, peak in rows:
        print(f"{name:<28}{wall:>10.1f}{cpu:>10.1f}{peak:>10.0f}")


def main() -> None:
    """Run the sizes (or the profile) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[25_000, 100_000, 400_000])
    parser.add_argument("--years", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-min", type=float, default=75.0)
    parser.add_argument("--extra", default="", help="more evaluate options, quoted")
    parser.add_argument("--profile", action="store_true", help="tracemalloc per phase")
    args = parser.parse_args()
    extra = shlex.split(args.extra)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-national-") as scratch:
        for n_events in sorted(args.events):
            path = Path(scratch) / f"catalog_{n_events}.csv"
            n = write_catalog(n_events, args.years, path, args.seed)
            cli_args = evaluate_args(path, Path(scratch) / f"run_{n_events}", args.years, extra)
            if args.profile:
                profile(cli_args)
                return
            log = Path(scratch) / f"log_{n_events}.txt"
            status, wall, cpu, rss = run_child(cli_args, args.timeout_min * 60, log)
            rows.append((n, status, wall, cpu, rss))
            for line in log.read_text().splitlines():
                if " s wall, " in line or "error" in line:
                    print(f"  {line}")
            print(
                f"{n} events: exit {status}, wall {wall:.0f} s, CPU {cpu:.0f} s, "
                f"peak RSS {rss:.0f} MB",
                flush=True,
            )
    ref_cpu, ref_rss = rows[0][3], rows[0][4]
    print(
        f"\nforecast evaluate, default models and settings, {args.years} years, region {REGION}, "
        f"Mc 3.5, horizon 10d:50d, seed {args.seed}, extra options: {extra or 'none'}"
    )
    header = f"{'events':>8}{'exit':>6}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}"
    print(f"{header}{'CPU ratio':>11}{'RSS ratio':>11}")
    for n, status, wall, cpu, rss in rows:
        ratios = f"{cpu / ref_cpu:>11.2f}{rss / ref_rss:>11.2f}"
        print(f"{n:>8}{status:>6}{wall:>9.0f}{cpu:>9.0f}{rss:>13.0f}{ratios}")


if __name__ == "__main__":
    main()
