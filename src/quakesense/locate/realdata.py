"""Real event records -> locations: the trained networks and the classical locator.

Records are put on one time grid per event by `quakesense.locate.records` (causal filters,
stations in the model's order, `NET.STA` matching `STA`); a network then reads them through
its own `preprocess` band, the classical chain picks them at their native rate.

Datum of every output: depth_km is km below sea level (positive down); stations sit at
-elevation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from obspy import UTCDateTime
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from quakesense.core.errors import InputError
from quakesense.core.geo import EARTH_RADIUS_KM, LocalProjection, haversine_km
from quakesense.core.report import RunFolder
from quakesense.core.store import write_table
from quakesense.core.training import Device
from quakesense.io.stations import check_network_extent, match_station_names, read_stations
from quakesense.io.waveforms import (
    EventSource,
    EventWaveforms,
    Units,
    event_folders,
    event_name,
    read_event_waveforms,
)
from quakesense.locate.detect import (
    NoTriggerError,
    TriggerConfig,
    detect_event,
    estimate_in_time,
    evolution_figure,
)
from quakesense.locate.export import location_table, write_locations
from quakesense.locate.gridsearch import (
    GridSearchLocator,
    build_tables,
    estimate_corrections,
    locate_event,
    station_xyz_km,
)
from quakesense.locate.picking import PickerConfig
from quakesense.locate.preprocess import preprocess
from quakesense.locate.records import StationValues, native_interval_s, to_station_values
from quakesense.locate.station_terms import (
    SIGNAL_WINDOW_S,
    CalibrationRecord,
    apply_station_terms,
    peaks_after_origin,
    relative_log_peaks,
    station_terms,
    synthetic_relative_peaks,
)
from quakesense.locate.train import (
    Locator,
    ModelFolders,
    SimulatedSet,
    load_locator,
    model_folders,
)
from quakesense.locate.velocity import read_velocity_model

LOG = logging.getLogger(__name__)

DATUM = "depth_km: km below sea level, positive down; stations at z = -elevation"


def match_station_table(
    model_stations: pd.DataFrame, user_stations: pd.DataFrame, *, tolerance_km: float = 0.5
) -> list[str]:
    """Check a user's station table against the model's; return what matched as readable lines.

    Names match on the station code with the network optional (a CSV's `STA` and a
    StationXML's `NET.STA`). A station that the model knows but whose coordinates differ by
    more than `tolerance_km` would be placed at the wrong pixel, so it is an error; stations
    only in one table are noted.

    Raises:
        InputError: no station in common, or a common station that moved.
    """
    mapping = match_station_names(
        [str(s) for s in model_stations["station"]], [str(s) for s in user_stations["station"]]
    )
    renamed = user_stations.assign(
        station=user_stations["station"].astype(str).map({v: k for k, v in mapping.items()})
    ).dropna(subset=["station"])
    merged = model_stations.merge(renamed, on="station", suffixes=("_model", "_user"))
    if merged.empty:
        raise InputError(
            f"no station of the station file is known to the model; the model expects "
            f"{list(model_stations['station'])}",
            field="station",
        )
    distance_km = haversine_km(
        merged["latitude_deg_model"].to_numpy(),
        merged["longitude_deg_model"].to_numpy(),
        merged["latitude_deg_user"].to_numpy(),
        merged["longitude_deg_user"].to_numpy(),
    )
    moved = np.flatnonzero(distance_km > tolerance_km)
    if moved.size:
        row = int(moved[0])
        raise InputError(
            f"station {merged['station'].iloc[row]} is {distance_km[row]:.2f} km from where the "
            f"model was trained (tolerance {tolerance_km} km); retrain for this network",
            field="station",
        )
    by_code = sorted(f"{v}->{k}" for k, v in mapping.items() if k != v)
    notes = [f"stations matched to the model: {len(mapping)} of {len(model_stations)}"]
    if by_code:
        notes.append(f"matched by station code: {by_code}")
    only_model = sorted(set(model_stations["station"].astype(str)) - set(mapping))
    only_user = sorted(set(user_stations["station"].astype(str)) - set(mapping.values()))
    if only_model:
        notes.append(f"model stations absent from the station file (cut out): {only_model}")
    if only_user:
        notes.append(f"stations unknown to the model (ignored): {only_user}")
    return notes


class PredictConfig(BaseModel):
    """Settings of `quakesense locate predict` (saved as the run's config.json)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cnn2d", "cnn3d", "convnetquake", "gridsearch"] = "cnn2d"
    units: Units = "auto"
    fill_gaps: bool = False
    freqmin_hz: float | None = Field(
        None, description="extra causal high-pass of the CNN input (default: none)"
    )
    freqmax_hz: float | None = Field(None, description="default: anti-alias of the grid rate")
    answer_after_s: float | None = Field(None, ge=0, description="default: the model's trigger")
    trigger: TriggerConfig | None = Field(
        None, description="STA/LTA settings of the cnn methods; default: the model's"
    )
    mc_samples: int = Field(20, ge=0, description="cnn: MC-dropout passes for the spread")
    device: Device = Field(
        "auto", description="cnn: where the network runs (cuda without a GPU: the CPU)"
    )
    grid_spacing_km: float = Field(0.25, gt=0)
    grid_margin_km: float = Field(3.0, ge=0)
    grid_depth_max_km: float = Field(10.0, gt=0, description="km below sea level")
    misfit: Literal["l1", "edt"] = "edt"
    picker: PickerConfig = Field(default_factory=PickerConfig)
    model_error_s: float = Field(
        0.05, ge=0, description="travel-time model error added to each pick's deviation"
    )
    station_corrections: Literal["none", "batch"] = Field(
        "none",
        description="`batch`: station corrections from the batch's own events, located once "
        "without them (gridsearch: delays from the pick residuals, NonLinLoc LOCDELAY style; "
        "CNNs: amplitude terms at the network's own locations); --calibration uses "
        "catalogued events instead",
    )
    min_events_per_station: int = Field(3, ge=1, description="events a station delay needs")
    min_stations: int = Field(3, ge=1)
    progress: bool = Field(True, description="a progress bar over the events (stderr)")


def _row(event_id: str, method: str, **values: Any) -> dict[str, Any]:
    return {"event_id": event_id, "method": method, "status": "ok", **values}


def _each_event(
    folders: list[EventSource],
    method: str,
    locate_one: Callable[[EventSource], dict[str, Any]],
    *,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run `locate_one` per event folder (a bar on stderr with `progress`); an event's bad
    input becomes its row's status.

    One unusable event does not stop the others; when every event fails, the first error is
    raised (then the input or a setting is wrong for all of them, e.g. unknown units).
    """
    rows, errors = [], []
    for folder in tqdm(folders, desc=f"locate {method}", unit="event", disable=not progress):
        try:
            rows.append(locate_one(folder))
        except InputError as exc:
            errors.append(exc)
            rows.append({"event_id": event_name(folder), "method": method, "status": str(exc)})
    if errors and len(errors) == len(folders):
        raise errors[0]
    return rows


def _station_columns(values: StationValues, event: EventWaveforms) -> dict[str, Any]:
    notes = list(event.notes)
    if values.ignored_stations:
        notes.append(f"stations not in the station list (ignored): {values.ignored_stations}")
    return {
        "n_stations": int(values.present.sum()),
        "missing_stations": " ".join(values.missing_stations),
        "notes": "; ".join(notes),
    }


def _save_evolution(
    evolution: Any, event: EventWaveforms, values: StationValues, folder: Path
) -> None:

    truth = None
    if event.catalog is not None:
        c = event.catalog
        origin_s = c["time"].timestamp() - values.start_time.timestamp
        truth = np.array(
            [c["latitude_deg"], c["longitude_deg"], c["depth_km"], origin_s, c["magnitude"]]
        )
    figure = evolution_figure(evolution, truth, title=f"event {event.event_id}")
    folder.mkdir(parents=True, exist_ok=True)
    figure.savefig(folder / f"evolution_{event.event_id}.png", dpi=100)
    plt.close(figure)


def model_values(
    folder: EventSource, locator: Locator, config: PredictConfig, *, min_stations: int
) -> tuple[EventWaveforms, StationValues]:
    """One event's records as a network sees them: the model's stations and rate (with the
    predict band), then the model's own causal `preprocess` band, as its synthetics had."""
    event = read_event_waveforms(folder, units=config.units, fill_gaps=config.fill_gaps)
    dt = locator.spec.sampling_interval_s
    values = to_station_values(
        event,
        locator.spec.stations,
        dt,
        freqmin_hz=config.freqmin_hz,
        freqmax_hz=config.freqmax_hz,
        min_stations=min_stations,
    )
    values.values = preprocess(values.values, dt, locator.preprocess)
    return event, values


def locate_cnn(
    folders: list[EventSource],
    locator: Locator,
    config: PredictConfig,
    *,
    figure_dir: Path | None = None,
    amplitude_terms: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Locate real events with a trained network: values -> preprocess -> STA/LTA -> estimates.

    The records go through the model's own causal `preprocess` band, as its synthetics did,
    then lose their station amplitude terms when given (`amplitude_terms`); with
    `mc_samples` the MC-dropout spread at the answer (for an ensemble, with the spread
    between its members, always) is the per-event uncertainty.
    """
    spec = locator.spec
    trigger = config.trigger or locator.trigger
    answer_after_s = (
        locator.trigger.answer_after_s if config.answer_after_s is None else config.answer_after_s
    )
    dt = spec.sampling_interval_s
    km_per_deg = np.pi * EARTH_RADIUS_KM / 180.0

    def locate_one(folder: EventSource) -> dict[str, Any]:
        event, values = model_values(folder, locator, config, min_stations=config.min_stations)
        if amplitude_terms is not None:
            values.values = apply_station_terms(values.values, amplitude_terms, spec.stations)
        base = _station_columns(values, event)
        try:
            onset, contrast = detect_event(values.values, dt, trigger, source=event.event_id)
        except NoTriggerError as exc:
            return {**_row(event.event_id, spec.model_type, **base), "status": str(exc)}
        evolution = estimate_in_time(locator, values.values, onset, answer_after_s)
        on_noise = not contrast >= trigger.min_contrast
        if on_noise:
            LOG.warning(
                "event %s: the detection at %s lies on noise (peak contrast %.2f < %g); "
                "its answer is not a location",
                event.event_id,
                values.start_time + onset * dt,
                contrast,
                trigger.min_contrast,
            )
        if figure_dir is not None:
            _save_evolution(evolution, event, values, figure_dir)
        lat, lon, depth, origin_s, magnitude = evolution.answer
        spread = {}
        if config.mc_samples > 1 or locator.n_members > 1:
            _, sd = locator.predict_spread(values.values, evolution.frames[-1:], config.mc_samples)
            north_km = sd[0, 0] * km_per_deg
            east_km = sd[0, 1] * km_per_deg * np.cos(np.radians(lat))
            spread = {
                "horizontal_uncertainty_km": float(np.sqrt(2.2788) * max(north_km, east_km)),
                "semi_minor_km": float(np.sqrt(2.2788) * min(north_km, east_km)),
                "ellipse_azimuth_deg": 0.0 if north_km >= east_km else 90.0,
                "depth_uncertainty_km": float(sd[0, 2]),
                "origin_time_uncertainty_s": float(sd[0, 3]),
                "uncertainty_method": locator.describe_spread(config.mc_samples),
            }
        return _row(
            event.event_id,
            spec.model_type,
            origin_time=str(values.start_time + float(origin_s)),
            latitude_deg=float(lat),
            longitude_deg=float(lon),
            depth_km=float(depth),
            magnitude=float(magnitude),
            magnitude_type="M",
            detection_time=str(values.start_time + onset * dt),
            detection_contrast=round(contrast, 2),
            detection_on_noise=on_noise,
            **spread,
            **base,
        )

    return _each_event(folders, spec.model_type, locate_one, progress=config.progress)


@dataclass
class _Located:
    """One event through the classical chain: its picks, result and the row's fixed columns."""

    event: EventWaveforms
    start_time: Any
    picks: pd.DataFrame
    result: Any
    base: dict[str, Any]


def check_station_list(stations: pd.DataFrame, config: PredictConfig, source: Any) -> None:
    """Refuse a station list that cannot locate: too few stations, or one far from the rest.

    Raises:
        InputError: fewer stations than `min_stations` (at least 3 for the grid search), or a
            station far outside the network (`io.stations.check_network_extent`).
    """
    needed = max(config.min_stations, 3 if config.method == "gridsearch" else 1)
    if len(stations) < needed:
        raise InputError(
            f"the station list holds {len(stations)} station(s); {config.method} needs at "
            f"least {needed} to locate an event",
            source=source,
            field="station",
        )
    check_network_extent(stations, source=source)


class ClassicalLocator:
    """The classical chain on a station list and a velocity model (tables built once).

    Args:
        stations: Station table (`station, latitude_deg, longitude_deg, elevation_m`).
        model: Layered or grid velocity model.
        config: Predict settings (grid, picker, misfit, model error).
    """

    def __init__(self, stations: pd.DataFrame, model: Any, config: PredictConfig) -> None:

        self.config = config
        self.names = [str(s) for s in stations["station"]]
        self.projection = LocalProjection(
            float(stations["latitude_deg"].median()), float(stations["longitude_deg"].median())
        )
        tables = build_tables(
            stations,
            model,
            self.projection,
            spacing_km=config.grid_spacing_km,
            margin_km=config.grid_margin_km,
            depth_max_km=config.grid_depth_max_km,
        )
        self.locator = GridSearchLocator(
            tables,
            self.names,
            misfit=config.misfit,
            model_error_s=config.model_error_s,
            station_xyz_km=station_xyz_km(stations, self.projection),
        )

    def pick_and_locate(self, folder: Path) -> _Located:
        """Read one event folder, pick it and locate it (two passes, see `locate_event`)."""
        event = read_event_waveforms(
            folder, units=self.config.units, fill_gaps=self.config.fill_gaps
        )
        dt = native_interval_s(event)
        values = to_station_values(
            event,
            self.names,
            dt,
            freqmin_hz=self.config.freqmin_hz,
            freqmax_hz=self.config.freqmax_hz,
            min_stations=self.config.min_stations,
        )
        base = _station_columns(values, event)
        result, picks = locate_event(
            values.values, dt, self.locator, self.config.picker, source=event.event_id
        )
        return _Located(event, values.start_time, picks, result, base)

    def calibrate(self, located: list[_Located], *, known: bool) -> pd.DataFrame:
        """Station delays from events: at their catalog hypocentres (`known`) or own locations.

        Only the picks each event's location kept enter (`kept_residuals_at`).
        """
        residuals = []
        for item in located:
            known_at: dict[str, Any] = {}
            if known:
                c = item.event.catalog
                x, y = self.projection.to_xy_km(c["latitude_deg"], c["longitude_deg"])
                known_at = {
                    "xyz_km": (float(x), float(y), c["depth_km"]),
                    "origin_time_s": c["time"].timestamp() - item.start_time.timestamp,
                }
            residuals.append(self.locator.kept_residuals_at(item.result, **known_at))
        return estimate_corrections(residuals, min_events=self.config.min_events_per_station)

    def relocate(self, item: _Located, corrections: pd.DataFrame) -> None:
        """Locate an event again from its picks with station delays."""
        self.locator.corrections = corrections
        item.result = self.locator.locate(item.picks, source=item.event.event_id)

    def row(self, item: _Located) -> dict[str, Any]:
        """The event's row of the location table."""
        r = item.result
        lat, lon = self.projection.to_latlon(r.x_km, r.y_km)
        return _row(
            item.event.event_id,
            "gridsearch",
            origin_time=str(item.start_time + r.origin_time_s),
            latitude_deg=float(lat),
            longitude_deg=float(lon),
            depth_km=float(r.z_km),
            magnitude=np.nan,
            horizontal_uncertainty_km=r.semi_major_km,
            semi_minor_km=r.semi_minor_km,
            ellipse_azimuth_deg=r.azimuth_deg,
            depth_uncertainty_km=r.depth_uncertainty_km,
            origin_time_uncertainty_s=r.origin_time_uncertainty_s,
            uncertainty_method=f"{self.config.misfit.upper()} pdf on the grid, 68 %",
            rms_s=r.misfit,
            n_picks=r.n_picks,
            n_s_picks=r.n_s_picks,
            azimuthal_gap_deg=r.azimuthal_gap_deg,
            **item.base,
        )


def locate_gridsearch(
    folders: list[Path],
    stations: pd.DataFrame,
    model: Any,
    config: PredictConfig,
    *,
    calibration: list[Path] | None = None,
) -> tuple[list[dict[str, Any]], pd.DataFrame, pd.DataFrame]:
    """Locate real events with the classical chain; station delays from calibration or batch.

    Returns:
        The rows, every pick with its residual (column `event_id` added), and the station
        delays used (empty when none).
    """
    chain = ClassicalLocator(stations, model, config)
    located: dict[str, _Located] = {}

    def locate_one(folder: Path) -> dict[str, Any]:
        item = chain.pick_and_locate(folder)
        located[item.event.event_id] = item
        return {"event_id": item.event.event_id}

    rows = _each_event(folders, "gridsearch", locate_one, progress=config.progress)
    corrections = pd.DataFrame(columns=["station", "phase", "delay_s", "n_events"])
    if calibration:
        known = []
        for folder in calibration:
            item = chain.pick_and_locate(folder)
            catalog_hypocentre(item.event, folder)
            known.append(item)
        corrections = chain.calibrate(known, known=True)
    elif config.station_corrections == "batch" and len(located) >= config.min_events_per_station:
        for _ in range(2):
            corrections = chain.calibrate(list(located.values()), known=False)
            for item in located.values():
                chain.relocate(item, corrections)
    if not corrections.empty and calibration:
        for item in located.values():
            chain.relocate(item, corrections)
    out = [chain.row(located[r["event_id"]]) if r.get("status") is None else r for r in rows]
    picks = [item.result.residuals.assign(event_id=event_id) for event_id, item in located.items()]
    return out, (pd.concat(picks, ignore_index=True) if picks else pd.DataFrame()), corrections


def catalog_hypocentre(event: EventWaveforms, source: EventSource) -> dict[str, Any]:
    """A calibration event's catalog origin and hypocentre (from its SAC headers).

    Raises:
        InputError: the headers hold no complete hypocentre.
    """
    if event.catalog is None or not np.isfinite(event.catalog.get("depth_km", np.nan)):
        raise InputError(
            "a calibration event needs its catalog hypocentre in the SAC headers "
            "(evla, evlo, evdp)",
            source=source if isinstance(source, str | Path) else event.event_id,
            field="--calibration",
        )
    return event.catalog


Reference = Callable[[EventWaveforms, StationValues, EventSource], tuple[float, ...] | None]
"""Where an event of a station-term estimate lies: latitude, longitude, depth (km) and the start
of its signal window (s after the first sample); None leaves the event out."""


def amplitude_terms(
    folders: list[EventSource],
    locator: Locator,
    config: PredictConfig,
    reference: Reference,
    *,
    flag: str,
) -> pd.DataFrame:
    """Station amplitude terms of the model's stations from events at known places.

    Measured against the synthetics of the model's training dataset (an ensemble's: its first
    member's; see `locate.station_terms`), so that folder must still be where training read it.

    Raises:
        InputError: the dataset is gone or is not the model's (named with `flag`), or
            `reference` refuses an event.
    """
    spec = locator.spec
    dataset = Path(str(locator.training.get("dataset", "")))
    if not (dataset / "dataset.zarr").is_dir():
        raise InputError(
            "station amplitude terms are measured against the training dataset's synthetics, "
            "and the model's dataset folder is not there (train again or restore it)",
            source=dataset,
            field=flag,
        )
    data = SimulatedSet.open(dataset, memory_limit_mb=0.0)
    if [str(s) for s in data.stations["station"]] != spec.stations:
        raise InputError("the dataset's stations are not the model's", source=dataset, field=flag)
    dt = spec.sampling_interval_s
    origins_s = data.events["origin_time_s"].to_numpy(float)

    @functools.cache  # neighbouring calibration events share dataset events: read each once
    def synthetic_peaks(row: int) -> np.ndarray:
        return peaks_after_origin(data.event_values(row)[:, 0], dt, origins_s[row], SIGNAL_WINDOW_S)

    real, synthetic = [], []
    for folder in folders:
        event, values = model_values(folder, locator, config, min_stations=1)
        where = reference(event, values, folder)
        if where is None:
            continue
        latitude_deg, longitude_deg, depth_km, start_s = where
        peaks = peaks_after_origin(values.values[:, 0], dt, start_s, SIGNAL_WINDOW_S)
        record = CalibrationRecord(event.event_id, latitude_deg, longitude_deg, depth_km, peaks)
        real.append(relative_log_peaks(record.peaks_m_s))
        synthetic.append(synthetic_relative_peaks(data.events, synthetic_peaks, record))
    if not real:
        raise InputError("no event to measure station amplitude terms on", field=flag)
    return station_terms(spec.stations, np.stack(real), np.stack(synthetic))


def at_catalog_origin(
    event: EventWaveforms, values: StationValues, source: EventSource
) -> tuple[float, ...]:
    """A calibration event's catalog hypocentre, its window from the catalog origin."""
    catalog = catalog_hypocentre(event, source)
    origin_s = catalog["time"].timestamp() - values.start_time.timestamp
    return catalog["latitude_deg"], catalog["longitude_deg"], catalog["depth_km"], origin_s


def at_located(rows: list[dict[str, Any]]) -> Reference:
    """Events where the network put them, windows from 1 s before detection (the network's
    origin time is not trusted: on Newberry it answers 3-4 s late); events not located, or
    whose detection lies on noise, are left out."""
    located = {
        r["event_id"]: r for r in rows if r["status"] == "ok" and not r["detection_on_noise"]
    }

    def where(event: EventWaveforms, values: StationValues, _: EventSource) -> tuple | None:
        row = located.get(event.event_id)
        if row is None:
            return None
        start_s = UTCDateTime(row["detection_time"]) - values.start_time - 1.0
        return row["latitude_deg"], row["longitude_deg"], row["depth_km"], start_s

    return where


@dataclass
class Prediction:
    """What `locate_events` found: the table, notes for the user, picks, station delays (grid
    search) and station amplitude terms (CNN)."""

    table: pd.DataFrame
    notes: list[str]
    picks: pd.DataFrame = field(default_factory=pd.DataFrame)
    corrections: pd.DataFrame = field(default_factory=pd.DataFrame)
    amplitude_terms: pd.DataFrame = field(default_factory=pd.DataFrame)


def locate_events(
    waveforms: Path | list[EventSource],
    stations_path: Path | pd.DataFrame | Any,
    config: PredictConfig,
    *,
    model: ModelFolders | None = None,
    velocity: Path | None = None,
    calibration: Path | None = None,
    figure_dir: Path | None = None,
) -> Prediction:
    """Locate every event folder under `waveforms` with the configured method.

    `waveforms` may also be a list of events (folders or in-memory `io.waveforms.EventStream`s)
    and `stations_path` a station table or an ObsPy `Inventory` (`io.stations.read_stations`):
    the Python API locates in memory through here. `model` may name several folders: their
    ensemble answers (`locate.train.load_locator`).

    Raises:
        InputError: a missing model/velocity for the chosen method, a model of another type,
            a station file that does not match the model or cannot locate.
    """
    stations = read_stations(stations_path)
    named = isinstance(stations_path, str | Path)
    check_station_list(stations, config, stations_path if named else "<stations>")
    folders = event_folders(waveforms) if isinstance(waveforms, str | Path) else list(waveforms)
    if config.method == "gridsearch":
        if velocity is None:
            raise InputError("the grid search needs a velocity model", field="--velocity")

        rows, picks, corrections = locate_gridsearch(
            folders,
            stations,
            read_velocity_model(velocity),
            config,
            calibration=None if calibration is None else event_folders(calibration),
        )
        notes = [f"station delays: {len(corrections)} station-phases"] if len(corrections) else []
        return Prediction(location_table(rows), notes, picks, corrections)
    if model is None:
        raise InputError(f"method {config.method} needs a trained model", field="--model")

    locator = load_locator(model, config.device)
    if locator.spec.model_type != config.method:
        raise InputError(
            f"the model is a {locator.spec.model_type}, not a {config.method}",
            source=model_folders(model)[0],
            field="--method",
        )
    trained = pd.DataFrame(locator.training.get("stations", {}))
    notes = match_station_table(trained, stations) if not trained.empty else []
    if locator.n_members > 1:
        notes.append(
            f"ensemble of {locator.n_members} networks: their mean answers, the spread between "
            "them is in the uncertainty columns"
        )
    terms = None
    if calibration is not None:
        known = event_folders(calibration)
        terms = amplitude_terms(known, locator, config, at_catalog_origin, flag="--calibration")
        origin = f"{len(known)} calibration event(s)"
    elif config.station_corrections == "batch" and len(folders) >= config.min_events_per_station:
        first = locate_cnn(folders, locator, config.model_copy(update={"mc_samples": 0}))
        reference = at_located(first)
        terms = amplitude_terms(folders, locator, config, reference, flag="--station-corrections")
        origin = "the batch's own events where the network first located them"
    if terms is not None:
        used = terms[terms["n_events"] > 0]["term_db"]
        span = f": {used.min():+.1f} to {used.max():+.1f} dB" if len(used) else ""
        notes.append(f"station amplitude terms from {origin} at {len(used)} stations{span}")
    rows = locate_cnn(folders, locator, config, figure_dir=figure_dir, amplitude_terms=terms)
    found = Prediction(location_table(rows), notes)
    if terms is not None:
        found.amplitude_terms = terms
    return found


def predict_events(
    waveforms: Path,
    stations_path: Path,
    out: Path,
    config: PredictConfig,
    *,
    model: ModelFolders | None = None,
    velocity: Path | None = None,
    figure_dir: Path | None = None,
) -> pd.DataFrame:
    """Locate every event folder and write the table to the CSV `out` (QuakeML beside it).

    The library form of `quakesense locate predict` (which writes a run folder instead).
    """
    found = locate_events(
        waveforms, stations_path, config, model=model, velocity=velocity, figure_dir=figure_dir
    )
    write_locations(found.table, out, method=config.method)
    return found.table


def run_predict(
    out: Path,
    waveforms: Path,
    stations_path: Path,
    config: PredictConfig,
    *,
    model: ModelFolders | None = None,
    velocity: Path | None = None,
    calibration: Path | None = None,
    force: bool = False,
) -> tuple[Prediction, Path]:
    """`quakesense locate predict`: a run folder with locations.csv/.xml, picks, config, report.

    Built in a temporary folder and moved to `out` only when every step succeeded.
    """
    with RunFolder.create(out, f"quakesense locate predict ({config.method})", force=force) as run:
        found = locate_events(
            waveforms,
            stations_path,
            config,
            model=model,
            velocity=velocity,
            calibration=calibration,
            figure_dir=run.path / "figures",
        )
        write_locations(found.table, run.path / "locations.csv", method=config.method)
        if not found.picks.empty:
            write_table(found.picks, run.path / "picks.csv")
        if not found.corrections.empty:
            write_table(found.corrections, run.path / "station_delays.csv")
        if not found.amplitude_terms.empty:
            write_table(found.amplitude_terms, run.path / "station_terms.csv")
        run.save_config(
            config,
            waveforms=str(waveforms),
            stations=str(stations_path),
            model=None if model is None else [str(f) for f in model_folders(model)],
            velocity=None if velocity is None else str(velocity),
            calibration=None if calibration is None else str(calibration),
            datum=DATUM,
            notes=found.notes,
        )
        run.heading("Locations")
        run.text(f"Method {config.method}; {DATUM}.")
        for note in found.notes:
            run.text(note)
        run.table(found.table)
        if not found.amplitude_terms.empty:
            run.heading("Station amplitude terms")
            run.text(
                "Real records were divided by 10^(term/20) before imaging: per station, the "
                "median over the events named in the note above of its peak over the training "
                "synthetics' near the event's hypocentre (catalog, or the network's first "
                "location with --station-corrections batch), relative to the event's other "
                "stations; n_events counts the events where the station stood above its noise."
            )
            run.table(found.amplitude_terms)
        report = run.write_report()
    return found, report
