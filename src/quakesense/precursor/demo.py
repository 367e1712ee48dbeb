"""The precursor pipeline on its embedded default: simulate, window, train, evaluate, report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from quakesense.precursor.features import WindowConfig, target_events, window_features
from quakesense.precursor.models import MLP_PRESETS
from quakesense.precursor.pipeline import ExperimentConfig, run_experiment
from quakesense.synth.ae_monitoring import AEMonitoringConfig, simulate, target_distance_km

DEMO_MLP = MLP_PRESETS["fast"]
"""Demo budget: the `fast` preset (paper network and batch, class-balanced BCE, Adam 0.01,
<= 30 epochs, early stopping) and no sweep: the Optuna sweep now runs inside every fold
(`--sweep-trials`), which multiplies the MLP's cost by the number of trials."""


def run_demo(out_dir: Path, seed: int, *, progress: bool = False) -> Path:
    """Simulate 35 days of an 8-sensor tunnel station and run the full experiment.

    `progress` shows the experiment's fold bars on stderr.
    """
    torch.set_num_threads(1)
    sim = AEMonitoringConfig(seed=seed)
    hits, catalog = simulate(sim)
    window = WindowConfig(threshold_db=sim.threshold_db, origin_utc=sim.start_time)
    windows = window_features(hits, window)
    origin = pd.Timestamp(sim.start_time)
    event_s = (catalog["time"] - origin).dt.total_seconds().to_numpy()
    targets = target_events(
        event_s,
        catalog["magnitude"].to_numpy(),
        target_distance_km(sim, catalog),
        min_magnitude=2.4,
        max_distance_km=200.0,
    )
    config = ExperimentConfig(
        mlp=DEMO_MLP,
        min_magnitude=2.4,
        max_distance_km=200.0,
        station_lat_deg=sim.station_lat_deg,
        station_lon_deg=sim.station_lon_deg,
        seed=seed,
        progress=progress,
    )
    return run_experiment(
        windows,
        targets,
        config,
        Path(out_dir),
        title=f"AE precursor detection, simulated tunnel station (seed {seed})",
        window=window,
        meta={"simulator": sim.model_dump(mode="json")},
        hits_time_s=hits["time_s"].to_numpy(),
        catalog_time_s=event_s,
        origin=origin,
    )
