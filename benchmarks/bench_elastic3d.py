"""Cost of the elastic3d Green's tensors, phase by phase, against bare deepwave propagation.

Issue 11 section 4. For each case, on the embedded network and its seeded events (the
hypocentre cells and station cells the `elastic3d` backend would use):

- `strain_green_tensors` end to end for the measured stations, with the wall time of each phase
  (propagation with the project's receivers, strain differencing, integration + deconvolution,
  device -> host copy, host assembly; `elastic3d.PhaseClock` synchronises the device at each
  phase boundary);
- the reference, measured in the same run: one bare `deepwave.elastic` call with the same grid,
  boundaries, shots and steps but one receiver per shot, times the number of calls;
- the per-event contraction (`contract_events`, 16 events per call as `simulate` does);
- cell-steps per second = model cells (vacuum rows included, PML excluded, as in the issue) x
  shots x time steps / seconds, and the ratio of the end-to-end time to the reference.

With `--compare-with FILE` the `strain_green_tensors` and `contract_events` of another version
of `elastic3d.py` run on the same case in the same run (before/after) and their Green's tensors
are compared (largest difference relative to each tensor's peak); `--repeat N` interleaves N
timed runs of each version and of the reference and reports the fastest (the CPU is shared).
Stations beyond `--measure-stations` are extrapolated linearly (the cost is per deepwave call
of `stations_per_run` stations); the table says so.

Cases: `small` (CPU-sized: 1 km cells, 0.25 Hz, 300 steps, 2 stations, 300 events), `default`
(the embedded default of the issue's H200 measurement: 0.5 km, 0.5 Hz, 1,500 steps, 20 stations,
2,000 events) and `target` (0.125 km, 2 Hz, 4,800 steps of 6.25 ms, 20 stations, 3,000 events).

Usage:
    python benchmarks/bench_elastic3d.py                                   # small, CPU
    git show 0cbc72e:src/quakesense/locate/elastic3d.py > /tmp/elastic3d_0cbc72e.py
    python benchmarks/bench_elastic3d.py --compare-with /tmp/elastic3d_0cbc72e.py
    python benchmarks/bench_elastic3d.py --device cuda --cases small,default,target \\
        --measure-stations 4                                               # GPU session
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import numpy as np
import torch

from quakesense.locate.dataset import events_batch
from quakesense.locate.elastic3d import (
    CHANNELS,
    FORCE_N,
    PhaseClock,
    choose_device,
    contract_events,
    fd_grid,
    gaussian_force,
    model_cells,
    strain_receivers,
)
from quakesense.locate.seismograms import Events, WaveParameters
from quakesense.locate.simulate import (
    ElasticSettings,
    SimulateConfig,
    build_events,
    network_config,
)

CONTRACTION_CHUNK = 16


@dataclass(frozen=True)
class Case:
    """One benchmark setting."""

    spacing_km: float
    highcut_hz: float
    time_step_s: float
    n_samples: int
    n_stations: int
    n_events: int
    stations_per_run: int
    sampling_interval_s: float = 0.1
    pml_cells: int = 10
    accuracy: int = 4


CASES = {
    "small": Case(1.0, 0.25, 0.05, 150, 2, 300, 2),
    "default": Case(0.5, 0.5, 0.02, 300, 20, 2000, 4),
    "target": Case(0.125, 2.0, 0.00625, 300, 20, 3000, 4),
}


@dataclass
class Setting:
    """What a case runs on: grid, cells, output sampling, events."""

    grid: Any
    stations: np.ndarray
    hypocentres: np.ndarray
    event_row: np.ndarray
    events: Events
    params: WaveParameters
    n_steps: int


def build_setting(case: Case) -> Setting:
    """Embedded network, seeded events (seed 0) and the backend's cells for `case`."""
    elastic = ElasticSettings(
        spacing_km=case.spacing_km,
        time_step_s=case.time_step_s,
        highcut_hz=case.highcut_hz,
        pml_cells=case.pml_cells,
        accuracy=case.accuracy,
        stations_per_run=case.stations_per_run,
    )
    config, network, _ = network_config(
        SimulateConfig(
            backend="elastic3d",
            n_events=case.n_events,
            seed=0,
            sampling_interval_s=case.sampling_interval_s,
            n_samples=case.n_samples,
            elastic=elastic,
        )
    )
    table = build_events(config, network)
    grid = fd_grid(network.model, case.spacing_km)
    stations, hypocentres, event_row = model_cells(grid, network.station_xyz_km, table)
    events = events_batch(table)
    params = WaveParameters(
        sampling_interval_s=case.sampling_interval_s,
        n_samples=case.n_samples,
        highcut_hz=case.highcut_hz,
    )
    decimation = round(case.sampling_interval_s / case.time_step_s)
    return Setting(
        grid,
        stations[: case.n_stations],
        hypocentres,
        event_row,
        events,
        params,
        case.n_samples * decimation,
    )


def _synchronise(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def bare_propagation_s(case: Case, setting: Setting, device: str) -> float:
    """One deepwave call: 3 x stations_per_run force shots, one receiver per shot."""
    import deepwave

    grid = setting.grid
    model = [
        torch.as_tensor(a, dtype=torch.float32, device=device)
        for a in (grid.vp_m_s, grid.vs_m_s, grid.rho_kg_m3)
    ]
    boundary, pml_width = deepwave.boundaries(3, top="rigid", width=case.pml_cells)
    n_block = min(case.stations_per_run, len(setting.stations))
    cells = torch.as_tensor(setting.stations[:n_block], device=device)[:, None]
    force = gaussian_force(setting.n_steps, case.time_step_s, case.highcut_hz)[0]
    amplitude = torch.as_tensor(
        force * FORCE_N / grid.spacing_m**3, dtype=torch.float32, device=device
    ).expand(3 * n_block, 1, -1)
    shots = cells.repeat_interleave(3, dim=0)
    # Each station's three force directions as three shots: shot 3 i + n pushes along n.
    kwargs: dict[str, Any] = {"receiver_locations_z": shots}
    for n, channel in enumerate(CHANNELS):
        weight = torch.zeros(3 * n_block, 1, 1, device=device)
        weight[n::3] = 1.0
        kwargs[f"source_amplitudes_{channel}"] = amplitude * weight
        kwargs[f"source_locations_{channel}"] = shots
    _synchronise(device)
    start = time.perf_counter()
    deepwave.elastic(
        *deepwave.vpvsrho_to_lambmubuoyancy(*model),
        grid.spacing_m,
        case.time_step_s,
        boundary=boundary,
        pml_width=pml_width,
        pml_freq=case.highcut_hz,
        accuracy=case.accuracy,
        **kwargs,
    )
    _synchronise(device)
    return time.perf_counter() - start


def warm_up(device: str) -> None:
    """A few steps on a tiny grid, so that no timed call pays deepwave's first-call setup."""
    import deepwave

    model = torch.full((12, 12, 12), 1.0, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a coarse grid, on purpose
        deepwave.elastic(
            *deepwave.vpvsrho_to_lambmubuoyancy(3000.0 * model, 1700.0 * model, 2500.0 * model),
            100.0,
            0.001,
            pml_width=2,
            pml_freq=1.0,
            source_amplitudes_z=torch.ones(1, 1, 4, device=device),
            source_locations_z=torch.tensor([[[6, 6, 6]]], device=device),
            receiver_locations_z=torch.tensor([[[5, 5, 5]]], device=device),
        )
    _synchronise(device)


def contraction_ms_per_event(
    contract: Callable[..., np.ndarray],
    green: np.ndarray,
    setting: Setting,
    n_stations: int,
    n_events: int = 256,
) -> float:
    """Milliseconds per event of a `contract_events` (host), 16 events per call.

    For `n_stations` stations: the measured stations' tensors are repeated (the cost does not
    depend on the values), picked per chunk as `ElasticBackend.synthesize` does.
    """
    n_events = min(n_events, len(setting.events))
    vs_km_s = np.full(CONTRACTION_CHUNK, 3.0)
    stations = np.arange(n_stations) % green.shape[1]
    start = time.perf_counter()
    for first in range(0, n_events - CONTRACTION_CHUNK + 1, CONTRACTION_CHUNK):
        part = slice(first, first + CONTRACTION_CHUNK)
        subset = Events(**{k: v[part] for k, v in vars(setting.events).items() if v is not None})
        chunk = green[setting.event_row[part][:, None], stations[None]]
        contract(chunk, subset, vs_km_s, setting.params)
    n_done = n_events // CONTRACTION_CHUNK * CONTRACTION_CHUNK
    return (time.perf_counter() - start) / n_done * 1e3


def _peak_memory(device: str) -> str:
    if torch.device(device).type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB on the GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB RSS (process)"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("elastic3d_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _table(rows: list[tuple[str, str, str]], title: str) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")


class RandomVelocities:
    """Stands in for `run_forces` (`--no-propagation`): random velocities of the right shapes.

    So the processing after propagation is measured at full scale on a CPU. Arrays are made
    once per shape (seeded) and their making is timed apart (`seconds`), not charged to a phase.
    """

    def __init__(self, n_steps: int, device: str, as_numpy: bool) -> None:
        self.n_steps, self.device, self.as_numpy = n_steps, device, as_numpy
        self.seconds = 0.0
        self._cache: dict[tuple[str, int], torch.Tensor] = {}
        self._generator = torch.Generator(device=device).manual_seed(0)

    def __call__(
        self, grid: Any, channel: Any, source_cells: np.ndarray, receiver_cells: Any, *rest: Any
    ) -> dict[str, Any]:
        start = time.perf_counter()
        if not isinstance(receiver_cells, Mapping):
            receiver_cells = dict.fromkeys(CHANNELS, receiver_cells)
        n_shots, out = len(source_cells), {}
        for name, cells in receiver_cells.items():
            key = (name, len(cells))
            if key not in self._cache or len(self._cache[key]) < n_shots:
                shape = (n_shots, len(cells), self.n_steps)
                self._cache[key] = torch.randn(shape, generator=self._generator, device=self.device)
            velocity = self._cache[key][:n_shots]
            out[name] = velocity.cpu().numpy() if self.as_numpy else velocity
        self.seconds += time.perf_counter() - start
        return out


def _green_tensors(
    module: ModuleType, args: tuple, no_propagation: bool, n_steps: int, **kwargs: Any
) -> tuple[np.ndarray, float]:
    """`module.strain_green_tensors(*args)` and its seconds (without stand-in propagation)."""
    if not no_propagation:
        start = time.perf_counter()
        green = module.strain_green_tensors(*args, **kwargs)
        return green, time.perf_counter() - start
    device = args[7]
    fake = RandomVelocities(n_steps, device, as_numpy=not hasattr(module, "PhaseClock"))
    with patch.object(module, "run_forces", fake):
        start = time.perf_counter()
        green = module.strain_green_tensors(*args, **kwargs)
        seconds = time.perf_counter() - start
    return green, seconds - fake.seconds


def run_case(
    name: str,
    case: Case,
    device: str,
    measure_stations: int | None,
    compared: Path | None,
    no_propagation: bool,
    repeat: int,
) -> list[dict[str, str]]:
    """Print the phase table of one case; return its summary rows (this tree, compared)."""
    import quakesense.locate.elastic3d as this_tree

    setting = build_setting(case)
    if measure_stations is not None:
        setting = replace(setting, stations=setting.stations[:measure_stations])
    n_measured = len(setting.stations)
    calls_measured = -(-n_measured // case.stations_per_run)
    scale = -(-case.n_stations // case.stations_per_run) / calls_measured
    receivers, _ = strain_receivers(setting.hypocentres)
    cell_steps = int(np.prod(setting.grid.vp_m_s.shape)) * 3 * n_measured * setting.n_steps
    args = (
        setting.grid,
        setting.stations,
        setting.hypocentres,
        setting.params,
        case.time_step_s,
        case.pml_cells,
        case.accuracy,
        device,
        case.highcut_hz,
        case.stations_per_run,
    )
    before = None if compared is None else _load(compared)
    runs, old_runs, bare_runs = [], [], []
    for _ in range(repeat):  # interleaved, so that a change of load hits every version
        if not no_propagation:
            bare_runs.append(bare_propagation_s(case, setting, device) * calls_measured)
        clock = PhaseClock(device)
        if torch.device(device).type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        green, seconds = _green_tensors(
            this_tree, args, no_propagation, setting.n_steps, clock=clock
        )
        runs.append((seconds, clock))
        memory = _peak_memory(device)
        if before is not None:
            old_runs.append(_green_tensors(before, args, no_propagation, setting.n_steps))
    total_s, clock = min(runs, key=lambda run: run[0])
    bare_s = min(bare_runs) if bare_runs else None
    rows = [
        (
            "setting",
            f"{name}",
            f"grid (z, y, x) {setting.grid.vp_m_s.shape} of {case.spacing_km} km + PML "
            f"{case.pml_cells}, {setting.n_steps} steps of {case.time_step_s} s, high-cut "
            f"{case.highcut_hz} Hz, {device}"
            + (", propagation replaced by random velocities" if no_propagation else ""),
        ),
        (
            "stations measured / case",
            f"{n_measured} / {case.n_stations}",
            f"{case.stations_per_run} stations x 3 force shots per deepwave call; "
            f"{len(setting.hypocentres):,} hypocentre cells of {case.n_events:,} events "
            f"(seed 0); receivers per velocity channel "
            + ", ".join(f"{c} {len(r):,}" for c, r in receivers.items()),
        ),
    ]
    for phase, seconds in clock.seconds.items():
        if not (no_propagation and phase == "propagation"):
            rows.append((phase, f"{seconds:.2f} s", f"{seconds / total_s:.0%} of end to end"))
    rows.append(
        (
            "end to end (measured)",
            f"{total_s:.2f} s",
            f"fastest of {repeat} (each version; phases of that run); peak memory {memory}",
        )
    )
    contraction_ms = min(
        contraction_ms_per_event(contract_events, green, setting, case.n_stations)
        for _ in range(repeat)
    )
    summaries = [
        _summary(name, device, "this tree", total_s, scale, cell_steps, bare_s, contraction_ms)
    ]
    if bare_s is not None:
        propagation_s = clock.seconds["propagation"]
        rows += [
            (
                "bare propagation (reference)",
                f"{bare_s:.2f} s",
                f"same shots and steps, one receiver per shot, x {calls_measured} call(s)",
            ),
            (
                "ratio end to end / bare",
                f"x{total_s / bare_s:.2f}",
                f"propagation with the project's receivers alone: x{propagation_s / bare_s:.2f}",
            ),
            (
                "cell-steps/s, bare",
                f"{cell_steps / bare_s / 1e9:.3g} G",
                f"{cell_steps / propagation_s / 1e9:.3g} G with the project's receivers; "
                f"{cell_steps / total_s / 1e9:.3g} G end to end",
            ),
        ]
    rows += [
        (
            f"end to end, {case.n_stations} stations",
            f"{total_s * scale:.1f} s",
            "measured" if scale == 1 else f"extrapolated x{scale:.2f} from {n_measured}",
        ),
        (
            "contraction per event",
            f"{contraction_ms:.2f} ms",
            f"host, {case.n_stations} stations, {case.n_samples} samples, 16 events per call",
        ),
    ]
    if before is not None and compared is not None:
        old, old_s = min(old_runs, key=lambda run: run[1])
        old_ms = min(
            contraction_ms_per_event(before.contract_events, old, setting, case.n_stations)
            for _ in range(repeat)
        )
        summaries.append(
            _summary(name, device, compared.name, old_s, scale, cell_steps, bare_s, old_ms)
        )
        rows.append(
            (
                "compared version, end to end",
                f"{old_s:.2f} s",
                f"{compared.name}: x{old_s / total_s:.2f} this tree's time",
            )
        )
        rows.append(
            (
                "compared, contraction per event",
                f"{old_ms:.2f} ms",
                f"x{old_ms / contraction_ms:.1f} this tree's",
            )
        )
        if not no_propagation:
            peak = np.abs(old).max(axis=(-3, -2, -1), keepdims=True)
            difference = float((np.abs(green - old) / np.where(peak > 0, peak, 1.0)).max())
            rows.append(
                (
                    "Green's tensors, max |new - old| / peak",
                    f"{difference:.1e}",
                    "per (hypocentre, station, force) tensor",
                )
            )
    _table(rows, f"elastic3d Green's tensors: case {name}")
    return summaries


def _summary(
    case: str,
    device: str,
    version: str,
    measured_s: float,
    scale: float,
    cell_steps: int,
    bare_s: float | None,
    contraction_ms: float,
) -> dict[str, str]:
    """One row of the cost table (rates only when deepwave really ran)."""
    return {
        "case": case,
        "device": device,
        "version": version,
        "end to end, all stations (s)": f"{measured_s * scale:.1f}",
        "G cell-steps/s": "-" if bare_s is None else f"{cell_steps / measured_s / 1e9:.3g}",
        "ratio to bare": "-" if bare_s is None else f"x{measured_s / bare_s:.2f}",
        "contraction ms/event": f"{contraction_ms:.2f}",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the chosen cases and print the phase tables and a cost table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="small", help="comma list of " + ", ".join(CASES))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--measure-stations", type=int, default=None)
    parser.add_argument("--compare-with", type=Path, default=None, help="another elastic3d.py")
    parser.add_argument("--stations-per-run", type=int, default=None, help="override the case's")
    parser.add_argument(
        "--no-propagation",
        action="store_true",
        help="random velocities instead of deepwave: the processing alone, at scale, on a CPU",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed runs per version (interleaved); the fastest"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = choose_device(args.device)
    if not args.no_propagation:
        warm_up(device)
    summaries = []
    for name in args.cases.split(","):
        if name not in CASES:
            raise SystemExit(f"error: unknown case {name!r}; expected one of {', '.join(CASES)}")
        case = CASES[name]
        if args.stations_per_run is not None:
            case = replace(case, stations_per_run=args.stations_per_run)
        summaries += run_case(
            name,
            case,
            device,
            args.measure_stations,
            args.compare_with,
            args.no_propagation,
            args.repeat,
        )
    columns = list(summaries[0])
    print("\ncost table (" + ", ".join(columns) + ")")
    for summary in summaries:
        print("  " + " | ".join(str(summary[c]) for c in columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
