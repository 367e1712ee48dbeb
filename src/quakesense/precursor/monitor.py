"""Real-time monitoring: follow a growing hit source and score windows as they complete.

Sources: a CSV hit table being appended to (only complete lines are read; a partly written last
line waits for the next poll) or a Vallen `.pridb` (hits read by increasing SetID). Each hit is
read exactly once: the CSV by byte offset, the pridb by the last SetID seen; file rows are
counted across polls, and late or repeated hits are dropped and reported with their row.
Windows are scored with the model's alarm layer (calibration, threshold, persistence).
"""

from __future__ import annotations

import io
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.core.training import Device
from quakesense.io.ae import hits_from_frame, read_pridb
from quakesense.precursor.alarms import Calibrator
from quakesense.precursor.features import (
    B_FEATURES,
    WindowConfig,
    feature_matrix,
    window_features,
)
from quakesense.precursor.models import MLPClassifier


@dataclass
class HitFollower:
    """Reads the hits appended to `path` since the previous call.

    The follower keeps, across polls, the absolute file row of the next record and the last
    accepted (time, channel): a hit older than the last one, or a repeat of it, is dropped and
    reported with its file row through `report` instead of being counted twice or put in a
    window that is already closed. A missing or vanished file is an error.
    """

    path: Path
    report: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    n_dropped: int = 0
    _offset: int = 0
    _header: str | None = None
    _last_set_id: int = 0
    _rows: int = 0
    _last_time_s: float = -np.inf
    _last_channels: set[int] = field(default_factory=set)
    _rows_of: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def poll(self) -> pd.DataFrame:
        """New complete, in-order hits (possibly none)."""
        if not self.path.is_file():
            raise InputError("hit source not found (missing or removed)", source=self.path)
        if self.path.suffix.lower() == ".pridb":
            hits = read_pridb(self.path, after_set_id=self._last_set_id)
            if len(hits):
                self._last_set_id = int(hits["set_id"].max())
            return self._in_order(hits)
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        if not complete:
            return pd.DataFrame()
        self._offset += len(complete)
        text = complete.decode()
        if self._header is None:
            self._header, _, text = text.partition("\n")
        if not text.strip():
            return pd.DataFrame()
        frame = pd.read_csv(io.StringIO(self._header + "\n" + text))
        try:
            frame = self._in_order(frame)
            return hits_from_frame(frame.reset_index(drop=True), source=None)
        except InputError as error:
            row = None if error.row is None else self._rows_of[error.row]
            message = str(error).split(": ", 1)[-1]
            raise InputError(message, source=self.path, field=error.field, row=row) from error

    def _in_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Drop (and report) hits that are late or repeat an earlier one; count file rows."""
        rows = np.arange(self._rows, self._rows + len(frame))
        self._rows += len(frame)
        if frame.empty:
            self._rows_of = rows
            return frame
        times = pd.to_numeric(frame["time_s"], errors="coerce").to_numpy(dtype=float)
        channels = (
            frame["channel"].to_numpy() if "channel" in frame.columns else np.zeros(len(frame))
        )
        keep = np.ones(len(frame), dtype=bool)
        last_t, seen = self._last_time_s, set(self._last_channels)
        for i, (t, ch) in enumerate(zip(times.tolist(), channels.tolist(), strict=True)):
            if t != t:  # NaN: left for validation to report with its row
                continue
            if t < last_t or (t == last_t and ch in seen):
                keep[i] = False
                kind = "earlier than" if t < last_t else "a repeat of"
                self.report(
                    f"warning: {self.path}, row {int(rows[i])}: hit at {t:g} s on channel {ch} is "
                    f"{kind} the last hit read ({last_t:g} s); dropped"
                )
                continue
            if t > last_t:
                last_t, seen = t, set()
            seen.add(ch)
        self._last_time_s, self._last_channels = last_t, seen
        self.n_dropped += int((~keep).sum())
        self._rows_of = rows[keep]
        return frame.loc[keep]


WINDOW_COLUMNS = ("time_s", "amplitude_db", "energy_eu", "avg_frequency_hz", "counts", "duration_s")
"""The hit columns `window_features` reads; the monitor buffers only these."""


class MonitorConfig(BaseModel):
    """Settings of `precursor monitor`; the model brings its windows and alarm layer."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        None, ge=0, le=1, description="alarm threshold; None: the model's, from training"
    )
    origin_utc: str | None = Field(
        None, description="UTC time of hit time 0; None: the model's, if known"
    )
    speed: float = Field(0.0, ge=0, description="replay speed, record s per wall s; 0 = max")
    poll_s: float = Field(1.0, gt=0, description="seconds between polls of a growing file")
    idle_polls: int | None = Field(
        None, ge=1, description="stop after this many empty polls; None: follow until Ctrl-C"
    )
    device: Device = Field("auto", description="where the network predicts: auto|cpu|cuda")
    progress: bool = Field(
        True, description="a running count of scored windows and hits read (stderr)"
    )


NO_WINDOWS = pd.DataFrame()
"""What `Monitor.push` returns when no window completed (shared: do not modify); building a
fresh empty frame per poll cost more than the rest of a poll."""


@dataclass
class Monitor:
    """Scores windows [start, start + window_s) once a hit at or after their end has arrived.

    The buffer holds, as NumPy column chunks, only the hits at or after the start of the oldest
    open window: a poll costs O(new hits), a completed window O(hits of the open windows).
    """

    model: MLPClassifier
    features: list[str]
    window: WindowConfig
    threshold: float = 0.5
    calibrator: Calibrator = field(default_factory=lambda: Calibrator("none"))
    persistence: int = 1
    next_start_s: float | None = None
    seen_hits: int = 0
    _above_run: int = 0
    _columns: list[str] = field(default_factory=list)
    _chunks: list[np.ndarray] = field(default_factory=list)
    _dropped_hits: int = 0
    _latest_s: float = -np.inf

    @classmethod
    def from_model(
        cls, path: str | Path, threshold: float | None = None, device: Device = "cpu"
    ) -> Monitor:
        """Build from a saved precursor MLP folder (or the run folder holding it), with the
        window configuration of its training features and its alarm layer (calibration,
        threshold, persistence); `threshold` overrides the saved threshold, and the network
        predicts on `device`.

        A model trained on a table without saved settings records only `window_s`: its b/Ib
        settings are unknown, and a model that uses them is refused rather than fed b-values
        computed with another completeness threshold.
        """
        model, extra = MLPClassifier.load(path, device)
        features = list(extra["features"])
        if extra.get("window") is not None:
            window = WindowConfig.model_validate(extra["window"])
        else:
            window_s = float(extra.get("window_s", 3600.0))
            window = WindowConfig(window_s=window_s, step_s=window_s)
        uses_b = [name for name in features if name in B_FEATURES]
        if uses_b and window.threshold_db is None:
            raise InputError(
                f"the model uses {uses_b} but does not record the b-value settings "
                "(threshold_db) of its training features, so the monitor cannot reproduce them; "
                "train on a table made by `quakesense precursor features` (its settings are in "
                "<table>.window.json) or without the b/Ib columns",
                source=path,
                field=uses_b[0],
            )
        if window.count == "events":
            raise InputError(
                "the model was trained on AE events (hit coincidences); the monitor counts "
                "hits: train on a table made with --count hits",
                source=path,
                field="count",
            )
        alarm = extra.get("alarm") or {}
        return cls(
            model,
            features,
            window,
            float(alarm.get("threshold", 0.5) if threshold is None else threshold),
            Calibrator.from_dict(alarm.get("calibration", {"method": "none"})),
            int(alarm.get("persistence", 1)),
        )

    def _append(self, hits: pd.DataFrame) -> np.ndarray:
        """Buffer the window columns of `hits` (column by column: a multi-column selection
        costs pandas several times more per poll); returns their times."""
        if not self._columns:
            have = [c for c in WINDOW_COLUMNS if c in hits.columns]
            if "avg_frequency_hz" in have:
                have = [c for c in have if c not in ("counts", "duration_s")]
            self._columns = have
        chunk = np.column_stack([hits[c].to_numpy(dtype=float) for c in self._columns])
        self._chunks.append(chunk)
        return chunk[:, 0]

    def _buffered(self) -> pd.DataFrame:
        """The buffered hits as one frame; the buffer is kept as a single chunk afterwards."""
        self._chunks = [np.concatenate(self._chunks)]
        return pd.DataFrame(self._chunks[0], columns=self._columns)

    def push(self, hits: pd.DataFrame, *, now_s: float | None = None) -> pd.DataFrame:
        """Add new hits; return the windows completed by them (`NO_WINDOWS` if none)."""
        if len(hits):
            times = self._append(hits)
            self.seen_hits += len(hits)
            self._latest_s = max(self._latest_s, float(times[-1]))
            if self.next_start_s is None:
                step = self.window.step_s
                self.next_start_s = float(np.floor(times[0] / step) * step)
        if self.next_start_s is None:
            return NO_WINDOWS
        latest = self._latest_s if now_s is None else now_s
        elapsed = latest - self.next_start_s - self.window.window_s
        n_done = int(np.floor(elapsed / self.window.step_s)) + 1
        if n_done <= 0:
            return NO_WINDOWS
        buffered = self._buffered()
        end_s = self.next_start_s + (n_done - 1) * self.window.step_s + self.window.window_s
        windows = window_features(buffered, self.window, start_s=self.next_start_s, end_s=end_s)
        windows["cumulative_hits"] += self._dropped_hits  # count from the record start
        raw = self.model.predict_proba(feature_matrix(windows, self.features))
        windows["probability"] = self.calibrator(raw)
        above = (windows["probability"] >= self.threshold).to_numpy()
        runs = np.zeros(above.size, dtype=np.int64)
        for i, flag in enumerate(above.tolist()):
            self._above_run = self._above_run + 1 if flag else 0
            runs[i] = self._above_run
        windows["warning"] = runs >= self.persistence
        self.next_start_s += n_done * self.window.step_s
        keep = int(np.searchsorted(buffered["time_s"].to_numpy(), self.next_start_s, "left"))
        self._chunks = [self._chunks[0][keep:]]
        self._dropped_hits += keep
        return windows


def replay(hits: pd.DataFrame, speed: float, batch_s: float = 60.0) -> Iterator[pd.DataFrame]:
    """Yield a recorded hit table in batches of `batch_s` record time, paced by `speed`
    (record seconds per wall second; 0 means as fast as possible)."""
    times = hits["time_s"].to_numpy(dtype=float)
    if times.size == 0:
        raise InputError("no hits to replay", field="time_s")
    edges = np.arange(np.floor(times[0]), times[-1] + batch_s, batch_s)
    bounds = np.searchsorted(times, edges)
    for lo, hi in itertools.pairwise(bounds):
        if speed > 0:
            time.sleep(batch_s / speed)
        yield hits.iloc[lo:hi]


def follow(
    follower: HitFollower,
    monitor: Monitor,
    emit: Callable[[pd.DataFrame], None],
    *,
    poll_s: float,
    idle_polls: int | None = None,
) -> int:
    """Poll until interrupted (Ctrl-C), or, when `idle_polls` is set, until that many
    successive polls bring nothing new; returns the number of hits read."""
    idle = 0
    while idle_polls is None or idle < idle_polls:
        new = follower.poll()
        idle = 0 if len(new) else idle + 1
        done = monitor.push(new)
        if len(done):
            emit(done)
        if idle:
            time.sleep(poll_s)
    return monitor.seen_hits
