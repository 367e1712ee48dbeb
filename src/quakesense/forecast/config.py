"""Settings of the forecast verbs: the single place where their defaults live.

The CLI passes only the options a user gave (`core.config.resolve_config`), so a value in a
`--config` file is never overridden by a CLI default, and `config.json` of a run reads back
unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from quakesense.core.errors import InputError

BASELINES = ("uniform", "historical", "logistic", "lightgbm_indicator", "lightgbm_rtl", "etas")
NETWORKS = ("convlstm", "cnn", "convlstm_hybrid")
ALL_MODELS = BASELINES + NETWORKS
ModelName = Literal[
    "uniform",
    "historical",
    "logistic",
    "lightgbm_indicator",
    "lightgbm_rtl",
    "etas",
    "convlstm",
    "cnn",
    "convlstm_hybrid",
]
NetworkName = Literal["convlstm", "cnn", "convlstm_hybrid"]


class ForecastConfig(BaseModel):
    """Every setting of `forecast grid|train|evaluate` (saved as the run's config.json)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    catalog: Path | None = Field(None, description="catalog file (CSV or QuakeML)")
    columns: str | None = Field(None, description="column mapping key=column,...")
    region: str | None = Field(None, description="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or polygon file")
    sort: bool = Field(False, description="sort an unsorted catalog (reported) instead of failing")
    min_magnitude: float = Field(
        5.0,
        validation_alias=AliasChoices("min_magnitude", "mc"),
        description="target magnitude threshold: forecast P(M >= this) (formerly `mc`)",
    )
    horizon: str = Field("10d:50d", description="target window after T, e.g. 10d:50d")
    split_dates: str | None = Field(None, description="TRAIN_END,VALID_END (default 70 %/85 %)")
    paper_split: bool = Field(False, description="also score the paper's last-1000-days split")
    start: str | None = Field(None, description="first day of the grid (default: first event)")
    end: str | None = Field(None, description="last day of the grid (default: last event)")
    cell_km: float = Field(10.0, gt=0, description="cell size, km")
    step_days: int | None = Field(
        None,
        ge=1,
        description="days per network step; default 1 (daily, as in the paper) unless one "
        "epoch would exceed max_cell_steps, then the smallest number of days that fits",
    )
    max_cell_steps: float = Field(
        1e7, gt=0, description="cells x steps of one training epoch that picks step_days"
    )
    history_days: int = Field(365, ge=0, description="history before the first training T")
    train_stride_days: int = Field(10, ge=1, description="days between training rows")
    eval_stride_days: int = Field(10, ge=1, description="days between scored forecasts")
    models: list[ModelName] = Field(
        default_factory=lambda: list(ALL_MODELS), description="models to fit and score"
    )
    method: NetworkName = Field(
        "convlstm", description="network of `forecast train` (convlstm | cnn | convlstm_hybrid)"
    )
    epochs: int = Field(5, ge=1, description="network training epochs (passes over the sequence)")
    batch_size: int = Field(1, ge=1, description="independent sequence streams per batch")
    learning_rate: float = Field(1e-3, gt=0)
    window_steps: int = Field(50, ge=1, description="TBPTT window: steps per backward pass")
    warm_steps: int = Field(50, ge=0, description="steps run without gradient before a stream")
    minority_weight: float = Field(1000.0, gt=0, description="loss weight of positive cells")
    weight_sweep: list[float] | None = Field(None, description="minority weights tried on valid")
    prior_scale: float = Field(
        1.0, ge=0, description="weight c of the prior logit (0: the ablation without the prior)"
    )
    prior_scale_sweep: list[float] | None = Field(
        None, description="prior weights c tried, the best on validation PR AUC kept"
    )
    patience: int | None = Field(3, ge=1, description="early-stopping patience, epochs")
    device: Literal["cpu", "cuda", "auto"] = "auto"
    threads: int = Field(1, ge=1, description="torch CPU threads (1 is fastest on a busy machine)")
    devices: int = Field(
        1,
        ge=1,
        description="processes (CPU) or GPUs that train each network together (Lightning Fabric, "
        "DDP); they share the batch_size streams, so batch_size >= devices",
    )
    strategy: Literal["auto", "ddp_spawn"] = Field(
        "auto",
        description="Fabric strategy for devices > 1 (auto: ddp_spawn); ddp and fsdp are not "
        "offered: they relaunch the whole command in every process",
    )
    max_tabular_rows: int = Field(200_000, ge=1000, description="row budget of tabular models")
    etas_mc: float | None = Field(None, description="ETAS fit threshold (default: estimated Mc)")
    etas_max_events: int = Field(
        20_000,
        ge=100,
        description="most training events in the ETAS fit: without --etas-mc the threshold is "
        "raised in 0.1 steps above the completeness until this holds (bounds the fit's memory, "
        "which grows with events x neighbours)",
    )
    etas_max_iter: int = Field(50, ge=1)
    etas_max_lag_days: float = Field(
        3650.0,
        gt=0,
        description="ETAS neighbour cut-off in time: older parents trigger neither in the fit "
        "nor in the forecasts (chosen on validation against 365 d: "
        "docs/pipelines/forecast_etas.md)",
    )
    etas_max_dist_km: float = Field(
        300.0,
        gt=0,
        description="ETAS neighbour cut-off in space: the fit, the forecast's kernel blocks and "
        "the simulated continuations truncate the spatial kernel here",
    )
    etas_cascade: bool = Field(
        True,
        description="ETAS forecast counts every generation of aftershocks (the field's ETAS); "
        "False gives the first-order forecast (background + direct aftershocks of past events)",
    )
    etas_n_sim: int = Field(
        1000,
        ge=0,
        description="continuations per forecast time behind the cascade ETAS's probability of "
        ">= 1 event per cell (later generations cluster, so 1 - exp(-expected count) overstates "
        "it); 0 uses 1 - exp(-expected count); otherwise at least 2",
    )
    n_bootstrap: int = Field(300, ge=10)
    seed: int = 0
    progress: bool = True
    grid: Path | None = Field(None, description="reuse this grid store instead of gridding")

    @field_validator("etas_n_sim")
    @classmethod
    def _n_sim_zero_or_several(cls, value: int) -> int:
        if value == 1:
            raise ValueError("etas_n_sim must be 0 (no simulation) or at least 2")
        return value


class PredictConfig(BaseModel):
    """Settings of `forecast predict` (saved as its config.json)."""

    model_config = ConfigDict(extra="forbid")

    model: Path | None = Field(None, description="model folder, or the run folder holding it")
    catalog: Path | None = Field(None, description="catalog file (CSV or QuakeML)")
    date: str | None = Field(None, description="forecast time T (UTC date); events before T")
    columns: str | None = Field(None, description="column mapping key=column,...")
    sort: bool = Field(False, description="sort an unsorted catalog (reported) instead of failing")
    max_gap_days: int = Field(
        365, ge=0, description="refuse a date more than this many days after the last event"
    )
    device: Literal["cpu", "cuda", "auto"] = "auto"
    progress: bool = Field(True, description="a progress bar over the network's steps (stderr)")


def parse_horizon(text: str) -> tuple[int, int]:
    """`10d:50d` -> (10, 50) whole days; the window must be non-empty."""
    from quakesense.core.units import parse_duration_s

    match = re.fullmatch(r"\s*([^:]+):([^:]+)\s*", text or "")
    if not match:
        raise InputError(f"'{text}' is not START:END, e.g. 10d:50d", field="--horizon")
    lo, hi = (parse_duration_s(v, field="--horizon") / 86_400 for v in match.groups())
    if lo != int(lo) or hi != int(hi) or not 0 <= lo < hi:
        raise InputError(f"'{text}' must be whole days with START < END", field="--horizon")
    return int(lo), int(hi)
