"""Training-set events (hypocentre grid, magnitudes, mechanisms, splits) and the dataset folder.

Folder layout (the contract with the CNN side): `events.parquet`, `stations.parquet`,
`dataset.zarr` (arrays `velocity`, `images`, `interpolation_matrix`) and `dataset.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.core.store import read_json, read_table
from quakesense.locate.seismograms import Events

SPLITS: tuple[str, str, str] = ("train", "val", "test")


@dataclass(frozen=True)
class HoldoutBox:
    """A spatial block (local km) whose events all go to the test split."""

    x_min_km: float
    x_max_km: float
    y_min_km: float
    y_max_km: float

    def contains(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """Whether each epicentre lies in the block."""
        return (
            (x_km >= self.x_min_km)
            & (x_km <= self.x_max_km)
            & (y_km >= self.y_min_km)
            & (y_km <= self.y_max_km)
        )


def grid_axis_deg(low_deg: float, high_deg: float, spacing_deg: float) -> np.ndarray:
    """Nodes low, low + spacing, ... <= high, built from integer indices (no float arange)."""
    n = int(np.floor((high_deg - low_deg) / spacing_deg + 1e-9)) + 1
    return low_deg + np.arange(max(n, 0), dtype=np.int64) * spacing_deg


def hypocentre_nodes(
    latitude_deg: np.ndarray, longitude_deg: np.ndarray, depths_km: np.ndarray
) -> pd.DataFrame:
    """Every (latitude, longitude, depth) combination of the three axes."""
    lat, lon, depth = np.meshgrid(latitude_deg, longitude_deg, depths_km, indexing="ij")
    return pd.DataFrame(
        {"latitude_deg": lat.ravel(), "longitude_deg": lon.ravel(), "depth_km": depth.ravel()}
    )


def assign_splits(
    n_events: int,
    fractions: tuple[float, float, float],
    rng: np.random.Generator,
    holdout: np.ndarray | None = None,
) -> np.ndarray:
    """Split labels by event: a seeded permutation cut by `fractions` (train, val, test).

    Events flagged in `holdout` all go to "test"; the others are split by the fractions.
    """
    labels = np.empty(n_events, dtype=object)
    held = np.zeros(n_events, bool) if holdout is None else np.asarray(holdout, bool)
    labels[held] = "test"
    free = rng.permutation(np.flatnonzero(~held))
    cuts = np.round(np.cumsum(fractions)[:2] / sum(fractions) * len(free)).astype(int)
    for name, part in zip(SPLITS, np.split(free, cuts), strict=True):
        labels[part] = name
    return labels


def make_events(
    nodes: pd.DataFrame,
    projection: LocalProjection,
    *,
    n_events: int | None,
    magnitude_range: tuple[float, float],
    mechanism: str,
    strike_dip_rake_deg: tuple[float, float, float],
    origin_time_range_s: tuple[float, float],
    fractions: tuple[float, float, float],
    holdout: HoldoutBox | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The events table: one event per grid node (or `n_events` nodes drawn from the grid).

    Mw is uniform in `magnitude_range` (the papers: 2.2-4.5); the mechanism is the given one
    ("reverse": the papers' fixed reverse fault) or "random" (uniform strike, dip 20-90 degrees,
    rake -180..180).
    """
    if len(nodes) == 0:
        raise InputError("the hypocentre grid is empty; check its bounds and depths", field="grid")
    if n_events is None:
        chosen = nodes
    else:
        if n_events < 1:
            raise InputError(f"need at least 1 event, got {n_events}", field="n_events")
        index = rng.choice(len(nodes), size=n_events, replace=n_events > len(nodes))
        chosen = nodes.iloc[np.sort(index)]
    chosen = chosen.reset_index(drop=True)
    n = len(chosen)
    x_km, y_km = projection.to_xy_km(chosen["latitude_deg"], chosen["longitude_deg"])
    magnitude = rng.uniform(*magnitude_range, n)
    if mechanism == "random":
        strike = rng.uniform(0.0, 360.0, n)
        dip = rng.uniform(20.0, 90.0, n)
        rake = rng.uniform(-180.0, 180.0, n)
    else:
        strike, dip, rake = (np.full(n, float(v)) for v in strike_dip_rake_deg)
    origin = rng.uniform(*origin_time_range_s, n)
    held = None if holdout is None else holdout.contains(x_km, y_km)
    frame = pd.DataFrame(
        {
            "event_id": [f"ev{i:06d}" for i in range(n)],
            "latitude_deg": chosen["latitude_deg"].to_numpy(),
            "longitude_deg": chosen["longitude_deg"].to_numpy(),
            "depth_km": chosen["depth_km"].to_numpy(float),
            "magnitude": magnitude,
            "origin_time_s": origin,
            "x_km": x_km,
            "y_km": y_km,
            "strike_deg": strike,
            "dip_deg": dip,
            "rake_deg": rake,
        }
    )
    frame["split"] = assign_splits(n, fractions, rng, held)
    return frame


def events_batch(frame: pd.DataFrame) -> Events:
    """The `Events` arrays of a slice of the events table."""
    return Events(
        **{
            name: frame[name].to_numpy(float)
            for name in (
                "x_km",
                "y_km",
                "depth_km",
                "magnitude",
                "strike_deg",
                "dip_deg",
                "rake_deg",
                "origin_time_s",
            )
        }
    )


@dataclass
class SyntheticDataset:
    """A finished dataset folder opened for reading (arrays stay on disk until sliced)."""

    path: Path
    events: pd.DataFrame
    stations: pd.DataFrame
    meta: dict[str, Any]
    velocity: Any
    images: Any
    interpolation_matrix: np.ndarray


def open_dataset(path: str | Path) -> SyntheticDataset:
    """Open a folder written by `quakesense locate simulate` (lazy Zarr arrays)."""
    import zarr

    path = Path(path)
    meta_path = path / "dataset.json"
    if not meta_path.is_file():
        raise InputError("not a finished synthetic dataset (no dataset.json)", source=path)
    group = zarr.open_group(str(path / "dataset.zarr"), mode="r")
    return SyntheticDataset(
        path=path,
        events=read_table(path / "events.parquet"),
        stations=read_table(path / "stations.parquet"),
        meta=read_json(meta_path),
        velocity=group["velocity"],
        images=group["images"],
        interpolation_matrix=np.asarray(group["interpolation_matrix"][:]),
    )
