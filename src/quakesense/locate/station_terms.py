"""Station amplitude terms: how much louder each real station records than the synthetics say.

A CNN trained on synthetics reads position from the pattern of amplitudes across the network.
Real stations differ from the model by site amplification and gain: on the five Newberry events
the NM stations record 5-12 dB above the synthetics at the catalog hypocentres, relative to the
other stations, and every CNN answer lay south of the catalog, towards them. Given calibration
events (catalog hypocentres in the SAC headers, the grid search's `--calibration`), each
station's term is the median over those events of

    20 log10(real peak / synthetic peak) - the same quantity's median over the event's stations

(the second part removes the event's size). Peaks are of |Z| through the model's own causal
band, from the origin over `window_s`, kept only where they stand `min_snr` times above the
record's noise RMS before the origin. The synthetic peaks come from the training dataset itself: the
largest of the dataset events nearest the catalog hypocentre (random mechanisms average the
radiation pattern out), so any backend the dataset was made with serves. Real records are then
divided by 10^(term / 20) before they are imaged, the station correction of a local magnitude
scale applied to the network's input.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.geo import LocalProjection

SIGNAL_WINDOW_S = 6.0
"""Signal window after the origin: P and S at the hypocentral distances of a local network."""
TERM_COLUMNS: tuple[str, ...] = ("station", "term_db", "n_events")
"""Columns of a station-term table; `term_db` is 0 where `n_events` is 0."""


@dataclass
class CalibrationRecord:
    """One calibration event's vertical peaks per station, with where they came from.

    Attributes:
        event_id: Name of the event.
        latitude_deg, longitude_deg, depth_km: Its catalog hypocentre.
        peaks_m_s: (n_stations,) peak |Z| after the origin; NaN where absent or below the SNR.
    """

    event_id: str
    latitude_deg: float
    longitude_deg: float
    depth_km: float
    peaks_m_s: np.ndarray


def peaks_after_origin(
    vertical: np.ndarray,
    sampling_interval_s: float,
    origin_s: float,
    window_s: float,
    *,
    min_snr: float = 3.0,
    noise_start_s: float = 1.0,
) -> np.ndarray:
    """Peak |Z| per station from `origin_s` over `window_s`; NaN below `min_snr`.

    The noise is the RMS of Z from `noise_start_s` (past the filters' start-up) to 0.2 s before
    the origin; a trace that is all zero (station absent or cut out) gives NaN.

    Args:
        vertical: (n_stations, n_samples) vertical velocity through the model's band.
        sampling_interval_s: Time step.
        origin_s: Origin time, seconds after the first sample.
        window_s: Length of the signal window.
        min_snr: Peak over noise RMS below which the station is not used.
        noise_start_s: Start of the noise window.
    """
    times = np.arange(vertical.shape[-1]) * sampling_interval_s
    signal = (times >= origin_s) & (times < origin_s + window_s)
    noise = (times >= noise_start_s) & (times < origin_s - 0.2)
    if not signal.any():
        return np.full(vertical.shape[0], np.nan)
    vertical = np.asarray(vertical, dtype=np.float64)
    peak = np.abs(vertical[:, signal]).max(axis=1)
    floor = vertical[:, noise].std(axis=1) if noise.any() else np.zeros(len(peak))
    usable = (peak > 0) & (peak >= min_snr * floor)
    return np.where(usable, peak, np.nan)


def relative_log_peaks(peaks_m_s: np.ndarray) -> np.ndarray:
    """log10 of each peak minus the median over the stations with a peak (last axis)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.asarray(peaks_m_s, dtype=np.float64))
    return logs - np.nanmedian(logs, axis=-1, keepdims=True)


def synthetic_relative_peaks(
    events: pd.DataFrame,
    peaks_of: Callable[[int], np.ndarray],
    record: CalibrationRecord,
    *,
    n_nearest: int = 60,
    n_used: int = 20,
) -> np.ndarray:
    """Median relative log peak per station of the dataset events around one hypocentre.

    Args:
        events: The dataset's events (latitude_deg, longitude_deg, depth_km, magnitude).
        peaks_of: Callable row index -> (n_stations,) peaks (NaN below the SNR).
        record: The calibration event.
        n_nearest: Dataset events nearest the hypocentre considered.
        n_used: Of those, the largest (the loudest above the synthetic noise) used.
    """
    east, north = LocalProjection(record.latitude_deg, record.longitude_deg).to_xy_km(
        events["latitude_deg"].to_numpy(float), events["longitude_deg"].to_numpy(float)
    )
    down = events["depth_km"].to_numpy(float) - record.depth_km
    nearest = np.argsort(east**2 + north**2 + down**2)[:n_nearest]
    magnitude = events["magnitude"].to_numpy(float)[nearest]
    chosen = nearest[np.argsort(magnitude)[::-1][:n_used]]
    relative = np.stack([relative_log_peaks(peaks_of(int(row))) for row in chosen])
    return np.nanmedian(relative, axis=0)


def station_terms(
    stations: list[str],
    real_relative: np.ndarray,
    synthetic_relative: np.ndarray,
) -> pd.DataFrame:
    """Per station, the median over calibration events of real minus synthetic, in dB.

    Args:
        stations: Station codes in column order.
        real_relative: (n_events, n_stations) relative log10 peaks of the real records.
        synthetic_relative: The same of the synthetics at the events' hypocentres.

    Returns:
        The term table (`TERM_COLUMNS`), centred so that its median over stations with
        events is 0 (only the pattern matters to the network, not the overall level).
    """
    difference_db = 20.0 * (np.asarray(real_relative) - np.asarray(synthetic_relative))
    seen = np.isfinite(difference_db)
    n_events = seen.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: stations never seen
        term = np.nanmedian(difference_db, axis=0)
    term = np.where(n_events > 0, term, np.nan)
    if np.isfinite(term).any():
        term = term - np.nanmedian(term)
    columns = (stations, np.nan_to_num(term, nan=0.0), n_events)
    return pd.DataFrame(dict(zip(TERM_COLUMNS, columns, strict=True)))


def apply_station_terms(values: np.ndarray, terms: pd.DataFrame, stations: list[str]) -> np.ndarray:
    """Divide each station's values (rows in `stations` order) by 10^(term / 20).

    Raises:
        InputError: a station of `stations` has no row in `terms`.
    """
    by_station = terms.set_index("station")["term_db"]
    missing = [s for s in stations if s not in by_station.index]
    if missing:
        raise InputError(f"no station term for {', '.join(missing)}", field="station_terms")
    gain = 10.0 ** (by_station.loc[stations].to_numpy(float) / 20.0)
    shape = (len(stations),) + (1,) * (np.ndim(values) - 1)
    return (np.asarray(values) / gain.reshape(shape)).astype(np.float32)
