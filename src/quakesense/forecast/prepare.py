"""From a catalog to a gridded, split and masked forecasting problem (the first stage of a run).

Reads the catalog, grids it into Zarr (streamed by chunks of days, never as a dense array in
memory), makes the purged chronological split, the cell masks and the completeness estimate.
Every warning goes to the run's report and metrics and is logged on the console at once.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.forecast.config import NETWORKS, ForecastConfig, parse_horizon
from quakesense.forecast.grid import (
    GriddedEvents,
    GridSpec,
    grid_events,
    open_grid,
    target_maps,
    write_grid,
)
from quakesense.forecast.protocol import Split, chronological_split
from quakesense.io.catalog import CatalogReport, Region, read_catalog

LOG = logging.getLogger("quakesense.forecast")


@dataclass
class Prepared:
    """A gridded catalog with its split, masks, network step and the estimated completeness."""

    config: ForecastConfig
    report: CatalogReport
    region: Region
    spec: GridSpec
    events: GriddedEvents
    group: Any
    horizon: tuple[int, int]
    split: Split
    masks: dict[str, np.ndarray]
    completeness: dict[str, Any]
    step_days: int
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        """Record a warning for the report and show it on the console now."""
        self.warnings.append(text)
        LOG.warning(text)

    def labels(self, days: np.ndarray) -> np.ndarray:
        """Binary targets (n, ny, nx) of forecast days `days`."""
        return target_maps(
            self.events, self.spec.shape, days, self.horizon, self.config.min_magnitude
        )


def estimate_completeness(magnitude: np.ndarray, mc: float) -> tuple[dict[str, Any], list[str]]:
    """Mc (maximum curvature, seismostats) and b-value (Aki-Utsu-type, seismostats) of training
    magnitudes; a warning when the estimated Mc lies above the target magnitude `mc`."""
    from seismostats.analysis import estimate_b, estimate_mc_maxc

    notes: list[str] = []
    if magnitude.size < 50:
        return {"mc_maxc": None, "b_value": None, "n_events": int(magnitude.size)}, [
            f"only {magnitude.size} training events: Mc and b-value not estimated"
        ]
    # Bin width: 0.1 when nearly all magnitudes sit on the 0.1 grid (a few finer values are
    # common in merged catalogs), else 0.01.
    on_tenths = np.mean(np.isclose(magnitude * 10, np.round(magnitude * 10), atol=1e-6))
    delta_m = 0.1 if on_tenths >= 0.9 else 0.01
    binned = np.round(magnitude / delta_m) * delta_m
    mc_est, _ = estimate_mc_maxc(binned, fmd_bin=delta_m)
    mc_est = float(np.round(mc_est, 3))
    above = binned[binned >= mc_est - delta_m / 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b_value = float(estimate_b(above, mc=mc_est, delta_m=delta_m))
    if mc_est > mc:
        notes.append(
            f"estimated completeness Mc {mc_est:.2f} (training data, maximum curvature) is above "
            f"the target --min-magnitude {mc:.2f}: targets are incomplete and every score is "
            "affected"
        )
    return {
        "mc_maxc": mc_est,
        "b_value": b_value,
        "delta_m": delta_m,
        "n_events": int(magnitude.size),
        "method": "seismostats estimate_mc_maxc (+0.2) and estimate_b (classic, Aki-Utsu)",
    }, notes


def load_catalog(
    config: ForecastConfig, catalog: pd.DataFrame | None
) -> tuple[pd.DataFrame, CatalogReport, Region]:
    """Read `config.catalog` (or take an in-memory canonical catalog) and its region."""
    region = Region.parse(config.region) if config.region else None
    if catalog is None:
        if config.catalog is None:
            raise InputError("no catalog given", field="--catalog")
        catalog, report = read_catalog(
            config.catalog, columns=config.columns, region=region, sort=config.sort
        )
    else:
        report = CatalogReport(source="<in-memory>", n_read=len(catalog), n_kept=len(catalog))
    if region is None:
        lat, lon = catalog["latitude_deg"], catalog["longitude_deg"]
        region = Region.from_bbox(lat.min(), lat.max() + 1e-6, lon.min(), lon.max() + 1e-6)
    return catalog, report, region


def grid_spec(config: ForecastConfig, catalog: pd.DataFrame, region: Region) -> GridSpec:
    """The space-time grid of the run: the region's box, `--start`..`--end` or the catalog's."""
    start = _date(config.start, "--start") if config.start else catalog["time"].iloc[0]
    end = _date(config.end, "--end") if config.end else catalog["time"].iloc[-1]
    return GridSpec.from_region(region, config.cell_km, start, end + pd.Timedelta(days=1))


def _date(text: str, flag: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise InputError(f"'{text}' is not a date (YYYY-MM-DD expected)", field=flag) from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def prepare(config: ForecastConfig, out: Path, catalog: pd.DataFrame | None = None) -> Prepared:
    """Read, grid (Zarr at `out/grid.zarr` unless `config.grid`), split and mask.

    Args:
        config: Run settings.
        out: Working run folder.
        catalog: An already canonical catalog (the demo); otherwise `config.catalog` is read.
    """
    catalog, report, region = load_catalog(config, catalog)
    horizon = parse_horizon(config.horizon)
    spec = grid_spec(config, catalog, region)
    events, dropped = grid_events(catalog, spec)
    del catalog
    notes = list(report.warnings)
    if dropped["outside_grid"] or dropped["outside_time"]:
        notes.append(
            f"{dropped['outside_grid']} events outside the grid's box and "
            f"{dropped['outside_time']} outside --start/--end were not gridded"
        )
    if config.grid is not None:
        group, stored = open_grid(config.grid)
        if stored.to_dict() != spec.to_dict():
            raise InputError("grid store was made with other settings", source=config.grid)
    else:
        group, _ = open_grid(write_grid(events, spec, out / "grid.zarr", progress=config.progress))
    split = make_split(config, spec, horizon)
    in_region = spec.region_mask(region)
    train = events.window(0, split.train_end_day)
    active = np.zeros(spec.shape, dtype=bool)
    active[train.iy, train.ix] = True
    masks = {"active": active & in_region, "all": in_region}
    if not masks["active"].any():
        raise InputError(
            "no event in the training period: empty training set", field="--split-dates"
        )
    completeness, more = estimate_completeness(train.magnitude, config.min_magnitude)
    notes += more
    if np.sum(train.magnitude >= config.min_magnitude) == 0:
        raise InputError(
            f"no M >= {config.min_magnitude} event in the training period; lower it",
            field="--min-magnitude",
        )
    step_days, step_note = network_step_days(config, split, int(in_region.sum()))
    if step_note and set(config.models) & set(NETWORKS):
        notes.append(step_note)
    prep = Prepared(
        config,
        report,
        region,
        spec,
        events,
        group,
        horizon,
        split,
        masks,
        completeness,
        step_days,
    )
    for note in notes:
        prep.warn(note)
    return prep


def network_step_days(config: ForecastConfig, split: Split, n_cells: int) -> tuple[int, str]:
    """Days per network step: `config.step_days`, or the smallest k >= 1 whose training epoch
    (cells x training steps) stays within `config.max_cell_steps`; with a note when k > 1."""
    if config.step_days is not None:
        return config.step_days, ""
    n_days = max(split.train_end_day - config.history_days, 1)
    k = max(1, int(np.ceil(n_cells * n_days / config.max_cell_steps)))
    if k == 1:
        return 1, ""
    return k, (
        f"network step {k} days (not daily): {n_cells} cells x {n_days} training days exceed "
        f"the epoch budget of {config.max_cell_steps:.3g} cell-steps; give --step-days 1 for "
        "the paper's daily steps (about 8 microseconds per cell-step per epoch on one core)"
    )


def make_split(config: ForecastConfig, spec: GridSpec, horizon: tuple[int, int]) -> Split:
    """The purged chronological split of `--split-dates` (default: 70 % / 85 % of the span)."""
    kwargs = {
        "history_days": config.history_days,
        "train_stride_days": config.train_stride_days,
        "eval_stride_days": config.eval_stride_days,
    }
    if config.split_dates:
        parts = [p.strip() for p in config.split_dates.split(",")]
        if len(parts) != 2:
            raise InputError("expected TRAIN_END,VALID_END", field="--split-dates")
        dates = [_date(p, "--split-dates") for p in parts]
    else:
        dates = [spec.date(int(spec.n_days * f)) for f in (0.7, 0.85)]
    return chronological_split(spec, dates[0], dates[1], horizon, **kwargs)
