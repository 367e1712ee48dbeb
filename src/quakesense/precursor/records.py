"""Raw AE records into the tables `precursor features` windows: hits, AE events, signal windows.

- `load_hits`: hit tables (CSV/Parquet, Vallen `.pridb`, MISTRAS `.DTA`), hits extracted from
  Vallen `.tradb` transients, or hits extracted from a continuous waveform (`hits.extract_hits`).
- `hit_events`: the paper's "AE event": hits of several channels within a coincidence time of
  the first hit form one event (first-hit channel, event amplitude = largest hit amplitude).
- `record_features`: the lab-quake route: statistics of a continuous acoustic record in short
  windows (variance, kurtosis, quantiles, band powers, counts above thresholds), computed for a
  block of windows at a time as one array operation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.precursor.hits import HitConfig, extract_hits, hits_from_transients

WAVEFORM_SUFFIXES = {".mseed", ".miniseed", ".sac", ".npy"}
"""Continuous-waveform files read by suffix (plus CSV/Parquet with `--column`)."""


def read_record(path: str | Path, column: str | None = None) -> np.ndarray:
    """One continuous channel: `.npy`, miniSEED/SAC (ObsPy, first trace) or a table column."""
    from quakesense.core.store import read_table

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values = np.load(path, allow_pickle=False)
    elif suffix in {".mseed", ".miniseed", ".sac"}:
        from obspy import read

        try:
            values = read(str(path))[0].data
        except Exception as exc:  # ObsPy raises format-specific types; report them uniformly
            raise InputError(
                f"cannot read waveform ({type(exc).__name__}: {exc})", source=path
            ) from exc
    else:
        table = read_table(path)
        name = column or str(table.columns[0])
        if name not in table.columns:
            raise InputError(
                f"no column '{name}' (have: {', '.join(map(str, table.columns))})",
                source=path,
                field="--column",
            )
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
    values = np.asarray(values, dtype=float).ravel()
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError("sample is not a finite number", source=path, row=int(bad[0]))
    if values.size == 0:
        raise InputError("record has no samples", source=path)
    return values


def load_hits(
    path: str | Path,
    *,
    repair: bool = False,
    samplerate_hz: float | None = None,
    column: str | None = None,
    hit_config: HitConfig | None = None,
) -> pd.DataFrame:
    """Hits of any supported file: hit tables as they are; `.tradb` transients and continuous
    waveforms (`samplerate_hz` given) through hit extraction. Lines a user should see (records
    skipped) are in `attrs["notes"]`."""
    from quakesense.io.ae import read_hits, read_tradb

    suffix = Path(path).suffix.lower()
    if suffix == ".tradb":
        hits = hits_from_transients(read_tradb(path), hit_config)
        skipped = hits.attrs["skipped_trai"]
        hits = hits.sort_values(["time_s", "channel"], kind="stable").reset_index(drop=True)
        hits.attrs["notes"] = (
            [
                f"{len(skipped)} transient records without a threshold crossing at or after the "
                f"trigger were skipped (TRAI {skipped[:5]}{' ...' if len(skipped) > 5 else ''})"
            ]
            if skipped
            else []
        )
        return hits
    if samplerate_hz is None:
        if suffix in WAVEFORM_SUFFIXES:
            raise InputError(
                "a continuous waveform needs its sampling rate",
                source=path,
                field="--samplerate-hz",
            )
        return read_hits(path, repair=repair)
    signal = read_record(path, column)
    extracted = extract_hits(signal, samplerate_hz, hit_config or HitConfig())
    if extracted.empty:
        raise InputError("no sample exceeds the hit threshold", source=path, field="--threshold-v")
    extracted.insert(0, "time_s", extracted["start_sample"] / samplerate_hz)
    extracted.insert(1, "channel", 1)
    return extracted


def hit_events(hits: pd.DataFrame, coincidence_s: float) -> pd.DataFrame:
    """Group hits into AE events: every hit within `coincidence_s` of an event's first hit.

    Returns:
        One row per event: time_s (first hit), first_channel, n_hits, n_channels, amplitude_db
        (largest), energy_eu (sum), counts (sum), duration_s (longest), avg_frequency_hz (mean
        of the hits that have one).
    """
    if coincidence_s <= 0:
        raise InputError("coincidence time must be positive", field="--coincidence-s")
    times = hits["time_s"].to_numpy(dtype=float)
    starts = []
    i = 0
    while i < times.size:
        starts.append(i)
        i = int(np.searchsorted(times, times[i] + coincidence_s, "right"))
    first = np.asarray(starts, dtype=np.int64)
    group = np.repeat(np.arange(first.size), np.diff(np.append(first, times.size)))
    frame = hits.assign(event=group)
    grouped = frame.groupby("event", sort=True)
    events = pd.DataFrame(
        {
            "time_s": times[first],
            "first_channel": hits["channel"].to_numpy()[first],
            "n_hits": grouped.size().to_numpy(),
            "n_channels": grouped["channel"].nunique().to_numpy(),
            "amplitude_db": grouped["amplitude_db"].max().to_numpy(),
        }
    )
    for name, how in (("energy_eu", "sum"), ("counts", "sum"), ("duration_s", "max")):
        if name in hits.columns:
            events[name] = grouped[name].agg(how).to_numpy()
    if "avg_frequency_hz" in hits.columns:
        events["avg_frequency_hz"] = grouped["avg_frequency_hz"].mean().to_numpy()
    elif {"counts", "duration_s"} <= set(hits.columns):
        with np.errstate(divide="ignore", invalid="ignore"):
            events["avg_frequency_hz"] = events["counts"] / events["duration_s"]
    return events


class RecordConfig(BaseModel):
    """Windows of a continuous record (the lab-quake route)."""

    model_config = ConfigDict(extra="forbid")

    samplerate_hz: float = Field(4e6, gt=0)
    window_s: float = Field(0.01, gt=0)
    step_s: float = Field(0.005, gt=0)
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    threshold_sigmas: tuple[float, ...] = Field(
        (2.0, 3.0, 5.0, 8.0),
        description="count samples above k x the record's robust standard deviation",
    )
    band_edges_hz: tuple[float, ...] = Field(
        (0.0, 25e3, 50e3, 100e3, 200e3, 400e3, 2e6), description="band-power band edges"
    )
    windows_per_block: int = Field(64, ge=1, description="memory bound of the vectorised pass")


def record_features(signal: np.ndarray, config: RecordConfig) -> pd.DataFrame:
    """Statistics of each window [start, start + window_s) of a continuous record.

    Columns: start_s, end_s, mean, variance, skewness, kurtosis (excess), abs_max, q<p>
    quantiles, iqr, count_above_<k>sigma (|x - median| > k x robust sigma of the whole record),
    log10 band powers (Hann-windowed FFT) between successive `band_edges_hz`.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(signal, dtype=float)
    width = round(config.window_s * config.samplerate_hz)
    hop = max(1, round(config.step_s * config.samplerate_hz))
    if width < 4 or width > x.size:
        raise InputError(
            f"window of {width} samples does not fit a record of {x.size} samples",
            field="window_s",
        )
    views = sliding_window_view(x, width)[::hop]
    centre = float(np.median(x))
    sigma = 1.4826 * float(np.median(np.abs(x - centre))) or float(np.std(x)) or 1.0
    freqs = np.fft.rfftfreq(width, 1.0 / config.samplerate_hz)
    edges = np.asarray(config.band_edges_hz, dtype=float)
    band = np.searchsorted(edges, freqs, "right") - 1
    taper = np.hanning(width)
    parts = []
    for lo in range(0, views.shape[0], config.windows_per_block):
        block = views[lo : lo + config.windows_per_block]
        mean = block.mean(axis=1)
        dev = block - mean[:, None]
        var = (dev**2).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            skew = (dev**3).mean(axis=1) / var**1.5
            kurt = (dev**4).mean(axis=1) / var**2 - 3.0
        columns: dict[str, np.ndarray] = {
            "mean": mean,
            "variance": var,
            "skewness": skew,
            "kurtosis": kurt,
            "abs_max": np.abs(block).max(axis=1),
        }
        q = np.quantile(block, config.quantiles, axis=1)
        for p, values in zip(config.quantiles, q, strict=True):
            columns[f"q{p * 100:g}"] = values
        columns["iqr"] = np.quantile(block, 0.75, axis=1) - np.quantile(block, 0.25, axis=1)
        distance = np.abs(block - centre)
        for k in config.threshold_sigmas:
            columns[f"count_above_{k:g}sigma"] = (distance > k * sigma).sum(axis=1).astype(float)
        power = np.abs(np.fft.rfft(dev * taper, axis=1)) ** 2
        for b in range(edges.size - 1):
            inside = band == b
            if inside.any():
                columns[f"log10_power_{edges[b] / 1e3:g}_{edges[b + 1] / 1e3:g}khz"] = np.log10(
                    power[:, inside].sum(axis=1) + 1e-30
                )
        parts.append(pd.DataFrame(columns))
    frame = pd.concat(parts, ignore_index=True)
    starts = np.arange(len(frame)) * hop / config.samplerate_hz
    frame.insert(0, "start_s", starts)
    frame.insert(1, "end_s", starts + width / config.samplerate_hz)
    return frame


def failure_times(time_to_failure_s: np.ndarray, samplerate_hz: float) -> np.ndarray:
    """Times (s since the first sample) of the failures in a `time_to_failure` column (LANL
    layout): where the countdown jumps up, the failure came `ttf` after the last sample before."""
    ttf = np.asarray(time_to_failure_s, dtype=float)
    jumps = np.flatnonzero(np.diff(ttf) > 0)
    return jumps / samplerate_hz + ttf[jumps]
