"""Saving and loading trained models: weights plus the full config, normalisation and versions.

A model folder holds `weights.pt` (a PyTorch state dict) and `model.json`, which names the
registered model class, every constructor argument (not only non-default ones), the input and
target normalisation used in training, the quakesense and torch versions that wrote it and the
minimum quakesense version able to read it. Loading rebuilds the class from the registry, so
preprocessing can never drift from what the weights were trained with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

import quakesense
from quakesense.core.errors import InputError
from quakesense.core.store import atomic_dir, read_json, write_json

_REGISTRY: dict[str, type[nn.Module]] = {}
ModuleT = TypeVar("ModuleT", bound=type[nn.Module])
FORMAT_VERSION = 1

LEGACY_NAMES: dict[str, str] = {
    "forecast_convlstm": "forecast.convlstm",
    "precursor_mlp": "precursor.mlp",
}
"""Registry keys of earlier releases -> the `<pipeline>.<name>` key that replaces them.

A model folder written under either spelling loads, whichever of the two its class is
registered under, so renaming a key never orphans saved models."""


def register_model(name: str) -> Callable[[ModuleT], ModuleT]:
    """Class decorator: make an `nn.Module` loadable by `name` from a saved model folder."""

    def decorate(cls: ModuleT) -> ModuleT:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name '{name}' is already registered")
        _REGISTRY[name] = cls
        return cls

    return decorate


def registered_models() -> list[str]:
    """Names of every registered model class."""
    return sorted(_REGISTRY)


def canonical_name(name: str) -> str:
    """The `<pipeline>.<name>` registry key of `name`, which may be an old spelling."""
    return LEGACY_NAMES.get(name, name)


def registered_class(name: str) -> type[nn.Module] | None:
    """The class registered under `name` or under any spelling of the same key, or None."""
    key = canonical_name(name)
    spellings = [name, key, *(old for old, new in LEGACY_NAMES.items() if new == key)]
    return next((_REGISTRY[s] for s in spellings if s in _REGISTRY), None)


@dataclass
class Normalisation:
    """Per-feature affine normalisation `(x - mean) / scale`, fitted on training data only."""

    mean: np.ndarray
    scale: np.ndarray
    names: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, values: np.ndarray, names: list[str] | None = None) -> Normalisation:
        """Fit mean and standard deviation per column (axis 0); constant columns get scale 1."""
        values = np.asarray(values, dtype=float)
        mean = np.nanmean(values, axis=0)
        scale = np.nanstd(values, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        return cls(mean=np.atleast_1d(mean), scale=np.atleast_1d(scale), names=list(names or []))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Normalise values (last axis = features)."""
        return (np.asarray(values, dtype=float) - self.mean) / self.scale

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Undo `apply`."""
        return np.asarray(values, dtype=float) * self.scale + self.mean

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "names": self.names}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalisation:
        """Inverse of `to_dict`."""
        return cls(
            mean=np.asarray(data["mean"], dtype=float),
            scale=np.asarray(data["scale"], dtype=float),
            names=list(data.get("names", [])),
        )


@dataclass
class SavedModel:
    """A loaded model with everything needed to use it exactly as trained."""

    module: nn.Module
    name: str
    config: dict[str, Any]
    normalisation: dict[str, Normalisation]
    extra: dict[str, Any]
    versions: dict[str, str]


def save_model(
    path: str | Path,
    module: nn.Module,
    *,
    name: str,
    config: dict[str, Any],
    normalisation: dict[str, Normalisation] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save a registered module with its full constructor config and normalisation, atomically.

    Args:
        path: Model folder to create (replaced if it exists).
        module: The trained module; `type(module)` must be registered under `name`.
        name: Registry name of the module's class.
        config: Every constructor argument: `_REGISTRY[name](**config)` must rebuild it.
        normalisation: Named normalisations (e.g. `inputs`, `targets`) used in training.
        extra: Anything else a user of the model needs (feature names, thresholds, training info).
    """
    if _REGISTRY.get(name) is not type(module):
        raise ValueError(f"{type(module).__name__} is not registered as '{name}'")
    document = {
        "format_version": FORMAT_VERSION,
        "model": name,
        "config": config,
        "normalisation": {k: v.to_dict() for k, v in (normalisation or {}).items()},
        "extra": extra or {},
        "versions": {
            "quakesense": quakesense.__version__,
            "min_quakesense": quakesense.MIN_LOADABLE_VERSION,
            "torch": torch.__version__,
        },
    }
    with atomic_dir(path) as tmp:
        torch.save(module.state_dict(), tmp / "weights.pt")
        write_json(document, tmp / "model.json")
    return Path(path)


def model_dir(path: str | Path) -> Path:
    """The model folder `path` names: a model folder itself, or a run folder holding `model/`.

    Every verb's `--model DIR` and `quakesense.load` accept both, so a user can point at the
    run folder that training wrote; a run holding one model under `models/<name>/` works too.

    Raises:
        InputError: when neither `path/model.json` nor `path/model/model.json` exists.
    """
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / "model.json").is_file():
            return candidate
    several = sorted(p.parent for p in path.glob("models/*/model.json"))
    if len(several) == 1:
        return several[0]
    if several:
        raise InputError(
            f"the run holds several models; name one: {', '.join(map(str, several))}",
            source=path,
            field="--model",
        )
    raise InputError(
        "not a model folder (no model.json) nor a run folder holding model/model.json",
        source=path,
        field="--model",
    )


def model_name(path: str | Path) -> str:
    """The `<pipeline>.<name>` registry key of the model saved in `path` (model or run folder)."""
    return canonical_name(str(read_json(model_dir(path) / "model.json").get("model")))


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("+")[0].split(".")[:3] if part.isdigit())


def load_model(path: str | Path, *, expected: str | None = None) -> SavedModel:
    """Load a model folder written by `save_model`, rebuilding the registered class.

    Args:
        path: Model folder, or the run folder holding it as `model/`.
        expected: Registry name the caller needs (any spelling of the key); another kind of
            model is a clear error.
    """
    path = model_dir(path)
    document = read_json(path / "model.json")
    name = str(document.get("model"))
    if expected is not None and canonical_name(name) != canonical_name(expected):
        raise InputError(f"model is a '{name}', expected a '{expected}'", source=path)
    needed = document.get("versions", {}).get("min_quakesense", "0")
    if _version_tuple(quakesense.__version__) < _version_tuple(needed):
        raise InputError(
            f"model needs quakesense >= {needed}; this is {quakesense.__version__}", source=path
        )
    cls = registered_class(name)
    if cls is None:
        raise InputError(
            f"unknown model type '{name}' (known: {', '.join(registered_models())}); "
            "load it with quakesense.load, which registers every pipeline's models",
            source=path,
        )
    module = cls(**document["config"])
    state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    module.eval()
    return SavedModel(
        module=module,
        name=name,
        config=document["config"],
        normalisation={
            k: Normalisation.from_dict(v) for k, v in document.get("normalisation", {}).items()
        },
        extra=document.get("extra", {}),
        versions=document.get("versions", {}),
    )
