"""Arrival times picked from AE waveforms (Vallen `.tradb`) with vallenae's pickers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quakesense.core.errors import InputError
from quakesense.core.tables import PICKS
from quakesense.io.ae import read_tradb


def pick_onset(
    data_v: np.ndarray, *, window_samples: int = 1000, refine: str | None = "hinkley"
) -> int:
    """Sample index of the first arrival in one transient.

    Stage 1: AIC picker over the first `window_samples` (pre-trigger plus early signal; AIC over
    the whole record locks onto later, stronger phases). Stage 2 (`refine="hinkley"`): Hinkley
    criterion (alpha 20) within 50 samples of the AIC pick, sharper at the onset.
    On the vallenae steel-plate break the refinement moves the location from 3.0 mm to 1.3 mm
    away from the reference; it was chosen on that single event.
    """
    import vallenae.timepicker as picker

    _, first = picker.aic(np.asarray(data_v[:window_samples], dtype=float))
    if refine is None:
        return int(first)
    if refine != "hinkley":
        raise InputError(f"unknown refinement '{refine}' (hinkley or none)", field="refine")
    start = max(int(first) - 50, 0)
    _, offset = picker.hinkley(np.asarray(data_v[start : int(first) + 50], dtype=float), 20)
    return start + int(offset)


def pick_tradb(
    path: str | Path,
    *,
    event_id: str = "E0",
    trai: list[int] | None = None,
    refine: str | None = "hinkley",
) -> pd.DataFrame:
    """P picks of the transients in a `.tradb` (all of one event), as a PICKS table.

    The sensor id is the channel number as text; `time_s` is the hit time corrected by the
    picked onset relative to the trigger (`pretrigger_samples`).
    """
    waves = read_tradb(path, trai=trai)
    if waves.empty:
        raise InputError("no transients to pick", source=path)
    onset = np.array([pick_onset(w, refine=refine) for w in waves["data_v"]])
    time_s = waves["time_s"] + (onset - waves["pretrigger_samples"]) / waves["samplerate_hz"]
    picks = pd.DataFrame(
        {
            "event_id": event_id,
            "sensor": waves["channel"].astype(str),
            "phase": "P",
            "time_s": time_s,
        }
    )
    return PICKS.validate(picks, source=str(path))
