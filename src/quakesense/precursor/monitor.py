"""Real-time monitoring: follow a growing hit source and score windows as they complete.

Sources: a CSV hit table being appended to (only complete lines are read; a partly written last
line waits for the next poll) or a Vallen `.pridb` (hits read by increasing SetID). Each hit is
read exactly once: the CSV by byte offset, the pridb by the last SetID seen.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.io.ae import hits_from_frame, read_pridb
from quakesense.precursor.features import (
    B_FEATURES,
    WindowConfig,
    feature_matrix,
    window_features,
)
from quakesense.precursor.models import MLPClassifier


@dataclass
class HitFollower:
    """Reads the hits appended to `path` since the previous call."""

    path: Path
    _offset: int = 0
    _header: str | None = None
    _last_set_id: int = 0

    def poll(self) -> pd.DataFrame:
        """New complete hits (possibly none)."""
        if not self.path.exists():
            return pd.DataFrame()
        if self.path.suffix.lower() == ".pridb":
            hits = read_pridb(self.path, after_set_id=self._last_set_id)
            if len(hits):
                self._last_set_id = int(hits["set_id"].max())
            return hits
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
        return hits_from_frame(frame, source=str(self.path))


WINDOW_COLUMNS = ("time_s", "amplitude_db", "energy_eu", "avg_frequency_hz", "counts", "duration_s")
"""The hit columns `window_features` reads; the monitor buffers only these."""
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
    next_start_s: float | None = None
    seen_hits: int = 0
    _columns: list[str] = field(default_factory=list)
    _chunks: list[np.ndarray] = field(default_factory=list)
    _dropped_hits: int = 0
    _latest_s: float = -np.inf

    @classmethod
    def from_model(cls, path: str | Path, threshold: float = 0.5) -> Monitor:
        """Build from a saved precursor MLP folder, with the window configuration of its
        training features.

        A model trained on a table without saved settings records only `window_s`: its b/Ib
        settings are unknown, and a model that uses them is refused rather than fed b-values
        computed with another completeness threshold.
        """
        model, extra = MLPClassifier.load(path)
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
        return cls(model, features, window, threshold)

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
        windows["probability"] = self.model.predict_proba(feature_matrix(windows, self.features))
        windows["warning"] = windows["probability"] >= self.threshold
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
    idle_polls: int,
) -> int:
    """Poll until `idle_polls` successive polls bring nothing new (a paused writer is waited
    for that long); returns the number of hits read."""
    idle = 0
    while idle < idle_polls:
        new = follower.poll()
        idle = 0 if len(new) else idle + 1
        done = monitor.push(new)
        if len(done):
            emit(done)
        if idle:
            time.sleep(poll_s)
    return monitor.seen_hits
