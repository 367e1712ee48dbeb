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


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("+")[0].split(".")[:3] if part.isdigit())


def load_model(path: str | Path, *, expected: str | None = None) -> SavedModel:
    """Load a model folder written by `save_model`, rebuilding the registered class.

    Args:
        path: Model folder.
        expected: Registry name the caller needs; another kind of model is a clear error.
    """
    path = Path(path)
    document = read_json(path / "model.json")
    name = document.get("model")
    if expected is not None and name != expected:
        raise InputError(f"model is a '{name}', expected a '{expected}'", source=path)
    needed = document.get("versions", {}).get("min_quakesense", "0")
    if _version_tuple(quakesense.__version__) < _version_tuple(needed):
        raise InputError(
            f"model needs quakesense >= {needed}; this is {quakesense.__version__}", source=path
        )
    if name not in _REGISTRY:
        raise InputError(
            f"unknown model type '{name}' (known: {', '.join(registered_models())})", source=path
        )
    module = _REGISTRY[name](**document["config"])
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
