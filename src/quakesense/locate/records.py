"""Real records on the training time grid: the station values a locator reads.

Every station's records go on one common time grid, in the order of the model's (or the
station list's) stations. A model station that did not record is a row of zeros, the
"cutout" the networks were trained with; recorded stations the model does not know are dropped
and reported. Filters here are causal (one pass), as in `locate.preprocess`, so a network sees
real records through exactly the filter its synthetics went through, and a real-time estimate
never uses samples after it. Station names match on the station code with the network
optional (`NN.NN09` = `NN09`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from obspy import Stream

from quakesense.core.errors import InputError
from quakesense.io.stations import match_station_names
from quakesense.io.waveforms import EventWaveforms

COMPONENTS = ("Z", "N", "E")
_EDGE_S = 2.0
"""Seconds cut from both ends of a record after filtering (taper and filter transients)."""
_OFFSET_WINDOW_S = 5.0
"""The offset removed is the mean of this first part of a record (past samples only)."""


@dataclass
class StationValues:
    """Velocity at the model's stations on a regular time grid.

    Attributes:
        values: float32 (n_stations, 3, n_samples) in m/s, components (Z, N, E); zeros where a
            station or component is missing.
        present: bool (n_stations,), whether the station recorded a vertical component.
        start_time: UTC time of sample 0 (an ObsPy UTCDateTime).
        sampling_interval_s: Time step of the grid.
        stations: Station codes, in the model's order.
        ignored_stations: Stations in the files that the model does not know.
    """

    values: np.ndarray
    present: np.ndarray
    start_time: Any
    sampling_interval_s: float
    stations: list[str]
    ignored_stations: list[str] = field(default_factory=list)

    @property
    def missing_stations(self) -> list[str]:
        """Model stations without a vertical record (treated as cutout)."""
        return [s for s, ok in zip(self.stations, self.present, strict=True) if not ok]

    @property
    def times_s(self) -> np.ndarray:
        """Sample times in seconds after `start_time`."""
        return np.arange(self.values.shape[-1]) * self.sampling_interval_s


def _common_window(stream: Any, event_id: str) -> tuple[Any, Any]:
    start = max(tr.stats.starttime for tr in stream)
    end = min(tr.stats.endtime for tr in stream)
    if end <= start:
        raise InputError(
            "the station records do not overlap in time", source=event_id, field="starttime"
        )
    return start, end


def native_interval_s(event: EventWaveforms) -> float:
    """The finest sampling interval among an event's records (pick at the data's own rate)."""
    return float(min(tr.stats.delta for tr in event.stream))


def to_station_values(
    event: EventWaveforms,
    stations: list[str],
    sampling_interval_s: float,
    *,
    freqmin_hz: float | None = None,
    freqmax_hz: float | None = None,
    min_stations: int = 3,
) -> StationValues:
    """Put an event's records on one time grid at `sampling_interval_s`, in `stations` order.

    Records lose the mean of their first seconds, are tapered and filtered causally (an
    optional high-pass and the anti-alias low-pass), cut by the filter edges and interpolated
    (Lanczos) onto the common grid. Trace `NET.STA` matches a station name `NET.STA` or `STA`.

    Args:
        event: Velocity records of the event.
        stations: The model's station names, in training order.
        sampling_interval_s: The training time step.
        freqmin_hz: High-pass corner (None: no high-pass).
        freqmax_hz: Low-pass corner; default 0.4 x the grid's sampling rate (anti-alias).
        min_stations: Fewest model stations that must have recorded.

    Raises:
        InputError: when fewer than `min_stations` of the model's stations recorded, or the
            filter band does not fit the grid's rate.
    """
    rate_hz = 1.0 / sampling_interval_s
    freqmax_hz = 0.4 * rate_hz if freqmax_hz is None else freqmax_hz
    if freqmax_hz >= 0.5 * rate_hz or (freqmin_hz is not None and freqmin_hz >= freqmax_hz):
        raise InputError(
            f"filter band {freqmin_hz}-{freqmax_hz} Hz does not fit below the training Nyquist "
            f"frequency {0.5 * rate_hz:g} Hz",
            field="freqmax_hz",
        )
    recorded = sorted({f"{tr.stats.network}.{tr.stats.station}" for tr in event.stream})
    mapping = match_station_names(list(stations), [r.lstrip(".") for r in recorded])
    owner = {trace_name: name for name, trace_name in mapping.items()}
    ignored = sorted({r.lstrip(".") for r in recorded} - set(owner))
    if len(mapping) < min_stations:
        raise InputError(
            f"only {len(mapping)} of the model's {len(stations)} stations recorded this event "
            f"(need {min_stations}); recorded: {event.stations}; the model expects: "
            f"{list(stations)}",
            source=event.event_id,
            field="stations",
        )
    stream = Stream(
        [
            tr
            for tr in event.stream.copy()
            if f"{tr.stats.network}.{tr.stats.station}".lstrip(".") in owner
        ]
    )
    start, end = _common_window(stream, event.event_id)
    for trace in stream:
        head = trace.data[: max(1, round(_OFFSET_WINDOW_S / trace.stats.delta))]
        trace.data = np.asarray(trace.data, dtype=np.float64) - float(np.mean(head))
    stream.taper(0.05, max_length=_EDGE_S / 2, side="left")
    if freqmin_hz is not None:
        stream.filter("bandpass", freqmin=freqmin_hz, freqmax=freqmax_hz, zerophase=False)
    elif freqmax_hz < 0.45 * min(tr.stats.sampling_rate for tr in stream):
        stream.filter("lowpass", freq=freqmax_hz, zerophase=False)
    # Drop the tapered, filter-ringing start (it would trigger STA/LTA) when long enough.
    if end - start > 4 * _EDGE_S:
        start = start + _EDGE_S
    n_samples = int(np.floor((end - start) / sampling_interval_s)) + 1
    # ObsPy's interpolate puts every station on one common grid (same start, same step).
    stream.interpolate(
        sampling_rate=rate_hz, method="lanczos", a=20, starttime=start, npts=n_samples
    )
    values = np.zeros((len(stations), len(COMPONENTS), n_samples), dtype=np.float32)
    index = {s: i for i, s in enumerate(stations)}
    present = np.zeros(len(stations), dtype=bool)
    for trace in stream:
        row = index[owner[f"{trace.stats.network}.{trace.stats.station}".lstrip(".")]]
        data = np.asarray(trace.data, dtype=np.float32)[:n_samples]
        values[row, COMPONENTS.index(trace.stats.channel), : data.size] = data
        present[row] |= trace.stats.channel == "Z"
    return StationValues(
        values=values,
        present=present,
        start_time=start,
        sampling_interval_s=float(sampling_interval_s),
        stations=list(stations),
        ignored_stations=ignored,
    )
