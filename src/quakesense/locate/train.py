"""Training the hypocentre networks on a simulated dataset folder (`quakesense locate simulate`).

Samples are (event, time step) pairs from the STA/LTA detection on, for
`window_after_detection_s`: the network must answer from any snapshot after detection (the
paper re-estimates at every step). Augmentation acts on the station values before
interpolation, as in the paper: "cutout" zeroes up to 3 random stations, Gaussian noise is
added, and each station is shifted by a few samples (clock and velocity-model errors); all
randomness comes from one explicit `numpy.random.Generator`. When the dataset holds real
pre-event noise (`locate simulate --noise-records`, see `locate.noise`), every training sample
also gets, per station, a real noise loop at a random scale (`real_noise_scale`). Values are
held in memory when they fit `memory_limit_mb` (the paper's I/O lesson), else read event by
event from Zarr. A trained network is a `TrainedLocator`; several trained for the same records
(one per seed) answer as a `LocatorEnsemble` (`load_locator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch.utils.data import Dataset

from quakesense.core.errors import InputError
from quakesense.core.metrics import rmse
from quakesense.core.persistence import Normalisation, load_model, model_dir, save_model
from quakesense.core.report import RunFolder, loss_curve_figure
from quakesense.core.training import (
    Device,
    Strategy,
    TrainConfig,
    fit,
    seed_everything,
    torch_device,
)
from quakesense.locate.acquisition import between_anchors, network_scale
from quakesense.locate.dataset import open_dataset
from quakesense.locate.detect import NoTriggerError, TriggerConfig, detect_event
from quakesense.locate.inputs import (
    ONSET_LTA_OVER_STA,
    REGISTRY_NAMES,
    Amplitude,
    InputSpec,
    ModelType,
    Transform,
    build_inputs,
    default_onset_windows_s,
    transform_values,
)
from quakesense.locate.models import TARGETS, ConvNetQuake, SnapshotCNN2D, SnapshotCNN3D
from quakesense.locate.noise import NoisePool
from quakesense.locate.preprocess import PreprocessConfig

CLIP_STEP_S = 0.9
"""Default time between the frames of a 3-D clip or a ConvNetQuake window: 10 frames then span
the 8 s answer window, so the network sees the order in which stations shook. Consecutive
samples (0.2 s of a 50 Hz set) showed only the last instant; on the Newberry synthetics this
step lowered the val RMSE of both networks (docs/pipelines/locate_cnn.md)."""


class LocateTrainConfig(BaseModel):
    """Settings of one training run (saved with the model)."""

    model_config = ConfigDict(extra="forbid")

    model_type: ModelType = "cnn2d"
    transform: Transform = Field(
        "max", description="causal running max of |v| (default), running rms, or velocity (paper)"
    )
    rms_window_s: float = Field(3.0, gt=0)
    max_window_s: float = Field(
        10.0,
        gt=0,
        description="window of the running max (transform max): it should reach back from the "
        "answer (default 8 s after detection) to the first arrivals",
    )
    amplitude: Amplitude = Field(
        "peak",
        description="peak: per-sample peak normalisation + level channel; snr: each station "
        "relative to its own level before the clip + level channel; global: asinh (cnn3d "
        "unless given: from the network, see network_clip)",
    )
    station_mask: bool = Field(
        False,
        description="images get a last channel with the stations' presence (1: data, 0: "
        "missing or cut out), so a missing station does not read as one not reached yet",
    )
    skip_missing: bool = Field(
        False,
        description="images are interpolated from the stations with data only, so a missing "
        "or cut-out station is absent rather than one not reached yet",
    )
    onset_channel: bool = Field(
        False,
        description="images get a channel with each station's time since its STA/LTA onset "
        "(timing alone, as picks; interpolated like the amplitudes)",
    )
    onset_sta_s: float | None = Field(
        None, gt=0, description="STA window of the onset channel; default the clip step"
    )
    onset_lta_over_sta: float = Field(
        ONSET_LTA_OVER_STA, gt=1, description="onset channel: LTA / STA"
    )
    n_frames: int = Field(
        10, ge=1, description="clip length (cnn3d unless given: from the network) or window"
    )
    clip_step_s: float = Field(
        CLIP_STEP_S,
        gt=0,
        description="time between the frames of a cnn3d clip or a convnetquake window (rounded "
        "to whole samples, at least one; cnn3d unless given: from the network)",
    )
    window_after_detection_s: float = Field(
        8.0, gt=0, description="time steps used after detection (cnn3d unless given: the answer)"
    )
    min_delay_after_detection_s: float = Field(
        1.5,
        ge=0,
        description="first training step after detection (earlier ones show too few stations; "
        "cnn3d unless given: from the network)",
    )
    # Neighbouring steps (0.02 s apart on a small network) are near copies: every step of every
    # event made one CPU epoch of a 3,000-event set take hours; 8 random ones per epoch beat 2
    # on the Newberry synthetics (docs/pipelines/locate_cnn.md).
    frames_per_event: int | None = Field(
        8, ge=1, description="random time steps per event and epoch (None: all)"
    )
    val_steps_per_event: int | None = Field(
        16,
        ge=1,
        description="evenly spaced time steps per val event for early stopping (None: all); "
        "the run's reported val RMSE uses every step",
    )
    channels: list[int] | None = Field(None, description="filters per conv layer")
    kernels: list[int] | None = Field(None, description="kernel size per conv layer")
    dense_units: list[int] = Field(default_factory=lambda: [128])
    dropout: float = Field(0.5, ge=0, le=0.9)
    separate: bool = Field(False, description="two networks: (lat, lon), (depth, time, mag)")
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(50, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    patience: int | None = Field(10, ge=1)
    cutout_max_stations: int = Field(3, ge=0)
    cutout_probability: float = Field(0.5, ge=0, le=1)
    noise_max_relative: float = Field(
        0.05, ge=0, description="noise std / median training peak, at most"
    )
    shift_max_samples: int = Field(1, ge=0)
    station_gain_sigma_db: float = Field(
        0.0,
        ge=0,
        le=20,
        description="domain randomisation: per-station gain, log-normal with this sigma (dB; "
        "cnn3d unless given: from the network)",
    )
    real_noise_scale: tuple[float, float] | None = Field(
        (0.5, 2.0),
        description="the dataset's real pre-event noise, added per station at a log-uniform "
        "factor in this range (1: as recorded); None: not added",
    )
    memory_limit_mb: float = Field(2000.0, gt=0)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "auto"
    devices: int = Field(1, ge=1, description="training processes (CPU) or GPUs (Lightning)")
    strategy: Strategy = Field("auto", description="Lightning strategy for devices > 1")
    progress: bool = True

    def frame_step(self, sampling_interval_s: float) -> int:
        """Samples between the frames of a clip or window at this sampling interval."""
        return max(1, round(self.clip_step_s / sampling_interval_s))

    @property
    def inputs_text(self) -> str:
        """The station-value transform in words, for reports."""
        if self.transform == "max":
            return f"{self.max_window_s:g} s running-max"
        if self.transform == "rms":
            return f"{self.rms_window_s:g} s running-RMS"
        return "velocity"

    @model_validator(mode="after")
    def _noise_scale(self) -> LocateTrainConfig:
        scale = self.real_noise_scale
        if scale is not None and not 0 < scale[0] <= scale[1]:
            raise ValueError("real_noise_scale must be (low, high) with 0 < low <= high")
        return self


@dataclass(frozen=True)
class ClipAnchor:
    """3-D CNN clip settings measured at one network scale (`network_clip`).

    Attributes:
        n_frames: Frames per clip.
        step_over_answer: Clip step x frames / answer time.
        first_step_over_window: First training step after detection / training window.
        station_gain_sigma_db: Random station gains.
        amplitude: Input amplitude.
    """

    n_frames: int
    step_over_answer: float
    first_step_over_window: float
    station_gain_sigma_db: float
    amplitude: Amplitude


LOCAL_CLIP = ClipAnchor(20, 1.5, 0.5, 8.0, "snr")
"""The small-network recipe, measured best on the Newberry synthetics and five real events
(docs/pipelines/locate_cnn.md, "arrival-front inputs"): 20 frames 0.15 s apart around a 2 s
answer, steps from 1 s after detection, `snr` inputs, 8 dB random station gains."""

_PLAIN = LocateTrainConfig()
REGIONAL_CLIP = ClipAnchor(
    _PLAIN.n_frames,
    _PLAIN.clip_step_s * _PLAIN.n_frames / _PLAIN.trigger.answer_after_s,
    _PLAIN.min_delay_after_detection_s / _PLAIN.window_after_detection_s,
    _PLAIN.station_gain_sigma_db,
    _PLAIN.amplitude,
)
"""The plain defaults (10 frames 0.9 s apart, 8 s answer, steps from 1.5 s, `peak`, no gains):
on the Hakone synthetics they located better than the local recipe scaled up (test median
2.53 against 2.91 km; docs/pipelines/locate_cnn.md, "clip settings from the network")."""


@dataclass
class SimulatedSet:
    """A dataset folder written by `quakesense locate simulate`, opened for training.

    Attributes:
        path: The folder.
        events: events.parquet.
        stations: stations.parquet.
        meta: dataset.json.
        velocity: (n_events, n_stations, 3, n_samples) m/s, a NumPy array or a Zarr array.
        matrix: (H*W, n_stations) interpolation matrix.
        in_memory: Whether `velocity` is held in memory.
        real_noise: Real pre-event noise stored with the dataset, or None.
    """

    path: Path
    events: pd.DataFrame
    stations: pd.DataFrame
    meta: dict[str, Any]
    velocity: Any
    matrix: np.ndarray
    in_memory: bool
    real_noise: NoisePool | None = None

    @classmethod
    def open(cls, path: str | Path, *, memory_limit_mb: float = 2000.0) -> SimulatedSet:
        """Open a dataset folder; load the waveforms to memory when they fit the limit."""
        path = Path(path)
        if not (path / "dataset.zarr").is_dir():
            raise InputError(
                "not a simulated dataset folder (no dataset.zarr); make one with "
                "`quakesense locate simulate`",
                source=path,
            )
        dataset = open_dataset(path)
        velocity = dataset.velocity
        if velocity.shape[0] != len(dataset.events):
            raise InputError(
                f"dataset.zarr holds {velocity.shape[0]} events, events.parquet "
                f"{len(dataset.events)}",
                source=path,
            )
        in_memory = velocity.nbytes / 1e6 <= memory_limit_mb
        real_noise = NoisePool.load(path)
        stations = [str(s) for s in dataset.stations["station"]]
        if real_noise is not None and real_noise.stations != stations:
            raise InputError(
                f"the real noise is of stations {real_noise.stations}, the dataset's are "
                f"{stations}",
                source=path,
                field="real_noise",
            )
        return cls(
            path=path,
            events=dataset.events,
            stations=dataset.stations,
            meta=dataset.meta,
            velocity=np.asarray(velocity[:]) if in_memory else velocity,
            matrix=np.asarray(dataset.interpolation_matrix, dtype=np.float32),
            in_memory=in_memory,
            real_noise=real_noise,
        )

    @property
    def sampling_interval_s(self) -> float:
        """Time step of the records."""
        return float(self.meta["sampling_interval_s"])

    def split_indices(self, split: str) -> np.ndarray:
        """Event rows of one split (`train`, `val`, `test`)."""
        return np.flatnonzero(self.events["split"].to_numpy() == split)

    def event_values(self, index: int) -> np.ndarray:
        """(n_stations, 3, n_samples) float32 velocity of one event."""
        return np.asarray(self.velocity[index], dtype=np.float32)

    def targets(self, index: int, frames: np.ndarray) -> np.ndarray:
        """(n, 5) physical targets of one event at the given time steps."""
        row = self.events.iloc[index]
        delay = np.asarray(frames) * self.sampling_interval_s - float(row["origin_time_s"])
        fixed = [row["latitude_deg"], row["longitude_deg"], row["depth_km"], 0.0, row["magnitude"]]
        out = np.tile(np.asarray(fixed, dtype=float), (len(delay), 1))
        out[:, 3] = delay
        return out


def event_frames(
    values: np.ndarray,
    sampling_interval_s: float,
    window_samples: int,
    fallback_index: int,
    trigger: TriggerConfig,
    delay_samples: int = 0,
) -> np.ndarray:
    """The time steps of one event used in training: detection + delay .. detection + window.

    Detection is the same STA/LTA trigger used at inference time (`detect.detect_event`), so
    the network learns from the snapshots it will be asked about; an event too weak to
    trigger falls back to `fallback_index` (its origin time step).
    """
    try:
        start, _ = detect_event(values, sampling_interval_s, trigger)
    except NoTriggerError:
        start = fallback_index
    start = int(np.clip(start, 0, values.shape[-1] - 1))
    first = min(start + delay_samples, values.shape[-1] - 1)
    return np.arange(first, max(first + 1, min(start + window_samples, values.shape[-1])))


class Augmenter:
    """Cutout, noise and per-station shifts on station values (before interpolation).

    Args:
        cutout_max_stations: Up to this many stations are zeroed (uniform 1..max) ...
        cutout_probability: ... in this share of the samples.
        noise_max_relative: Gaussian noise of std uniform in [0, this] x `noise_reference_m_s`.
        shift_max_samples: Each station is shifted by a uniform integer in [-max, max] samples.
        station_gain_sigma_db: Each station is scaled by 10^(g / 20), g ~ N(0, this): the
            site and instrument amplitude terms a real network has and synthetics lack.
        real_noise: Real pre-event noise added to every sample (after shifts and gains,
            before the Gaussian noise and cutout), per station at a log-uniform factor in
            `real_noise_scale`; None: none.
        rng: The explicit random generator.
        noise_reference_m_s: Noise scale, one for all events (the median training peak); None:
            each event's own peak. The latter leaks the size of the whole record (future
            included) into every snapshot through the noise floor, so training uses the former.
    """

    def __init__(
        self,
        cutout_max_stations: int,
        cutout_probability: float,
        noise_max_relative: float,
        shift_max_samples: int,
        rng: np.random.Generator,
        noise_reference_m_s: float | None = None,
        station_gain_sigma_db: float = 0.0,
        real_noise: NoisePool | None = None,
        real_noise_scale: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        self.station_gain_sigma_db = station_gain_sigma_db
        self.real_noise = real_noise
        self.real_noise_scale = real_noise_scale
        self.cutout_max_stations = cutout_max_stations
        self.cutout_probability = cutout_probability
        self.noise_max_relative = noise_max_relative
        self.shift_max_samples = shift_max_samples
        self.rng = rng
        self.noise_reference_m_s = noise_reference_m_s

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """A new augmented copy of (n_stations, n_components, n_samples) values."""
        out = np.array(values, dtype=np.float32, copy=True)
        n_stations, _, n_samples = out.shape
        if self.shift_max_samples:
            m = self.shift_max_samples
            shifts = self.rng.integers(-m, m + 1, n_stations)
            index = np.arange(n_samples)[None, :] - shifts[:, None]
            valid = (index >= 0) & (index < n_samples)
            index = np.broadcast_to(np.clip(index, 0, n_samples - 1)[:, None, :], out.shape)
            out = np.where(valid[:, None, :], np.take_along_axis(out, index, axis=-1), 0.0)
            out = out.astype(np.float32)
        if self.station_gain_sigma_db:
            gain_db = self.rng.normal(0.0, self.station_gain_sigma_db, n_stations)
            out *= (10.0 ** (gain_db / 20.0)).astype(np.float32)[:, None, None]
        if self.real_noise is not None:
            out += self.real_noise.draw(
                n_samples, self.real_noise_scale, self.rng, n_components=out.shape[1]
            )
        if self.noise_max_relative:
            reference = self.noise_reference_m_s or np.abs(out).max()
            level = self.rng.uniform(0, self.noise_max_relative) * reference
            out += self.rng.normal(0.0, 1.0, out.shape).astype(np.float32) * np.float32(level)
        n_cut = min(self.cutout_max_stations, n_stations - 1)
        if n_cut > 0 and self.rng.random() < self.cutout_probability:
            chosen = self.rng.choice(
                n_stations, size=self.rng.integers(1, n_cut + 1), replace=False
            )
            out[chosen] = 0.0
        return out


class SampleSet(Dataset):
    """(input, normalised target) pairs for `core.training.fit`.

    Args:
        data: The opened dataset.
        event_rows: Event rows to draw from.
        frames: Per event row, the usable time steps.
        spec: Input specification.
        target_norm: Target normalisation (fitted on training events).
        frames_per_event: Random time steps per event each pass (None: all, in order).
        augment: Augmentation for training; None for validation.
        rng: Generator for the random time steps.
    """

    def __init__(
        self,
        data: SimulatedSet,
        event_rows: np.ndarray,
        frames: list[np.ndarray],
        spec: InputSpec,
        target_norm: Normalisation,
        *,
        frames_per_event: int | None = None,
        augment: Augmenter | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.data = data
        self.event_rows = np.asarray(event_rows)
        self.frames = frames
        self.spec = spec
        self.target_norm = target_norm
        self.frames_per_event = frames_per_event
        self.augment = augment
        self.rng = rng if rng is not None else np.random.default_rng(0)
        if frames_per_event is None:
            self.items = [(k, f) for k, fr in enumerate(frames) for f in fr]
        else:
            self.items = [(k, -1) for k in range(len(frames)) for _ in range(frames_per_event)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        k, frame = self.items[item]
        if frame < 0:
            frame = int(self.rng.choice(self.frames[k]))
        row = int(self.event_rows[k])
        values = self.data.event_values(row)[:, : self.spec.n_components]
        if self.augment is not None:
            values = self.augment(values)
        x = build_inputs(self.spec, values, np.array([frame]))[0]
        y = self.target_norm.apply(self.data.targets(row, np.array([frame])))[0]
        return torch.from_numpy(x), torch.as_tensor(y, dtype=torch.float32)


def build_network(config: LocateTrainConfig, spec: InputSpec) -> tuple[torch.nn.Module, dict]:
    """The network of `config.model_type` and the full constructor config that rebuilds it."""
    common = {"dropout": config.dropout, "separate": config.separate}
    if config.model_type == "convnetquake":
        n_channels = 3 * len(spec.stations) + spec.in_channels - 1
        kwargs = {"n_channels": n_channels, "n_samples": spec.n_frames, **common}
        return ConvNetQuake(**kwargs), kwargs
    default = ([16, 32], [5, 5]) if config.model_type == "cnn2d" else ([8, 16], [3, 3])
    kwargs = {
        "height": spec.height,
        "width": spec.width,
        "channels": config.channels or default[0],
        "kernels": config.kernels or default[1],
        "dense_units": list(config.dense_units),
        "in_channels": spec.in_channels,
        **common,
    }
    if config.model_type == "cnn2d":
        return SnapshotCNN2D(**kwargs), kwargs
    kwargs = {"n_frames": spec.n_frames, **kwargs}
    return SnapshotCNN3D(**kwargs), kwargs


def rmse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Root-mean-square error over all normalised targets (the paper's loss)."""
    return torch.sqrt(torch.mean((outputs - targets) ** 2) + 1e-12)


@dataclass
class TrainedLocator:
    """A trained network with its input spec and target normalisation."""

    module: torch.nn.Module
    spec: InputSpec
    target_norm: Normalisation
    history: list[dict[str, float]]
    config: dict[str, Any]
    training: dict[str, Any]
    device: str = "cpu"

    @property
    def trigger(self) -> TriggerConfig:
        """The STA/LTA settings the training frames were chosen with."""
        return TriggerConfig(**self.training.get("train_config", {}).get("trigger", {}))

    @property
    def highcut_hz(self) -> float | None:
        """High-cut frequency of the training seismograms, if the dataset recorded one."""
        return self.training.get("highcut_hz")

    @property
    def preprocess(self) -> PreprocessConfig:
        """The causal band the training records went through; real records must get it too.

        Models from datasets older than `locate.preprocess` record only `highcut_hz`.
        """
        saved = self.training.get("preprocess")
        if saved is not None:
            return PreprocessConfig(**saved)
        return PreprocessConfig(highcut_hz=self.highcut_hz)

    n_members = 1
    """Networks that answer (one; `LocatorEnsemble` has several)."""

    def describe_spread(self, n_samples: int) -> str:
        """How `predict_spread` with `n_samples` passes measures the uncertainty."""
        return f"MC dropout, {n_samples} passes"

    @torch.no_grad()
    def predict_spread(
        self, values: np.ndarray, frames: np.ndarray, n_samples: int, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """MC-dropout mean and standard deviation (n, 5) over `n_samples` stochastic passes.

        Dropout stays active (batch norm does not), so the spread of the passes is a per-event
        uncertainty of the network (Gal and Ghahramani, 2016).
        """
        torch.manual_seed(seed)
        inputs = torch.from_numpy(build_inputs(self.spec, values, frames)).to(self.device)
        self.module.eval()
        for layer in self.module.modules():
            if isinstance(layer, torch.nn.Dropout):
                layer.train()
        try:
            passes = np.stack(
                [
                    self.target_norm.invert(self.module(inputs).cpu().numpy())
                    for _ in range(n_samples)
                ]
            )
        finally:
            self.module.eval()
        return passes.mean(axis=0), passes.std(axis=0)

    @torch.no_grad()
    def predict(self, values: np.ndarray, frames: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """(n, 5) physical estimates (`TARGETS` order) at the time steps `frames` of one event."""
        self.module.eval()
        inputs = torch.from_numpy(build_inputs(self.spec, values, frames)).to(self.device)
        parts = [self.module(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
        raw = torch.cat(parts).cpu().numpy() if parts else np.empty((0, len(TARGETS)))
        return self.target_norm.invert(raw)

    def save(self, path: str | Path) -> Path:
        """Save weights, constructor config, normalisation, input spec, training record."""
        return save_model(
            path,
            self.module,
            name=REGISTRY_NAMES[self.spec.model_type],
            config=self.config,
            normalisation={"targets": self.target_norm},
            extra={
                "input_spec": self.spec.to_dict(),
                "targets": list(TARGETS),
                "history": self.history,
                **self.training,
            },
        )

    @classmethod
    def load(cls, path: str | Path, device: Device = "cpu") -> TrainedLocator:
        """Load a model folder written by `save`, to run on `device` (cuda without a GPU: the
        CPU, with a warning)."""
        saved = load_model(path)
        target = torch_device(device)
        if "input_spec" not in saved.extra:
            raise InputError("not a locate model (no input_spec)", source=path)
        return cls(
            module=saved.module.to(target),
            spec=InputSpec.from_dict(saved.extra["input_spec"]),
            target_norm=saved.normalisation["targets"],
            history=saved.extra.get("history", []),
            config=saved.config,
            training={k: v for k, v in saved.extra.items() if k not in ("input_spec", "history")},
            device=target,
        )


@dataclass
class LocatorEnsemble:
    """Networks trained for the same stations and records (e.g. one per training seed),
    answering as one: the mean of their estimates.

    Why: one training seed's luck moves real-event answers by as much as any input remedy
    (0.5 km on the five Newberry events), and MC dropout inside one network does not see it.
    The spread between the members, with each member's MC-dropout spread when asked, is the
    per-event uncertainty (a deep ensemble, Lakshminarayanan et al., 2017).
    """

    members: list[TrainedLocator]

    @property
    def n_members(self) -> int:
        """Networks that answer."""
        return len(self.members)

    @property
    def spec(self) -> InputSpec:
        """The first member's input spec (the station values all members read are the same)."""
        return self.members[0].spec

    @property
    def trigger(self) -> TriggerConfig:
        """The first member's STA/LTA settings (members must share them)."""
        return self.members[0].trigger

    @property
    def preprocess(self) -> PreprocessConfig:
        """The causal band of the members' training records (members must share it)."""
        return self.members[0].preprocess

    @property
    def training(self) -> dict[str, Any]:
        """The first member's training record (its dataset, stations)."""
        return self.members[0].training

    def describe_spread(self, n_samples: int) -> str:
        """How `predict_spread` with `n_samples` passes measures the uncertainty."""
        passes = f", MC dropout {n_samples} passes each" if n_samples > 1 else ""
        return f"ensemble of {self.n_members} networks{passes}"

    def predict(self, values: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """(n, 5) mean of the members' estimates (`TARGETS` order)."""
        return np.mean([m.predict(values, frames) for m in self.members], axis=0)

    def predict_spread(
        self, values: np.ndarray, frames: np.ndarray, n_samples: int, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (n, 5) over the members and, with `n_samples` > 1,
        each member's MC-dropout passes: total variance = the members' mean dropout variance
        plus the variance of their means."""
        if n_samples > 1:
            means, sds = zip(
                *(m.predict_spread(values, frames, n_samples, seed) for m in self.members),
                strict=True,
            )
        else:
            means = [m.predict(values, frames) for m in self.members]
            sds = [np.zeros_like(means[0])]
        means = np.stack(means)
        variance = np.mean(np.square(sds), axis=0) + means.var(axis=0)
        return means.mean(axis=0), np.sqrt(variance)


Locator = TrainedLocator | LocatorEnsemble
"""A trained network, or several answering as one."""


ModelFolders = str | Path | Sequence[str | Path]
"""One model folder (or `locate train` run folder), or several for an ensemble."""


def model_folders(paths: ModelFolders) -> list[Path]:
    """The model folders `paths` name (see `core.persistence.model_dir`), in order."""
    return [model_dir(paths)] if isinstance(paths, str | Path) else [model_dir(p) for p in paths]


def _station_values_read(locator: TrainedLocator) -> dict[str, Any]:
    """The settings that decide which station values a network reads: every member of an
    ensemble must share them."""
    return {
        "model_type": locator.spec.model_type,
        "stations": locator.spec.stations,
        "sampling_interval_s": locator.spec.sampling_interval_s,
        "preprocess": locator.preprocess,
        "trigger": locator.trigger,
    }


def load_locator(paths: ModelFolders, device: Device = "cpu") -> Locator:
    """The network in a model folder (or the `locate train` run folder), or, given several
    folders, their ensemble.

    Raises:
        InputError: a folder holds no locate model, or a member reads other station values
            than the first (its model type, stations, sampling interval, causal band or
            trigger differ), naming the folder and the setting.
    """
    folders = model_folders(paths)
    if not folders:
        raise InputError("no model folder given", field="--model")
    members = [TrainedLocator.load(folder, device) for folder in folders]
    if len(members) == 1:
        return members[0]
    first = _station_values_read(members[0])
    for folder, member in zip(folders[1:], members[1:], strict=True):
        differ = [k for k, v in _station_values_read(member).items() if v != first[k]]
        if differ:
            raise InputError(
                f"cannot join an ensemble with {folders[0]}: it differs in {', '.join(differ)} "
                "(members must be trained for the same stations and records, e.g. the same "
                "dataset with another seed)",
                source=folder,
                field="--model",
            )
    return LocatorEnsemble(members)


def _frames_for(
    data: SimulatedSet, rows: np.ndarray, config: LocateTrainConfig
) -> list[np.ndarray]:
    dt = data.sampling_interval_s
    window = max(1, round(config.window_after_detection_s / dt))
    delay = round(config.min_delay_after_detection_s / dt)
    origins = data.events["origin_time_s"].to_numpy(float)
    return [
        event_frames(
            data.event_values(int(r)), dt, window, round(origins[r] / dt), config.trigger, delay
        )
        for r in rows
    ]


def evenly_spaced(frames: np.ndarray, n: int | None) -> np.ndarray:
    """At most `n` of `frames`, evenly spaced from the first to the last (all for None)."""
    if n is None or len(frames) <= n:
        return frames
    return frames[np.unique(np.round(np.linspace(0, len(frames) - 1, n)).astype(int))]


def input_spec(data: SimulatedSet, config: LocateTrainConfig) -> InputSpec:
    """The input specification of `config` on `data` (amplitude scale still 1: fitted later)."""
    image = data.meta["image"]
    dt = data.sampling_interval_s
    onset_sta_s, onset_lta_s = default_onset_windows_s(
        config.onset_sta_s or config.frame_step(dt) * dt, config.onset_lta_over_sta
    )
    return InputSpec(
        model_type=config.model_type,
        stations=[str(s) for s in data.stations["station"]],
        sampling_interval_s=dt,
        height=int(image["height"]),
        width=int(image["width"]),
        matrix=data.matrix,
        n_frames=1 if config.model_type == "cnn2d" else config.n_frames,
        frame_step=1 if config.model_type == "cnn2d" else config.frame_step(dt),
        amplitude_scale_m_s=1.0,
        transform=config.transform,
        rms_window_s=config.rms_window_s,
        max_window_s=config.max_window_s,
        amplitude=config.amplitude,
        station_mask=config.station_mask,
        skip_missing=config.skip_missing,
        onset_channel=config.onset_channel,
        onset_sta_s=onset_sta_s,
        onset_lta_s=onset_lta_s,
    )


def answer_time_s(crossing_time_s: float) -> float:
    """The 3-D CNN's answer time for a network: its S crossing time rounded down to one
    significant figure (2.35 s -> 2 s at Newberry, 8.85 s -> 8 s at Hakone, 0.43 s -> 0.4 s)."""
    scale = 10.0 ** np.floor(np.log10(crossing_time_s))
    return round(float(np.floor(crossing_time_s / scale + 1e-9) * scale), 6)


def network_clip(
    config: LocateTrainConfig, meta: dict[str, Any]
) -> tuple[LocateTrainConfig, dict[str, Any] | None]:
    """`config` with the 3-D CNN's clip settings the user did not set taken from the network.

    Rule: answer when S has had time to cross the network (`answer_time_s` of the dataset's
    S crossing time, aperture / slowest S: 2 s at Newberry, 8 s at Hakone); train on the
    steps up to the answer. The rest comes from two measured anchors, as the acquisition
    does (`quakesense.locate.acquisition.network_scale`): at or below Newberry's scale the
    small-network recipe (`LOCAL_CLIP`), at or above Hakone's the plain defaults
    (`REGIONAL_CLIP`, so the embedded default trains as before); in between, numbers linear
    in the scale and `snr` below its middle, which nothing measured yet. A given answer,
    window or frame count moves the values that follow from it. A setting counts as given
    when the config file or a flag gave it (pydantic's `model_fields_set`), even at its
    default; a saved config gives them all, so a run rebuilds the same way. Other network
    types and datasets without a recorded crossing time keep the plain defaults;
    `transform: velocity` keeps `peak` (`snr` is refused with it).

    Returns:
        The filled config and a record of the rule's input and each value's source (None
        when the rule does not apply).
    """
    crossing = ((meta.get("acquisition") or {}).get("network_values") or {}).get("crossing_time_s")
    if config.model_type != "cnn3d" or not crossing:
        return config, None
    scale = network_scale(float(crossing))

    def between(local: float, regional: float) -> float:
        return between_anchors(scale, local, regional)

    given = config.model_fields_set
    answer_given = "trigger" in given and "answer_after_s" in config.trigger.model_fields_set
    answer = config.trigger.answer_after_s if answer_given else answer_time_s(float(crossing))
    window = config.window_after_detection_s if "window_after_detection_s" in given else answer
    n_frames = (
        config.n_frames
        if "n_frames" in given
        else round(between(LOCAL_CLIP.n_frames, REGIONAL_CLIP.n_frames))
    )
    step_over_answer = between(LOCAL_CLIP.step_over_answer, REGIONAL_CLIP.step_over_answer)
    first_step = between(LOCAL_CLIP.first_step_over_window, REGIONAL_CLIP.first_step_over_window)
    local = scale < 0.5 and config.transform != "velocity"
    chosen: dict[str, Any] = {
        "n_frames": n_frames,
        "clip_step_s": round(step_over_answer * answer / n_frames, 6),
        "window_after_detection_s": window,
        "min_delay_after_detection_s": round(first_step * window, 6),
        "station_gain_sigma_db": round(
            between(LOCAL_CLIP.station_gain_sigma_db, REGIONAL_CLIP.station_gain_sigma_db), 3
        ),
        "amplitude": LOCAL_CLIP.amplitude if local else REGIONAL_CLIP.amplitude,
    }
    source = {name: name in given for name in chosen}
    source["trigger.answer_after_s"] = answer_given
    settings = config.model_dump()
    for name, value in chosen.items():
        if not source[name]:
            settings[name] = value
    settings["trigger"]["answer_after_s"] = answer
    filled = LocateTrainConfig.model_validate(settings)
    values = {name: getattr(filled, name) for name in chosen}
    values["trigger.answer_after_s"] = filled.trigger.answer_after_s
    record = {
        "crossing_time_s": float(crossing),
        "network_scale": round(scale, 3),
        "rule": "quakesense.locate.train.network_clip",
        "values": values,
        "source": {name: "given" if was else "network" for name, was in source.items()},
    }
    return filled, record


def train_locator(data: SimulatedSet, config: LocateTrainConfig) -> TrainedLocator:
    """Train one network on the `train` split, with early stopping on the `val` split.

    Clip settings left unset are first taken from the network (`network_clip`); the model
    records the settings used.
    """
    config, clip = network_clip(config, data.meta)
    rng = seed_everything(config.seed)
    train_rows, val_rows = data.split_indices("train"), data.split_indices("val")
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise InputError(
            "the dataset needs events in both 'train' and 'val' splits", source=data.path
        )
    train_frames = _frames_for(data, train_rows, config)
    val_frames = [
        evenly_spaced(f, config.val_steps_per_event) for f in _frames_for(data, val_rows, config)
    ]
    spec = input_spec(data, config)
    peaks = [
        np.abs(transform_values(spec, data.event_values(int(r))[:, :1])).max() for r in train_rows
    ]
    # global: asinh is linear below 1 % of the typical peak; peak: levels centred near 0.
    share = 0.01 if config.amplitude == "global" else 1.0
    spec.amplitude_scale_m_s = float(share * np.median(peaks)) or 1.0
    all_targets = np.concatenate(
        [data.targets(int(r), f) for r, f in zip(train_rows, train_frames, strict=True)]
    )
    target_norm = Normalisation.fit(all_targets, names=list(TARGETS))
    real_noise = data.real_noise if config.real_noise_scale is not None else None
    augment = Augmenter(
        config.cutout_max_stations,
        config.cutout_probability,
        config.noise_max_relative,
        config.shift_max_samples,
        rng,
        noise_reference_m_s=float(
            np.median([np.abs(data.event_values(int(r))[:, 0]).max() for r in train_rows])
        ),
        station_gain_sigma_db=config.station_gain_sigma_db,
        real_noise=real_noise,
        real_noise_scale=config.real_noise_scale or (1.0, 1.0),
    )
    train_set = SampleSet(
        data,
        train_rows,
        train_frames,
        spec,
        target_norm,
        frames_per_event=config.frames_per_event,
        augment=augment,
        rng=rng,
    )
    val_set = SampleSet(data, val_rows, val_frames, spec, target_norm)
    module, kwargs = build_network(config, spec)
    result = fit(
        module,
        rmse_loss,
        train_set,
        val_set,
        TrainConfig(
            max_epochs=config.epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            optimizer="adam",
            patience=config.patience,
            device=config.device,
            devices=config.devices,
            strategy=config.strategy,
            seed=config.seed,
            progress=config.progress,
        ),
    )
    training = {
        "train_config": config.model_dump(mode="json"),
        "dataset": str(data.path.resolve()),
        "stations": data.stations[["station", "latitude_deg", "longitude_deg"]].to_dict("list"),
        "highcut_hz": data.meta.get("config", {}).get("propagation", {}).get("highcut_hz"),
        "preprocess": data.meta.get("preprocess"),
        "projection": data.meta.get("projection"),
        "real_noise": real_noise_used(data, config),
        "clip_from_network": clip,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
    }
    return TrainedLocator(result.module, spec, target_norm, result.history, kwargs, training)


def real_noise_used(data: SimulatedSet, config: LocateTrainConfig) -> dict[str, Any] | None:
    """What real noise training added (None: none), for the model record and the report."""
    if data.real_noise is None or config.real_noise_scale is None:
        return None
    meta = data.meta.get("real_noise") or {}
    return {
        "windows": len(data.real_noise.loops),
        "loop_s": meta.get("loop_s"),
        "records": data.meta.get("config", {}).get("real_noise", {}).get("records"),
        "scale": list(config.real_noise_scale),
    }


def validation_rmse(locator: TrainedLocator, data: SimulatedSet, split: str = "val") -> dict:
    """Physical RMSE per target over every used time step of the events of `split`."""
    rows = data.split_indices(split)
    config = LocateTrainConfig(**locator.training["train_config"])
    frames = _frames_for(data, rows, config)
    errors = [
        locator.predict(data.event_values(int(r)), f) - data.targets(int(r), f)
        for r, f in zip(rows, frames, strict=True)
    ]
    per_target = rmse(0.0, np.concatenate(errors), axis=0)
    return {name: float(per_target[k]) for k, name in enumerate(TARGETS)}


def run_training(
    data_dir: str | Path, out: str | Path, config: LocateTrainConfig, *, force: bool = False
) -> tuple[Path, dict]:
    """`quakesense locate train`: train, save OUT/model, write config, metrics and report.

    The run is built in a temporary folder and moved to `out` only when it succeeds: a failed
    or interrupted run leaves nothing there, a failed re-run leaves the earlier run as it was.
    """
    out = Path(out)
    with RunFolder.create(out, f"locate train: {config.model_type}", force=force) as run:
        data = SimulatedSet.open(data_dir, memory_limit_mb=config.memory_limit_mb)
        locator = train_locator(data, config)
        config = LocateTrainConfig(**locator.training["train_config"])
        run.save_config(config, data=str(data_dir))
        locator.save(run.path / "model")
        val = validation_rmse(locator, data)
        metrics = {
            "best_val_loss": locator.training["best_val_loss"],
            "best_epoch": locator.training["best_epoch"],
            "epochs_run": len(locator.history),
            "val_rmse": val,
            "data": str(data_dir),
            "split": "val (events of the dataset's val split, every step after detection)",
            "seed": config.seed,
            "in_memory": data.in_memory,
            "real_noise": locator.training["real_noise"],
            "clip_from_network": locator.training["clip_from_network"],
        }
        run.save_metrics(metrics)
        if locator.history:
            run.figure(loss_curve_figure(locator.history, "RMSE loss (normalised targets)"), "loss")
        run.heading("validation RMSE per parameter")
        run.table(pd.DataFrame([val]), caption=f"val split of {data_dir}, seed {config.seed}")
        noise = locator.training["real_noise"]
        run.text(
            "Training noise: synthetic noise of the dataset"
            + (
                f" plus real pre-event noise ({noise['windows']} windows of {noise['loop_s']} s "
                f"from {', '.join(noise['records'])}) per station at a log-uniform factor in "
                f"{noise['scale'][0]}-{noise['scale'][1]}."
                if noise
                else "; no real noise (the dataset holds none, or real_noise_scale is None)."
            )
        )
        if locator.training["clip_from_network"]:
            run.text(describe_clip(locator.training["clip_from_network"]))
        report = run.write_report()
    return report, metrics


def describe_clip(record: dict[str, Any]) -> str:
    """One line: the 3-D CNN's clip settings and which came from the network."""
    parts = [
        f"{name} {value:g}" if isinstance(value, int | float) else f"{name} {value}"
        for name, value in record["values"].items()
    ]
    marks = ["*" if record["source"][name] == "network" else "" for name in record["values"]]
    return (
        f"3-D CNN clip for a network whose S crossing time is {record['crossing_time_s']:g} s: "
        f"{', '.join(p + m for p, m in zip(parts, marks, strict=True))} (* from the network)"
    )
