"""Network inputs from station values: one code path for training, evaluation and real data.

Station values (n_stations, 3, n_samples) in m/s become, for a time step f:
- `cnn2d`: the vertical-velocity snapshot at f (H, W), one product with the interpolation matrix;
- `cnn3d`: the clip of the T snapshots ending at f, `frame_step` samples apart (T, H, W), zeros
  before the record start;
- `convnetquake`: the T samples of all stations and components ending at f, `frame_step`
  samples apart (n_stations * 3, T).
With `transform="rms"` the station values are first replaced by their causal running RMS over
`rms_window_s` (sign dropped, only past samples used, so a real-time estimate at f never sees the
future). With `transform="max"` (the training default) they are replaced by their causal running
maximum of |v| over `max_window_s` (the peak velocity so far, within the window). Where the
network is small against the wavelengths the snapshots of raw velocity are spatially aliased (15
stations cannot sample a 300 m wavelength); the RMS or peak map of "where it has shaken" stays
smooth and is what makes such networks learnable. On a small network with noisy, weak events the
running peak holds more position than the RMS (measured in docs/pipelines/locate_cnn.md): the
peak stands above the noise where a long RMS window averages it in, and a short window forgets
the earlier arrivals.
Amplitudes span orders of magnitude with magnitude and distance. Two ways to tame them:
- `amplitude="global"`: `asinh(v / amplitude_scale_m_s)`, linear for small values, logarithmic
  for large ones, one scale for all samples. The pattern of a small event is then a faint copy
  of that of a big one, and a CNN on a few thousand samples learns the size, not the place.
- `amplitude="peak"` (default): each sample is taken relative to its own peak on a log scale
  (3 decades), so the wavefront pattern (which stations shake, how much less than the
  nearest, with which sign) looks the same for every size, and the
  overall level `log10(peak / amplitude_scale_m_s)` is fed as a second, constant input channel
  (or row, for `convnetquake`) so the magnitude stays learnable.
- `amplitude="snr"`: each station (and component) relative to its own level just before the
  clip (the transformed value `SNR_REFERENCE_LEAD_S` before the clip's first frame: with the
  running maximum, the station's noise peak), on a log scale of `SNR_DYNAMIC_RANGE_DECADES`,
  0 at or below that level. Station gains, site terms and radiation pattern cancel within a
  station; what is left is when, and by how much, each station rose above its own noise: the
  arrival front that a pick-based location uses. The level channel is as with `peak`.
With `onset_channel` (images only) a further channel holds, per station, the time since its
latest STA/LTA onset (ObsPy's recursive STA/LTA on the vertical; 0 before its first onset; a
re-trigger within one clip length does not restart it), in clip lengths (`cnn3d`) or LTA
windows (`cnn2d`), capped at 1, interpolated like the amplitudes: the picks a classical
locator reads, as an image of how long each place has been shaking. The `snr` rise of a
station mixes when the wave arrived with how strong it is; the onset age is timing alone
(tried against the CNN's shrinkage toward the middle, docs/pipelines/locate_cnn.md).
With `station_mask` (images only) a last channel holds the interpolated presence of each station
(1: it has data, 0: missing or cut out), so a station without data no longer looks like one the
waves have not reached yet.
The scale is fitted on the training events and saved with the model, so real data are
transformed exactly like the training data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.ndimage import maximum_filter1d

from quakesense.core.errors import InputError

ModelType = Literal["cnn2d", "cnn3d", "convnetquake"]
Transform = Literal["velocity", "rms", "max"]
Amplitude = Literal["global", "peak", "snr"]
MODEL_TYPES: tuple[str, ...] = ("cnn2d", "cnn3d", "convnetquake")
REGISTRY_NAMES = {
    "cnn2d": "locate.cnn2d",
    "cnn3d": "locate.cnn3d",
    "convnetquake": "locate.convnetquake",
}


@dataclass
class InputSpec:
    """Everything needed to turn station values into the inputs a trained network expects.

    Attributes:
        model_type: `cnn2d`, `cnn3d` or `convnetquake`.
        stations: Station codes in the order of the value rows.
        sampling_interval_s: Time step of the values (the training rate).
        height, width: Snapshot size.
        matrix: (height * width, n_stations) interpolation matrix of the training set.
        n_frames: Clip or window length in frames (1 for `cnn2d`).
        frame_step: Samples between consecutive frames of a clip or window (1: consecutive
            samples, what models saved before it existed used).
        amplitude_scale_m_s: Scale of the asinh amplitude compression.
        transform: `velocity` (the paper's snapshots), `rms` (causal running RMS) or `max`
            (causal running maximum of |v|).
        rms_window_s: Window of the running RMS.
        max_window_s: Window of the running maximum.
        amplitude: `peak` (per-sample peak normalisation + level channel), `snr` (each
            station relative to its own pre-clip level + level channel) or `global` (asinh).
        station_mask: Add the stations' presence (interpolated) as a last image channel.
        skip_missing: Interpolate each image from the stations with data only (the inverse-
            distance weights renormalised over them), so a missing or cut-out station is
            absent from the image instead of a station the waves have not reached.
        onset_channel: Add the stations' onset ages (interpolated) as a channel.
        onset_sta_s, onset_lta_s: STA and LTA windows of the onset trigger.
    """

    model_type: str
    stations: list[str]
    sampling_interval_s: float
    height: int
    width: int
    matrix: np.ndarray
    n_frames: int
    amplitude_scale_m_s: float
    transform: str = "velocity"
    rms_window_s: float = 0.1
    amplitude: str = "peak"
    max_window_s: float = 10.0
    frame_step: int = 1
    station_mask: bool = False
    skip_missing: bool = False
    onset_channel: bool = False
    onset_sta_s: float = 0.15
    onset_lta_s: float = 1.5

    @property
    def n_components(self) -> int:
        """Components the inputs read: the vertical for the image networks (their snapshots
        show it), all three for ConvNetQuake. Training cuts the others before augmenting."""
        return 3 if self.model_type == "convnetquake" else 1

    @property
    def in_channels(self) -> int:
        """Input channels of the network (level channel with `peak`, `snr`; onsets; mask)."""
        return (
            (1 if self.amplitude == "global" else 2)
            + int(self.onset_channel)
            + int(self.station_mask)
        )

    def __post_init__(self) -> None:
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        if self.model_type not in MODEL_TYPES:
            raise InputError(
                f"unknown model type '{self.model_type}'; choose from {MODEL_TYPES}",
                field="model_type",
            )
        if self.amplitude == "snr" and self.transform == "velocity":
            raise InputError(
                "amplitude 'snr' needs a level transform ('max' or 'rms'): a single velocity "
                "sample is no station level",
                field="amplitude",
            )
        if self.station_mask and (self.model_type == "convnetquake" or self.amplitude == "global"):
            raise InputError(
                "station_mask needs an image network (cnn2d, cnn3d) with amplitude 'peak' or 'snr'",
                field="station_mask",
            )
        if self.onset_channel and (self.model_type == "convnetquake" or self.amplitude == "global"):
            raise InputError(
                "onset_channel needs an image network (cnn2d, cnn3d) with amplitude 'peak' or "
                "'snr'",
                field="onset_channel",
            )
        if self.onset_channel and not 0 < self.onset_sta_s < self.onset_lta_s:
            raise InputError(
                f"onset STA {self.onset_sta_s} s and LTA {self.onset_lta_s} s: expected "
                "0 < STA < LTA",
                field="onset_sta_s",
            )
        if self.skip_missing and self.model_type == "convnetquake":
            raise InputError(
                "skip_missing needs an image network (cnn2d, cnn3d): ConvNetQuake reads the "
                "stations directly",
                field="skip_missing",
            )
        if self.frame_step < 1:
            raise InputError(
                f"frame step {self.frame_step} samples: expected at least 1", field="frame_step"
            )
        if self.matrix.shape != (self.height * self.width, len(self.stations)):
            raise InputError(
                f"interpolation matrix {self.matrix.shape} does not fit {len(self.stations)} "
                f"stations and {self.height} x {self.width} images",
                field="interpolation_matrix",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the model folder)."""
        data = asdict(self)
        data["matrix"] = self.matrix.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        """Inverse of `to_dict` (model folders written before `amplitude` existed: global)."""
        return cls(**{"amplitude": "global", **data})


def running_rms(values: np.ndarray, window_samples: int) -> np.ndarray:
    """Causal RMS over the last `window_samples` samples (fewer at the start), last axis."""
    squared = np.square(np.asarray(values, dtype=np.float64))
    total = np.cumsum(squared, axis=-1)
    lagged = np.zeros_like(total)
    lagged[..., window_samples:] = total[..., :-window_samples]
    count = np.minimum(np.arange(1, squared.shape[-1] + 1), window_samples)
    return np.sqrt(np.maximum(total - lagged, 0.0) / count).astype(np.float32)


def running_max(values: np.ndarray, window_samples: int) -> np.ndarray:
    """Causal maximum of |values| over the last `window_samples` samples (fewer at the start)."""
    magnitude = np.abs(np.asarray(values, dtype=np.float32))
    # origin shifts the window to end at each sample; the zeros past the start are neutral for |v|.
    return maximum_filter1d(
        magnitude, window_samples, axis=-1, mode="constant", origin=(window_samples - 1) // 2
    )


def transform_values(spec: InputSpec, values: np.ndarray) -> np.ndarray:
    """Apply the spec's station-value transform (identity for `velocity`)."""
    if spec.transform == "rms":
        return running_rms(values, max(1, round(spec.rms_window_s / spec.sampling_interval_s)))
    if spec.transform == "max":
        return running_max(values, max(1, round(spec.max_window_s / spec.sampling_interval_s)))
    return np.asarray(values, dtype=np.float32)


def clip_indices(frames: np.ndarray, n_frames: int, step: int = 1) -> np.ndarray:
    """(n, n_frames) sample indices, `step` apart, of the windows ending at each frame.

    -1 marks indices before the record start.
    """
    frames = np.asarray(frames, dtype=np.int64)
    index = frames[:, None] - step * np.arange(n_frames - 1, -1, -1)[None, :]
    return np.where(index >= 0, index, -1)


def build_inputs(spec: InputSpec, values: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Inputs for the time steps `frames` of one event's station values.

    Args:
        spec: The model's input specification.
        values: (n_stations, 3, n_samples) velocity, m/s, rows in `spec.stations` order.
        frames: Sample indices at which the network estimates.

    Returns:
        float32 with amplitude `global`: (n, H, W), (n, T, H, W) or (n, n_stations * 3, T),
        asinh-compressed; with `peak`: (n, 2, H, W), (n, 2, T, H, W) or
        (n, n_stations * 3 + 1, T), the peak-normalised values and the level channel.
    """
    values = np.asarray(values, dtype=np.float32)
    frames = np.asarray(frames, dtype=np.int64)
    if values.ndim != 3 or values.shape[0] != len(spec.stations):
        raise InputError(
            f"station values of shape {values.shape} do not fit the model's "
            f"{len(spec.stations)} stations",
            field="values",
        )
    if frames.size and (frames.min() < 0 or frames.max() >= values.shape[-1]):
        raise InputError(
            f"time steps {frames.min()}..{frames.max()} outside 0..{values.shape[-1] - 1}",
            field="frames",
        )
    # Presence (a station with any data), read only when the inputs need it: hot path.
    present = (
        np.abs(values).reshape(len(values), -1).max(axis=1) > 0
        if spec.station_mask or spec.skip_missing
        else None
    )
    # Onsets are causal: the samples up to the last frame decide them.
    vertical = values[:, 0, : frames.max() + 1] if spec.onset_channel and frames.size else None
    values = transform_values(spec, values)
    n_frames = 1 if spec.model_type == "cnn2d" else spec.n_frames
    index = clip_indices(frames, n_frames, spec.frame_step)
    padded = np.concatenate([values, np.zeros_like(values[..., :1])], axis=-1)
    window = padded[..., index]  # (S, 3, n, T); index -1 reads the zero column
    if spec.model_type != "convnetquake":
        window = window[:, :1]  # the images show the vertical component
    level = None
    if spec.amplitude == "snr":
        level = _level(np.abs(window).max(axis=(0, 1, 3)), spec.amplitude_scale_m_s)
        lead = round(SNR_REFERENCE_LEAD_S / spec.sampling_interval_s)
        reference = padded[:, : window.shape[1], np.maximum(index[:, 0] - lead, 0)]
        window = _station_snr(window, reference)
    weights = _weights(spec, present)
    out = _arrange(spec, window, len(frames), weights)
    if spec.amplitude == "global":
        return np.arcsinh(out / spec.amplitude_scale_m_s).astype(np.float32)
    stack = spec.model_type != "convnetquake"
    if level is None:
        inputs = _peak_normalised(out, spec.amplitude_scale_m_s, stack=stack)
    else:
        inputs = _with_level(out, level, stack=stack)
    if vertical is not None:
        ages = np.concatenate([onset_ages(spec, vertical), np.zeros_like(vertical[:, :1])], 1)
        onsets = _arrange(spec, ages[:, None, index], len(frames), weights)  # -1: the zeros
        inputs = np.concatenate([inputs, onsets.reshape(inputs[:, :1].shape)], axis=1)
    if not spec.station_mask:
        return inputs
    mask = (spec.matrix @ present.astype(np.float32)).reshape(spec.height, spec.width)
    mask = np.broadcast_to(mask, (len(frames), 1, *inputs.shape[2:]))
    return np.concatenate([inputs, mask], axis=1).astype(np.float32)


ONSET_THRESHOLD_ON = 4.0
"""Onset channel: STA/LTA of an onset (the paper's and the detection's threshold)."""

ONSET_THRESHOLD_OFF = 1.5
"""Onset channel: STA/LTA below which a trigger re-arms (a new onset needs a fall below it)."""

ONSET_LTA_OVER_STA = 10.0
"""Onset channel: the default LTA window, in STA windows."""


def default_onset_windows_s(
    clip_step_s: float, lta_over_sta: float = ONSET_LTA_OVER_STA
) -> tuple[float, float]:
    """The onset trigger's default STA and LTA windows: the STA is one clip step (an onset
    sharper than a frame step cannot show in the clip), the LTA `lta_over_sta` STAs."""
    return clip_step_s, clip_step_s * lta_over_sta


def _onset_windows(spec: InputSpec) -> tuple[int, int, int]:
    """STA and LTA windows of the onset trigger and the age unit, in samples."""
    n_sta = max(1, round(spec.onset_sta_s / spec.sampling_interval_s))
    n_lta = max(n_sta + 1, round(spec.onset_lta_s / spec.sampling_interval_s))
    unit = n_lta if spec.model_type == "cnn2d" else max(1, spec.n_frames * spec.frame_step)
    return n_sta, n_lta, unit


def _onset_marks(spec: InputSpec, vertical: np.ndarray) -> np.ndarray:
    """(n_stations, n_samples) True at each onset the onset channel counts (`station_onsets`)."""
    from obspy.signal.trigger import recursive_sta_lta

    vertical = np.asarray(vertical, dtype=np.float64)
    n_sta, n_lta, unit = _onset_windows(spec)
    marks = np.zeros(vertical.shape, dtype=bool)
    if vertical.shape[-1] <= n_lta:
        return marks
    ratio = np.zeros(vertical.shape)
    for station in np.flatnonzero(vertical.any(axis=1)):
        ratio[station] = recursive_sta_lta(vertical[station], n_sta, n_lta)
    ratio = np.nan_to_num(ratio, nan=0.0, posinf=0.0)
    ratio[:, :n_lta] = 0.0
    # Hysteresis: on at a sample >= ON, off at a sample < OFF, unchanged in between.
    state = np.where(ratio >= ONSET_THRESHOLD_ON, 1, np.where(ratio < ONSET_THRESHOLD_OFF, 0, -1))
    sample = np.arange(vertical.shape[-1])
    latest = np.maximum.accumulate(np.where(state >= 0, sample, 0), axis=1)
    on = np.take_along_axis(state, latest, axis=1) == 1
    rises = on & ~np.pad(on[:, :-1], ((0, 0), (1, 0)))
    last = np.full(len(vertical), -unit)
    for station, start in zip(*np.nonzero(rises), strict=True):  # a few per station
        if start - last[station] >= unit:
            marks[station, start] = True
            last[station] = start
    return marks


def station_onsets(spec: InputSpec, vertical: np.ndarray) -> list[np.ndarray]:
    """Per station, the sample indices of its STA/LTA onsets as the onset channel counts them.

    An onset is a rise of the recursive STA/LTA (ObsPy) to `ONSET_THRESHOLD_ON` after a fall
    below `ONSET_THRESHOLD_OFF`; onsets within one age unit (`onset_ages`) of the kept onset
    before them are ignored, so the S wave or the coda re-triggering does not restart the P
    onset's age. Causal: the STA/LTA at a sample uses only the samples before it. None in
    the LTA warm-up or at a station without data.
    """
    return [np.flatnonzero(row) for row in _onset_marks(spec, vertical)]


def onset_ages(spec: InputSpec, vertical: np.ndarray) -> np.ndarray:
    """(n_stations, n_samples) time since each station's latest onset (`station_onsets`).

    In age units: the clip length for `cnn3d` (its time axis), the LTA window for `cnn2d`;
    capped at 1. Causal, as the onsets are. 0 before a station's first onset.
    """
    marks = _onset_marks(spec, vertical)
    sample = np.arange(marks.shape[-1])
    start = np.maximum.accumulate(np.where(marks, sample, -1), axis=1)
    unit = _onset_windows(spec)[2]
    return np.where(start >= 0, np.minimum((sample - start + 1) / unit, 1.0), 0.0).astype(
        np.float32
    )


def _weights(spec: InputSpec, present: np.ndarray | None) -> np.ndarray:
    """The interpolation matrix, with `skip_missing` renormalised over the present stations
    (unchanged when none is present: the image is all zero either way)."""
    if not spec.skip_missing or not present.any():
        return spec.matrix
    weights = spec.matrix * present.astype(np.float32)
    return weights / weights.sum(axis=1, keepdims=True)


def _arrange(spec: InputSpec, window: np.ndarray, n: int, matrix: np.ndarray) -> np.ndarray:
    """Station windows (S, C, n, T) as the network's layout: images or a station-by-time window."""
    if spec.model_type == "convnetquake":
        return np.moveaxis(window, 2, 0).reshape(n, -1, spec.n_frames)
    pixels = np.einsum("snt,ps->ntp", window[:, 0], matrix)
    if spec.model_type == "cnn2d":
        return pixels.reshape(n, spec.height, spec.width)
    return pixels.reshape(n, window.shape[-1], spec.height, spec.width)


SNR_REFERENCE_LEAD_S = 1.0
"""`snr`: each station's reference level is read this long before the clip's first frame."""

SNR_DYNAMIC_RANGE_DECADES = 2.0
"""`snr`: a station this many decades above its reference reads as 1 (real SNRs are ~4-30)."""


def _station_snr(window: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`log10(window / reference) / D` in [0, 1], per station and component.

    A station without data (all zero, e.g. cut out or missing) reads 0 throughout.
    """
    tiny = np.float32(1e-30)
    ratio = np.abs(window) / np.maximum(np.abs(reference), tiny)[..., None]
    snr = np.log10(np.maximum(ratio, tiny)) / SNR_DYNAMIC_RANGE_DECADES
    return np.clip(snr, 0.0, 1.0).astype(np.float32)


def _level(peak: np.ndarray, scale_m_s: float) -> np.ndarray:
    """`log10(peak / scale)` per sample, with a floor far below any noise (no NaN at zero)."""
    return np.log10(np.maximum(peak, np.float32(1e-6 * scale_m_s)) / scale_m_s).astype(np.float32)


def _with_level(pattern: np.ndarray, level: np.ndarray, *, stack: bool) -> np.ndarray:
    """The pattern with a constant level channel (images) or row (station windows)."""
    shape = (len(level),) + (1,) * (pattern.ndim - 1)
    level_full = np.broadcast_to(level.reshape(shape), pattern.shape)
    if stack:
        return np.stack([pattern, level_full], axis=1).astype(np.float32)
    return np.concatenate([pattern, level_full[:, :1]], axis=1).astype(np.float32)


PEAK_DYNAMIC_RANGE_DECADES = 3.0
"""Values more than this many decades below the sample's peak read as zero in the pattern."""


def _peak_normalised(out: np.ndarray, scale_m_s: float, *, stack: bool) -> np.ndarray:
    """Each sample's log pattern relative to its own peak, plus a constant level channel.

    Pattern: `sign(v) * (log10(|v| / peak) + D) / D` clipped at 0, D the dynamic range in
    decades: 1 at the peak, linear in log-amplitude, so the decay with distance from the
    source (what locates it) spans the same range for every event size. Level channel:
    `log10(peak / scale)`, the size information the pattern no longer carries.
    """
    axes = tuple(range(1, out.ndim))
    peak = np.abs(out).max(axis=axes)
    # A floor far below any noise level: an all-zero input stays zero instead of NaN.
    peak = np.maximum(peak, np.float32(1e-6 * scale_m_s))
    decades = PEAK_DYNAMIC_RANGE_DECADES
    floor = np.float32(10.0**-decades)
    relative = np.maximum(np.abs(out) / peak.reshape((-1,) + (1,) * len(axes)), floor)
    pattern = np.sign(out) * (np.log10(relative) + decades) / decades
    return _with_level(pattern, _level(peak, scale_m_s), stack=stack)
