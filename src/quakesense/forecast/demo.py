"""A small forecasting run on the embedded synthetic catalog (`quakesense demo`)."""

from __future__ import annotations

from pathlib import Path

from quakesense.forecast.config import ForecastConfig
from quakesense.forecast.pipeline import evaluate
from quakesense.synth.forecast_catalog import simulate_catalog


def demo_config(seed: int, *, progress: bool = False) -> ForecastConfig:
    """Settings of the demo: every model, a coarse grid and one short training epoch."""
    return ForecastConfig(
        min_magnitude=4.0,
        cell_km=25.0,
        history_days=180,
        epochs=1,
        window_steps=40,
        warm_steps=10,
        etas_max_iter=15,
        n_bootstrap=100,
        max_tabular_rows=20_000,
        device="cpu",
        seed=seed,
        progress=progress,
    )


def run_demo(out_dir: Path, seed: int, *, progress: bool = False) -> Path:
    """Simulate a clustered catalog (seeded), evaluate every model on it; return report.html.

    `progress` shows progress bars on stderr.
    """
    import torch

    torch.set_num_threads(1)
    catalog = simulate_catalog(seed, n_days=1500)
    return evaluate(demo_config(seed, progress=progress), Path(out_dir), catalog=catalog)
