"""Detection by STA/LTA (ObsPy) and the network's estimates as time goes on after detection.

As in Sugiyama et al. (2021): STA over 0.5 s, LTA over 5 s, estimation starts when the ratio
exceeds 4; the network estimates at every time step after the trigger, and the estimate a fixed
time after detection (8 s in the paper) is the answer. `evolution_figure` draws each parameter
against time after detection, like the paper's Fig. 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from quakesense.core.errors import InputError
from quakesense.locate.models import TARGETS

if TYPE_CHECKING:
    from quakesense.locate.train import TrainedLocator


class TriggerConfig(BaseModel):
    """STA/LTA detection settings."""

    model_config = ConfigDict(extra="forbid")

    sta_s: float = Field(0.5, gt=0)
    lta_s: float = Field(5.0, gt=0)
    threshold_on: float = Field(4.0, gt=0)
    threshold_off: float = Field(1.0, gt=0)
    min_stations: int = Field(2, ge=1, description="stations that must trigger; the k-th onset")
    answer_after_s: float = Field(8.0, ge=0, description="the answer: estimate this long after")
    min_contrast: float = Field(
        2.0, gt=0, description="a detection below this peak contrast lies on noise"
    )
    settle_s: float | None = Field(
        None, ge=0, description="start of the record kept out of the LTA; default lta_s / 5"
    )

    @property
    def settle_seconds(self) -> float:
        """The filters' start transient kept out of the LTA (default a fifth of the LTA).

        Records start with the causal filters' zero-state ramp and the taper before it, a
        stretch quieter (or ringing louder) than the noise after it. An LTA that averages
        it is biased, and the paper's 4 is crossed on plain noise at the first sample after
        the LTA window (measured on the Newberry records at 0.1 s and 2 Hz). A 4th-order
        causal Butterworth low-pass at 2 Hz settles to 1 % within 0.9 s: the default
        lta_s / 5 is 1 s for the paper's 5 s LTA and scales down with shorter windows.
        """
        return self.lta_s / 5 if self.settle_s is None else self.settle_s


class NoTriggerError(InputError):
    """No station's STA/LTA reached the threshold."""


def detect(
    values: np.ndarray,
    sampling_interval_s: float,
    config: TriggerConfig | None = None,
    *,
    source: str | None = None,
    after_index: int = -1,
) -> int:
    """The detection time step: the `min_stations`-th earliest STA/LTA onset of the Z traces.

    The ratio counts only once the LTA window holds nothing of the first `settle_seconds`
    (the filters' start transient), and an on-period already on at that first counted sample
    is not an onset: its rise was not seen.

    Args:
        values: (n_stations, 3, n_samples) velocity; all-zero stations (cut out) are skipped.
        sampling_interval_s: Time step.
        config: Trigger settings.
        source: Event name for messages.
        after_index: Only onsets after this time step count (re-arming after a rejected one).

    Raises:
        NoTriggerError: fewer than `min_stations` stations triggered.
    """
    from obspy.signal.trigger import classic_sta_lta, trigger_onset

    config = config or TriggerConfig()
    n_sta = max(1, round(config.sta_s / sampling_interval_s))
    n_lta = max(n_sta + 1, round(config.lta_s / sampling_interval_s))
    first = round(config.settle_seconds / sampling_interval_s) + n_lta - 1
    if values.shape[-1] <= first + 1:
        raise NoTriggerError(
            f"record of {values.shape[-1]} samples is shorter than the start transient plus "
            f"the LTA window ({first + 1})",
            source=source,
            field="lta_s",
        )
    onsets, best_ratio = [], 0.0
    for trace in np.asarray(values, dtype=np.float64)[:, 0, :]:
        if not np.any(trace):
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = classic_sta_lta(trace, n_sta, n_lta)
        ratio[:first] = 0.0
        ratio = np.nan_to_num(ratio, nan=0.0, posinf=0.0)
        best_ratio = max(best_ratio, float(ratio.max()))
        found = [
            int(on)
            for on, _ in trigger_onset(ratio, config.threshold_on, config.threshold_off)
            if on > max(first, after_index)
        ]
        if found:
            onsets.append(found[0])
    if len(onsets) < config.min_stations:
        raise NoTriggerError(
            f"no trigger: {len(onsets)} station(s) reached STA/LTA {config.threshold_on} "
            f"(need {config.min_stations}; highest ratio {best_ratio:.2f})",
            source=source,
            field="threshold_on",
        )
    return sorted(onsets)[config.min_stations - 1]


def detection_contrast(
    values: np.ndarray,
    trigger_index: int,
    sampling_interval_s: float,
    config: TriggerConfig | None = None,
) -> float:
    """Whether a detection sits on energy: peak after over peak before, on enough stations.

    Per station with data, the peak |Z| from the detection to the answer (`answer_after_s`)
    over the peak |Z| in the LTA window before it; the value is the `min_stations`-th largest
    of these (as many stations as the detection needs must show the energy). Measured on the
    five Newberry records with the default trigger: detections on noise 1.3-1.6 (all five at
    the paper's 0.1 s / 2 Hz, one at 0.02 s / 15 Hz 24 s before its event), detections on
    events at 0.02 s / 15 Hz 3.3-11.6; below `min_contrast` (2) the answer was made from noise.
    """
    config = config or TriggerConfig()
    z = np.abs(np.asarray(values, dtype=np.float64)[:, 0, :])
    z = z[np.any(z > 0, axis=1)]
    before = z[:, max(0, trigger_index - round(config.lta_s / sampling_interval_s)) : trigger_index]
    after = z[
        :, trigger_index : trigger_index + round(config.answer_after_s / sampling_interval_s) + 1
    ]
    if not z.size or not before.shape[1] or not after.shape[1]:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sort(after.max(axis=1) / before.max(axis=1))[::-1]
    return float(ratio[min(config.min_stations, len(ratio)) - 1])


def detect_event(
    values: np.ndarray,
    sampling_interval_s: float,
    config: TriggerConfig | None = None,
    *,
    source: str | None = None,
) -> tuple[int, float]:
    """The first detection that lies on energy, and its `detection_contrast`.

    A long real record holds noise bursts before its event (on the five Newberry records at
    0.02 s / 15 Hz, one detection 24 s early with contrast 1.5): a detection whose contrast is
    below `min_contrast` is rejected and the trigger re-armed after it, as a network
    detector's coincidence check would. The contrast looks no further than `answer_after_s`,
    so the answer is no later than without the check. When no detection passes, the first
    one is returned with its low contrast (the caller flags it as on noise).

    Raises:
        NoTriggerError: fewer than `min_stations` stations triggered at all.
    """
    config = config or TriggerConfig()
    first = detect(values, sampling_interval_s, config, source=source)
    onset, contrast = first, detection_contrast(values, first, sampling_interval_s, config)
    while not contrast >= config.min_contrast:
        try:
            onset = detect(values, sampling_interval_s, config, after_index=onset)
        except NoTriggerError:
            return first, detection_contrast(values, first, sampling_interval_s, config)
        contrast = detection_contrast(values, onset, sampling_interval_s, config)
    return onset, contrast


@dataclass
class Evolution:
    """Estimates at every time step from detection to the answer.

    Attributes:
        trigger_index: Detection time step.
        frames: Time steps estimated at.
        estimates: (n, 5) physical estimates, `TARGETS` order, origin delay converted to
            `origin_time_s` (seconds after the first sample).
        answer: The estimate at `answer_after_s` (or the last one if the record ends first).
        sampling_interval_s: Time step.
    """

    trigger_index: int
    frames: np.ndarray
    estimates: np.ndarray
    answer: np.ndarray
    sampling_interval_s: float

    @property
    def times_after_detection_s(self) -> np.ndarray:
        """Time of each estimate after detection."""
        return (self.frames - self.trigger_index) * self.sampling_interval_s


def estimate_in_time(
    locator: TrainedLocator,
    values: np.ndarray,
    trigger_index: int,
    answer_after_s: float = 8.0,
) -> Evolution:
    """Let the network estimate at every time step after detection; answer at `answer_after_s`."""
    dt = locator.spec.sampling_interval_s
    last = min(values.shape[-1] - 1, trigger_index + round(answer_after_s / dt))
    frames = np.arange(trigger_index, last + 1)
    estimates = locator.predict(values, frames)
    estimates[:, 3] = frames * dt - estimates[:, 3]
    return Evolution(trigger_index, frames, estimates, estimates[-1].copy(), dt)


def evolution_figure(
    evolution: Evolution, truth: np.ndarray | None = None, title: str = ""
) -> plt.Figure:
    """Each parameter against time after detection (the paper's Fig. 5), truth dashed."""
    names = [*TARGETS[:3], "origin_time_s", TARGETS[4]]
    fig, axes = plt.subplots(len(names), 1, figsize=(6, 8), sharex=True)
    t = evolution.times_after_detection_s
    for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
        ax.plot(t, evolution.estimates[:, k], color="tab:blue", label="estimate")
        if truth is not None and np.isfinite(truth[k]):
            ax.axhline(truth[k], color="tab:red", linestyle="--", label="reference")
        ax.axvline(t[-1], color="grey", linestyle=":", linewidth=1)
        ax.set_ylabel(name, fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time after detection (s)")
    fig.suptitle(title or "estimates after detection")
    fig.tight_layout()
    return fig
