"""Table-level location workflow behind `quakesense aeclass locate`, with its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from quakesense.aeclass.location import (
    LEARNED,
    LocateConfig,
    LocationResult,
    cross_validate,
    fit_predict,
)
from quakesense.aeclass.profiles import pick_matrix
from quakesense.core.errors import InputError
from quakesense.core.metrics import rmse
from quakesense.core.report import RunFolder
from quakesense.core.store import write_table
from quakesense.io.picks import TRUTH_COLUMNS


def truth_of(picks: pd.DataFrame, event_ids: list[str]) -> np.ndarray:
    """True source (events, 3) from the picks' x_m, y_m, z_m columns; NaN rows where unknown."""
    if not all(c in picks.columns for c in TRUTH_COLUMNS):
        return np.full((len(event_ids), 3), np.nan)
    first = picks.groupby("event_id")[list(TRUTH_COLUMNS)].first()
    return first.reindex(event_ids).to_numpy(dtype=float)


def location_phases(picks: pd.DataFrame, config: LocateConfig, n_known: int) -> tuple[list, str]:
    """Phases to locate with, and a note on why S picks are left out (empty if used)."""
    if not config.use_s or not (picks["phase"] == "S").any():
        return ["P"], "" if config.use_s else "S picks left out (use_s: false)"
    if n_known < 3 and config.vs_m_s is None:
        return ["P"], (
            "S picks left out: no S velocity (give --vs-m-s, or events of known position to fit it)"
        )
    return ["P", "S"], ""


def locate_events(
    picks: pd.DataFrame, sensors: pd.DataFrame, config: LocateConfig
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Locate every event of `picks` in memory: the locations table (one row per event), the
    true positions (NaN where unknown) and the scores.

    Events with a true position are located by cross-validation (leave-one-out by default:
    the locator never sees the event it locates) and scored; events without are located by
    a locator fitted on all known ones.
    """
    sensor_ids = list(sensors["sensor"])
    event_ids = [str(e) for e in pd.unique(picks["event_id"])]
    truth = truth_of(picks, event_ids)
    known = np.isfinite(truth).all(axis=1)
    method = config.method
    if method in LEARNED and known.sum() < 3:
        raise InputError(
            f"method '{method}' learns from events of known position: the picks need x_m, y_m, "
            "z_m for at least 3 events",
            field="x_m",
        )
    phases, note = location_phases(picks, config, int(known.sum()))
    matrix = pick_matrix(picks[picks["phase"].isin(phases)], sensor_ids, phases)
    times = matrix.time_s[pd.Index(matrix.event_ids).get_indexer(event_ids)]
    if len(phases) == 1:
        times = times[:, :, 0]
    sensors_xyz = sensors[list(TRUTH_COLUMNS)].to_numpy(dtype=float)
    velocities = {"velocity_m_s": config.velocity_m_s, "vs_m_s": config.vs_m_s}
    xyz = np.full((len(times), 3), np.nan)
    origin = np.full(len(times), np.nan)
    residual = np.full(len(times), np.nan)

    def store(index: np.ndarray, result: LocationResult) -> None:
        xyz[index], origin[index], residual[index] = (
            result.xyz_m,
            result.origin_time_s,
            result.residual_s,
        )

    if known.sum() >= 3:
        store(
            known,
            cross_validate(
                method,
                times[known],
                sensors_xyz,
                truth[known],
                folds=config.folds,
                seed=config.seed,
                progress=config.progress,
                **velocities,
            ),
        )
    if (~known).any():
        store(
            ~known,
            fit_predict(
                method,
                times[known] if known.any() else times[~known],
                sensors_xyz,
                truth[known] if known.any() else None,
                times[~known],
                seed=config.seed,
                **velocities,
            ),
        )
    observed = np.isfinite(times).reshape(len(times), -1)
    table = pd.DataFrame(
        {
            "event_id": event_ids,
            "x_m": xyz[:, 0],
            "y_m": xyz[:, 1],
            "z_m": xyz[:, 2],
            "origin_time_s": origin,
            "residual_s": residual,
            "n_picks": observed.sum(axis=1),
        }
    )
    metrics: dict[str, Any] = {
        "method": method,
        "phases": phases,
        "n_events": len(table),
        "seed": config.seed,
        "median_residual_s": float(np.nanmedian(residual)),
    }
    if note:
        metrics["note"] = note
    if known.sum() >= 3:
        error = np.linalg.norm(xyz[known] - truth[known], axis=1)
        table.loc[known, "error_m"] = error
        metrics.update(
            {
                "scoring": (
                    "leave-one-out"
                    if config.folds is None
                    else f"{config.folds}-fold cross-validation (seed {config.seed})"
                )
                + " over events with known position",
                "n_scored": int(known.sum()),
                "rmse_m": float(rmse(0.0, error, axis=None)),
                "rmse_axis_m": dict(
                    zip(TRUTH_COLUMNS, rmse(truth[known], xyz[known]).tolist(), strict=True)
                ),
                "median_error_m": float(np.median(error)),
            }
        )
    return table, truth, metrics


def locate_tables(
    picks: pd.DataFrame,
    sensors: pd.DataFrame,
    config: LocateConfig,
    out: Path,
    *,
    force: bool = False,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Locate every event of `picks` (`locate_events`) and write a run folder: locations.csv,
    metrics.json, config.json and report.html (location map, residuals); returns the scores."""
    table, truth, metrics = locate_events(picks, sensors, config)
    with RunFolder.create(out, f"AE event location ({config.method})", force=force) as run:
        run.save_config(config, **(meta or {}))
        _report(run, table, sensors, truth, metrics)
        write_table(table, run.path / "locations.csv")
        run.save_metrics(metrics)
        run.write_report()
    return metrics


def _report(
    run: RunFolder,
    table: pd.DataFrame,
    sensors: pd.DataFrame,
    truth: np.ndarray,
    metrics: dict[str, Any],
) -> None:
    """Location map (map view and section), residual histogram and the score table."""
    scored = "scoring" in metrics
    run.text(
        f"{metrics['n_events']} events located with '{metrics['method']}' from "
        f"{' and '.join(metrics['phases'])} picks ({table['n_picks'].median():.0f} picks per "
        "event, median). "
        + (
            f"Events of known position are scored by {metrics['scoring']}."
            if scored
            else "No true positions: nothing is scored."
        )
        + (f" Note: {metrics['note']}." if "note" in metrics else "")
    )
    run.figure(
        location_map_figure(table, sensors, truth if scored else None),
        "location_map",
        "Located events (dots, colour: RMS time residual) and sensors (triangles); grey lines "
        "join each located event to its true position where known.",
    )
    run.figure(
        residual_figure(table),
        "residuals",
        "RMS arrival-time residual per event after location (microseconds).",
    )
    if scored:
        rows = [
            {"score": "RMSE (m)", "value": metrics["rmse_m"]},
            {"score": "median error (m)", "value": metrics["median_error_m"]},
            *({"score": f"RMSE {k} (m)", "value": v} for k, v in metrics["rmse_axis_m"].items()),
        ]
        run.table(pd.DataFrame(rows), caption=f"Location error, {metrics['n_scored']} events")


def location_map_figure(
    table: pd.DataFrame, sensors: pd.DataFrame, truth: np.ndarray | None
) -> plt.Figure:
    """Map view (x-y) and section (x-z) of located events, sensors and errors."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    residual_us = 1e6 * table["residual_s"].to_numpy()
    for ax, (a, b) in zip(axes, [("x_m", "y_m"), ("x_m", "z_m")], strict=True):
        if truth is not None:
            j = TRUTH_COLUMNS.index(b)
            for k in np.flatnonzero(np.isfinite(truth).all(axis=1)):
                ax.plot(
                    [table[a].iloc[k], truth[k, 0]],
                    [table[b].iloc[k], truth[k, j]],
                    color="0.6",
                    lw=0.6,
                )
        points = ax.scatter(table[a], table[b], c=residual_us, s=10, cmap="viridis")
        ax.scatter(sensors[a], sensors[b], marker="^", s=50, color="red", label="sensors")
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(fontsize=8)
    fig.colorbar(points, ax=axes, label="RMS residual (us)")
    return fig


def residual_figure(table: pd.DataFrame) -> plt.Figure:
    """Histogram of the per-event RMS residuals."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    values = 1e6 * table["residual_s"].dropna().to_numpy()
    ax.hist(values, bins=min(40, max(5, len(values) // 5)), color="#9ecae1", edgecolor="white")
    ax.set_xlabel("RMS residual (us)")
    ax.set_ylabel("events")
    return fig
