"""`quakesense locate simulate`: the synthetic training set of the hypocentre CNN (seeds 001/002).

Pipeline: stations + velocity model -> per-station Green's data (travel-time tables, or elastic
reciprocal wavefields) -> per-event three-component velocity seismograms -> surface snapshot
images (one matrix product) -> Zarr + Parquet dataset. Events are processed in chunks that Dask
computes in parallel (local threads by default, a cluster with `scheduler="tcp://host:8786"`)
and that the main process writes in order through `core.store.ChunkedZarrWriter`; an
interrupted run resumes and ends byte-identical to an uninterrupted one. Everything is written
to a hidden staging folder beside the output and moved into place only when complete, so a
failed run never leaves a partial dataset under the requested name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tqdm.auto import tqdm

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection
from quakesense.core.store import (
    ChunkedZarrWriter,
    atomic_dir,
    check_output_dir,
    read_json,
    read_table,
    to_json_text,
    write_json,
    write_parquet,
)
from quakesense.io.stations import read_stations
from quakesense.locate import hakone
from quakesense.locate.acquisition import describe, fill_acquisition
from quakesense.locate.dataset import (
    TEST_SETS,
    HoldoutBox,
    HypocentreVolume,
    events_batch,
    jittered_hypocentres,
    make_events,
    nearest_train_distance_km,
    uniform_hypocentres,
)
from quakesense.locate.elastic3d import ElasticBackend
from quakesense.locate.figures_synth import add_figures
from quakesense.locate.images import build_interpolation_matrix, pixel_axes, snapshots
from quakesense.locate.noise import NoisePool, RealNoiseSettings, real_noise_pool
from quakesense.locate.preprocess import PreprocessConfig, preprocess
from quakesense.locate.seismograms import COMPONENTS, Events, WaveParameters, synthesize
from quakesense.locate.traveltime import travel_time_tables
from quakesense.locate.velocity import GridModel, LayeredModel, read_velocity_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HypocentreGrid(_Strict):
    """Where the training hypocentres are drawn; every unset bound is derived from the network.

    Defaults: the stations' bounding box; depths from the level of the lowest station (the
    surface under the network, so shallow geothermal, volcanic and mine events are inside)
    down by half the network aperture, at least `min_depth_extent_km`, within the model.
    Depths are km below sea level (negative above it), the datum of every output.
    """

    latitude_min_deg: float | None = None
    latitude_max_deg: float | None = None
    longitude_min_deg: float | None = None
    longitude_max_deg: float | None = None
    depth_min_km: float | None = Field(None, description="km below sea level; default: surface")
    depth_max_km: float | None = Field(None, description="default: surface + aperture / 2")
    min_depth_extent_km: float = Field(4.0, gt=0, description="least default depth extent")
    sampling: Literal["uniform", "jitter"] = Field(
        "uniform", description="uniform in the volume, or grid nodes plus a one-cell jitter"
    )
    spacing_deg: float = Field(0.02, gt=0, description="jitter: node spacing (paper 001: 0.02)")
    depth_spacing_km: float = Field(2.0, gt=0, description="jitter: node spacing in depth")


DATUM = (
    "depth_km and z_km: km below sea level, positive down; a station sits at z = -elevation "
    "(on the model top where that is lower)"
)

KM_PER_DEGREE = 111.19
"""Kilometres per degree of latitude (spherical Earth)."""

DEFAULT_EVENTS = 3000
"""Training events when `n_events` is not given: the papers' size (2,000-4,000 hypocentres)."""


class SourceSettings(_Strict):
    """Magnitudes, mechanisms and origin times of the training events."""

    magnitude_min: float = 2.2
    magnitude_max: float = 4.5
    # Random: a real network's events have unknown, varied mechanisms; with the papers' fixed
    # reverse fault a network partly locates by its radiation pattern (locate_cnn.md, issue 11).
    mechanism: Literal["reverse", "random"] = "random"
    strike_deg: float = 45.0
    dip_deg: float = 45.0
    rake_deg: float = 90.0
    isotropic_max: float = Field(
        0.0,
        ge=0,
        le=2,
        description="domain randomisation: each event's isotropic part uniform in +- this "
        "(units of the double couple's strongest P lobe; 0: pure double couples)",
    )
    stress_drop_mpa: float = Field(3.0, gt=0)
    # Origins 6-10 s into the record leave the paper's 5 s STA/LTA long-term window a quiet
    # stretch before the first arrival, so its 0.5 s / 5 s / 4 trigger works on the synthetics.
    origin_time_min_s: float = Field(6.0, ge=0)
    origin_time_max_s: float = Field(10.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> SourceSettings:
        if self.magnitude_max < self.magnitude_min:
            raise ValueError("magnitude_max must be >= magnitude_min")
        if self.origin_time_max_s < self.origin_time_min_s:
            raise ValueError("origin_time_max_s must be >= origin_time_min_s")
        return self


class PropagationSettings(_Strict):
    """Attenuation, free surface, band and noise of the `traveltime` seismograms."""

    q_p: float = Field(200.0, gt=0)
    q_s: float = Field(100.0, gt=0)
    free_surface_factor: float = Field(2.0, gt=0)
    highcut_hz: float = Field(2.0, gt=0)
    noise_rms_min_m_s: float = Field(2e-7, ge=0)
    noise_rms_max_m_s: float = Field(2e-6, ge=0)
    velocity_perturbation: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="domain randomisation: each event's velocities x U(1 - this, 1 + this)",
    )
    p_site_sigma_log10: float = Field(
        0.0,
        ge=0,
        le=1,
        description="domain randomisation: each station's P amplitude in each event x "
        "10^N(0, this), S unchanged (real P/S ratios differ by station: site and path)",
    )


class ImageSettings(_Strict):
    """Snapshot images over the network."""

    height: int = Field(32, ge=2)
    width: int = Field(32, ge=2)
    method: Literal["idw", "linear", "nearest"] = "idw"
    margin_km: float = Field(1.0, ge=0, description="box = station bounding box + margin")


class ModelGridSettings(_Strict):
    """How a 1-D layered model is laid on a 3-D grid around the stations."""

    spacing_km: float = Field(1.0, gt=0)
    margin_km: float = Field(5.0, ge=0)
    max_depth_km: float = Field(16.0, gt=0)


class ElasticSettings(_Strict):
    """The `elastic3d` backend (deepwave finite differences with reciprocity)."""

    spacing_km: float = Field(0.5, gt=0)
    time_step_s: float = Field(0.02, gt=0)
    highcut_hz: float = Field(0.5, gt=0, description="band of the FD Green's tensors")
    pml_cells: int = Field(10, ge=2)
    accuracy: Literal[2, 4] = 4
    device: Literal["auto", "cpu", "cuda"] = "auto"
    stations_per_run: int = Field(
        4, ge=1, description="stations per deepwave call (their 3 force directions are its shots)"
    )


class SimulateConfig(_Strict):
    """Every setting of a synthetic training-set run (saved with the dataset)."""

    stations: Path | None = Field(None, description="StationXML/CSV; default: embedded Hakone")
    velocity: Path | None = Field(None, description=".vel.txt or NetCDF/Zarr; default: Hakone")
    backend: Literal["traveltime", "elastic3d"] = "traveltime"
    n_events: int = Field(DEFAULT_EVENTS, ge=1, description="training-set events")
    seed: int = 0
    sampling_interval_s: float = Field(0.1, gt=0)
    n_samples: int = Field(300, ge=8)
    chunk_events: int = Field(16, ge=1)
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    holdout_box_km: tuple[float, float, float, float] | None = Field(
        None, description="x_min, x_max, y_min, y_max (km) of the spatial test block"
    )
    holdout_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="without holdout_box_km: area share of an automatic block (0: none)",
    )
    catalog: Path | None = Field(
        None, description="event table (latitude_deg, longitude_deg, depth_km): extra events"
    )
    catalog_events_per_entry: int = Field(
        20, ge=1, description="training synthetics around each catalogued hypocentre"
    )
    catalog_jitter_km: float = Field(0.5, gt=0, description="their Gaussian spread (km)")
    store_images: bool = Field(
        False, description="store snapshot images (else rebuilt on read from velocity)"
    )
    eikonal_refined: bool = Field(True, description="pykonal PointSourceSolver (else plain)")
    figures: bool = Field(True, description="write the figures into report.html")
    scheduler: str = Field("threads", description="synchronous | threads | processes | address")
    n_workers: int = Field(2, ge=1)
    grid: HypocentreGrid = Field(default_factory=HypocentreGrid)
    source: SourceSettings = Field(default_factory=SourceSettings)
    propagation: PropagationSettings = Field(default_factory=PropagationSettings)
    image: ImageSettings = Field(default_factory=ImageSettings)
    model_grid: ModelGridSettings = Field(default_factory=ModelGridSettings)
    elastic: ElasticSettings = Field(default_factory=ElasticSettings)
    preprocess: PreprocessConfig = Field(
        default_factory=PreprocessConfig,
        description="causal band of every record; unset corners: the backend's high-cut",
    )
    real_noise: RealNoiseSettings = Field(
        default_factory=RealNoiseSettings,
        description="real records whose pre-event noise is stored for training",
    )

    @model_validator(mode="after")
    def _check(self) -> SimulateConfig:
        if (self.stations is None) != (self.velocity is None):
            raise ValueError("give both stations and velocity, or neither (embedded default)")
        if any(f < 0 for f in self.split_fractions) or sum(self.split_fractions) <= 0:
            raise ValueError("split_fractions must be >= 0 with a positive sum")
        if self.backend == "elastic3d" and self.propagation.velocity_perturbation:
            raise ValueError("propagation.velocity_perturbation needs the traveltime backend")
        if self.backend == "elastic3d" and self.propagation.p_site_sigma_log10:
            raise ValueError("propagation.p_site_sigma_log10 needs the traveltime backend")
        return self


EXECUTION_SETTINGS = ("scheduler", "n_workers", "figures")


@dataclass
class Network:
    """Stations, projection and 3-D model of one run, in local km."""

    stations: pd.DataFrame
    projection: LocalProjection
    model: GridModel
    station_xyz_km: np.ndarray
    origin: str


def resolve_network(config: SimulateConfig) -> Network:
    """Load (or build the embedded default) stations and 3-D velocity model."""
    if config.stations is None:
        stations, projection, model = (
            hakone.stations(),
            hakone.projection(),
            hakone.velocity_model(),
        )
        origin = "embedded synthetic Hakone-like network and model"
    else:
        stations = read_stations(config.stations)
        loaded = read_velocity_model(config.velocity)
        centre = (
            loaded.rebuild.get("projection", {}) if isinstance(loaded, GridModel) else {}
        ) or {
            "latitude_deg": float(stations["latitude_deg"].mean()),
            "longitude_deg": float(stations["longitude_deg"].mean()),
        }
        projection = LocalProjection(centre["latitude_deg"], centre["longitude_deg"])
        model = (
            loaded
            if isinstance(loaded, GridModel)
            else _layered_grid(loaded, stations, projection, config.model_grid)
        )
        origin = f"stations {config.stations}, velocity model {config.velocity}"
    x_km, y_km = projection.to_xy_km(stations["latitude_deg"], stations["longitude_deg"])
    elevation_km = stations["elevation_m"].fillna(0.0).to_numpy(float) / 1000.0
    # A station sits at its elevation (z = -elevation); where the model top is lower than that,
    # it sits on the model top, which then acts as the surface.
    z_km = np.maximum(-elevation_km, model.z_km[0])
    stations = stations.assign(x_km=x_km, y_km=y_km)
    xyz = np.column_stack([x_km, y_km, z_km])
    return Network(stations, projection, model, xyz, origin)


def _layered_grid(
    layered: LayeredModel,
    stations: pd.DataFrame,
    projection: LocalProjection,
    settings: ModelGridSettings,
) -> GridModel:
    x_km, y_km = projection.to_xy_km(stations["latitude_deg"], stations["longitude_deg"])
    h = settings.spacing_km
    axes = []
    for values in (x_km, y_km):
        low = np.floor((values.min() - settings.margin_km) / h)
        high = np.ceil((values.max() + settings.margin_km) / h)
        axes.append((low + np.arange(int(high - low) + 1)) * h)
    top_km = min(0.0, -float(np.nanmax(stations["elevation_m"].fillna(0.0))) / 1000.0)
    top = np.floor(top_km / h)
    bottom = np.ceil(settings.max_depth_km / h)
    z_km = (top + np.arange(int(bottom - top) + 1)) * h
    return layered.to_grid(axes[0], axes[1], z_km)


def network_aperture_km(network: Network) -> float:
    """Larger side of the stations' bounding box (km): the scale the network resolves."""
    x, y = network.stations["x_km"], network.stations["y_km"]
    return float(max(x.max() - x.min(), y.max() - y.min()))


def network_config(config: SimulateConfig) -> tuple[SimulateConfig, Network, dict[str, Any]]:
    """The network, and `config` with the acquisition settings left unset taken from it.

    See `quakesense.locate.acquisition.network_acquisition` for the rule.
    """
    network = resolve_network(config)
    filled, acquisition = fill_acquisition(
        config, network_aperture_km(network), float(network.model.vs_km_s.min())
    )
    return filled, network, acquisition


def hypocentre_volume(config: SimulateConfig, network: Network) -> HypocentreVolume:
    """The volume of the training hypocentres, checked against the model and the surface.

    Raises:
        InputError: an empty volume, or one that leaves the velocity model.
    """
    grid = config.grid
    stations = network.stations
    model = network.model
    surface_km = max(
        float(model.z_km[0]), -float(stations["elevation_m"].fillna(0.0).min()) / 1000.0
    )
    depth_min = surface_km if grid.depth_min_km is None else grid.depth_min_km
    extent_km = max(0.5 * network_aperture_km(network), grid.min_depth_extent_km)
    depth_max = grid.depth_max_km
    if depth_max is None:
        depth_max = min(depth_min + extent_km, float(model.z_km[-1]) - min(model.spacing_km))
    volume = HypocentreVolume(
        latitude_min_deg=_bound(grid.latitude_min_deg, stations["latitude_deg"].min()),
        latitude_max_deg=_bound(grid.latitude_max_deg, stations["latitude_deg"].max()),
        longitude_min_deg=_bound(grid.longitude_min_deg, stations["longitude_deg"].min()),
        longitude_max_deg=_bound(grid.longitude_max_deg, stations["longitude_deg"].max()),
        depth_min_km=float(depth_min),
        depth_max_km=float(depth_max),
    )
    for low, high, field in (
        (volume.latitude_min_deg, volume.latitude_max_deg, "grid.latitude_max_deg"),
        (volume.longitude_min_deg, volume.longitude_max_deg, "grid.longitude_max_deg"),
        (volume.depth_min_km, volume.depth_max_km, "grid.depth_max_km"),
    ):
        if high < low:
            raise InputError(
                f"hypocentre volume is empty ({low:g} .. {high:g}); check its bounds", field=field
            )
    if volume.depth_min_km < model.z_km[0]:
        raise InputError(
            f"hypocentre depth {volume.depth_min_km} km lies above the model surface "
            f"(z = {model.z_km[0]} km, negative is above sea level)",
            field="grid.depth_min_km",
        )
    if volume.depth_max_km > model.z_km[-1]:
        raise InputError(
            f"hypocentre depth {volume.depth_max_km} km lies below the model bottom "
            f"({model.z_km[-1]} km)",
            field="grid.depth_max_km",
        )
    lat = np.array([volume.latitude_min_deg, volume.latitude_max_deg])
    lon = np.array([volume.longitude_min_deg, volume.longitude_max_deg])
    x_km, y_km = network.projection.to_xy_km(*(g.ravel() for g in np.meshgrid(lat, lon)))
    inside = model.contains(x_km, y_km, np.full(4, volume.depth_max_km))
    if not inside.all():
        raise InputError(
            "the hypocentre volume reaches outside the velocity model; narrow its bounds",
            field="grid",
        )
    return volume


def _bound(value: float | None, default: float) -> float:
    return float(default if value is None else value)


def holdout_box(config: SimulateConfig, network: Network) -> HoldoutBox | None:
    """The spatial test block: the configured box, or an automatic one inside the network.

    The automatic block is a square of `holdout_fraction` of the station box's area, centred
    halfway between the network centre and its north-east corner, so the network must
    locate events in a region it never trained on while the block stays well covered.
    """
    if config.holdout_box_km is not None:
        return HoldoutBox(*config.holdout_box_km)
    if config.holdout_fraction == 0:
        return None
    x, y = network.stations["x_km"], network.stations["y_km"]
    width, height = x.max() - x.min(), y.max() - y.min()
    half_x = 0.5 * width * np.sqrt(config.holdout_fraction)
    half_y = 0.5 * height * np.sqrt(config.holdout_fraction)
    centre_x, centre_y = x.min() + 0.75 * width, y.min() + 0.75 * height
    return HoldoutBox(
        float(centre_x - half_x),
        float(centre_x + half_x),
        float(centre_y - half_y),
        float(centre_y + half_y),
    )


def catalog_hypocentres(config: SimulateConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Training hypocentres scattered around catalogued ones (empty without a catalog).

    The remedy of the JAMSTEC report for real networks: train densely where events happen.
    Each entry gets `catalog_events_per_entry` hypocentres with a Gaussian spread of
    `catalog_jitter_km` in each direction.

    Raises:
        InputError: the catalog lacks a column or holds a non-numeric value.
    """
    columns = ["latitude_deg", "longitude_deg", "depth_km"]
    if config.catalog is None:
        return pd.DataFrame(columns=columns, dtype=float)
    table = read_table(config.catalog)
    for column in columns:
        if column not in table:
            raise InputError("catalog lacks a column", source=config.catalog, field=column)
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna())[0])
            raise InputError(
                f"row {row + 2}: expected a number, got {table[column].iloc[row]!r}",
                source=config.catalog,
                field=column,
            )
        table[column] = values
    repeats = np.repeat(table[columns].to_numpy(float), config.catalog_events_per_entry, axis=0)
    spread_km = rng.normal(0.0, config.catalog_jitter_km, repeats.shape)
    latitude = repeats[:, 0] + spread_km[:, 0] / KM_PER_DEGREE
    longitude = repeats[:, 1] + spread_km[:, 1] / (
        KM_PER_DEGREE * np.cos(np.radians(repeats[:, 0]))
    )
    return pd.DataFrame(
        {
            "latitude_deg": latitude,
            "longitude_deg": longitude,
            "depth_km": repeats[:, 2] + spread_km[:, 2],
        }
    )


def build_events(config: SimulateConfig, network: Network) -> pd.DataFrame:
    """The seeded events table of a run (hypocentres drawn continuously in the volume).

    With a catalog, synthetics around the catalogued hypocentres join the train split.
    """
    source = config.source
    volume = hypocentre_volume(config, network)
    rng = np.random.default_rng([config.seed, 0])
    if config.grid.sampling == "jitter":
        hypocentres = jittered_hypocentres(
            volume, config.n_events, config.grid.spacing_deg, config.grid.depth_spacing_km, rng
        )
    else:
        hypocentres = uniform_hypocentres(volume, config.n_events, rng)
    extra = catalog_hypocentres(config, np.random.default_rng([config.seed, 2]))
    if len(extra):
        _check_inside(extra, network, config.catalog)
    return make_events(
        pd.concat([hypocentres, extra], ignore_index=True),
        network.projection,
        magnitude_range=(source.magnitude_min, source.magnitude_max),
        mechanism=source.mechanism,
        strike_dip_rake_deg=(source.strike_deg, source.dip_deg, source.rake_deg),
        origin_time_range_s=(source.origin_time_min_s, source.origin_time_max_s),
        fractions=config.split_fractions,
        holdout=holdout_box(config, network),
        rng=rng,
        train_only=np.arange(len(hypocentres) + len(extra)) >= len(hypocentres),
        velocity_perturbation=config.propagation.velocity_perturbation,
        isotropic_max=source.isotropic_max,
    )


def _check_inside(hypocentres: pd.DataFrame, network: Network, source: Path | None) -> None:
    x_km, y_km = network.projection.to_xy_km(
        hypocentres["latitude_deg"], hypocentres["longitude_deg"]
    )
    inside = network.model.contains(x_km, y_km, hypocentres["depth_km"].to_numpy(float))
    if not inside.all():
        row = int(np.flatnonzero(~inside)[0])
        raise InputError(
            f"catalog hypocentre {hypocentres.iloc[row].round(4).to_dict()} (with its spread) "
            "lies outside the velocity model",
            source=source,
            field="catalog",
        )


def preprocess_settings(config: SimulateConfig) -> PreprocessConfig:
    """The causal band applied to every synthetic record (and later to real ones).

    Unset, the high-cut is the backend's own band (`propagation.highcut_hz` or
    `elastic.highcut_hz`), so the filter changes the synthetics little and real records are
    brought to the same band.
    """
    if config.preprocess.highcut_hz is not None:
        return config.preprocess
    band = (
        config.elastic.highcut_hz
        if config.backend == "elastic3d"
        else config.propagation.highcut_hz
    )
    return config.preprocess.model_copy(update={"highcut_hz": band})


def wave_parameters(config: SimulateConfig) -> WaveParameters:
    """Signal settings of the seismogram synthesis."""
    p = config.propagation
    return WaveParameters(
        sampling_interval_s=config.sampling_interval_s,
        n_samples=config.n_samples,
        stress_drop_mpa=config.source.stress_drop_mpa,
        q_p=p.q_p,
        q_s=p.q_s,
        free_surface_factor=p.free_surface_factor,
        highcut_hz=p.highcut_hz,
        noise_rms_min_m_s=p.noise_rms_min_m_s,
        noise_rms_max_m_s=p.noise_rms_max_m_s,
        p_site_sigma_log10=p.p_site_sigma_log10,
    )


def event_rngs(seed: int, start: int, stop: int) -> list[np.random.Generator]:
    """One generator per event, keyed by (seed, event index): chunking cannot change results."""
    return [np.random.default_rng([seed, 1, index]) for index in range(start, stop)]


class TravelTimeBackend:
    """Ray-theory seismograms from pykonal travel-time tables (see `seismograms`)."""

    name = "traveltime"

    def __init__(
        self,
        network: Network,
        params: WaveParameters,
        compute: Callable[[list], list],
        refined: bool = True,
    ) -> None:
        self.network = network
        self.params = params
        self.tables = travel_time_tables(
            network.model,
            network.station_xyz_km,
            station_names=network.stations["station"].tolist(),
            compute=compute,
            refined=refined,
        )

    def synthesize(self, events: Events, rngs: list[np.random.Generator]) -> np.ndarray:
        """Velocity seismograms (n_events, n_stations, 3, n_samples)."""
        return synthesize(
            events,
            self.tables,
            self.network.model,
            self.network.station_xyz_km,
            self.params,
            rngs,
        )

    def describe(self) -> dict[str, Any]:
        """What the backend did, for dataset.json."""
        return {"name": self.name, "travel_times": "pykonal PointSourceSolver, source at station"}


def make_compute(scheduler: str, n_workers: int) -> tuple[Callable[[list], list], Any]:
    """A function running `[(func, *args), ...]` tasks with Dask, and the client to close.

    `synchronous`, `threads` and `processes` use Dask's local schedulers; anything else is taken
    as the address of a `dask.distributed` scheduler (e.g. tcp://10.0.0.5:8786).
    """
    import dask

    client = None
    if scheduler not in {"synchronous", "threads", "processes"}:
        from dask.distributed import Client

        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(f"cannot reach Dask scheduler ({exc})", field="scheduler") from exc

    def compute(tasks: list) -> list:
        delayed = [dask.delayed(task[0])(*task[1:]) for task in tasks]
        if client is not None:
            return list(client.compute(delayed, sync=True))
        return list(dask.compute(*delayed, scheduler=scheduler, num_workers=n_workers))

    return compute, client


def _chunk_task(
    backend: Any,
    frame: pd.DataFrame,
    seed: int,
    start: int,
    stop: int,
    matrix: np.ndarray | None,
    image: ImageSettings,
    prep: PreprocessConfig,
    sampling_interval_s: float,
) -> dict[str, np.ndarray]:
    raw = backend.synthesize(events_batch(frame), event_rngs(seed, start, stop))
    velocity = preprocess(raw, sampling_interval_s, prep)
    if matrix is None:
        return {"velocity": velocity}
    images = snapshots(velocity[:, :, 0, :], matrix, image.height, image.width)
    return {"velocity": velocity, "images": images.astype(np.float32)}


def image_box(network: Network, settings: ImageSettings) -> dict[str, float]:
    """Bounds (local km and degrees) of the snapshot images: station box plus margin."""
    x, y = network.stations["x_km"], network.stations["y_km"]
    box = {
        "x_min_km": float(x.min() - settings.margin_km),
        "x_max_km": float(x.max() + settings.margin_km),
        "y_min_km": float(y.min() - settings.margin_km),
        "y_max_km": float(y.max() + settings.margin_km),
    }
    lat, lon = network.projection.to_latlon(
        np.array([box["x_min_km"], box["x_max_km"]]), np.array([box["y_min_km"], box["y_max_km"]])
    )
    box.update(
        latitude_min_deg=float(lat.min()),
        latitude_max_deg=float(lat.max()),
        longitude_min_deg=float(lon.min()),
        longitude_max_deg=float(lon.max()),
    )
    return box


def make_backend(
    config: SimulateConfig,
    network: Network,
    events: pd.DataFrame,
    compute: Callable[[list], list],
) -> Any:
    """The chosen backend, with its per-station precomputation done."""
    params = wave_parameters(config)
    if config.backend == "elastic3d":
        return ElasticBackend(network, params, config.elastic, events)
    return TravelTimeBackend(network, params, compute, config.eikonal_refined)


@dataclass
class SimulateResult:
    """What a run produced."""

    path: Path
    events: pd.DataFrame
    network: Network
    seconds: float
    n_images: int
    resumed_chunks: int


def simulate(
    config: SimulateConfig, out: str | Path, progress: bool = True, force: bool = False
) -> SimulateResult:
    """Build the dataset folder `out` (see `quakesense.locate.dataset` for the layout).

    Chunks go to the hidden staging folder `.OUT.partial` beside `out`, so an interrupted run
    (Ctrl-C included) leaves either nothing at `out` or a staging folder the next run resumes;
    the finished dataset is moved into place by `core.store.atomic_dir`.

    Raises:
        InputError: bad input (before anything is written); `out` is a file, holds files
            quakesense did not write, or holds an earlier run (without `force`).
    """
    start_time = time.perf_counter()
    out = Path(out)
    config, network, acquisition = network_config(config)
    job = _job_identity(config)
    if not force and dataset_complete(config, out):
        raise InputError("dataset already complete for this config; nothing to do", source=out)
    check_output_dir(out, force=force)
    events = build_events(config, network)
    box = image_box(network, config.image)
    grid_x, grid_y = pixel_axes(
        box["x_min_km"],
        box["x_max_km"],
        box["y_min_km"],
        box["y_max_km"],
        config.image.height,
        config.image.width,
    )
    matrix = build_interpolation_matrix(
        network.stations["x_km"], network.stations["y_km"], grid_x, grid_y, config.image.method
    )
    compute, client = make_compute(config.scheduler, config.n_workers)
    if progress:
        tqdm.write(
            f"simulate: {len(events)} events; per-station {config.backend} precomputation for "
            f"{len(network.stations)} stations first; {describe(acquisition)}",
            file=sys.stderr,
        )
    try:
        # Per-station work and the real noise first: their input checks (stations inside the
        # model, CFL, device, unreadable records) fail before anything is written.
        backend = make_backend(config, network, events, compute)
        noise = (
            real_noise_pool(
                config.real_noise,
                [str(s) for s in network.stations["station"]],
                config.sampling_interval_s,
                preprocess_settings(config),
            )
            if config.real_noise.records
            else None
        )
    except BaseException:
        if client is not None:
            client.close()
        raise
    staging = out.parent / f".{out.name}.partial"
    arrays = {"velocity": ((len(network.stations), 3, config.n_samples), "float32")}
    if config.store_images:
        arrays["images"] = (
            (config.n_samples, config.image.height, config.image.width),
            "float32",
        )
    writer = _open_writer(staging, arrays, len(events), config, job, force)
    if "interpolation_matrix" not in writer.group:
        writer.group.create_array(
            "interpolation_matrix", shape=matrix.shape, dtype="float32", fill_value=0
        )[...] = matrix
    todo = sorted(set(range(writer.n_chunks)) - writer.done_chunks())
    resumed = writer.n_chunks - len(todo)
    try:
        bar = tqdm(total=len(events), desc="simulate events", unit="ev", disable=not progress)
        bar.update(sum(hi - lo for lo, hi in map(writer.chunk_bounds, writer.done_chunks())))
        wave = max(1, config.n_workers)
        for first in range(0, len(todo), wave):
            chunks = todo[first : first + wave]
            tasks = []
            for chunk in chunks:
                lo, hi = writer.chunk_bounds(chunk)
                tasks.append(
                    (
                        _chunk_task,
                        backend,
                        events.iloc[lo:hi],
                        config.seed,
                        lo,
                        hi,
                        matrix if config.store_images else None,
                        config.image,
                        preprocess_settings(config),
                        config.sampling_interval_s,
                    )
                )
            for chunk, data in zip(chunks, compute(tasks), strict=True):
                writer.write_chunk(chunk, data)
                lo, hi = writer.chunk_bounds(chunk)
                bar.update(hi - lo)
        bar.close()
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start_time
    summary = {
        "n_events": len(events),
        "n_stations": len(network.stations),
        "n_images": len(events) * config.n_samples,
        "seconds": round(seconds, 2),
        "images_per_minute": round(60 * len(events) * config.n_samples / max(seconds, 1e-9)),
        "resumed_chunks": resumed,
    }
    _finish(staging, out, config, network, events, box, backend, summary, noise, acquisition, force)
    return SimulateResult(out, events, network, seconds, summary["n_images"], resumed)


def _open_writer(
    staging: Path,
    arrays: dict[str, Any],
    n_events: int,
    config: SimulateConfig,
    job: dict[str, Any],
    force: bool,
) -> ChunkedZarrWriter:
    """The chunk writer of the staging folder; with `force`, a stale staging of another
    config (quakesense's own hidden folder) is discarded instead of refused."""

    def open_() -> ChunkedZarrWriter:
        return ChunkedZarrWriter(
            staging / "dataset.zarr",
            arrays,
            n_records=n_events,
            chunk_records=config.chunk_events,
            attrs={"config": job},
        )

    staging.mkdir(parents=True, exist_ok=True)
    try:
        return open_()
    except InputError:
        if not force:
            raise
    shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return open_()


def _job_identity(config: SimulateConfig) -> dict[str, Any]:
    """The settings that decide the data.

    How the run is executed (scheduler, workers, figures) does not change the data, so it is
    not part of the job identity: a run may resume under another scheduler.
    """
    return {k: v for k, v in json_config(config).items() if k not in EXECUTION_SETTINGS}


def dataset_complete(config: SimulateConfig, out: str | Path) -> bool:
    """Whether `out` already holds the finished dataset of `config` (then there is nothing to do).

    Raises:
        InputError: `out` holds a finished dataset made with other settings (names the folder).
    """
    out = Path(out)
    if not (out / "dataset.json").is_file():
        return False
    stored = read_json(out / "dataset.json").get("config", {})
    config = network_config(config)[0]
    if {k: v for k, v in stored.items() if k not in EXECUTION_SETTINGS} != _job_identity(config):
        raise InputError(
            "folder holds a dataset made with another config; choose another --out or pass "
            "--force to replace it",
            source=out,
        )
    return True


def json_config(config: SimulateConfig) -> dict[str, Any]:
    """The config as plain JSON data (what the store attributes and dataset.json hold)."""
    return json.loads(to_json_text(config.model_dump(mode="json")))


def _finish(
    staging: Path,
    out: Path,
    config: SimulateConfig,
    network: Network,
    events: pd.DataFrame,
    box: dict[str, float],
    backend: Any,
    summary: dict[str, Any],
    noise: NoisePool | None,
    acquisition: dict[str, Any],
    force: bool,
) -> None:
    holdout = holdout_box(config, network)
    write_parquet(events, staging / "events.parquet")
    write_parquet(network.stations, staging / "stations.parquet")
    if noise is not None:
        noise.save(staging)
    meta = {
        "sampling_interval_s": config.sampling_interval_s,
        "n_samples": config.n_samples,
        "components": list(COMPONENTS),
        "units": "m/s (velocity)",
        "image": {"height": config.image.height, "width": config.image.width, **box},
        "projection": network.projection.to_dict(),
        "interpolation": {
            "method": config.image.method,
            "matrix": "dataset.zarr/interpolation_matrix",
        },
        "velocity_model": network.model.to_dict(),
        "datum": DATUM,
        "preprocess": preprocess_settings(config).model_dump(mode="json"),
        "acquisition": acquisition,
        "real_noise": None if noise is None else noise.describe(),
        "hypocentre_volume": asdict(hypocentre_volume(config, network)),
        "holdout_box_km": None if holdout is None else asdict(holdout),
        "nearest_training_hypocentre_km": {
            split: round(float(distance.min()), 4)
            for split in ("val", *TEST_SETS)
            if (distance := nearest_train_distance_km(events, split)).size
        },
        "inputs": network.origin,
        "backend": backend.describe(),
        "seed": config.seed,
        "n_events": len(events),
        "split_counts": events["split"].value_counts().to_dict(),
        "config": json_config(config),
    }
    write_json(meta, staging / "dataset.json")
    add_figures(staging, config, network, events, summary)
    with atomic_dir(out, force=force) as folder:
        os.replace(staging, folder)
