"""Benchmark of the synthetic wavefield generator (`quakesense locate simulate`).

1. traveltime backend, end to end on the embedded network (20 stations): travel-time tables
   (pykonal, 2 phases), seismograms, 32 x 32 snapshots; images per minute against the target of
   100,000 and against a reference made in the same run (one event at a time, no batching).
   Then the same through `simulate` to disk (Zarr + Parquet, Dask threads).
2. elastic3d backend: seconds per reciprocal simulation (3 force shots = one station) on a stated
   grid; the cost per training event of the reciprocal route against one simulation per event
   (measured with one explosion-source shot on the same grid) at 1,000 and 10,000 events.
3. Cross-check of the two backends on a small 1-D network (same events, 0.3 Hz band): first-motion
   polarity agreement and peak-amplitude ratio.
4. Independent reference for 3: the analytic full-space double-couple solution (Stokes' Green's
   function, Aki and Richards eq. 4.23, differentiated at the source) against its far-field part
   (what ray theory keeps) at 1 Hz and 0.3 Hz, and the elastic3d reciprocal path in a full space
   against the analytic solution.

Usage: python benchmarks/bench_wavefield.py [--events 512] [--elastic-spacing-km 0.5]
       python benchmarks/bench_wavefield.py --near-field-only   (section 4 alone, ~30 s)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _table(rows: list[tuple[str, str, str]], title: str) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>14}  {note}")


def bench_traveltime(n_events: int, out_root: Path) -> None:
    """End-to-end images per minute of the traveltime backend."""
    from quakesense.core.config import build_config
    from quakesense.locate.dataset import events_batch
    from quakesense.locate.images import build_interpolation_matrix, pixel_axes, snapshots
    from quakesense.locate.seismograms import synthesize
    from quakesense.locate.simulate import (
        SimulateConfig,
        build_events,
        event_rngs,
        image_box,
        resolve_network,
        simulate,
        wave_parameters,
    )
    from quakesense.locate.traveltime import travel_time_tables

    config = build_config(
        SimulateConfig, {"n_events": n_events, "figures": False, "store_images": True}
    )
    network = resolve_network(config)
    events = build_events(config, network)
    params = wave_parameters(config)
    box = image_box(network, config.image)
    gx, gy = pixel_axes(box["x_min_km"], box["x_max_km"], box["y_min_km"], box["y_max_km"], 32, 32)
    matrix = build_interpolation_matrix(network.stations["x_km"], network.stations["y_km"], gx, gy)

    start = time.perf_counter()
    tables = travel_time_tables(network.model, network.station_xyz_km)
    table_s = time.perf_counter() - start
    start = time.perf_counter()
    for first in range(0, n_events, config.chunk_events):
        batch = events.iloc[first : first + config.chunk_events]
        waves = synthesize(
            events_batch(batch),
            tables,
            network.model,
            network.station_xyz_km,
            params,
            event_rngs(0, first, first + len(batch)),
        )
        snapshots(waves[:, :, 0], matrix, 32, 32)
    batched_s = time.perf_counter() - start
    n_reference = min(64, n_events)
    start = time.perf_counter()
    for index in range(n_reference):
        waves = synthesize(
            events_batch(events.iloc[index : index + 1]),
            tables,
            network.model,
            network.station_xyz_km,
            params,
            event_rngs(0, index, index + 1),
        )
        for frame in range(params.n_samples):
            (matrix @ waves[0, :, 0, frame]).reshape(32, 32)
    reference_s = (time.perf_counter() - start) * n_events / n_reference
    images = n_events * params.n_samples
    total_s = table_s + batched_s
    per_minute = images / total_s * 60
    shutil.rmtree(out_root / "tt", ignore_errors=True)
    result = simulate(config, out_root / "tt", progress=False)
    disk_mb = sum(p.stat().st_size for p in (out_root / "tt").rglob("*") if p.is_file()) / 1e6
    _table(
        [
            ("stations x phases", f"{len(network.stations)} x 2", "pykonal PointSourceSolver"),
            ("events / images", f"{n_events} / {images}", "32 x 32, 0.1 s, 30 s records"),
            ("travel-time tables (s)", f"{table_s:.2f}", f"grid {network.model.shape}"),
            (
                "seismograms + images (s)",
                f"{batched_s:.2f}",
                f"batches of {config.chunk_events} events",
            ),
            (
                "images / minute (end to end)",
                f"{per_minute:,.0f}",
                f"target 100,000: x{per_minute / 1e5:.2f}",
            ),
            (
                "reference: 1 event, 1 frame at a time (s)",
                f"{reference_s:.2f}",
                f"batched is x{reference_s / batched_s:.1f} faster (same run)",
            ),
            (
                "simulate() to disk (s)",
                f"{result.seconds:.2f}",
                f"{images / result.seconds * 60:,.0f} images/min incl. Zarr, {disk_mb:.0f} MB",
            ),
        ],
        "traveltime backend (embedded synthetic Hakone-like network, in-process, this machine)",
    )


def bench_elastic(spacing_km: float, n_steps: int) -> None:
    """Seconds per reciprocal simulation and the reciprocal vs per-event cost ratio."""
    import deepwave
    import torch

    from quakesense.locate import hakone
    from quakesense.locate.elastic3d import (
        choose_device,
        fd_grid,
        gaussian_force,
        run_forces,
        strain_receivers,
    )

    device = choose_device("auto")
    grid = fd_grid(hakone.velocity_model(), spacing_km)
    time_step_s = 0.02
    force = gaussian_force(n_steps, time_step_s, 0.5)[0][None, None] * 1e9
    station = np.array([[grid.n_vacuum, grid.vp_m_s.shape[1] // 3, grid.vp_m_s.shape[2] // 3]])
    hypocentres = np.array(
        [[grid.n_vacuum + 8, grid.vp_m_s.shape[1] // 2, grid.vp_m_s.shape[2] // 2]]
    )
    receivers, _ = strain_receivers(hypocentres)
    start = time.perf_counter()
    for channel in ("z", "y", "x"):
        run_forces(grid, channel, station, receivers, force, time_step_s, 10, 4, device, 0.5)
    reciprocal_s = time.perf_counter() - start
    tensors = [
        torch.as_tensor(a, dtype=torch.float32, device=device)
        for a in (grid.vp_m_s, grid.vs_m_s, grid.rho_kg_m3)
    ]
    boundary, pml_width = deepwave.boundaries(3, top="rigid", width=10)
    start = time.perf_counter()
    deepwave.elastic(
        *deepwave.vpvsrho_to_lambmubuoyancy(*tensors),
        grid.spacing_m,
        time_step_s,
        boundary=boundary,
        pml_width=pml_width,
        pml_freq=0.5,
        source_amplitudes_pressure_rate=torch.as_tensor(force, dtype=torch.float32, device=device),
        source_locations_pressure_rate=torch.as_tensor(hypocentres[None], device=device),
        receiver_locations_z=torch.as_tensor(station[None], device=device),
    )
    direct_s = time.perf_counter() - start
    n_stations = 20
    contract_s = _contraction_seconds_per_event(n_stations)
    rows = [
        ("grid (z, y, x) + PML 10", str(grid.vp_m_s.shape), f"{spacing_km} km cells, {device}"),
        ("time steps", str(n_steps), f"{time_step_s} s step ({n_steps * time_step_s:.0f} s)"),
        ("reciprocal simulation, 1 station (s)", f"{reciprocal_s:.2f}", "3 force shots"),
        ("one-event simulation (s)", f"{direct_s:.2f}", "1 moment-type shot, same grid"),
        ("contraction per event (ms)", f"{contract_s * 1e3:.2f}", f"{n_stations} stations"),
    ]
    for n_events in (1_000, 10_000):
        reciprocal_total = n_stations * reciprocal_s + n_events * contract_s
        direct_total = n_events * direct_s
        rows.append(
            (
                f"cost ratio per-event / reciprocal, {n_events:,} events",
                f"x{direct_total / reciprocal_total:.0f}",
                f"{direct_total / 3600:.1f} h vs {reciprocal_total / 60:.1f} min "
                f"({n_stations} stations)",
            )
        )
    _table(rows, "elastic3d backend (deepwave 3-D elastic, embedded model resampled)")


def _contraction_seconds_per_event(n_stations: int, n_events: int = 256) -> float:
    """Time of `contract_events` per event (random Green's tensors, 300 samples)."""
    from quakesense.locate.elastic3d import contract_events
    from quakesense.locate.seismograms import Events, WaveParameters

    rng = np.random.default_rng(0)
    green = rng.standard_normal((n_events, n_stations, 3, 3, 3, 300)).astype(np.float32)
    events = Events(
        *(
            rng.uniform(low, high, n_events)
            for low, high in (
                (0, 1),
                (0, 1),
                (2, 10),
                (2.2, 4.5),
                (0, 360),
                (20, 90),
                (-180, 180),
                (1, 5),
            )
        )
    )
    start = time.perf_counter()
    for first in range(0, n_events, 16):
        part = slice(first, first + 16)
        subset = Events(**{k: v[part] for k, v in vars(events).items() if v is not None})
        contract_events(green[part], subset, np.full(16, 3.0), WaveParameters())
    return (time.perf_counter() - start) / n_events


def cross_check(out_root: Path) -> None:
    """Both backends on the same events of a small 1-D network (0.3 Hz band, no noise or Q)."""
    from quakesense.core.config import build_config
    from quakesense.locate.dataset import open_dataset
    from quakesense.locate.simulate import SimulateConfig, simulate

    stations = out_root / "stations.csv"
    stations.write_text(
        "station,latitude_deg,longitude_deg,elevation_m\nA1,35.00,139.00,0\nA2,35.06,139.01,0\n"
        "A3,35.03,139.08,0\nA4,34.97,139.06,0\nA5,35.05,138.95,0\n"
    )
    velocity = out_root / "model.vel.txt"
    velocity.write_text("0.0 4.5 0 0.0 2.6 0\n2.0 5.6 0 2.0 3.2 0\n6.0 6.2 0 6.0 3.6 0\n")
    quiet = {
        "noise_rms_min_m_s": 0.0,
        "noise_rms_max_m_s": 0.0,
        "highcut_hz": 0.3,
        "q_p": 1e5,
        "q_s": 1e5,
    }
    base = {
        "stations": str(stations),
        "velocity": str(velocity),
        "n_events": 12,
        "seed": 3,
        "n_samples": 150,
        "figures": False,
        "scheduler": "synchronous",
        "propagation": quiet,
        "grid": {"spacing_deg": 0.04, "depths_km": [2.0, 4.0]},
        "model_grid": {"spacing_km": 1.0, "margin_km": 4.0, "max_depth_km": 8.0},
        "elastic": {"spacing_km": 1.0, "time_step_s": 0.05, "highcut_hz": 0.3, "pml_cells": 6},
    }
    data = {}
    for backend in ("traveltime", "elastic3d"):
        shutil.rmtree(out_root / backend, ignore_errors=True)
        config = build_config(SimulateConfig, {**base, "backend": backend})
        simulate(config, out_root / backend, progress=False)
        data[backend] = np.asarray(open_dataset(out_root / backend).velocity[:, :, 0])
    correlations, lags, ratios = [], [], []
    max_lag = 10  # samples (1 s)
    for a, b in zip(
        data["traveltime"].reshape(-1, 150), data["elastic3d"].reshape(-1, 150), strict=True
    ):
        scores = [np.corrcoef(np.roll(b, k), a)[0, 1] for k in range(-max_lag, max_lag + 1)]
        best = int(np.argmax(scores))
        correlations.append(scores[best])
        lags.append((best - max_lag) * 0.1)
        ratios.append(np.abs(b).max() / np.abs(a).max())
    spread = np.percentile(correlations, [25, 75])
    _table(
        [
            (
                "best correlation of vz within +-1 s",
                f"{np.median(correlations):.2f}",
                f"median over {len(correlations)} event-station pairs "
                f"(IQR {spread[0]:.2f}-{spread[1]:.2f})",
            ),
            ("lag at best correlation (s)", f"{np.median(lags):+.1f}", "median, elastic vs ray"),
            (
                "peak |vz| ratio elastic3d / traveltime",
                f"{np.median(ratios):.2f}",
                f"median (IQR {np.percentile(ratios, 25):.2f}-{np.percentile(ratios, 75):.2f})",
            ),
        ],
        "cross-check traveltime vs elastic3d (5-station 1-D network, 12 events, seed 3)",
    )


def _rate_pulse(
    highcut_hz: float, vs_km_s: float, magnitude: float, time_s: np.ndarray
) -> np.ndarray:
    """Normalised moment rate (Brune x causal high-cut, as both backends use) starting at t=1 s."""
    from quakesense.locate.seismograms import (
        brune_corner_frequency_hz,
        highcut_response,
        moment_from_mw,
    )

    interval_s, n = time_s[1] - time_s[0], len(time_s)
    frequency_hz = np.fft.rfftfreq(2 * n, interval_s)
    corner_hz = brune_corner_frequency_hz(moment_from_mw(magnitude), vs_km_s, 3.0)
    spectrum = highcut_response(frequency_hz, highcut_hz) / (1 + 1j * frequency_hz / corner_hz) ** 2
    spectrum = spectrum * np.exp(-2j * np.pi * frequency_hz)
    return np.fft.irfft(spectrum, 2 * n)[:n] / interval_s


def _stokes(
    offset_m: np.ndarray, time_s: np.ndarray, pulse: np.ndarray, media: tuple
) -> np.ndarray:
    """(3, 3, nt) displacement n from a force p with time function `pulse` (A&R eq. 4.23)."""
    vp, vs, rho = media
    r = np.linalg.norm(offset_m)
    gg, unit = np.outer(offset_m, offset_m) / r**2, np.eye(3)
    delay_s = np.linspace(r / vp, r / vs, 300)
    lagged = np.interp(time_s[:, None] - delay_s[None], time_s, pulse, left=0.0)
    near = np.trapezoid(delay_s * lagged, delay_s, axis=1) / r**3
    p_wave = np.interp(time_s - r / vp, time_s, pulse, left=0.0) / (vp**2 * r)
    s_wave = np.interp(time_s - r / vs, time_s, pulse, left=0.0) / (vs**2 * r)
    terms = (3 * gg - unit)[..., None] * near + gg[..., None] * p_wave
    return (terms - (gg - unit)[..., None] * s_wave) / (4 * np.pi * rho)


def _double_couple_velocity(
    offset_m: np.ndarray, tensor: np.ndarray, time_s: np.ndarray, pulse: np.ndarray, media: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Full and far-field-only velocity (3 [E, N, down], nt) of moment tensor `tensor` (N m).

    Full: v_n = M_pq d/d(xi_q) G_np convolved with the moment rate (central differences of 5 m
    at the source). Far field: the 1/r terms of Aki and Richards eq. 4.29 (ray theory).
    """
    vp, vs, rho = media
    full = np.zeros((3, len(time_s)))
    for q in range(3):
        step = np.eye(3)[q] * 5.0
        gradient = (
            _stokes(offset_m - step, time_s, pulse, media)
            - _stokes(offset_m + step, time_s, pulse, media)
        ) / 10.0
        full += np.einsum("p,npt->nt", tensor[:, q], gradient)
    r = np.linalg.norm(offset_m)
    gamma = offset_m / r
    rate_change = np.gradient(pulse, time_s)
    pattern = gamma @ tensor @ gamma
    far = np.outer(gamma * pattern, np.interp(time_s - r / vp, time_s, rate_change, left=0.0)) / (
        4 * np.pi * rho * vp**3 * r
    )
    transverse = tensor @ gamma - pattern * gamma
    far += np.outer(transverse, np.interp(time_s - r / vs, time_s, rate_change, left=0.0)) / (
        4 * np.pi * rho * vs**3 * r
    )
    return full, far


def _lag_s(reference: np.ndarray, trace: np.ndarray, interval_s: float) -> float:
    """Lag (s) of `trace` behind `reference` at their best cross-correlation."""
    correlation = np.correlate(trace, reference, mode="full")
    return (int(np.argmax(correlation)) - (len(reference) - 1)) * interval_s


def near_field_check() -> None:
    """Section 4: what ray theory misses at the cross-check's band, and elastic3d vs analytic."""
    import torch

    from quakesense.locate.elastic3d import FDGrid, contract_events, strain_green_tensors
    from quakesense.locate.seismograms import Events, WaveParameters, double_couple, moment_from_mw
    from quakesense.locate.velocity import density_g_cm3

    vp_km_s, vs_km_s = 6.0, 6.0 / np.sqrt(3.0)
    media = (vp_km_s * 1000, vs_km_s * 1000, density_g_cm3(vp_km_s) * 1000)
    tensor = double_couple([30.0], [60.0], [40.0])[0] * moment_from_mw(2.5)
    stations_m = np.array([[7000.0, 0, 8000], [0, 7000, 8000], [4000, -6000, 10000]])
    source_m = np.array([0.0, 0.0, 15000.0])
    time_s = np.arange(2000) * 0.01
    rows = []
    for highcut_hz in (1.0, 0.3):
        pulse = _rate_pulse(highcut_hz, vs_km_s, 2.5, time_s)
        lags, ratios = [], []
        for station in stations_m:
            full, far = _double_couple_velocity(station - source_m, tensor, time_s, pulse, media)
            for component in range(3):
                lags.append(_lag_s(far[component], full[component], 0.01))
                ratios.append(np.abs(full[component]).max() / np.abs(far[component]).max())
        rows.append(
            (
                f"full / far field at {highcut_hz} Hz: lag (s), peak ratio",
                f"{min(lags):+.2f}..{max(lags):+.2f}",
                f"median lag {np.median(lags):+.2f} s; peak ratio {min(ratios):.2f}-"
                f"{max(ratios):.2f}, median {np.median(ratios):.2f} (3 stations x 3 comp., "
                "r 9.9-10.8 km)",
            )
        )
    # elastic3d's reciprocal path in a homogeneous full space (no vacuum layer) at 1 Hz.
    torch.set_num_threads(1)
    fine = np.arange(0.0, 20.01, 0.5)
    across = np.arange(-8.0, 8.01, 0.5)
    shape = (len(fine), len(across), len(across))
    grid = FDGrid(fine, across, across, *(np.full(shape, v) for v in media), 500.0, 0)
    cells = np.rint((stations_m[:2, ::-1] / 1000.0 - [0.0, -8.0, -8.0]) / 0.5).astype(np.int64)
    params = WaveParameters(
        n_samples=70, highcut_hz=1.0, noise_rms_min_m_s=0.0, noise_rms_max_m_s=0.0
    )
    start = time.perf_counter()
    green = strain_green_tensors(
        grid, cells, np.array([[30, 16, 16]]), params, 0.025, 6, 4, "cpu", 1.0
    )
    events = Events(*(np.array([v]) for v in (0.0, 0.0, 15.0, 2.5, 30.0, 60.0, 40.0, 1.0)))
    elastic = contract_events(green, events, np.array([vs_km_s]), params)[0]
    seconds = time.perf_counter() - start
    pulse = _rate_pulse(1.0, vs_km_s, 2.5, time_s)
    correlations, amplitudes = [], []
    for index, station in enumerate(stations_m[:2]):
        full, _ = _double_couple_velocity(station - source_m, tensor, time_s, pulse, media)
        reference = np.stack([-full[2], full[1], full[0]])[:, ::10][:, :70]
        for component in range(3):
            a, b = reference[component], elastic[index, component]
            correlations.append(np.corrcoef(a, b)[0, 1])
            amplitudes.append(a @ b / (a @ a))
    rows.append(
        (
            "elastic3d (full space, 0.5 km, 1 Hz) vs analytic",
            f"{min(correlations):.3f}-{max(correlations):.3f}",
            f"correlation; least-squares amplitude {min(amplitudes):.2f}-{max(amplitudes):.2f} "
            f"(2 stations x 3 components, {seconds:.0f} s)",
        )
    )
    _table(rows, "independent reference: analytic full-space double couple (Vp 6, Vs 3.46 km/s)")


def main(argv: list[str] | None = None) -> int:
    """Run the three benchmarks and print their tables."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=512)
    parser.add_argument("--elastic-spacing-km", type=float, default=0.5)
    parser.add_argument("--elastic-steps", type=int, default=1500)
    parser.add_argument("--near-field-only", action="store_true", help="section 4 alone")
    args = parser.parse_args(argv)
    if args.near_field_only:
        near_field_check()
        return 0
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bench_traveltime(args.events, root)
        bench_elastic(args.elastic_spacing_km, args.elastic_steps)
        cross_check(root)
    near_field_check()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
