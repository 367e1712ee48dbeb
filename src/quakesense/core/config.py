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


META_KEY = "quakesense"
"""Key of the run metadata (version, extras) in a saved config.json; ignored when read back."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML/JSON config file into a mapping, dropping the run metadata key."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", source=path, field="--config")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        problem = str(exc).replace("\n", " ")
        raise InputError(f"not valid YAML/JSON ({problem})", source=path) from exc
    if not isinstance(data, dict):
        raise InputError("config must be a mapping of settings", source=path)
    data.pop(META_KEY, None)
    return data


def flag_name(field: str) -> str:
    """The command-line flag of a config field: `model_type` -> `--model-type`."""
    return "--" + field.split(".")[-1].replace("_", "-")


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else dict(child)
            node[part] = child
        node = child
    node[leaf] = value


def resolve_config(
    model: type[ConfigT],
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> ConfigT:
    """The one way a verb gets its settings: the file first, then every flag that was given.

    Defaults live only in `model`. An override whose value is None was not given and changes
    nothing; keys may be dotted for nested settings (`train.max_epochs`). A bad value is reported
    with the flag that set it, or with the file and field when it came from the file.

    Args:
        model: The pydantic config class of the verb.
        config_path: YAML/JSON file, e.g. the `config.json` of an earlier run, or None.
        overrides: Field name -> value given on the command line (None: not given).
    """
    data = read_config_file(config_path) if config_path is not None else {}
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    for key, value in given.items():
        _set_dotted(data, key, value)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        location, message = validation_message(exc)
        from_flag = next(
            (key for key in given if location == key or location.startswith(key + ".")), None
        )
        if from_flag is not None:
            raise InputError(message, field=flag_name(from_flag)) from exc
        raise InputError(message, source=config_path, field=location) from exc


def load_config(path: str | Path, model: type[ConfigT], **overrides: Any) -> ConfigT:
    """Read a YAML/JSON file into `model`; keyword overrides (not None) win over the file."""
    return resolve_config(model, path, overrides)
