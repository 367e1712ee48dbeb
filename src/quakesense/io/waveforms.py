"""Event waveforms from miniSEED or SAC files (read with ObsPy), one folder per event, or from
ObsPy Streams already in memory (`EventStream`), checked and converted the same way.

An event folder holds any number of files (one per channel or several channels per file). The
reader merges segments, refuses gaps and mixed sampling rates within one channel with a message
naming the station, and converts every trace to ground velocity in m/s: the unit comes from the
SAC `idep` header or, where the files do not say (miniSEED never does), from the caller.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError

Units = Literal["auto", "velocity", "acceleration", "displacement"]
PhysicalUnits = Literal["velocity", "acceleration", "displacement"]

# SAC `idep` codes (SAC manual): 6 displacement (nm), 7 velocity (nm/s), 8 acceleration
# (nm/s^2), 5 unknown. Files written by most processing tools keep SI units; we trust SI.
_SAC_IDEP_UNITS: dict[int, PhysicalUnits] = {6: "displacement", 7: "velocity", 8: "acceleration"}
_SAC_UNDEFINED = -12345.0
_COMPONENT_ALIASES = {"Z": "Z", "N": "N", "E": "E", "1": "N", "2": "E", "3": "Z"}
_NON_WAVEFORM_SUFFIXES = {".csv", ".txt", ".json", ".xml", ".md", ".parquet"}


@dataclass
class EventStream:
    """One event's records already in memory: read like an event folder named `event_id`.

    Attributes:
        event_id: The event's name.
        stream: ObsPy Stream of its traces (left untouched; the reader works on a copy).
    """

    event_id: str
    stream: Any


EventSource = Path | EventStream
"""An event's records: its folder of files, or an `EventStream`."""


def event_name(event: str | EventSource) -> str:
    """The event id of a folder (its name) or of an `EventStream`."""
    return event.event_id if isinstance(event, EventStream) else Path(event).name


@dataclass
class EventWaveforms:
    """The three-component velocity records of one event.

    Attributes:
        event_id: Name of the event folder.
        stream: ObsPy Stream in m/s, one trace per station and component (`Z`, `N`, `E`),
            channel codes normalised to their last letter.
        source_units: Unit of the files before conversion.
        catalog: Catalog hypocentre found in the SAC headers (`time`, `latitude_deg`,
            `longitude_deg`, `depth_km`, `magnitude`), or None.
        notes: Repairs or facts a user should know (e.g. converted units).
    """

    event_id: str
    stream: Any
    source_units: PhysicalUnits
    catalog: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def stations(self) -> list[str]:
        """Station codes present, sorted."""
        return sorted({tr.stats.station for tr in self.stream})


def _component(channel: str, source: Path) -> str:
    letter = channel.strip().upper()[-1:] if channel.strip() else ""
    if letter not in _COMPONENT_ALIASES:
        raise InputError(
            f"channel '{channel}' is not a Z/N/E (or 1/2/3) component",
            source=source,
            field="channel",
        )
    return _COMPONENT_ALIASES[letter]


def _read_files(folder: Path) -> Any:
    from obspy import Stream, read

    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix not in _NON_WAVEFORM_SUFFIXES
    )
    if not files:
        raise InputError("no waveform files (miniSEED or SAC) in event folder", source=folder)
    stream = Stream()
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", ".*Sample spacing read from SAC.*")
                part = read(str(path))
        except Exception as exc:  # ObsPy raises many types for unreadable files
            raise InputError(
                f"not a readable miniSEED/SAC file ({type(exc).__name__}: {exc})", source=path
            ) from exc
        for trace in part:
            trace.stats._source = str(path)
            trace.stats.channel = _component(trace.stats.channel, path)
        stream += part
    return stream


def _copied_stream(event: EventStream) -> Any:
    """A copy of an in-memory event's Stream with the channel codes `_read_files` gives."""
    from obspy import Stream

    if not isinstance(event.stream, Stream) or len(event.stream) == 0:
        raise InputError("not an ObsPy Stream with traces", source=f"event {event.event_id}")
    stream = event.stream.copy()
    for trace in stream:
        trace.stats.channel = _component(trace.stats.channel, Path(event.event_id))
    return stream


def _file_units(trace: Any) -> PhysicalUnits | None:
    sac = trace.stats.get("sac")
    if sac is None:
        return None
    code = sac.get("idep")
    return None if code is None else _SAC_IDEP_UNITS.get(int(code))


def _to_velocity(stream: Any, units: PhysicalUnits) -> None:
    """Convert in place to velocity: integrate acceleration, differentiate displacement."""
    if units == "velocity":
        return
    for trace in stream:
        trace.data = trace.data.astype(np.float64)
        trace.detrend("demean")
        if units == "acceleration":
            trace.taper(0.05)
            trace.integrate()
            trace.detrend("linear")
        else:
            trace.differentiate()


def _check_finite(stream: Any, folder: Path, *, fill_gaps: bool) -> list[str]:
    """Refuse NaN/inf samples (naming file and channel), or zero them with `fill_gaps`."""
    notes = []
    for trace in stream:
        bad = ~np.isfinite(np.asarray(trace.data, dtype=np.float64))
        if not bad.any():
            continue
        source = trace.stats.get("_source", folder)
        if not fill_gaps:
            raise InputError(
                f"channel {trace.id} holds {int(bad.sum())} NaN/inf samples (first at "
                f"{trace.stats.starttime + int(np.argmax(bad)) * trace.stats.delta}); "
                "pass fill_gaps (--fill-gaps) to zero them",
                source=source,
                field=trace.id,
            )
        trace.data = np.where(bad, 0.0, np.asarray(trace.data, dtype=np.float64))
        notes.append(f"zeroed {int(bad.sum())} NaN/inf samples of {trace.id}")
    return notes


def _merge_checked(stream: Any, folder: Path, *, fill_gaps: bool) -> Any:
    """Merge segments per channel; gaps and mixed rates within a channel are errors."""
    for trace_id in sorted({tr.id for tr in stream}):
        parts = stream.select(id=trace_id)
        rates = sorted({float(tr.stats.sampling_rate) for tr in parts})
        if len(rates) > 1:
            raise InputError(
                f"channel {trace_id} mixes sampling rates {rates} Hz; "
                "resample the segments to one rate first",
                source=folder,
                field=trace_id,
            )
    gaps = stream.get_gaps()
    if gaps and not fill_gaps:
        first = gaps[0]
        raise InputError(
            f"{len(gaps)} gap(s) in the records, first on {'.'.join(first[:4])} from "
            f"{first[4]} for {first[6]:.3f} s; pass fill_gaps (--fill-gaps) to zero-fill them",
            source=folder,
            field=".".join(first[:4]),
        )
    merged = stream.copy()
    for trace in merged:
        trace.data = trace.data.astype(np.float64)
        trace.detrend("demean")
    merged.merge(method=1, fill_value=0.0)
    return merged


def _sac_catalog(stream: Any) -> dict[str, Any] | None:
    """Catalog origin and hypocentre stored in SAC headers (reference time = origin time)."""
    from obspy import UTCDateTime

    for trace in stream:
        sac = trace.stats.get("sac")
        if sac is None or "evla" not in sac or "evlo" not in sac:
            continue
        try:
            origin = UTCDateTime(
                year=int(sac.nzyear),
                julday=int(sac.nzjday),
                hour=int(sac.nzhour),
                minute=int(sac.nzmin),
                second=int(sac.nzsec),
                microsecond=int(sac.nzmsec) * 1000,
            )
        except (AttributeError, KeyError, ValueError):
            return None
        offset_s = float(sac.get("o", _SAC_UNDEFINED))
        if offset_s != _SAC_UNDEFINED:
            origin += offset_s
        magnitude = float(sac.get("mag", _SAC_UNDEFINED))
        depth = float(sac.get("evdp", np.nan))
        return {
            "time": pd.Timestamp(origin.datetime, tz="UTC"),
            "latitude_deg": float(sac.evla),
            "longitude_deg": float(sac.evlo),
            "depth_km": np.nan if depth == _SAC_UNDEFINED else depth,
            "magnitude": np.nan if magnitude == _SAC_UNDEFINED else magnitude,
        }
    return None


def read_event_waveforms(
    folder: str | EventSource, *, units: Units = "auto", fill_gaps: bool = False
) -> EventWaveforms:
    """Read one event folder of miniSEED/SAC files (or take an `EventStream`) into velocity
    (m/s) traces.

    Args:
        folder: Folder named by the event id, holding the waveform files; or an `EventStream`
            (channel codes normalised and checked as if read from files).
        units: Unit of the files; `auto` takes it from the SAC `idep` header and refuses to
            guess where the files do not say.
        fill_gaps: Zero-fill gaps and NaN samples instead of refusing them.

    Raises:
        InputError: no or unreadable files, gaps, NaN/inf samples, mixed rates within a
            channel, unknown units, or files that disagree about their unit.
    """
    if isinstance(folder, EventStream):
        stream = _copied_stream(folder)
        folder = Path(folder.event_id)
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError("event waveform folder not found", source=folder)
        stream = _read_files(folder)
    notes: list[str] = []
    declared = {_file_units(tr) for tr in stream}
    if units == "auto":
        if None in declared:
            raise InputError(
                "unknown units: the files do not declare them (SAC idep unset or miniSEED); "
                "pass units (--units velocity|acceleration|displacement)",
                source=folder,
                field="units",
            )
        if len(declared) > 1:
            raise InputError(
                f"files declare different units {sorted(declared)}", source=folder, field="idep"
            )
        source_units: PhysicalUnits = declared.pop()  # type: ignore[assignment]
    else:
        source_units = units
        conflicting = declared - {None, units}
        if conflicting:
            raise InputError(
                f"units '{units}' given, but the files declare {sorted(conflicting)}",
                source=folder,
                field="units",
            )
    notes += _check_finite(stream, folder, fill_gaps=fill_gaps)
    stream = _merge_checked(stream, folder, fill_gaps=fill_gaps)
    _to_velocity(stream, source_units)
    if source_units != "velocity":
        notes.append(f"converted {source_units} to velocity")
    return EventWaveforms(
        event_id=folder.name,
        stream=stream,
        source_units=source_units,
        catalog=_sac_catalog(stream),
        notes=notes,
    )


def event_folders(root: str | Path) -> list[Path]:
    """The event sub-folders of `root` (one per event, named by its event id), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("waveform folder not found", source=root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise InputError(
            "no event sub-folders; expected one folder of SAC/miniSEED files per event",
            source=root,
        )
    return folders


def read_catalog_from_headers(root: str | Path) -> pd.DataFrame:
    """The reference catalog held in the SAC headers of every event folder under `root`."""
    from obspy import read

    rows = []
    for folder in event_folders(root):
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", ".*Sample spacing read from SAC.*")
                    headers = read(str(path), headonly=True)
            except Exception:  # not a waveform file: look at the next one
                continue
            catalog = _sac_catalog(headers)
            if catalog is not None:
                rows.append({"event_id": folder.name, **catalog})
                break
    if not rows:
        raise InputError("no SAC header holds a catalog hypocentre (evla/evlo)", source=root)
    return pd.DataFrame(rows)
