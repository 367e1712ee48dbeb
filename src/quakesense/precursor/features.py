"""Window features of an AE hit series, labels from a catalog, and train/val/test splits.

Features per window follow seed paper 000 (cumulative AE events, AE rate per hour, frequency,
amplitude, energy) plus the b-value (Aki-Utsu maximum likelihood above each window's
maximum-curvature completeness, amplitudes as m = dB/20, Shi-Bolt standard error, a minimum
count) and Shiotani's improved b-value Ib. Labels mark windows that end inside the precursor horizon
before a target event. Splits: the paper's random 60/20/20 (windows shuffled, leaky when
neighbouring windows share information) and two leakage-free ones, time-blocked and
leave-one-event-out, both purged so that no window's span [start, end + horizon) overlaps a
window of another part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.precursor.inputs import numeric_columns

SplitName = Literal["random", "time-blocked", "leave-one-event-out"]
SPLITS: tuple[SplitName, ...] = ("random", "time-blocked", "leave-one-event-out")
DEFAULT_FEATURES = [
    "rate_per_hour",
    "amplitude_db_mean",
    "amplitude_db_max",
    "frequency_hz_mean",
    "log10_energy_eu",
    "b_value",
    "ib_value",
]
B_FEATURES = ("mc_db", "b_value", "b_value_sigma", "ib_value")
"""Features that depend on the b-value settings of `WindowConfig` (completeness, bins, counts)."""


class WindowConfig(BaseModel):
    """How hits become windows, and how each window's b-value is estimated."""

    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(3600.0, gt=0)
    step_s: float = Field(3600.0, gt=0)
    min_hits_b: int = Field(
        15, ge=3, description="fewer hits at or above the window's completeness: b and Ib are NaN"
    )
    ib_alpha: tuple[float, float] = Field((1.0, 1.0), description="Ib's alpha1, alpha2")
    threshold_db: float | None = Field(
        None,
        description="completeness floor of b (dB_AE); default: maximum curvature of the record",
    )
    mc_method: Literal["fixed", "maxc"] = Field(
        "maxc",
        description="fixed: every window uses threshold_db; maxc: each window's maximum-"
        "curvature completeness, never below threshold_db",
    )
    count: Literal["hits", "events"] = Field(
        "hits", description="window what: hits, or AE events (hit coincidences across channels)"
    )
    coincidence_s: float = Field(1e-3, gt=0, description="AE event: hits within this of the first")
    origin_utc: str | None = Field(None, description="UTC time of time 0 (ISO 8601), if known")
    amplitude_bin_db: float | None = Field(
        None,
        ge=0,
        description="amplitude resolution for the Aki-Utsu correction (MISTRAS: 1 dB); "
        "default: 1 when every amplitude is a whole dB, else 0 (continuous)",
    )


def max_curvature_db(amplitude_db: np.ndarray, bin_db: float = 1.0) -> float:
    """Completeness by maximum curvature: lower edge of the most populated amplitude bin."""
    amp = np.asarray(amplitude_db, dtype=float)
    amp = amp[np.isfinite(amp)]
    if amp.size == 0:
        return np.nan
    low = np.floor(amp.min() / bin_db + 1e-9) * bin_db
    counts = np.bincount(np.floor((amp - low) / bin_db + 1e-9).astype(np.int64))
    return float(low + bin_db * int(np.argmax(counts)))


def resolve_threshold(hits: pd.DataFrame, config: WindowConfig) -> WindowConfig:
    """`config` with `threshold_db` and `amplitude_bin_db` fixed from `hits` where unset.

    The completeness floor defaults to the maximum curvature of the whole record (one stray
    low-amplitude hit cannot move it, unlike the minimum amplitude), and it must be one number
    for training and monitoring alike: a monitor that estimated it from its own buffer would
    compute other b-values than the training windows.
    """
    if config.threshold_db is not None and config.amplitude_bin_db is not None:
        return config
    amp_db = hits["amplitude_db"].to_numpy(dtype=float)
    amp_db = amp_db[np.isfinite(amp_db)]
    if amp_db.size == 0:
        raise InputError("no finite hit amplitude: cannot set threshold_db", field="amplitude_db")
    bin_db = config.amplitude_bin_db
    if bin_db is None:
        bin_db = 1.0 if np.allclose(amp_db, np.round(amp_db)) else 0.0
    threshold = config.threshold_db
    if threshold is None:
        threshold = max_curvature_db(amp_db, bin_db or 1.0)
    return config.model_copy(update={"threshold_db": threshold, "amplitude_bin_db": bin_db})


def completeness_note(hits: pd.DataFrame, config: WindowConfig) -> str | None:
    """A line for the console and report when hits lie below the completeness floor."""
    amp_db = hits["amplitude_db"].to_numpy(dtype=float)
    below = amp_db < (config.threshold_db or -np.inf) - 1e-9
    if not below.any():
        return None
    return (
        f"{int(below.sum())} of {amp_db.size} hits (lowest {np.nanmin(amp_db):.1f} dB) lie below "
        f"the b-value completeness {config.threshold_db:.1f} dB and are left out of b"
    )


def window_config_path(table: str | Path) -> Path:
    """Where the `WindowConfig` of a window table is kept: `<table>.window.json` beside it."""
    table = Path(table)
    return table.with_name(table.name + ".window.json")


def aki_b_value(magnitudes: np.ndarray, mc: float, delta_m: float = 0.0) -> float:
    """Aki-Utsu maximum-likelihood b-value of magnitudes at or above `mc`, binned at `delta_m`.

    b = log10(e) / (mean(m) - (mc - delta_m / 2)); delta_m = 0 is Aki's continuous form. The
    same estimator as seismostats' ClassicBValueEstimator (tests check both forms); written out
    so that it runs as one vectorised mean inside the window loop.
    """
    excess = np.asarray(magnitudes, dtype=float) - (mc - delta_m / 2.0)
    return float(np.log10(np.e) / excess.mean()) if excess.size and excess.mean() > 0 else np.nan


def shi_bolt_sigma(magnitudes: np.ndarray, b_value: float) -> float:
    """Shi & Bolt (1982) standard error of a maximum-likelihood b-value."""
    m = np.asarray(magnitudes, dtype=float)
    if m.size < 2 or not np.isfinite(b_value):
        return np.nan
    return float(2.3 * b_value**2 * np.sqrt(np.sum((m - m.mean()) ** 2) / (m.size * (m.size - 1))))


def improved_b_value(magnitudes: np.ndarray, alpha: tuple[float, float] = (1.0, 1.0)) -> float:
    """Shiotani's improved b-value: slope of log10 N between mu - a1 sigma and mu + a2 sigma."""
    m = np.asarray(magnitudes, dtype=float)
    sigma = m.std()
    if m.size < 3 or sigma <= 0:
        return np.nan
    mu = m.mean()
    lower = np.count_nonzero(m >= mu - alpha[0] * sigma)
    upper = np.count_nonzero(m >= mu + alpha[1] * sigma)
    if upper == 0:
        return np.nan
    return float((np.log10(lower) - np.log10(upper)) / ((alpha[0] + alpha[1]) * sigma))


def window_features(
    hits: pd.DataFrame,
    config: WindowConfig,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
) -> pd.DataFrame:
    """One row per window [start, start + window_s) with the features of its hits.

    Args:
        hits: `AE_HITS` table (sorted by time_s); `avg_frequency_hz` is used when present,
            else counts / duration.
        config: Window length, step, b-value settings.
        start_s: Time of the first window start (default: floor of the first hit to the step).
        end_s: Windows must end at or before this (default: last hit time).
    """
    times = hits["time_s"].to_numpy(dtype=float)
    if times.size == 0 and (start_s is None or end_s is None):
        raise InputError("no hits: cannot form windows", field="time_s")
    first = np.floor(times[0] / config.step_s) * config.step_s if start_s is None else start_s
    last = times[-1] if end_s is None else end_s
    starts = np.arange(first, last - config.window_s + 1e-9, config.step_s)
    if starts.size == 0:
        raise InputError(
            f"record of {last - first:g} s is shorter than one window ({config.window_s:g} s)",
            field="window_s",
        )
    ends = starts + config.window_s
    lo = np.searchsorted(times, starts, "left")
    hi = np.searchsorted(times, ends, "left")
    amp_db = hits["amplitude_db"].to_numpy(dtype=float)
    if "avg_frequency_hz" in hits.columns:
        freq = hits["avg_frequency_hz"].to_numpy(dtype=float)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            freq = (hits["counts"] / hits["duration_s"]).to_numpy(dtype=float)
    energy = hits["energy_eu"].to_numpy(dtype=float)

    def window_sum(values: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate(([0.0], np.cumsum(np.nan_to_num(values))))
        return cumulative[hi] - cumulative[lo]

    n = (hi - lo).astype(float)
    n_freq = window_sum(np.isfinite(freq).astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = pd.DataFrame(
            {
                "start_s": starts,
                "end_s": ends,
                "n_hits": n,
                "cumulative_hits": hi.astype(float),
                "rate_per_hour": n * 3600.0 / config.window_s,
                "amplitude_db_mean": window_sum(amp_db) / n,
                "frequency_hz_mean": window_sum(freq) / n_freq,
                "log10_energy_eu": np.log10(window_sum(energy) + 1.0),
            }
        )
    config = resolve_threshold(hits, config)
    floor_db = float(config.threshold_db)  # type: ignore[arg-type]
    bin_db = float(config.amplitude_bin_db)  # type: ignore[arg-type]
    amp_max, mc_db, b_values, b_sigma, ib_values = (np.full(starts.size, np.nan) for _ in range(5))
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b == a:
            continue
        window_db = amp_db[a:b]
        amp_max[i] = window_db.max()
        mc_db[i] = floor_db
        if config.mc_method == "maxc":
            mc_db[i] = max(floor_db, max_curvature_db(window_db, bin_db or 1.0))
        complete = window_db[window_db >= mc_db[i] - 1e-9] / 20.0
        if complete.size >= config.min_hits_b:
            b_values[i] = aki_b_value(complete, mc_db[i] / 20.0, bin_db / 20.0)
            b_sigma[i] = shi_bolt_sigma(complete, b_values[i])
        if b - a >= config.min_hits_b:
            ib_values[i] = improved_b_value(window_db / 20.0, config.ib_alpha)
    frame["amplitude_db_max"] = amp_max
    frame["mc_db"] = mc_db
    frame["b_value"] = b_values
    frame["b_value_sigma"] = b_sigma
    frame["ib_value"] = ib_values
    return frame


def target_events(
    event_times_s: np.ndarray,
    magnitudes: np.ndarray | None,
    distances_km: np.ndarray | None,
    *,
    min_magnitude: float | None,
    max_distance_km: float | None,
    source: str | None = None,
) -> np.ndarray:
    """Times of the catalog events that count as targets (sorted); none is an InputError."""
    keep = np.ones(event_times_s.size, dtype=bool)
    if min_magnitude is not None:
        if magnitudes is None:
            raise InputError(
                "a minimum magnitude is set but the event list has no magnitude column "
                "(looked for magnitude, mag, m): add one or drop --min-magnitude",
                source=source,
                field="magnitude",
            )
        keep &= magnitudes >= min_magnitude
    if max_distance_km is not None:
        if distances_km is None:
            raise InputError(
                "a maximum distance is set but event distances are unknown: give the station "
                "position (--station-lat/--station-lon) and event latitude/longitude columns",
                source=source,
                field="latitude",
            )
        keep &= distances_km <= max_distance_km
    if not keep.any():
        raise InputError(
            f"no target event (magnitude >= {min_magnitude}, distance <= {max_distance_km} km) "
            f"among {event_times_s.size} catalog events",
            source=source,
            field="magnitude",
        )
    return np.sort(event_times_s[keep])


def label_windows(windows: pd.DataFrame, targets_s: np.ndarray, horizon_s: float) -> np.ndarray:
    """1 for windows ending within `horizon_s` before (or at) a target event, else 0."""
    ends = windows["end_s"].to_numpy(dtype=float)
    nxt = np.searchsorted(targets_s, ends, "left")
    following = np.where(
        nxt < targets_s.size, targets_s[np.minimum(nxt, targets_s.size - 1)], np.inf
    )
    return ((following - ends) < horizon_s).astype(np.int64)


@dataclass
class Fold:
    """Row indices of one train/validation/test division."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _spans(windows: pd.DataFrame, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    return (
        windows["start_s"].to_numpy(dtype=float),
        windows["end_s"].to_numpy(dtype=float) + horizon_s,
    )


def overlaps(
    lo: np.ndarray, hi: np.ndarray, other_lo: np.ndarray, other_hi: np.ndarray
) -> np.ndarray:
    """For each half-open span [lo, hi), whether it overlaps any span of the other set."""
    if other_lo.size == 0:
        return np.zeros(lo.size, dtype=bool)
    order = np.argsort(other_lo)
    o_lo, o_hi = other_lo[order], np.maximum.accumulate(other_hi[order])
    # the other span starting last before `hi` reaches furthest among those that could overlap
    k = np.searchsorted(o_lo, hi, "left") - 1
    return (k >= 0) & (o_hi[np.maximum(k, 0)] > lo)


def purge(windows: pd.DataFrame, fold: Fold, horizon_s: float) -> Fold:
    """Drop train/val windows whose span overlaps a test span, and train ones overlapping val."""
    lo, hi = _spans(windows, horizon_s)
    test, val = fold.test, fold.val
    val = val[~overlaps(lo[val], hi[val], lo[test], hi[test])]
    train = fold.train[~overlaps(lo[fold.train], hi[fold.train], lo[test], hi[test])]
    train = train[~overlaps(lo[train], hi[train], lo[val], hi[val])]
    return Fold(fold.name, train, val, test)


def event_blocks(windows: pd.DataFrame, targets_s: np.ndarray) -> np.ndarray:
    """Block number of each window: windows are cut at midpoints between target events."""
    cuts = 0.5 * (targets_s[1:] + targets_s[:-1])
    return np.searchsorted(cuts, windows["end_s"].to_numpy(dtype=float), "right")


def validated(windows: pd.DataFrame, fold: Fold, horizon_s: float) -> Fold:
    """`fold` purged; an InputError when purging leaves no training or no validation window."""
    fold = purge(windows, fold, horizon_s)
    for part in ("train", "val", "test"):
        if getattr(fold, part).size == 0:
            raise InputError(
                f"fold '{fold.name}' has no {part} windows left after purging windows within "
                f"the horizon ({horizon_s:g} s) of another part; use a shorter horizon, a longer "
                "record or another split",
                field="horizon_s",
            )
    return fold


def block_fold(
    windows: pd.DataFrame, block: np.ndarray, test_block: int, horizon_s: float, name: str
) -> Fold:
    """Test on one block; validate on the other blocks nearest in time (the earlier one first),
    taking as many as it needs to keep validation windows after purging; train on the rest."""
    index = np.arange(len(windows))
    others = sorted(
        (b for b in np.unique(block).tolist() if b != test_block),
        key=lambda b: (abs(b - test_block), b > test_block),
    )
    test = index[block == test_block]
    if test.size == 0:
        raise InputError(
            f"fold '{name}': no window ends in the block of this target event (events closer "
            "than the window step); merge close events or use shorter windows",
            field="time",
        )
    for n_val in range(1, len(others)):
        val_blocks = others[:n_val]
        fold = purge(
            windows,
            Fold(
                name,
                index[~np.isin(block, [test_block, *val_blocks])],
                index[np.isin(block, val_blocks)],
                test,
            ),
            horizon_s,
        )
        if fold.val.size and fold.train.size:
            return fold
    return validated(windows, Fold(name, index[:0], index[:0], test), horizon_s)


def make_folds(
    windows: pd.DataFrame,
    targets_s: np.ndarray,
    horizon_s: float,
    split: SplitName,
    *,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> list[Fold]:
    """Folds of one split kind.

    - random: one fold, windows shuffled 60/20/20 (the paper's split; leaky).
    - time-blocked: one fold; with 3+ target events the test block holds the last event (cut
      at midpoints between events) and validation the block(s) before it, otherwise the time
      quantiles of `fractions`; purged.
    - leave-one-event-out: one fold per target event; its block is the test set, the nearest
      other block(s) in time the validation set (as many as purging needs); purged.

    Every fold has training, validation and test windows, or an InputError says which does not.
    """
    n = len(windows)
    if n < 10:
        raise InputError(f"only {n} windows: too few to split", field="windows")
    index = np.arange(n)
    if split == "random":
        order = np.random.default_rng(seed).permutation(n)
        a = round(fractions[0] * n)
        b = a + round(fractions[1] * n)
        return [Fold("random", np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:]))]
    if split == "time-blocked":
        if targets_s.size >= 3:
            block = event_blocks(windows, targets_s)
            return [block_fold(windows, block, targets_s.size - 1, horizon_s, "time-blocked")]
        ends = windows["end_s"].to_numpy(dtype=float)
        q1, q2 = np.quantile(ends, [fractions[0], fractions[0] + fractions[1]])
        part = np.where(ends > q2, 2, np.where(ends > q1, 1, 0))
        fold = Fold("time-blocked", index[part == 0], index[part == 1], index[part == 2])
        return [validated(windows, fold, horizon_s)]
    if split == "leave-one-event-out":
        if targets_s.size < 2:
            raise InputError("leave-one-event-out needs at least 2 target events", field="split")
        block = event_blocks(windows, targets_s)
        return [
            block_fold(windows, block, k, horizon_s, f"event-{k}") for k in range(targets_s.size)
        ]
    raise InputError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})", field="split")


def feature_matrix(
    windows: pd.DataFrame, names: list[str], source: str | None = None
) -> np.ndarray:
    """The model inputs: the named columns as floats (NaN allowed, imputed after normalisation;
    text is an error naming row and column)."""
    missing = [name for name in names if name not in windows.columns]
    if missing:
        raise InputError(
            f"feature column(s) {missing} absent (have: {', '.join(map(str, windows.columns))})",
            source=source,
            field=missing[0],
        )
    values = numeric_columns(windows, names, source).to_numpy(dtype=float)
    if np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise InputError("value is infinite", source=source, field=names[col], row=int(row))
    return values
