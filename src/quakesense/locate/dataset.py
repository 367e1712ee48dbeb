"""Training-set events (hypocentre grid, magnitudes, mechanisms, splits) and the dataset folder.

Folder layout (the contract with the CNN side): `events.parquet`, `stations.parquet`,
`dataset.zarr` (arrays `velocity`, `interpolation_matrix` and, when stored, `images`) and
`dataset.json`. Depths are km below sea level (positive down); a station sits at
z = -elevation. Snapshot images not stored are rebuilt on read from the vertical velocity and
the interpolation matrix (one matrix product), which keeps a dataset a tenth of the size.
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
from quakesense.locate.images import snapshots
from quakesense.locate.seismograms import Events

SPLITS: tuple[str, str, str] = ("train", "val", "test")
HOLDOUT = "holdout"
"""Split label of the spatial hold-out block: a second test set, away from every training event."""
TEST_SETS: tuple[str, str] = ("test", HOLDOUT)
MIN_SEPARATION_KM = 1e-3
"""Closest a val/test hypocentre may come to a training one (1 m: they must never coincide)."""


@dataclass(frozen=True)
class HoldoutBox:
    """A spatial block (local km) whose events all go to the second test set, `holdout`."""

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


@dataclass(frozen=True)
class HypocentreVolume:
    """The box training hypocentres are drawn from (degrees; depth in km below sea level)."""

    latitude_min_deg: float
    latitude_max_deg: float
    longitude_min_deg: float
    longitude_max_deg: float
    depth_min_km: float
    depth_max_km: float


def uniform_hypocentres(
    volume: HypocentreVolume, n_events: int, rng: np.random.Generator
) -> pd.DataFrame:
    """`n_events` hypocentres drawn independently and uniformly in the volume.

    Continuous draws never repeat a hypocentre, so no test event sits on a training one.
    """
    return pd.DataFrame(
        {
            "latitude_deg": rng.uniform(volume.latitude_min_deg, volume.latitude_max_deg, n_events),
            "longitude_deg": rng.uniform(
                volume.longitude_min_deg, volume.longitude_max_deg, n_events
            ),
            "depth_km": rng.uniform(volume.depth_min_km, volume.depth_max_km, n_events),
        }
    )


def jittered_hypocentres(
    volume: HypocentreVolume,
    n_events: int,
    spacing_deg: float,
    depth_spacing_km: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """`n_events` hypocentres: grid nodes (drawn with replacement) plus a uniform jitter.

    The jitter spans the node's cell (cut at the volume's faces), so events cover the volume
    like the papers' grid yet two events never share a hypocentre.
    """
    axes = [
        grid_axis_deg(volume.latitude_min_deg, volume.latitude_max_deg, spacing_deg),
        grid_axis_deg(volume.longitude_min_deg, volume.longitude_max_deg, spacing_deg),
        grid_axis_deg(volume.depth_min_km, volume.depth_max_km, depth_spacing_km),
    ]
    if min(len(a) for a in axes) == 0:
        raise InputError("the hypocentre volume holds no grid node; check its bounds", field="grid")
    half = np.array([spacing_deg, spacing_deg, depth_spacing_km]) / 2
    low = [volume.latitude_min_deg, volume.longitude_min_deg, volume.depth_min_km]
    high = [volume.latitude_max_deg, volume.longitude_max_deg, volume.depth_max_km]
    columns = {}
    for name, axis, h, lo, hi in zip(
        ("latitude_deg", "longitude_deg", "depth_km"), axes, half, low, high, strict=True
    ):
        node = axis[rng.integers(0, len(axis), n_events)]
        columns[name] = rng.uniform(np.maximum(node - h, lo), np.minimum(node + h, hi))
    return pd.DataFrame(columns)


def nearest_train_distance_km(events: pd.DataFrame, split: str) -> np.ndarray:
    """3-D distance (km) from each event of `split` to the nearest training hypocentre."""
    from scipy.spatial import cKDTree

    xyz = events[["x_km", "y_km", "depth_km"]].to_numpy(float)
    labels = events["split"].to_numpy()
    train, other = xyz[labels == "train"], xyz[labels == split]
    if len(train) == 0 or len(other) == 0:
        return np.empty(0)
    return cKDTree(train).query(other)[0]


def assign_splits(
    n_events: int,
    fractions: tuple[float, float, float],
    rng: np.random.Generator,
    holdout: np.ndarray | None = None,
    train_only: np.ndarray | None = None,
) -> np.ndarray:
    """Split labels by event: a seeded permutation cut by `fractions` (train, val, test).

    Events flagged in `holdout` all go to the second test set "holdout" (a spatial block no
    training event comes from); events flagged in `train_only` (and not held out) go to
    "train"; the others are split by the fractions.
    """
    labels = np.empty(n_events, dtype=object)
    held = np.zeros(n_events, bool) if holdout is None else np.asarray(holdout, bool)
    forced = np.zeros(n_events, bool) if train_only is None else np.asarray(train_only, bool)
    labels[held] = HOLDOUT
    labels[forced & ~held] = "train"
    free = rng.permutation(np.flatnonzero(~held & ~forced))
    cuts = np.round(np.cumsum(fractions)[:2] / sum(fractions) * len(free)).astype(int)
    for name, part in zip(SPLITS, np.split(free, cuts), strict=True):
        labels[part] = name
    return labels


def make_events(
    hypocentres: pd.DataFrame,
    projection: LocalProjection,
    *,
    magnitude_range: tuple[float, float],
    mechanism: str,
    strike_dip_rake_deg: tuple[float, float, float],
    origin_time_range_s: tuple[float, float],
    fractions: tuple[float, float, float],
    holdout: HoldoutBox | None,
    rng: np.random.Generator,
    train_only: np.ndarray | None = None,
    velocity_perturbation: float = 0.0,
    isotropic_max: float = 0.0,
) -> pd.DataFrame:
    """The events table: one event per hypocentre (latitude_deg, longitude_deg, depth_km).

    `train_only` flags hypocentres that go to the train split (e.g. synthetics at catalogued
    hypocentres); `velocity_perturbation` draws each event's `velocity_factor` uniformly in
    1 +- that bound (domain randomisation of the model; 0: the model as given);
    `isotropic_max` each event's `isotropic` part uniformly in +- that bound (drawn after the
    splits, so the splits do not depend on it).

    Mw is uniform in `magnitude_range` (the papers: 2.2-4.5); the mechanism is the given one
    ("reverse": the papers' fixed reverse fault) or "random" (uniform strike, dip 20-90 degrees,
    rake -180..180).

    Raises:
        InputError: no hypocentre, or a val/test hypocentre equal to a training one.
    """
    if len(hypocentres) == 0:
        raise InputError("no hypocentre to simulate; check the volume and n_events", field="grid")
    chosen = hypocentres.reset_index(drop=True)
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
    velocity_factor = 1.0 + rng.uniform(-velocity_perturbation, velocity_perturbation, n)
    held = None if holdout is None else holdout.contains(x_km, y_km)
    frame = pd.DataFrame(
        {
            "event_id": [f"ev{i:06d}" for i in range(n)],
            "latitude_deg": chosen["latitude_deg"].to_numpy(float),
            "longitude_deg": chosen["longitude_deg"].to_numpy(float),
            "depth_km": chosen["depth_km"].to_numpy(float),
            "magnitude": magnitude,
            "origin_time_s": origin,
            "x_km": x_km,
            "y_km": y_km,
            "strike_deg": strike,
            "dip_deg": dip,
            "rake_deg": rake,
            "velocity_factor": velocity_factor,
        }
    )
    frame["split"] = assign_splits(n, fractions, rng, held, train_only)
    frame["isotropic"] = rng.uniform(-isotropic_max, isotropic_max, n) if isotropic_max else 0.0
    for split in (*SPLITS[1:], HOLDOUT):
        distance = nearest_train_distance_km(frame, split)
        if distance.size and distance.min() < MIN_SEPARATION_KM:
            raise InputError(
                f"a {split} hypocentre coincides with a training one "
                f"({distance.min():.2g} km apart); draw hypocentres continuously",
                field="grid.sampling",
            )
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
                "velocity_factor",
                "isotropic",
            )
            if name in frame
        }
    )


class RebuiltImages:
    """Snapshot images of a dataset rebuilt on read from vertical velocity (lazy, array-like).

    `images[i]` is `snapshots(velocity[i, :, 0], matrix, height, width)`: exactly what
    `simulate` would have stored, at a tenth of the disk space.
    """

    def __init__(self, velocity: Any, matrix: np.ndarray, height: int, width: int) -> None:
        self.velocity = velocity
        self.matrix = np.asarray(matrix, np.float32)
        self.height, self.width = height, width
        n_events, _, _, n_samples = velocity.shape
        self.shape = (n_events, n_samples, height, width)
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> np.ndarray:
        values = np.asarray(self.velocity[key])
        single = values.ndim == 3
        images = snapshots(
            (values[None] if single else values)[:, :, 0], self.matrix, self.height, self.width
        ).astype(np.float32)
        return images[0] if single else images


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
    meta = read_json(meta_path)
    matrix = np.asarray(group["interpolation_matrix"][:])
    images = (
        group["images"]
        if "images" in group
        else RebuiltImages(
            group["velocity"], matrix, int(meta["image"]["height"]), int(meta["image"]["width"])
        )
    )
    return SyntheticDataset(
        path=path,
        events=read_table(path / "events.parquet"),
        stations=read_table(path / "stations.parquet"),
        meta=meta,
        velocity=group["velocity"],
        images=images,
        interpolation_matrix=matrix,
    )
