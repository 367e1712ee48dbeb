"""The one preprocessing of station values, shared by synthetics, training and real records.

A network trained on values that went through one filter must see real records that went
through the same one, and a real-time locator can only use past samples: so the filter is a
causal (one-pass, zero initial state) Butterworth band, never a zero-phase one, and the same
function runs in `locate simulate` (on every synthetic record) and on real records after they
are brought to the training rate (`quakesense.locate.realdata`). The settings travel with the
dataset (`dataset.json`) and the trained model.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.signal import butter, sosfilt

from quakesense.core.errors import InputError


class PreprocessConfig(BaseModel):
    """Causal Butterworth band applied to every record (synthetic and real alike).

    Attributes:
        highcut_hz: Low-pass corner (None: no low-pass).
        lowcut_hz: High-pass corner (None: no high-pass), e.g. to remove microseisms.
        order: Poles of each filter.
    """

    model_config = ConfigDict(extra="forbid")

    highcut_hz: float | None = Field(None, gt=0)
    lowcut_hz: float | None = Field(None, gt=0)
    order: int = Field(4, ge=1, le=8)

    @model_validator(mode="after")
    def _ordered(self) -> PreprocessConfig:
        if self.highcut_hz and self.lowcut_hz and self.lowcut_hz >= self.highcut_hz:
            raise ValueError("lowcut_hz must be below highcut_hz")
        return self


def preprocess(
    values: np.ndarray, sampling_interval_s: float, config: PreprocessConfig
) -> np.ndarray:
    """Filter (..., n_samples) values causally along the last axis; float32 out.

    Values should be free of an offset (real records: subtract the mean of a pre-event
    window first), or the filter's start-up step shows.

    Raises:
        InputError: a corner at or above the Nyquist frequency of `sampling_interval_s`.
    """
    nyquist_hz = 0.5 / sampling_interval_s
    for name in ("highcut_hz", "lowcut_hz"):
        corner = getattr(config, name)
        if corner is not None and corner >= nyquist_hz:
            raise InputError(
                f"{corner} Hz is at or above the Nyquist frequency {nyquist_hz:g} Hz of the "
                f"{sampling_interval_s} s sampling",
                field=f"preprocess.{name}",
            )
    corners = [c for c in (config.lowcut_hz, config.highcut_hz) if c is not None]
    if not corners:
        return np.asarray(values, dtype=np.float32)
    kind = {2: "bandpass", 1: "highpass" if config.lowcut_hz else "lowpass"}[len(corners)]
    sos = butter(
        config.order,
        corners if len(corners) == 2 else corners[0],
        btype=kind,
        fs=1.0 / sampling_interval_s,
        output="sos",
    )
    return sosfilt(sos, np.asarray(values, dtype=np.float64), axis=-1).astype(np.float32)
