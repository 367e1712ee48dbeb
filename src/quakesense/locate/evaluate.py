"""Accuracy of located events: against a reference catalog, and on held-out synthetic events.

`compare` joins estimates and a reference catalog by event id and gives per-event errors in km
and seconds; `rmse_table` summarises them per method (the paper's Table 1 has the same columns);
`error_map` and `depth_section` draw reference-to-estimate arrows like the paper's Figs 6-8.
`evaluate_synthetic` locates both test sets of a simulated dataset (the random `test` split and
the spatial `holdout` block, away from every training event) under the paper's conditions
(clean, added noise, 1-3 stations cut out) with the network, and with the classical baseline
(`gridsearch.locate_event`: P and S picks, epicentre prior, outlier rejection, uncertainty: the
chain of `locate predict --method gridsearch`) on the very same waveforms; with `mc_samples`
the network also gives an MC-dropout spread per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tqdm import tqdm

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection, haversine_km
from quakesense.core.metrics import rmse
from quakesense.core.report import RunFolder
from quakesense.core.store import read_table, write_table
from quakesense.core.training import Device
from quakesense.io.stations import read_stations
from quakesense.io.waveforms import read_catalog_from_headers
from quakesense.locate.dataset import TEST_SETS
from quakesense.locate.detect import (
    NoTriggerError,
    TriggerConfig,
    detect,
    estimate_in_time,
    evolution_figure,
)
from quakesense.locate.gridsearch import (
    GridSearchLocator,
    PickerConfig,
    dataset_locator,
    locate_event,
)
from quakesense.locate.train import (
    Locator,
    ModelFolders,
    SimulatedSet,
    load_locator,
    model_folders,
)
from quakesense.locate.velocity import read_velocity_model

KM_PER_DEGREE = 111.19
"""Kilometres per degree of latitude (spherical Earth), for MC-dropout spreads in km."""


@dataclass
class Condition:
    """A test condition: extra noise (x the split's median vertical peak), stations cut out."""

    name: str
    noise_relative: float = 0.0
    n_cutout: int = 0


DEFAULT_CONDITIONS: tuple[Condition, ...] = (
    Condition("clean"),
    Condition("noise 5%", noise_relative=0.05),
    Condition("cutout 1", n_cutout=1),
    Condition("cutout 2", n_cutout=2),
    Condition("cutout 3", n_cutout=3),
)


class EvaluateConfig(BaseModel):
    """Settings of `quakesense locate evaluate` (saved as its config.json)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="seed of the noise and cutout draws")
    gridsearch: bool = Field(True, description="with a dataset: also run the grid search")
    conditions: list[str] = Field(
        default_factory=lambda: [c.name for c in DEFAULT_CONDITIONS],
        min_length=1,
        description="with a dataset: the test conditions to run (clean, noise 5%, cutout 1-3)",
    )
    max_events: int | None = Field(
        None,
        ge=1,
        description="with a dataset: the first N events of each test set (None: all); the "
        "grid search takes seconds per event and condition on a CPU",
    )
    mc_samples: int = Field(
        0, ge=0, description="MC-dropout passes for a per-event spread (0: none)"
    )
    progress: bool = True
    device: Device = Field(
        "auto", description="where the network runs (cuda without a GPU: the CPU)"
    )

    @field_validator("conditions")
    @classmethod
    def _known_conditions(cls, names: list[str]) -> list[str]:
        known = [c.name for c in DEFAULT_CONDITIONS]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"unknown test condition(s) {unknown}; choose from {known}")
        return names

    def chosen_conditions(self) -> tuple[Condition, ...]:
        """The `Condition`s named in `conditions`, in the order given."""
        by_name = {c.name: c for c in DEFAULT_CONDITIONS}
        return tuple(by_name[name] for name in self.conditions)


ERROR_COLUMNS: tuple[str, ...] = (
    "epicentre_km",
    "north_km",
    "east_km",
    "depth_km",
    "origin_time_s",
    "magnitude",
)


def compare(estimates: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per-event errors (estimate - reference) for events located in both tables.

    Both tables need event_id, latitude_deg, longitude_deg, depth_km and magnitude; origin time
    as `origin_time` (estimates) and `time` or `origin_time` (reference), or `origin_time_s`.

    Raises:
        InputError: no event id in common.
    """
    ref = reference.rename(columns={"time": "origin_time"})
    est = estimates[estimates.get("status", "ok") == "ok"] if "status" in estimates else estimates
    merged = est.merge(ref, on="event_id", suffixes=("", "_ref"))
    if merged.empty:
        raise InputError(
            "no event_id in common between the estimates and the reference catalog",
            field="event_id",
        )
    lat0, lon0 = (
        merged["latitude_deg_ref"].to_numpy(float),
        merged["longitude_deg_ref"].to_numpy(float),
    )
    lat, lon = merged["latitude_deg"].to_numpy(float), merged["longitude_deg"].to_numpy(float)
    out = pd.DataFrame({"event_id": merged["event_id"]})
    if "method" in merged:
        out["method"] = merged["method"]
    out["epicentre_km"] = haversine_km(lat0, lon0, lat, lon)
    out["north_km"] = np.sign(lat - lat0) * haversine_km(lat0, lon0, lat, lon0)
    out["east_km"] = np.sign(lon - lon0) * haversine_km(lat0, lon0, lat0, lon)
    out["depth_km"] = merged["depth_km"].to_numpy(float) - merged["depth_km_ref"].to_numpy(float)
    if "origin_time_s" in merged and "origin_time_s_ref" in merged:
        out["origin_time_s"] = merged["origin_time_s"] - merged["origin_time_s_ref"]
    elif "origin_time" in merged and "origin_time_ref" in merged:
        delta = pd.to_datetime(merged["origin_time"], utc=True, format="ISO8601") - pd.to_datetime(
            merged["origin_time_ref"], utc=True, format="ISO8601"
        )
        out["origin_time_s"] = delta.dt.total_seconds()
    else:
        out["origin_time_s"] = np.nan
    out["magnitude"] = merged["magnitude"].astype(float) - merged["magnitude_ref"].astype(float)
    for name in ("latitude_deg", "longitude_deg", "depth_km"):
        out[f"{name}_ref"] = merged[f"{name}_ref"].to_numpy(float)
        out[f"{name}_est"] = merged[name].to_numpy(float)
    return out


def rmse_table(errors: pd.DataFrame, by: str = "method") -> pd.DataFrame:
    """RMSE of every error column per group (`epicentre_km` is the RMS epicentral distance)."""
    groups = errors.groupby(by, sort=False) if by in errors else [("all", errors)]
    rows = []
    for name, part in groups:
        row = {by: name, "n_events": len(part)}
        for column in ERROR_COLUMNS:
            values = part[column].to_numpy(float)
            finite = values[np.isfinite(values)]
            row[column] = float(rmse(0.0, finite, axis=None)) if finite.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _xy(errors: pd.DataFrame, kind: str, projection: LocalProjection) -> tuple[np.ndarray, ...]:
    return projection.to_xy_km(errors[f"latitude_deg_{kind}"], errors[f"longitude_deg_{kind}"])


def error_map(
    errors: pd.DataFrame,
    projection: LocalProjection,
    stations: pd.DataFrame | None = None,
    title: str = "",
) -> plt.Figure:
    """Epicentres: reference (circles) -> estimate (arrows), per method, stations as triangles."""
    fig, ax = plt.subplots(figsize=(6, 6))
    if stations is not None:
        sx, sy = projection.to_xy_km(stations["latitude_deg"], stations["longitude_deg"])
        ax.scatter(sx, sy, marker="^", color="k", s=30, label="stations")
    methods = errors["method"].unique() if "method" in errors else ["estimate"]
    for k, method in enumerate(methods):
        part = errors[errors["method"] == method] if "method" in errors else errors
        x0, y0 = _xy(part, "ref", projection)
        x1, y1 = _xy(part, "est", projection)
        colour = f"C{k}"
        ax.scatter(x0, y0, facecolors="none", edgecolors="grey", s=25)
        ax.quiver(
            x0,
            y0,
            x1 - x0,
            y1 - y0,
            angles="xy",
            scale_units="xy",
            scale=1,
            color=colour,
            width=0.004,
            label=str(method),
        )
    ax.set_xlabel("east (km)")
    ax.set_ylabel("north (km)")
    ax.set_aspect("equal")
    ax.legend(fontsize=8)
    ax.set_title(title or "epicentres: reference -> estimate")
    return fig


def depth_section(errors: pd.DataFrame, projection: LocalProjection, title: str = "") -> plt.Figure:
    """East-depth section: reference -> estimate arrows per method (depth down)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    methods = errors["method"].unique() if "method" in errors else ["estimate"]
    for k, method in enumerate(methods):
        part = errors[errors["method"] == method] if "method" in errors else errors
        x0, _ = _xy(part, "ref", projection)
        x1, _ = _xy(part, "est", projection)
        z0, z1 = part["depth_km_ref"].to_numpy(), part["depth_km_est"].to_numpy()
        ax.scatter(x0, z0, facecolors="none", edgecolors="grey", s=25)
        ax.quiver(
            x0,
            z0,
            x1 - x0,
            z1 - z0,
            angles="xy",
            scale_units="xy",
            scale=1,
            color=f"C{k}",
            width=0.004,
            label=str(method),
        )
    ax.invert_yaxis()
    ax.set_xlabel("east (km)")
    ax.set_ylabel("depth (km below sea level)")
    ax.legend(fontsize=8)
    ax.set_title(title or "depth section: reference -> estimate")
    return fig


def _apply(
    values: np.ndarray, condition: Condition, rng: np.random.Generator, reference_m_s: float
) -> np.ndarray:
    out = np.array(values, dtype=np.float32, copy=True)
    if condition.noise_relative:
        level = condition.noise_relative * reference_m_s
        out += rng.normal(0.0, level, out.shape).astype(np.float32)
    if condition.n_cutout:
        out[rng.choice(out.shape[0], condition.n_cutout, replace=False)] = 0.0
    return out


def evaluate_synthetic(
    data: SimulatedSet,
    locator: Locator,
    *,
    splits: tuple[str, ...] = TEST_SETS,
    conditions: tuple[Condition, ...] = DEFAULT_CONDITIONS,
    trigger: TriggerConfig | None = None,
    gridsearch: GridSearchLocator | None = None,
    picker: PickerConfig | None = None,
    seed: int = 0,
    mc_samples: int = 0,
    progress: bool = False,
    max_events: int | None = None,
) -> pd.DataFrame:
    """Locate the events of each split under each condition; one row per event, condition, method.

    The network answers `trigger.answer_after_s` after the STA/LTA detection (with
    `mc_samples`, also the MC-dropout spread `sigma_epicentre_km`, `sigma_depth_km`; an
    ensemble always gives the spread between its members, with their dropout spread); the grid
    search (if given) locates the same perturbed waveforms with the full classical chain
    (`gridsearch.locate_event`, picker settings `picker`, default: band chosen per event). Events
    without a trigger or with too few picks are kept as rows with status explaining why. Rows
    of the no-skill reference (`MEAN_METHOD`, the train-split mean) come with the first
    condition. A split with no events (e.g. no hold-out block) is skipped; `max_events` keeps
    the first events of each split (drawn at random positions, so an unbiased subset).
    """
    trigger = trigger or TriggerConfig()
    projection = LocalProjection(**data.meta["projection"])
    chosen = [(split, data.split_indices(split)[:max_events]) for split in splits]
    chosen = [(split, rows) for split, rows in chosen if len(rows)]
    if not chosen:
        raise InputError(f"no events in the splits {list(splits)}", source=data.path, field="split")
    dt = data.sampling_interval_s
    rng = np.random.default_rng(seed)
    rows = []
    for split, rows_idx in chosen:
        # One noise level per set (relative to its median vertical peak): noise scaled by
        # each event's own peak would tell the network the event's size before it is recorded.
        reference_m_s = float(
            np.median([np.abs(data.event_values(int(r))[:, 0]).max() for r in rows_idx])
        )
        for row in tqdm(rows_idx, desc=f"evaluate {split}", disable=not progress):
            event = data.events.iloc[int(row)]
            clean = data.event_values(int(row))
            for condition in conditions:
                values = _apply(clean, condition, rng, reference_m_s)
                base = {
                    "event_id": event["event_id"],
                    "test_set": split,
                    "condition": condition.name,
                }
                rows.append(_network_row(locator, values, dt, trigger, mc_samples, seed, base))
                if gridsearch is not None:
                    rows.append(_gridsearch_row(gridsearch, values, dt, picker, projection, base))
        rows += mean_baseline_rows(data, rows_idx, conditions[0].name, split)
    return pd.DataFrame(rows)


def _network_row(
    locator: Locator,
    values: np.ndarray,
    dt: float,
    trigger: TriggerConfig,
    mc_samples: int,
    seed: int,
    base: dict,
) -> dict:
    method = locator.spec.model_type
    try:
        onset = detect(values, dt, trigger, source=str(base["event_id"]))
    except NoTriggerError as exc:
        return {**base, "method": method, "status": str(exc)}
    evolution = estimate_in_time(locator, values, onset, trigger.answer_after_s)
    answer = evolution.answer
    row = {
        **base,
        "method": method,
        "status": "ok",
        "latitude_deg": answer[0],
        "longitude_deg": answer[1],
        "depth_km": answer[2],
        "origin_time_s": answer[3],
        "magnitude": answer[4],
    }
    if mc_samples or locator.n_members > 1:
        _, spread = locator.predict_spread(values, evolution.frames[-1:], mc_samples, seed)
        north_km = spread[0, 0] * KM_PER_DEGREE
        east_km = spread[0, 1] * KM_PER_DEGREE * np.cos(np.radians(answer[0]))
        row["sigma_epicentre_km"] = float(np.hypot(north_km, east_km))
        row["sigma_depth_km"] = float(spread[0, 2])
    return row


def _gridsearch_row(
    gridsearch: GridSearchLocator,
    values: np.ndarray,
    dt: float,
    picker: PickerConfig | None,
    projection: LocalProjection,
    base: dict,
) -> dict:
    try:
        found, _ = locate_event(values, dt, gridsearch, picker, source=str(base["event_id"]))
    except InputError as exc:
        return {**base, "method": "gridsearch", "status": str(exc)}
    lat, lon = projection.to_latlon(found.x_km, found.y_km)
    return {
        **base,
        "method": "gridsearch",
        "status": "ok",
        "latitude_deg": float(lat),
        "longitude_deg": float(lon),
        "depth_km": found.z_km,
        "origin_time_s": found.origin_time_s,
        "magnitude": np.nan,
        "horizontal_uncertainty_km": found.semi_major_km,
        "depth_uncertainty_km": found.depth_uncertainty_km,
    }


MEAN_METHOD = "mean (no skill)"
"""Method name of the no-skill reference rows in `evaluate_synthetic` results."""


def mean_baseline_rows(
    data: SimulatedSet, rows: np.ndarray, condition: str, test_set: str = "test"
) -> list[dict]:
    """The no-skill reference: every event answered with the train-split mean hypocentre.

    Any network must beat this to have learnt something; origin time has no meaningful mean
    (origins are relative to each record), so it is left out.
    """
    train = data.events.iloc[data.split_indices("train")]
    answer = {k: float(train[k].mean()) for k in ("latitude_deg", "longitude_deg", "depth_km")}
    answer["magnitude"] = float(train["magnitude"].mean())
    return [
        {
            "event_id": data.events.iloc[int(row)]["event_id"],
            "test_set": test_set,
            "condition": condition,
            "method": MEAN_METHOD,
            "status": "ok",
            "origin_time_s": np.nan,
            **answer,
        }
        for row in rows
    ]


def _truth(data: SimulatedSet) -> pd.DataFrame:
    """The dataset's true hypocentre, magnitude and origin time per event (the reference)."""
    return data.events[
        ["event_id", "latitude_deg", "longitude_deg", "depth_km", "magnitude", "origin_time_s"]
    ]


def position_slopes(errors: pd.DataFrame) -> dict[str, float]:
    """Least-squares slope of estimated on true position, per axis (`compare` output).

    1 keeps the events' spread; 0 puts them all at one point, as the mean guess does; between,
    the estimates shrink toward the middle of the set, a bias a median error hides when the
    events lie near the middle. NaN for fewer than two events or no spread.
    """
    km_per_deg_east = KM_PER_DEGREE * np.cos(np.radians(errors["latitude_deg_ref"].mean()))
    axes = {
        "slope_north": ("latitude_deg", KM_PER_DEGREE),
        "slope_east": ("longitude_deg", km_per_deg_east),
        "slope_depth": ("depth_km", 1.0),
    }
    slopes = {}
    for name, (column, scale) in axes.items():
        truth = errors[f"{column}_ref"].to_numpy(float) * scale
        estimate = errors[f"{column}_est"].to_numpy(float) * scale
        truth, estimate = truth - truth.mean(), estimate - estimate.mean()
        spread = float(np.sum(truth**2))
        if spread <= 1e-12:
            slopes[name] = np.nan
        elif np.ptp(estimate) <= 1e-9:  # one point for all (rounding aside): no slope
            slopes[name] = 0.0
        else:
            slopes[name] = float(np.sum(truth * estimate) / spread)
    return slopes


def synthetic_rmse(results: pd.DataFrame, data: SimulatedSet) -> pd.DataFrame:
    """RMSE per test set, condition and method of `evaluate_synthetic` results.

    Adds located/failed counts, the median epicentral error, the slopes of estimated on true
    position (`position_slopes`: below 1, estimates shrink toward the middle), and, where the
    results hold MC-dropout spreads, their median and the share of events whose epicentral
    error is within twice the spread (about 95 % if the spread were a calibrated Gaussian sigma);
    for the grid search, the median reported 68 % horizontal semi-axis (`median_h68_km`) and
    depth standard deviation.
    """
    reference = _truth(data)
    keys = ["test_set", "condition", "method"]
    tables = []
    for (test_set, condition, method), part in results.groupby(keys, sort=False):
        located = part[part["status"] == "ok"]
        if located.empty:
            continue
        errors = compare(located, reference)
        table = rmse_table(errors.assign(method=method))
        table.insert(0, "condition", condition)
        table.insert(0, "test_set", test_set)
        table["median_epicentre_km"] = float(np.median(errors["epicentre_km"]))
        table["n_failed"] = int((part["status"] != "ok").sum())
        for name, slope in position_slopes(errors).items():
            table[name] = slope
        if "sigma_epicentre_km" in located and located["sigma_epicentre_km"].notna().any():
            sigma = located.set_index("event_id")["sigma_epicentre_km"]
            within = (
                errors["epicentre_km"].to_numpy() <= 2 * sigma.loc[errors["event_id"]].to_numpy()
            )
            table["median_sigma_epicentre_km"] = float(sigma.median())
            table["within_2_sigma"] = float(within.mean())
        if (
            "horizontal_uncertainty_km" in located
            and located["horizontal_uncertainty_km"].notna().any()
        ):
            table["median_h68_km"] = float(located["horizontal_uncertainty_km"].median())
            table["median_depth_sd_km"] = float(located["depth_uncertainty_km"].median())
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def per_event_errors(results: pd.DataFrame, data: SimulatedSet) -> pd.DataFrame:
    """`evaluate_synthetic` rows with each event's true hypocentre, magnitude and errors.

    One row per event, condition and method, unlocated ones included (errors NaN), so any
    split of the scores (by magnitude, depth, distance from the network) can be recomputed.
    """
    truth = _truth(data)
    table = results.merge(truth, on="event_id", how="left", suffixes=("", "_true"))
    table["epicentre_error_km"] = haversine_km(
        table["latitude_deg_true"].to_numpy(float),
        table["longitude_deg_true"].to_numpy(float),
        table["latitude_deg"].to_numpy(float),
        table["longitude_deg"].to_numpy(float),
    )
    table["depth_error_km"] = table["depth_km"] - table["depth_km_true"]
    table["origin_time_error_s"] = table["origin_time_s"] - table["origin_time_s_true"]
    return table


def _read_locations(path: Path) -> pd.DataFrame:
    table = read_table(path)
    for column in ("event_id", "latitude_deg", "longitude_deg", "depth_km"):
        if column not in table:
            raise InputError("location table lacks a column", source=path, field=column)
    table["event_id"] = table["event_id"].astype(str)
    if "method" not in table:
        table["method"] = Path(path).stem
    if "magnitude" not in table:
        table["magnitude"] = np.nan
    return table


def run_evaluation(
    out: Path,
    settings: EvaluateConfig,
    *,
    predictions: list[Path],
    reference: Path | None = None,
    reference_waveforms: Path | None = None,
    stations: Path | None = None,
    data: Path | None = None,
    model: ModelFolders | None = None,
    velocity: Path | None = None,
    force: bool = False,
) -> Path:
    """`quakesense locate evaluate`: against a reference catalog, or on a dataset's test sets.

    Inputs are checked before anything is written; the run is built in a temporary folder and
    moved to `out` only when it succeeds (a failed re-run leaves the earlier run untouched).
    """
    if data is None and not predictions:
        raise InputError(
            "give --predictions with a reference, or --data with --model", field="--data"
        )
    if data is not None and model is None:
        raise InputError("--data needs --model", field="--model")
    inputs = {
        "predictions": [str(p) for p in predictions],
        "reference": str(reference) if reference else None,
        "reference_waveforms": str(reference_waveforms) if reference_waveforms else None,
        "data": str(data) if data else None,
        "model": [str(f) for f in model_folders(model)] if model else None,
        "velocity": str(velocity) if velocity else None,
    }
    with RunFolder.create(out, "locate evaluate", force=force) as run:
        run.save_config(settings, **inputs)
        if data is not None:
            metrics = _evaluate_dataset(run, data, model, velocity, settings)
        else:
            metrics = _evaluate_catalog(run, predictions, reference, reference_waveforms, stations)
        run.save_metrics(metrics)
        report = run.write_report()
    return report


def _evaluate_catalog(
    run: RunFolder,
    predictions: list[Path],
    reference: Path | None,
    reference_waveforms: Path | None,
    stations: Path | None,
) -> dict:
    if reference is not None:
        ref = read_table(reference)
        ref["event_id"] = ref["event_id"].astype(str)
    elif reference_waveforms is not None:
        ref = read_catalog_from_headers(reference_waveforms)
    else:
        raise InputError("give --reference or --reference-waveforms", field="--reference")
    errors = pd.concat([compare(_read_locations(p), ref) for p in predictions], ignore_index=True)
    table = rmse_table(errors)
    projection = LocalProjection(
        float(ref["latitude_deg"].mean()), float(ref["longitude_deg"].mean())
    )
    station_table = None if stations is None else read_stations(stations)
    run.figure(error_map(errors, projection, station_table), "error_map", "epicentres")
    run.figure(depth_section(errors, projection), "depth_section", "depth section")
    run.heading("RMSE per parameter against the reference")
    run.table(table, caption=f"{len(ref)} reference events; magnitude NaN where absent")
    run.heading("per-event errors")
    run.table(errors)
    return {"rmse": table.to_dict("records"), "errors": errors.to_dict("records")}


def _evaluate_dataset(
    run: RunFolder,
    data_dir: Path,
    model: ModelFolders,
    velocity: Path | None,
    settings: EvaluateConfig,
) -> dict:
    data = SimulatedSet.open(data_dir)
    locator = load_locator(model, settings.device)
    projection = LocalProjection(**data.meta["projection"])
    baseline = None
    if settings.gridsearch:
        velocity_model = None if velocity is None else read_velocity_model(velocity)
        baseline, _ = dataset_locator(data.meta, velocity_model)
    trigger = locator.trigger
    results = evaluate_synthetic(
        data,
        locator,
        trigger=trigger,
        gridsearch=baseline,
        seed=settings.seed,
        mc_samples=settings.mc_samples,
        progress=settings.progress,
        conditions=settings.chosen_conditions(),
        max_events=settings.max_events,
    )
    table = synthetic_rmse(results, data)
    per_event = write_table(per_event_errors(results, data), run.path / "events.csv")
    reference = _truth(data)
    first_condition = settings.conditions[0]
    shown = results[
        (results["condition"] == first_condition)
        & (results["status"] == "ok")
        & (results["method"] != MEAN_METHOD)
    ]
    errors = compare(shown, reference)
    caption = f"test events, {first_condition}"
    run.figure(error_map(errors, projection, data.stations), "error_map", caption)
    run.figure(depth_section(errors, projection), "depth_section", caption)
    first = int(data.split_indices("test")[0])
    values = data.event_values(first)
    evolution = estimate_in_time(
        locator, values, detect(values, data.sampling_interval_s, trigger), trigger.answer_after_s
    )
    truth = data.targets(first, np.array([0]))[0]
    truth[3] = data.events["origin_time_s"].iloc[first]
    run.figure(evolution_figure(evolution, truth), "evolution", "estimates after detection")
    counts = {split: len(data.split_indices(split)[: settings.max_events]) for split in TEST_SETS}
    subset = "" if settings.max_events is None else f" (the first {settings.max_events} at most)"
    members = (
        f" The network is an {locator.describe_spread(settings.mc_samples)}: their mean answers."
        if locator.n_members > 1
        else ""
    )
    run.heading("RMSE per parameter on the test split and the spatial hold-out block")
    run.text(
        f"data {data_dir}: test split {counts['test']} events (drawn continuously, none on a "
        f"training hypocentre), hold-out block {counts['holdout']} events (a region no "
        f"training event comes from){subset}; conditions {', '.join(settings.conditions)}; "
        f"seed {settings.seed}; answer {trigger.answer_after_s} s after STA/LTA detection; "
        f"depths km below sea level. slope_north, slope_east, slope_depth: least-squares "
        f"slope of estimated on true position (1: the events' spread kept; 0: all at one "
        f"point, as the mean guess; between: estimates shrink toward the middle).{members}"
    )
    run.table(table)
    run.link(per_event, "per-event results: true hypocentre, estimate and errors")
    return {
        "rmse": table.to_dict("records"),
        "seed": settings.seed,
        "data": str(data_dir),
        "events_per_test_set": counts,
    }
