"""Table-level location workflow behind `quakesense aeclass locate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.aeclass.location import LocationResult, fit_predict, leave_one_out
from quakesense.aeclass.profiles import pick_matrix
from quakesense.core.errors import InputError
from quakesense.core.metrics import rmse
from quakesense.core.store import write_json, write_table
from quakesense.io.picks import TRUTH_COLUMNS

LEARNED = {"gp", "mlp", "hybrid", "aniso", "geiger-sc", "grid-sc"}
"""Methods fitted to events of known position."""


def truth_of(picks: pd.DataFrame, event_ids: list[str]) -> np.ndarray:
    """True source (events, 3) from the picks' x_m, y_m, z_m columns; NaN rows where unknown."""
    if not all(c in picks.columns for c in TRUTH_COLUMNS):
        return np.full((len(event_ids), 3), np.nan)
    first = picks.groupby("event_id")[list(TRUTH_COLUMNS)].first()
    return first.reindex(event_ids).to_numpy(dtype=float)


def locate_tables(
    picks: pd.DataFrame,
    sensors: pd.DataFrame,
    method: str,
    out: Path,
    *,
    velocity_m_s: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Locate every event of `picks` (P picks) and write `locations.csv` (+ `metrics.json`).

    Events with a true position are located by leave-one-out (the locator is fitted on the other
    known events) and scored; events without are located by a locator fitted on all known ones.
    """
    matrix = pick_matrix(picks[picks["phase"] == "P"], list(sensors["sensor"]), ["P"])
    times = matrix.time_s[:, :, 0]
    sensors_xyz = sensors[list(TRUTH_COLUMNS)].to_numpy(dtype=float)
    truth = truth_of(picks, matrix.event_ids)
    known = np.isfinite(truth).all(axis=1)
    if method in LEARNED and known.sum() < 3:
        raise InputError(
            f"method '{method}' learns from events of known position: the picks need x_m, y_m, "
            "z_m for at least 3 events",
            field="x_m",
        )
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
        store(known, leave_one_out(method, times[known], sensors_xyz, truth[known], seed=seed))
    if (~known).any():
        train_truth = truth[known] if known.any() else None
        store(
            ~known,
            fit_predict(
                method,
                times[known] if known.any() else times[~known],
                sensors_xyz,
                train_truth,
                times[~known],
                velocity_m_s=velocity_m_s,
                seed=seed,
            ),
        )
    table = pd.DataFrame(
        {
            "event_id": matrix.event_ids,
            "x_m": xyz[:, 0],
            "y_m": xyz[:, 1],
            "z_m": xyz[:, 2],
            "origin_time_s": origin,
            "residual_s": residual,
        }
    )
    metrics: dict[str, Any] = {"method": method, "n_events": len(table), "seed": seed}
    if known.sum() >= 3:
        error = np.linalg.norm(xyz[known] - truth[known], axis=1)
        table.loc[known, "error_m"] = error
        metrics.update(
            {
                "scoring": "leave-one-out over events with known position",
                "n_scored": int(known.sum()),
                "rmse_m": float(rmse(0.0, error, axis=None)),
                "rmse_axis_m": dict(
                    zip(TRUTH_COLUMNS, rmse(truth[known], xyz[known]).tolist(), strict=True)
                ),
                "median_error_m": float(np.median(error)),
            }
        )
    write_table(table, out / "locations.csv")
    write_json(metrics, out / "metrics.json")
    return metrics
