"""Hit extraction from continuous or transient AE waveforms, vectorised with NumPy.

A hit starts at the first sample whose absolute value exceeds the threshold and ends at the last
such sample before a gap longer than the hit definition time (HDT). After a hit ends the channel
is blind for the hit lockout time (HLT, counted from the end of the HDT). The peak is the largest
absolute sample found before a gap longer than the peak definition time (PDT) between two
successive new maxima. Features follow Vallen's definitions (vallenae.features): duration and
rise time from the first threshold crossing, energy = sum(x^2)/fs in eu (1 eu = 1e-14 V^2 s),
counts = positive-going threshold crossings.

vallenae computes these features one hit at a time in Python; here they are computed for all hits
of a long record at once (crossing indices, group reductions), which is what the monitor and the
benchmark need. `reference_hits` is a plain-Python, sample-by-sample implementation of the same
definition, used as the oracle in tests and the baseline in `benchmarks/bench_hits.py`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError

ENERGY_UNIT_V2S = 1e-14
"""Vallen energy unit: 1 eu = 1e-14 V^2 s."""
_THRESHOLD_RTOL = 1e-6
"""A sample must exceed the threshold by this relative margin: ADC values stored as floats that
sit on the threshold (up to rounding) do not count, as in the Vallen front end."""

HIT_COLUMNS = [
    "start_sample",
    "end_sample",
    "peak_sample",
    "amplitude_v",
    "amplitude_db",
    "duration_s",
    "rise_time_s",
    "counts",
    "energy_eu",
    "rms_v",
    "ra_s_per_v",
    "avg_frequency_hz",
]


class HitConfig(BaseModel):
    """Hit definition of a channel: threshold and the three timing parameters."""

    model_config = ConfigDict(extra="forbid")

    threshold_v: float = Field(1e-4, gt=0, description="detection threshold, volts")
    hdt_s: float = Field(400e-6, gt=0, description="hit definition time")
    pdt_s: float = Field(200e-6, gt=0, description="peak definition time")
    hlt_s: float = Field(0.0, ge=0, description="hit lockout time after a hit's HDT expires")


def _samples(seconds: float, samplerate_hz: float) -> int:
    return round(seconds * samplerate_hz)


def _group_breaks(indices: np.ndarray, gap: int) -> np.ndarray:
    """Positions in `indices` that start a new group (gap to the previous index > `gap`)."""
    starts = np.flatnonzero(np.diff(indices) > gap) + 1
    return np.concatenate(([0], starts)) if indices.size else starts


def _apply_lockout(
    crossings: np.ndarray, seg_first: np.ndarray, seg_last: np.ndarray, hdt: int, hlt: int
) -> tuple[np.ndarray, np.ndarray]:
    """Drop crossings in each hit's lockout; return first/last crossing position of each hit.

    The lockout of a hit depends on where the previous kept hit ended, so this walks the
    segments (one step per segment, not per sample).
    """
    if hlt <= 0 or seg_first.size == 0:
        return seg_first, seg_last
    firsts, lasts = [], []
    blind_until = -1
    for first, last in zip(seg_first.tolist(), seg_last.tolist(), strict=True):
        if crossings[last] <= blind_until:
            continue
        if crossings[first] <= blind_until:
            first = first + int(np.searchsorted(crossings[first : last + 1], blind_until, "right"))
        firsts.append(first)
        lasts.append(last)
        blind_until = int(crossings[last]) + hdt + hlt
    return np.asarray(firsts, dtype=np.int64), np.asarray(lasts, dtype=np.int64)


def _peaks(
    crossings: np.ndarray,
    magnitude: np.ndarray,
    hit_of: np.ndarray,
    hit_first: np.ndarray,
    pdt: int,
) -> np.ndarray:
    """Sample index of each hit's peak under the peak definition time."""
    values = magnitude[crossings]
    offset = hit_of.astype(float) * (2.0 * float(values.max()) + 1.0)
    running = np.maximum.accumulate(values + offset) - offset
    is_record = np.ones(values.size, dtype=bool)
    is_record[1:] = (running[1:] > running[:-1]) | (hit_of[1:] != hit_of[:-1])
    rec = np.flatnonzero(is_record)
    rec_hit = hit_of[rec]
    rec_idx = crossings[rec]
    same = np.zeros(rec.size, dtype=bool)
    same[1:] = rec_hit[1:] == rec_hit[:-1]
    late = np.zeros(rec.size, dtype=bool)
    late[1:] = same[1:] & (rec_idx[1:] - rec_idx[:-1] > pdt)
    # a late record freezes the peak at the record before it; the first late record per hit wins
    n_hits = hit_first.size
    freeze = np.full(n_hits, rec.size, dtype=np.int64)
    late_pos = np.flatnonzero(late)
    np.minimum.at(freeze, rec_hit[late_pos], late_pos)
    last_rec = np.full(n_hits, -1, dtype=np.int64)
    np.maximum.at(last_rec, rec_hit, np.arange(rec.size))
    chosen = np.where(freeze < rec.size, freeze - 1, last_rec)
    return rec_idx[chosen]


def extract_hits(signal_v: np.ndarray, samplerate_hz: float, config: HitConfig) -> pd.DataFrame:
    """Find hits in one channel's record and compute their features.

    Args:
        signal_v: Samples in volts (continuous record or one transient record).
        samplerate_hz: Sampling rate.
        config: Threshold, HDT, PDT and HLT.

    Returns:
        One row per hit with the columns of `HIT_COLUMNS` (sample indices into `signal_v`).
    """
    x = np.asarray(signal_v)
    if x.ndim != 1:
        raise InputError(f"waveform must be one-dimensional, got shape {x.shape}", field="signal_v")
    if not np.isfinite(samplerate_hz) or samplerate_hz <= 0:
        raise InputError(f"sample rate {samplerate_hz} must be positive", field="samplerate_hz")
    threshold = config.threshold_v * (1.0 + _THRESHOLD_RTOL)
    magnitude = np.abs(x)
    crossings = np.flatnonzero(magnitude > threshold)
    if crossings.size == 0:
        return pd.DataFrame({c: np.empty(0) for c in HIT_COLUMNS})
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InputError("waveform holds NaN or infinite samples", field="signal_v", row=bad)
    hdt = _samples(config.hdt_s, samplerate_hz)
    breaks = _group_breaks(crossings, hdt)
    seg_last = np.concatenate((breaks[1:] - 1, [crossings.size - 1]))
    first_pos, last_pos = _apply_lockout(
        crossings, breaks, seg_last, hdt, _samples(config.hlt_s, samplerate_hz)
    )
    start = crossings[first_pos]
    end = crossings[last_pos]
    # crossings that belong to a kept hit, labelled with their hit number
    lengths = last_pos - first_pos + 1
    member = np.repeat(first_pos - np.cumsum(np.concatenate(([0], lengths[:-1]))), lengths)
    member = member + np.arange(lengths.sum())
    hit_of = np.repeat(np.arange(start.size), lengths)
    peak = _peaks(
        crossings[member], magnitude, hit_of, start, _samples(config.pdt_s, samplerate_hz)
    )

    bounds = np.empty(2 * start.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = start, end + 1
    squares = np.square(x, dtype=np.float64)
    if bounds[-1] == x.size:
        squares = np.append(squares, 0.0)
    sum_sq = np.add.reduceat(squares, bounds)[0::2]
    rising = np.flatnonzero((x[1:] > threshold) & (x[:-1] <= threshold)) + 1
    counts = np.searchsorted(rising, end, "right") - np.searchsorted(rising, start, "left")
    # a hit whose first sample is a positive sample at the very start has no crossing before it
    counts = counts + ((start == 0) & (x[start] > threshold))

    amplitude = magnitude[peak].astype(float)
    duration = (end - start) / samplerate_hz
    rise = (peak - start) / samplerate_hz
    n_samples = end - start + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        avg_freq = np.where(duration > 0, counts / duration, np.nan)
    return pd.DataFrame(
        {
            "start_sample": start,
            "end_sample": end,
            "peak_sample": peak,
            "amplitude_v": amplitude,
            "amplitude_db": 20.0 * np.log10(amplitude / 1e-6),
            "duration_s": duration,
            "rise_time_s": rise,
            "counts": counts.astype(float),
            "energy_eu": sum_sq / samplerate_hz / ENERGY_UNIT_V2S,
            "rms_v": np.sqrt(sum_sq / n_samples),
            "ra_s_per_v": rise / amplitude,
            "avg_frequency_hz": avg_freq,
        }
    )


def hits_from_transients(records: pd.DataFrame, config: HitConfig | None = None) -> pd.DataFrame:
    """Features of the triggering hit of each transient record (e.g. from `io.ae.read_tradb`).

    The record's own threshold is used unless `config` is given; the hit kept is the first one
    whose HDT window covers the trigger sample (`pretrigger_samples`). A record with no
    threshold crossing at or after its trigger (the front end's trigger and ours differ) yields
    no hit; its TRAI is listed in `attrs["skipped_trai"]` of the result so callers can say so.

    Returns:
        An `AE_HITS`-style table (time_s, channel, features, threshold_v) plus `trai`.
    """
    rows = []
    skipped: list[int] = []
    for record in records.itertuples(index=False):
        hit_config = config or HitConfig(threshold_v=float(record.threshold_v))
        hits = extract_hits(record.data_v, float(record.samplerate_hz), hit_config)
        trigger = int(record.pretrigger_samples)
        hdt = _samples(hit_config.hdt_s, float(record.samplerate_hz))
        candidates = hits[hits["end_sample"] + hdt >= trigger - 1]
        if candidates.empty:
            skipped.append(int(record.trai))
            continue
        hit = candidates.iloc[0]
        first_sample_time = float(record.time_s) - trigger / float(record.samplerate_hz)
        rows.append(
            {
                "time_s": first_sample_time + hit["start_sample"] / float(record.samplerate_hz),
                "channel": int(record.channel),
                **{c: hit[c] for c in HIT_COLUMNS[3:]},
                "threshold_v": hit_config.threshold_v,
                "trai": int(record.trai),
            }
        )
    if not rows:
        raise InputError(
            "no record has a threshold crossing at or after its trigger", field="data_v"
        )
    frame = pd.DataFrame(rows)
    frame.attrs["skipped_trai"] = skipped
    return frame


def reference_hits(
    signal_v: list[float] | np.ndarray, samplerate_hz: float, config: HitConfig
) -> list[dict[str, float]]:
    """Plain-Python, sample-by-sample hit extraction with the same definitions (test oracle).

    A straightforward state machine, as an AE front end would run it; slow, but easy to check.
    """
    threshold = config.threshold_v * (1.0 + _THRESHOLD_RTOL)
    hdt = _samples(config.hdt_s, samplerate_hz)
    pdt = _samples(config.pdt_s, samplerate_hz)
    hlt = _samples(config.hlt_s, samplerate_hz)
    values = [float(v) for v in signal_v]
    hits: list[dict[str, float]] = []
    current: dict[str, float] | None = None
    blind_until = -1
    previous = float("inf")

    def close(hit: dict[str, float]) -> None:
        duration = (hit["end_sample"] - hit["start_sample"]) / samplerate_hz
        hit["duration_s"] = duration
        hit["rise_time_s"] = (hit["peak_sample"] - hit["start_sample"]) / samplerate_hz
        hit["energy_eu"] = hit["sum_sq"] / samplerate_hz / ENERGY_UNIT_V2S
        hit["rms_v"] = (hit["sum_sq"] / (hit["end_sample"] - hit["start_sample"] + 1)) ** 0.5
        hit["avg_frequency_hz"] = hit["counts"] / duration if duration > 0 else float("nan")
        hits.append(hit)

    pending_sq = 0.0
    for i, v in enumerate(values):
        magnitude = abs(v)
        reached = magnitude > threshold
        rising = v > threshold and previous <= threshold
        if current is not None and i - current["end_sample"] > hdt:
            close(current)
            blind_until = int(current["end_sample"]) + hdt + hlt
            current = None
        if current is None and reached and i > blind_until:
            current = {
                "start_sample": i,
                "end_sample": i,
                "peak_sample": i,
                "amplitude_v": magnitude,
                "last_record": i,
                "frozen": 0.0,
                "counts": 1.0 if rising or (i == 0 and v > threshold) else 0.0,
                "sum_sq": v * v,
            }
            pending_sq = 0.0
        elif current is not None:
            current["counts"] += rising
            if reached:
                current["end_sample"] = i
                current["sum_sq"] += pending_sq + v * v
                pending_sq = 0.0
                if magnitude > current["amplitude_v"] and not current["frozen"]:
                    if i - current["last_record"] > pdt:
                        current["frozen"] = 1.0
                    else:
                        current["amplitude_v"] = magnitude
                        current["peak_sample"] = i
                        current["last_record"] = i
            else:
                pending_sq += v * v
        previous = v
    if current is not None:
        close(current)
    return hits
