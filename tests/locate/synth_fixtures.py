"""A tiny user network (5 stations, 1-D model) that keeps simulate tests to a second or two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIONS_CSV = """station,latitude_deg,longitude_deg,elevation_m
A1,35.00,139.00,100
A2,35.06,139.01,250
A3,35.03,139.08,0
A4,34.97,139.06,400
A5,35.05,138.95,50
"""

LAYERED_VEL = """# P DEPTH P VEL PERR S DEPTH S VEL SERR
0.0 4.5 0.0 0.0 2.6 0.0
2.0 5.6 0.0 2.0 3.2 0.0
6.0 6.2 0.0 6.0 3.6 0.0
"""


def write_network(folder: Path) -> tuple[Path, Path]:
    """Write the station CSV and the .vel.txt model; return their paths."""
    stations = folder / "stations.csv"
    velocity = folder / "model.vel.txt"
    stations.write_text(STATIONS_CSV)
    velocity.write_text(LAYERED_VEL)
    return stations, velocity


def tiny_config(folder: Path, **changes: Any) -> dict[str, Any]:
    """Settings of a fast run on the tiny network (override any with keyword arguments)."""
    stations, velocity = write_network(folder)
    settings: dict[str, Any] = {
        "stations": str(stations),
        "velocity": str(velocity),
        "n_events": 10,
        "seed": 7,
        # the paper's acquisition, not the one `locate.acquisition` derives for this network
        "sampling_interval_s": 0.1,
        "n_samples": 100,
        "chunk_events": 4,
        "scheduler": "synchronous",
        "grid": {"depth_min_km": 2.0, "depth_max_km": 4.0},
        "holdout_fraction": 0.0,
        "image": {"height": 8, "width": 8},
        "model_grid": {"spacing_km": 2.0, "margin_km": 4.0, "max_depth_km": 8.0},
        # 10 s records: origins early enough that the arrivals fit.
        "source": {
            "origin_time_min_s": 1.0,
            "origin_time_max_s": 5.0,
            "magnitude_min": 2.2,
            "magnitude_max": 4.5,
        },
        "propagation": {"highcut_hz": 2.0, "noise_rms_min_m_s": 2e-7, "noise_rms_max_m_s": 2e-6},
    }
    settings.update(changes)
    return settings
