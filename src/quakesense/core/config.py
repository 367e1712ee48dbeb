"""Configuration files (YAML or JSON) validated by pydantic models, with field-naming errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from quakesense.core.errors import InputError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic error as (dotted field, message)."""
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "<root>"
    message = first.get("msg", str(exc))
    if first.get("type") == "extra_forbidden":
        message = "unknown setting (a typo?)"
    return location, message


def build_config(
    model: type[ConfigT], data: dict[str, Any], *, source: str | Path | None = None
) -> ConfigT:
    """Validate a mapping into `model`, raising `InputError` that names the bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        location, message = validation_message(exc)
        raise InputError(message, source=source, field=location) from exc


def load_config(path: str | Path, model: type[ConfigT], **overrides: Any) -> ConfigT:
    """Read a YAML/JSON file into `model`; keyword overrides (not None) win over the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", source=path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML/JSON ({exc})", source=path) from exc
    if not isinstance(data, dict):
        raise InputError("config must be a mapping of settings", source=path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return build_config(model, data, source=path)
