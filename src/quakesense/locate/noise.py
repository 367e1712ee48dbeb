"""Real pre-event noise for training: cut from a network's recorded events, kept with the dataset.

Synthetic noise (`seismograms.noise`, a coloured Gaussian) is not what a real network records:
spikes, cultural noise, levels and spectra that differ from station to station. Given real
records of the network (`locate simulate --noise-records`), each event's pre-event window is
cut: it ends `margin_s` before the catalog origin held in the SAC headers or, without one,
before the event's first P pick (`picking.pick_event` at the records' own rate); a record
without any pick is noise throughout. The window goes through the chain a real record goes
through before a network sees it (`records.to_station_values` at the training time step, then
`preprocess.preprocess` with the dataset's band), loses the filter's settling time at its
start, and is stored as a seamless loop (its end cross-faded into its start) in
`real_noise.npz` beside the dataset. Training (`LocateTrainConfig.real_noise_scale`) adds to
every training sample, per station, a loop recorded at that station, drawn at random, rolled
by a random offset and scaled by a log-uniform factor within stated bounds; a station that
never recorded noise borrows another station's loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.io.waveforms import EventWaveforms, Units, event_folders, read_event_waveforms
from quakesense.locate.picking import pick_event
from quakesense.locate.preprocess import PreprocessConfig, preprocess
from quakesense.locate.records import native_interval_s, to_station_values

NOISE_FILE = "real_noise.npz"
"""File of the noise loops inside a dataset folder."""
_FADE_S = 2.0
"""Cross-fade that closes each loop (at most a quarter of it)."""
_SETTLE_PERIODS = 3.0
"""Periods of the lowest filter corner dropped at a window's start (filter start-up)."""


class RealNoiseSettings(BaseModel):
    """Where real pre-event noise comes from and how its windows are cut.

    Attributes:
        records: Event folders of SAC/miniSEED files, or folders of such event folders; the
            stations must be the dataset's (matched by station code, network optional).
        units: Unit of the files (`auto`: from the SAC headers).
        margin_s: A window ends this long before the catalog origin or the first P pick.
        min_window_s: Windows shorter than this (after the filter's settling) are skipped.
    """

    model_config = ConfigDict(extra="forbid")

    records: list[Path] = Field(
        default_factory=list, description="event folders (or folders of them) of real records"
    )
    units: Units = "auto"
    margin_s: float = Field(1.0, ge=0, description="gap before the origin or first P pick")
    min_window_s: float = Field(10.0, gt=0, description="shorter pre-event windows are skipped")


@dataclass
class NoisePool:
    """Real pre-event noise loops on the training grid, per event and station.

    Attributes:
        loops: float32 (n_windows, n_stations, 3, n_loop) m/s, components (Z, N, E), already
            through the dataset's preprocessing; periodic along the last axis.
        present: bool (n_windows, n_stations), whether the station recorded in that window.
        stations: Station names, in the dataset's order.
        sampling_interval_s: Time step of the loops.
        windows: One row per window: event_id, start_time, end_time (UTC), ends_at (what ended
            it), seconds, n_stations.
    """

    loops: np.ndarray
    present: np.ndarray
    stations: list[str]
    sampling_interval_s: float
    windows: pd.DataFrame

    def draw(
        self,
        n_samples: int,
        scale: tuple[float, float],
        rng: np.random.Generator,
        n_components: int = 3,
    ) -> np.ndarray:
        """Noise (n_stations, n_components, n_samples): per station a random loop, offset and
        scale; the first `n_components` of (Z, N, E).

        The scale is log-uniform in `scale` (1: as recorded); a station without any loop of
        its own takes one of another station.
        """
        n_loop = self.loops.shape[-1]
        pairs = np.argwhere(self.present)
        out = np.empty((len(self.stations), n_components, n_samples), dtype=np.float32)
        for k in range(len(self.stations)):
            own = np.flatnonzero(self.present[:, k])
            window, station = (
                (int(rng.choice(own)), k) if own.size else tuple(pairs[rng.integers(len(pairs))])
            )
            index = (rng.integers(n_loop) + np.arange(n_samples)) % n_loop
            out[k] = self.loops[window, station][:n_components, index]
        factor = np.exp(rng.uniform(np.log(scale[0]), np.log(scale[1]), len(self.stations)))
        return out * factor.astype(np.float32)[:, None, None]

    def describe(self) -> dict[str, Any]:
        """What the pool holds, for dataset.json and reports."""
        rms_m_s = np.sqrt(np.mean(self.loops[:, :, 0] ** 2, axis=-1))[self.present]
        return {
            "file": NOISE_FILE,
            "n_windows": len(self.loops),
            "loop_s": round(self.loops.shape[-1] * self.sampling_interval_s, 3),
            "stations_without_noise": [
                s for s, ok in zip(self.stations, self.present.any(axis=0), strict=True) if not ok
            ],
            "vertical_rms_m_s_median": float(np.median(rms_m_s)),
            "windows": self.windows.to_dict("records"),
        }

    def save(self, folder: Path) -> Path:
        """Write the loops and their window table to `folder / NOISE_FILE`."""
        path = Path(folder) / NOISE_FILE
        np.savez(
            path,
            loops=self.loops,
            present=self.present,
            stations=np.array(self.stations),
            sampling_interval_s=self.sampling_interval_s,
            windows=self.windows.to_json(orient="records"),
        )
        return path

    @classmethod
    def load(cls, folder: Path) -> NoisePool | None:
        """The pool stored in a dataset folder, or None when it holds none."""
        path = Path(folder) / NOISE_FILE
        if not path.is_file():
            return None
        with np.load(path) as stored:
            return cls(
                loops=stored["loops"],
                present=stored["present"],
                stations=[str(s) for s in stored["stations"]],
                sampling_interval_s=float(stored["sampling_interval_s"]),
                windows=pd.read_json(StringIO(str(stored["windows"])), orient="records"),
            )


def _settle_s(prep: PreprocessConfig) -> float:
    corners = [c for c in (prep.lowcut_hz, prep.highcut_hz) if c is not None]
    return _SETTLE_PERIODS / min(corners) if corners else 0.0


def _record_folders(paths: list[Path]) -> list[Path]:
    """Event folders: a folder holding files is one event, else its sub-folders are."""
    folders = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise InputError(
                "not a folder of real records (give event folders of SAC/miniSEED files, or "
                "a folder of such event folders)",
                source=path,
                field="real_noise.records",
            )
        has_files = any(p.is_file() and not p.name.startswith(".") for p in path.iterdir())
        folders += [path] if has_files else event_folders(path)
    return folders


def pre_event_window(
    event: EventWaveforms,
    stations: list[str],
    sampling_interval_s: float,
    prep: PreprocessConfig,
    margin_s: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One event's preprocessed pre-event noise (n_stations, 3, n), its present mask, a row.

    The window ends `margin_s` before the catalog origin (SAC headers) or, without one, before
    the first P pick; the first `_SETTLE_PERIODS` periods of the lowest filter corner are
    dropped (the causal filter starts from rest).
    """
    dt = sampling_interval_s
    values = to_station_values(event, stations, dt, min_stations=1)
    filtered = preprocess(values.values, dt, prep)
    if event.catalog is not None:
        end_s = event.catalog["time"].timestamp() - values.start_time.timestamp
        ends_at = "catalog origin"
    else:
        native = to_station_values(event, stations, native_interval_s(event), min_stations=1)
        picks = pick_event(native.values, native.sampling_interval_s, stations)
        end_s = float(picks["time_s"].min()) if len(picks) else values.times_s[-1] + dt
        ends_at = "first P pick" if len(picks) else "end of record (no pick)"
    first = round(_settle_s(prep) / dt)
    stop = min(filtered.shape[-1], int(np.floor((end_s - margin_s) / dt)))
    window = filtered[:, :, first:stop] if stop > first else filtered[:, :, :0]
    row = {
        "event_id": event.event_id,
        "start_time": str(values.start_time + first * dt),
        "end_time": str(values.start_time + max(stop, first) * dt),
        "ends_at": ends_at,
        "seconds": round(window.shape[-1] * dt, 3),
        "n_stations": int(values.present.sum()),
    }
    return window, values.present, row


def _loop(window: np.ndarray, n_loop: int, n_fade: int) -> np.ndarray:
    """The last `n_loop + n_fade` samples made periodic with period `n_loop`.

    The `n_fade` samples after the loop are cross-faded (equal power) into its start, so the
    loop joins its end to its start without a step.
    """
    part = window[..., -(n_loop + n_fade) :]
    loop = part[..., :n_loop].copy()
    t = (np.arange(n_fade) + 0.5) / n_fade
    loop[..., :n_fade] = part[..., :n_fade] * np.sin(0.5 * np.pi * t) + part[..., n_loop:] * np.cos(
        0.5 * np.pi * t
    )
    return loop


def real_noise_pool(
    settings: RealNoiseSettings,
    stations: list[str],
    sampling_interval_s: float,
    prep: PreprocessConfig,
) -> NoisePool:
    """Cut, preprocess and loop the pre-event windows of every record in `settings.records`.

    Windows shorter than `min_window_s` are skipped; all loops take the length of the
    shortest window kept (its latest part, nearest the event, from longer ones).

    Raises:
        InputError: a folder that is not records, records of none of the stations, or no
            window long enough.
    """
    dt = sampling_interval_s
    kept, rows = [], []
    for folder in _record_folders(settings.records):
        event = read_event_waveforms(folder, units=settings.units)
        window, present, row = pre_event_window(event, stations, dt, prep, settings.margin_s)
        row["used"] = row["seconds"] >= settings.min_window_s
        rows.append(row)
        if row["used"]:
            kept.append((window, present))
    if not kept:
        raise InputError(
            f"no pre-event window of at least {settings.min_window_s} s in the noise records "
            f"(windows: {[r['seconds'] for r in rows]} s)",
            field="real_noise.records",
        )
    shortest = min(w.shape[-1] for w, _ in kept)
    n_fade = max(1, min(round(_FADE_S / dt), shortest // 4))
    loops = np.stack([_loop(w, shortest - n_fade, n_fade) for w, _ in kept]).astype(np.float32)
    return NoisePool(
        loops=loops,
        present=np.stack([p for _, p in kept]),
        stations=list(stations),
        sampling_interval_s=float(dt),
        windows=pd.DataFrame(rows),
    )
