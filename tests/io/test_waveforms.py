"""Reading event folders of SAC/miniSEED: units, gaps, mixed rates, catalog headers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from obspy import Stream, Trace, UTCDateTime

from quakesense.core.errors import InputError
from quakesense.io.waveforms import (
    EventStream,
    event_folders,
    read_catalog_from_headers,
    read_event_waveforms,
)

NEWBERRY = Path("waveforms/newberry_egs_subset/raw_sac_subset")
START = UTCDateTime(2020, 1, 1)


def _trace(station: str, channel: str, data: np.ndarray, rate: float = 100.0, start=START) -> Trace:
    return Trace(
        data=np.asarray(data, dtype=np.float64),
        header={
            "network": "XX",
            "station": station,
            "channel": channel,
            "sampling_rate": rate,
            "starttime": start,
        },
    )


def _write(folder: Path, traces: list[Trace], fmt: str = "MSEED") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, trace in enumerate(traces):
        Stream([trace]).write(str(folder / f"{trace.id}.{k}.{fmt.lower()}"), format=fmt)
    return folder


def test_miniseed_needs_units_and_channels_are_normalised(tmp_path: Path) -> None:
    data = np.sin(np.linspace(0, 20, 500))
    folder = _write(tmp_path / "ev1", [_trace("A", "HHZ", data), _trace("A", "HH1", data)])
    with pytest.raises(InputError, match="unknown units"):
        read_event_waveforms(folder)
    event = read_event_waveforms(folder, units="velocity")
    assert event.event_id == "ev1"
    assert sorted(tr.stats.channel for tr in event.stream) == ["N", "Z"]
    assert event.catalog is None


def test_a_stream_in_memory_reads_like_its_folder(tmp_path: Path) -> None:
    data = np.sin(np.linspace(0, 20, 500))
    traces = [_trace("A", "HHZ", data), _trace("A", "HH1", data)]
    stream = Stream([tr.copy() for tr in traces])
    from_files = read_event_waveforms(_write(tmp_path / "ev1", traces), units="velocity")
    in_memory = read_event_waveforms(EventStream("ev1", stream), units="velocity")
    assert in_memory.event_id == "ev1"
    for a, b in zip(in_memory.stream, from_files.stream, strict=True):
        assert a.id == b.id and a.stats.starttime == b.stats.starttime
        np.testing.assert_allclose(a.data, b.data)
    assert sorted(tr.stats.channel for tr in stream) == ["HH1", "HHZ"]  # caller's untouched
    with pytest.raises(InputError, match="unknown units"):
        read_event_waveforms(EventStream("ev1", stream))


def test_acceleration_is_integrated_to_velocity(tmp_path: Path) -> None:
    rate = 100.0
    t = np.arange(2000) / rate
    omega = 2 * np.pi * 2.0
    acceleration = -omega * np.sin(omega * t)  # velocity = cos(omega t)
    folder = _write(tmp_path / "ev", [_trace("A", "HNZ", acceleration, rate)])
    event = read_event_waveforms(folder, units="acceleration")
    velocity = event.stream[0].data
    middle = slice(300, 1700)
    expected = np.cos(omega * t)[middle]
    assert np.corrcoef(velocity[middle], expected)[0, 1] > 0.99
    assert np.std(velocity[middle]) == pytest.approx(np.std(expected), rel=0.1)
    assert "converted acceleration to velocity" in event.notes


def test_gaps_are_refused_unless_filled(tmp_path: Path) -> None:
    first = _trace("A", "HHZ", np.ones(100))
    second = _trace("A", "HHZ", np.ones(100), start=START + 2.0)
    folder = _write(tmp_path / "ev", [first, second])
    with pytest.raises(InputError, match="gap"):
        read_event_waveforms(folder, units="velocity")
    event = read_event_waveforms(folder, units="velocity", fill_gaps=True)
    assert len(event.stream) == 1 and event.stream[0].stats.npts == 300


def test_nan_samples_are_refused_naming_the_channel_unless_filled(tmp_path: Path) -> None:
    data = np.ones(200)
    data[50:53] = np.nan
    folder = _write(tmp_path / "ev", [_trace("A", "HHZ", data), _trace("B", "HHZ", np.ones(200))])
    with pytest.raises(InputError, match=r"XX\.A\.\.Z holds 3 NaN/inf samples.*--fill-gaps"):
        read_event_waveforms(folder, units="velocity")
    event = read_event_waveforms(folder, units="velocity", fill_gaps=True)
    assert all(np.isfinite(tr.data).all() for tr in event.stream)
    assert any("zeroed 3 NaN/inf samples of XX.A..Z" in note for note in event.notes)


def test_mixed_rates_within_a_channel_are_refused(tmp_path: Path) -> None:
    first = _trace("A", "HHZ", np.ones(100), rate=100.0)
    second = _trace("A", "HHZ", np.ones(100), rate=50.0, start=START + 1.0)
    folder = _write(tmp_path / "ev", [first, second])
    with pytest.raises(InputError, match="mixes sampling rates"):
        read_event_waveforms(folder, units="velocity")


def test_bad_folders_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_event_waveforms(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no waveform files"):
        read_event_waveforms(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.sac").write_bytes(b"not a seismogram")
    with pytest.raises(InputError, match="not a readable"):
        read_event_waveforms(tmp_path / "junk", units="velocity")
    with pytest.raises(InputError, match="no event sub-folders"):
        event_folders(tmp_path / "empty")


def test_sac_idep_declares_units(tmp_path: Path) -> None:
    trace = _trace("A", "HHZ", np.ones(100))
    folder = tmp_path / "ev"
    folder.mkdir()
    Stream([trace]).write(str(folder / "a.sac"), format="SAC")
    from obspy import read

    sac = read(str(folder / "a.sac"))
    sac[0].stats.sac.idep = 7
    sac.write(str(folder / "a.sac"), format="SAC")
    assert read_event_waveforms(folder).source_units == "velocity"
    with pytest.raises(InputError, match="declare"):
        read_event_waveforms(folder, units="acceleration")


@pytest.mark.shared_data
def test_newberry_events_and_header_catalog(shared_data: Path) -> None:
    root = shared_data / NEWBERRY
    folders = event_folders(root)
    assert len(folders) == 5
    event = read_event_waveforms(folders[-1], units="velocity")
    assert len(event.stations) == 15
    assert {tr.stats.channel for tr in event.stream} == {"Z", "N", "E"}
    assert event.stream[0].stats.sampling_rate == pytest.approx(250.0)
    catalog = read_catalog_from_headers(root)
    assert list(catalog["event_id"]) == [f.name for f in folders]
    assert catalog["latitude_deg"].between(43.7, 43.76).all()
    assert catalog["magnitude"].isna().all()  # the headers carry no magnitude
    first = catalog.iloc[0]
    assert first["time"] == pd.Timestamp("2012-10-29 08:02:21.363", tz="UTC")
