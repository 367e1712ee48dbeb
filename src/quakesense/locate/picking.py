"""Automatic P and S picks with quality weights: band choice, network detection, STA/LTA + AIC.

The classical picking chain of a local network, on ObsPy's building blocks:
1. Band: the records are band-passed (causal Butterworth, `obspy.signal.filter.bandpass`) in
   each candidate band `[f, 4 f]` below 0.45 x the sampling rate; the band whose recursive
   STA/LTA peaks highest at the median station is kept, so 2 Hz synthetics and 250 Hz
   geothermal records are each picked where their signal stands above their noise.
2. Detection: the network's coincidence, the sum over stations of each station's capped
   STA/LTA, maximised over the network's largest P move-out; the strongest event of the record
   wins, and there is always a best window, so no record is left "untriggered" for want of a
   threshold crossing at two stations.
3. Picks: per station, the first STA/LTA crossing inside the window, refined to the minimum of
   Maeda's AIC (`obspy.signal.trigger.aic_simple`) over the noise before it. With predicted
   arrival times (a first location), P is re-picked on the vertical and S on the horizontals
   in windows around them.
4. Quality: each pick's signal-to-noise ratio gives its standard deviation (a fraction of the
   dominant period, larger for weak onsets), the weight a locator gives it.
Times are seconds after the first sample of the values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

PICK_COLUMNS: tuple[str, ...] = ("station", "phase", "time_s", "uncertainty_s", "snr")
"""Columns of a pick table; `uncertainty_s` is the pick's standard deviation."""


class PickerConfig(BaseModel):
    """Settings of the STA/LTA + AIC picker (unset band: chosen per event from the data)."""

    model_config = ConfigDict(extra="forbid")

    freqmin_hz: float | None = Field(None, gt=0, description="band low corner; default: auto")
    freqmax_hz: float | None = Field(None, gt=0, description="band high corner; default: auto")
    sta_periods: float = Field(1.0, gt=0, description="STA window in dominant periods")
    lta_over_sta: float = Field(10.0, gt=1, description="LTA window / STA window")
    threshold_on: float = Field(3.0, gt=1, description="STA/LTA of an onset")
    cap_ratio: float = Field(10.0, gt=1, description="STA/LTA cap in the network coincidence")
    min_snr: float = Field(2.0, gt=0, description="picks below this signal/noise are dropped")
    noise_periods: float = Field(8.0, gt=0, description="AIC noise segment, dominant periods")
    use_s: bool = True


@dataclass
class Band:
    """A pass band and the STA/LTA windows (samples) that go with it."""

    freqmin_hz: float
    freqmax_hz: float
    sta: int
    lta: int

    @property
    def period_s(self) -> float:
        """Dominant period: the inverse of the band's geometric centre."""
        return 1.0 / np.sqrt(self.freqmin_hz * self.freqmax_hz)


def _band(
    freqmin_hz: float, freqmax_hz: float, dt: float, config: PickerConfig, n_samples: int
) -> Band:
    period_s = 1.0 / np.sqrt(freqmin_hz * freqmax_hz)
    sta = max(3, round(config.sta_periods * period_s / dt))
    lta = max(sta + 1, min(round(config.lta_over_sta * sta), n_samples // 3))
    return Band(freqmin_hz, freqmax_hz, sta, lta)


def filtered(values: np.ndarray, dt: float, band: Band) -> np.ndarray:
    """Causal 4-pole Butterworth band-pass along the last axis (ObsPy), float64."""
    from obspy.signal.filter import bandpass

    data = np.asarray(values, dtype=np.float64)
    data = data - data[..., :1]
    return bandpass(data, band.freqmin_hz, band.freqmax_hz, 1.0 / dt, corners=4, zerophase=False)


def sta_lta(trace: np.ndarray, band: Band) -> np.ndarray:
    """Recursive STA/LTA (ObsPy) with the LTA warm-up zeroed."""
    from obspy.signal.trigger import recursive_sta_lta

    if len(trace) <= band.lta or not np.any(trace):
        return np.zeros(len(trace))
    ratio = recursive_sta_lta(np.ascontiguousarray(trace), band.sta, band.lta)
    ratio[: band.lta] = 0.0
    return np.nan_to_num(ratio, nan=0.0, posinf=0.0)


def choose_band(values: np.ndarray, dt: float, config: PickerConfig) -> Band:
    """The band in which the vertical STA/LTA peaks highest at the median recording station."""
    n = values.shape[-1]
    if config.freqmin_hz is not None and config.freqmax_hz is not None:
        return _band(config.freqmin_hz, min(config.freqmax_hz, 0.45 / dt), dt, config, n)
    live = [z for z in np.asarray(values)[:, 0] if np.any(z)]
    candidates = []
    low = 0.25
    while 4 * low <= 0.45 / dt:
        if (config.freqmin_hz is None or low >= config.freqmin_hz) and (
            config.freqmax_hz is None or 4 * low <= config.freqmax_hz
        ):
            candidates.append(_band(low, 4 * low, dt, config, n))
        low *= 2
    if not candidates or not live:
        return _band(0.1 / dt, 0.4 / dt, dt, config, n)
    scores = []
    for band in candidates:
        traces = filtered(np.stack(live), dt, band)
        scores.append(float(np.median([sta_lta(t, band).max() for t in traces])))
    return candidates[int(np.argmax(scores))]


def detect_window(
    ratios: np.ndarray, dt: float, max_moveout_s: float, config: PickerConfig
) -> tuple[int, int]:
    """The sample window [start, stop) of the record's strongest network coincidence.

    Each station's capped STA/LTA excess is maximised over the next `max_moveout_s`; the sum
    over stations peaks where most stations see their strongest onset within one move-out.
    """
    from scipy.ndimage import maximum_filter1d

    width = max(1, round(max_moveout_s / dt))
    excess = np.clip(ratios - 1.0, 0.0, config.cap_ratio - 1.0)
    # origin=-(width//2) makes the filter look forward: value at t = max over [t, t+width).
    ahead = maximum_filter1d(excess, size=width, axis=-1, origin=-(width // 2), mode="constant")
    score = ahead.sum(axis=0)
    start = int(np.argmax(score))
    return start, min(ratios.shape[-1], start + width)


def _aic_onset(trace: np.ndarray, first: int, last: int) -> int:
    """Sample of the AIC minimum of `trace[first:last]` (Maeda's AIC, ObsPy)."""
    from obspy.signal.trigger import aic_simple

    segment = trace[first:last]
    if len(segment) < 6:
        return first
    aic = aic_simple(segment)
    return first + 1 + int(np.argmin(aic[1:-1]))


def _snr(trace: np.ndarray, onset: int, band: Band, dt: float, config: PickerConfig) -> float:
    n_noise = max(4, round(config.noise_periods * band.period_s / dt))
    n_signal = max(2, round(2 * band.period_s / dt))
    noise = trace[max(0, onset - n_noise) : onset]
    signal = trace[onset : onset + n_signal]
    if len(noise) < 2 or len(signal) < 1:
        return 0.0
    rms = float(np.sqrt(np.mean(noise**2)))
    return float(np.abs(signal).max() / rms) if rms > 0 else 0.0


def _pick_in(
    trace: np.ndarray,
    ratio: np.ndarray,
    window: tuple[int, int],
    band: Band,
    dt: float,
    config: PickerConfig,
    *,
    strongest: bool = False,
) -> tuple[int, float] | None:
    """(onset sample, snr) of an STA/LTA onset in `window`, AIC-refined; None if none.

    The onset is the first threshold crossing, its AIC segment reaching back over the noise
    before the window; with `strongest` (re-picks around a prediction) it is the window's
    highest STA/LTA, its AIC segment starting at the window so an earlier phase's coda,
    which keeps the ratio high, cannot pull the pick.
    """
    lo, hi = max(band.lta, window[0]), min(len(trace), window[1])
    if hi <= lo:
        return None
    above = np.flatnonzero(ratio[lo:hi] >= config.threshold_on)
    if above.size == 0:
        return None
    n_noise = max(4, round(config.noise_periods * band.period_s / dt))
    if strongest:
        first, crossing = lo, lo + int(np.argmax(ratio[lo:hi]))
    else:
        first, crossing = max(0, lo - n_noise), lo + int(above[0])
    onset = _aic_onset(trace, first, min(len(trace), crossing + band.sta))
    snr = _snr(trace, onset, band, dt, config)
    return (onset, snr) if snr >= config.min_snr else None


def pick_uncertainty_s(snr: float, band: Band, dt: float) -> float:
    """Standard deviation of a pick: half a dominant period at SNR 4, shrinking as 1/sqrt(SNR).

    Bounded below by two samples and above by two dominant periods.
    """
    sigma = band.period_s / np.sqrt(max(snr, 1e-3))
    return float(np.clip(sigma, 2 * dt, 2 * band.period_s))


def pick_event(
    values: np.ndarray,
    sampling_interval_s: float,
    stations: list[str],
    config: PickerConfig | None = None,
    *,
    max_moveout_s: float | None = None,
    predicted: pd.DataFrame | None = None,
    tolerance_s: float | None = None,
) -> pd.DataFrame:
    """P (and S) picks of one event's records: columns `PICK_COLUMNS`.

    Args:
        values: (n_stations, 3, n_samples) velocity, components (Z, N, E); zero rows are
            stations that did not record.
        sampling_interval_s: Time step.
        stations: Station codes of the rows.
        config: Picker settings.
        max_moveout_s: Largest P move-out across the network (default: a quarter record).
        predicted: Predicted arrivals from a first location (`station, phase, time_s`): each
            phase is re-picked within `tolerance_s` of its prediction (S on the horizontal
            with more energy); without it, only P is picked, in the network's detection
            window (S needs the first location to be told from P coda).
        tolerance_s: Half-width of the re-pick windows (default: `max_moveout_s` / 4).
    """
    config = config or PickerConfig()
    dt = float(sampling_interval_s)
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    max_moveout_s = n * dt / 4 if max_moveout_s is None else max_moveout_s
    band = choose_band(values, dt, config)
    data = filtered(values, dt, band)
    vertical = np.stack([sta_lta(t, band) for t in data[:, 0]])
    horizontal = np.stack([np.maximum(sta_lta(t[1], band), sta_lta(t[2], band)) for t in data])
    rows: list[dict] = []

    def add(
        station: str,
        phase: str,
        trace: np.ndarray,
        ratio: np.ndarray,
        window: tuple,
        *,
        strongest: bool = False,
    ) -> None:
        found = _pick_in(trace, ratio, window, band, dt, config, strongest=strongest)
        if found is not None:
            onset, snr = found
            rows.append(
                {
                    "station": station,
                    "phase": phase,
                    "time_s": onset * dt,
                    "uncertainty_s": pick_uncertainty_s(snr, band, dt),
                    "snr": snr,
                }
            )

    if predicted is None:
        start, stop = detect_window(vertical, dt, max_moveout_s, config)
        back = round(max_moveout_s / dt)
        for s, name in enumerate(stations):
            add(name, "P", data[s, 0], vertical[s], (start - back // 4, stop))
    else:
        tolerance = round((max_moveout_s / 4 if tolerance_s is None else tolerance_s) / dt)
        index = {name: s for s, name in enumerate(stations)}
        expected = predicted.set_index(["station", "phase"])["time_s"]
        for row in predicted.itertuples(index=False):
            s = index.get(str(row.station))
            if s is None or not np.isfinite(row.time_s) or (row.phase == "S" and not config.use_s):
                continue
            centre = round(row.time_s / dt)
            window = (centre - tolerance, centre + tolerance)
            if row.phase == "P":  # the first arrival: no earlier coda, the first onset is P
                add(row.station, "P", data[s, 0], vertical[s], window)
                continue
            p_time = expected.get((row.station, "P"), np.nan)
            if np.isfinite(p_time):  # never reach back to the P onset
                window = (max(window[0], round((p_time + row.time_s) / 2 / dt)), window[1])
            k = 1 + int(np.argmax([data[s, 1].std(), data[s, 2].std()]))
            add(row.station, "S", data[s, k], horizontal[s], window, strongest=True)
    return pd.DataFrame(rows, columns=list(PICK_COLUMNS))
