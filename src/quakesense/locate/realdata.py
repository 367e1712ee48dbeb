"""Real event waveforms -> station values on the training time grid, in the model's station order.

The networks see vertical-velocity snapshots built from station values sampled like the synthetic
training set (0.1 s by default). Real records are band-passed (the low corner removes microseism,
the high corner is the anti-alias filter), interpolated onto one common time grid for all stations
and placed in the order of the training stations. A station of the model that did not record is
a row of zeros, exactly the "cutout" the networks were trained with; stations the model does not
know are dropped and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.io.waveforms import EventWaveforms, Units
from quakesense.locate.detect import TriggerConfig

COMPONENTS = ("Z", "N", "E")
_EDGE_S = 2.0
"""Seconds cut from both ends of a record after filtering (taper and filter transients)."""


@dataclass
class StationValues:
    """Velocity at the model's stations on a regular time grid.

    Attributes:
        values: float32 (n_stations, 3, n_samples) in m/s, components (Z, N, E); zeros where a
            station or component is missing.
        present: bool (n_stations,), whether the station recorded a vertical component.
        start_time: UTC time of sample 0 (an ObsPy UTCDateTime).
        sampling_interval_s: Time step of the grid.
        stations: Station codes, in the model's order.
        ignored_stations: Stations in the files that the model does not know.
    """

    values: np.ndarray
    present: np.ndarray
    start_time: Any
    sampling_interval_s: float
    stations: list[str]
    ignored_stations: list[str] = field(default_factory=list)

    @property
    def missing_stations(self) -> list[str]:
        """Model stations without a vertical record (treated as cutout)."""
        return [s for s, ok in zip(self.stations, self.present, strict=True) if not ok]

    @property
    def times_s(self) -> np.ndarray:
        """Sample times in seconds after `start_time`."""
        return np.arange(self.values.shape[-1]) * self.sampling_interval_s


def _common_window(stream: Any, event_id: str) -> tuple[Any, Any]:
    start = max(tr.stats.starttime for tr in stream)
    end = min(tr.stats.endtime for tr in stream)
    if end <= start:
        raise InputError(
            "the station records do not overlap in time", source=event_id, field="starttime"
        )
    return start, end


def to_station_values(
    event: EventWaveforms,
    stations: list[str],
    sampling_interval_s: float,
    *,
    freqmin_hz: float | None = 0.5,
    freqmax_hz: float | None = None,
    min_stations: int = 3,
) -> StationValues:
    """Filter, resample and order one event's records for a model trained on `stations`.

    Args:
        event: Velocity records of the event.
        stations: The model's station codes, in training order.
        sampling_interval_s: The training time step.
        freqmin_hz: High-pass corner (None: no high-pass).
        freqmax_hz: Low-pass corner; default 0.4 x the training sampling rate (anti-alias).
        min_stations: Fewest model stations that must have recorded.

    Raises:
        InputError: when fewer than `min_stations` of the model's stations recorded, or the
            filter band does not fit the training rate.
    """
    rate_hz = 1.0 / sampling_interval_s
    freqmax_hz = 0.4 * rate_hz if freqmax_hz is None else freqmax_hz
    if freqmax_hz >= 0.5 * rate_hz or (freqmin_hz is not None and freqmin_hz >= freqmax_hz):
        raise InputError(
            f"filter band {freqmin_hz}-{freqmax_hz} Hz does not fit below the training Nyquist "
            f"frequency {0.5 * rate_hz:g} Hz",
            field="freqmax_hz",
        )
    known = set(stations)
    recorded = event.stations
    ignored = sorted(set(recorded) - known)
    used = [s for s in stations if s in set(recorded)]
    if len(used) < min_stations:
        raise InputError(
            f"only {len(used)} of the model's {len(stations)} stations recorded this event "
            f"(need {min_stations}); recorded: {recorded}; the model expects: {stations}",
            source=event.event_id,
            field="stations",
        )
    from obspy import Stream

    stream = event.stream.copy()
    stream = Stream([tr for tr in stream if tr.stats.station in known])
    start, end = _common_window(stream, event.event_id)
    stream.detrend("demean")
    stream.taper(0.05, max_length=_EDGE_S / 2)
    if freqmin_hz is not None:
        stream.filter("bandpass", freqmin=freqmin_hz, freqmax=freqmax_hz, zerophase=True)
    else:
        stream.filter("lowpass", freq=freqmax_hz, zerophase=True)
    # Drop the tapered, filter-ringing edges (they would trigger STA/LTA) when long enough.
    if end - start > 4 * _EDGE_S:
        start, end = start + _EDGE_S, end - _EDGE_S
    n_samples = int(np.floor((end - start) / sampling_interval_s)) + 1
    # ObsPy's interpolate puts every station on one common grid (same start, same step).
    stream.interpolate(
        sampling_rate=rate_hz, method="lanczos", a=20, starttime=start, npts=n_samples
    )
    values = np.zeros((len(stations), len(COMPONENTS), n_samples), dtype=np.float32)
    index = {s: i for i, s in enumerate(stations)}
    for trace in stream:
        data = np.asarray(trace.data, dtype=np.float32)[:n_samples]
        values[index[trace.stats.station], COMPONENTS.index(trace.stats.channel), : data.size] = (
            data
        )
    present = np.array([bool(stream.select(station=s, channel="Z")) for s in stations], dtype=bool)
    return StationValues(
        values=values,
        present=present,
        start_time=start,
        sampling_interval_s=float(sampling_interval_s),
        stations=list(stations),
        ignored_stations=ignored,
    )


def match_station_table(
    model_stations: pd.DataFrame, user_stations: pd.DataFrame, *, tolerance_km: float = 0.5
) -> list[str]:
    """Check a user's station table against the model's; return problems as readable lines.

    A station that the model knows but whose coordinates differ by more than `tolerance_km`
    would be placed at the wrong pixel, so it is an error; stations only in one table are noted.

    Raises:
        InputError: no station in common, or a common station that moved.
    """
    from quakesense.core.geo import haversine_km

    merged = model_stations.merge(user_stations, on="station", suffixes=("_model", "_user"))
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
    notes = []
    only_model = sorted(set(model_stations["station"]) - set(user_stations["station"]))
    only_user = sorted(set(user_stations["station"]) - set(model_stations["station"]))
    if only_model:
        notes.append(f"model stations absent from the station file (cut out): {only_model}")
    if only_user:
        notes.append(f"stations unknown to the model (ignored): {only_user}")
    return notes


class PredictConfig(BaseModel):
    """Settings of `quakesense locate predict` (saved beside the output)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cnn2d", "cnn3d", "convnetquake", "gridsearch"] = "cnn2d"
    units: Units = "auto"
    fill_gaps: bool = False
    freqmin_hz: float | None = Field(None, description="default: 0.5 Hz (cnn), picker band")
    freqmax_hz: float | None = Field(None, description="default: training high-cut / anti-alias")
    answer_after_s: float | None = Field(None, ge=0, description="default: the model's trigger")
    trigger: TriggerConfig | None = Field(
        None, description="STA/LTA settings; default: the model's (cnn), the paper's (gridsearch)"
    )
    grid_spacing_km: float = Field(0.25, gt=0)
    grid_margin_km: float = Field(3.0, ge=0)
    grid_depth_max_km: float = Field(10.0, gt=0)
    misfit: Literal["l1", "edt"] = "edt"
    pick_interval_s: float = Field(0.005, gt=0, description="grid search picks at this step")
    min_stations: int = Field(3, ge=1)


def _row(event_id: str, method: str, **values: Any) -> dict[str, Any]:
    return {"event_id": event_id, "method": method, "status": "ok", **values}


def _each_event(
    folders: list[Path], method: str, locate_one: Callable[[Path], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run `locate_one` per event folder; an event's bad input becomes its row's status.

    One unusable event does not stop the others; when every event fails, the first error is
    raised (then the input or a setting is wrong for all of them, e.g. unknown units).
    """
    rows, errors = [], []
    for folder in folders:
        try:
            rows.append(locate_one(folder))
        except InputError as exc:
            errors.append(exc)
            rows.append({"event_id": Path(folder).name, "method": method, "status": str(exc)})
    if errors and len(errors) == len(folders):
        raise errors[0]
    return rows


def _station_columns(values: StationValues) -> dict[str, Any]:
    return {
        "n_stations": int(values.present.sum()),
        "missing_stations": " ".join(values.missing_stations),
    }


def _save_evolution(
    evolution: Any, event: EventWaveforms, values: StationValues, folder: Path
) -> None:
    import matplotlib.pyplot as plt

    from quakesense.locate.detect import evolution_figure

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


def locate_cnn(
    folders: list[Path],
    locator: Any,
    config: PredictConfig,
    *,
    figure_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Locate real events with a trained network: values -> STA/LTA -> estimates in time."""
    from quakesense.io.waveforms import read_event_waveforms
    from quakesense.locate.detect import NoTriggerError, detect, estimate_in_time

    spec = locator.spec
    trigger = config.trigger or locator.trigger
    answer_after_s = (
        locator.trigger.answer_after_s if config.answer_after_s is None else config.answer_after_s
    )
    freqmax = config.freqmax_hz
    if freqmax is None:
        freqmax = min(locator.highcut_hz or np.inf, 0.4 / spec.sampling_interval_s)
    dt = spec.sampling_interval_s

    def locate_one(folder: Path) -> dict[str, Any]:
        event = read_event_waveforms(folder, units=config.units, fill_gaps=config.fill_gaps)
        values = to_station_values(
            event,
            spec.stations,
            dt,
            freqmin_hz=0.5 if config.freqmin_hz is None else config.freqmin_hz,
            freqmax_hz=freqmax,
            min_stations=config.min_stations,
        )
        base = _station_columns(values)
        try:
            onset = detect(values.values, dt, trigger, source=event.event_id)
        except NoTriggerError as exc:
            return {**_row(event.event_id, spec.model_type, **base), "status": str(exc)}
        evolution = estimate_in_time(locator, values.values, onset, answer_after_s)
        if figure_dir is not None:
            _save_evolution(evolution, event, values, figure_dir)
        lat, lon, depth, origin_s, magnitude = evolution.answer
        return _row(
            event.event_id,
            spec.model_type,
            origin_time=str(values.start_time + float(origin_s)),
            latitude_deg=float(lat),
            longitude_deg=float(lon),
            depth_km=float(depth),
            magnitude=float(magnitude),
            detection_time=str(values.start_time + onset * dt),
            **base,
        )

    return _each_event(folders, spec.model_type, locate_one)


def locate_gridsearch(
    folders: list[Path],
    stations: pd.DataFrame,
    model: Any,
    config: PredictConfig,
    picker: Any = None,
) -> list[dict[str, Any]]:
    """Locate real events by AR-AIC picks on the full-band records and a pykonal grid search."""
    from quakesense.core.geo import LocalProjection
    from quakesense.io.waveforms import read_event_waveforms
    from quakesense.locate.gridsearch import (
        GridSearchLocator,
        PickerConfig,
        build_tables,
        pick_around_detection,
    )

    picker = picker or PickerConfig(
        freqmin_hz=2.0,
        freqmax_hz=20.0,
        sta_p_s=0.05,
        lta_p_s=0.5,
        sta_s_s=0.1,
        lta_s_s=1.0,
        variance_window_p_s=0.1,
        variance_window_s_s=0.2,
    )
    projection = LocalProjection(
        float(stations["latitude_deg"].mean()), float(stations["longitude_deg"].mean())
    )
    tables = build_tables(
        stations,
        model,
        projection,
        spacing_km=config.grid_spacing_km,
        margin_km=config.grid_margin_km,
        depth_max_km=config.grid_depth_max_km,
    )
    names = [str(s) for s in stations["station"]]
    locator = GridSearchLocator(tables, names, misfit=config.misfit)
    dt = config.pick_interval_s

    def locate_one(folder: Path) -> dict[str, Any]:
        event = read_event_waveforms(folder, units=config.units, fill_gaps=config.fill_gaps)
        values = to_station_values(
            event,
            names,
            dt,
            freqmin_hz=config.freqmin_hz or picker.freqmin_hz,
            freqmax_hz=config.freqmax_hz or min(picker.freqmax_hz * 1.5, 0.4 / dt),
            min_stations=config.min_stations,
        )
        base = _station_columns(values)
        try:
            picks = pick_around_detection(
                values.values,
                dt,
                names,
                picker,
                config.trigger or TriggerConfig(),
                source=event.event_id,
            )
            found = locator.locate(picks, source=event.event_id)
        except InputError as exc:
            return {**_row(event.event_id, "gridsearch", **base), "status": str(exc)}
        lat, lon = projection.to_latlon(found.x_km, found.y_km)
        return _row(
            event.event_id,
            "gridsearch",
            origin_time=str(values.start_time + found.origin_time_s),
            latitude_deg=float(lat),
            longitude_deg=float(lon),
            depth_km=float(found.z_km),
            magnitude=np.nan,
            n_picks=found.n_picks,
            misfit_s=found.misfit,
            **base,
        )

    return _each_event(folders, "gridsearch", locate_one)


def predict_events(
    waveforms: Path,
    stations_path: Path,
    out: Path,
    config: PredictConfig,
    *,
    model: Path | None = None,
    velocity: Path | None = None,
    figure_dir: Path | None = None,
) -> pd.DataFrame:
    """`quakesense locate predict`: locate every event folder, write CSV + QuakeML + settings.

    Raises:
        InputError: a missing model/velocity for the chosen method, a model of another type,
            or a station file that does not match the model.
    """
    from quakesense.core.store import write_json
    from quakesense.io.stations import read_stations
    from quakesense.io.waveforms import event_folders
    from quakesense.locate.export import location_table, write_locations

    stations = read_stations(stations_path)
    folders = event_folders(waveforms)
    notes: list[str] = []
    if config.method == "gridsearch":
        if velocity is None:
            raise InputError("the grid search needs a velocity model", field="--velocity")
        from quakesense.locate.velocity import read_velocity_model

        rows = locate_gridsearch(folders, stations, read_velocity_model(velocity), config)
    else:
        if model is None:
            raise InputError(f"method {config.method} needs a trained model", field="--model")
        from quakesense.locate.train import TrainedLocator

        locator = TrainedLocator.load(model)
        if locator.spec.model_type != config.method:
            raise InputError(
                f"the model is a {locator.spec.model_type}, not a {config.method}",
                source=model,
                field="--method",
            )
        trained = pd.DataFrame(locator.training.get("stations", {}))
        if not trained.empty:
            notes = match_station_table(trained, stations)
        rows = locate_cnn(folders, locator, config, figure_dir=figure_dir)
    table = location_table(rows)
    write_locations(table, out, method=config.method)
    write_json(
        {
            "settings": config.model_dump(mode="json"),
            "waveforms": str(waveforms),
            "stations": str(stations_path),
            "model": None if model is None else str(model),
            "velocity": None if velocity is None else str(velocity),
            "notes": notes,
        },
        Path(out).with_suffix(".json"),
    )
    return table
