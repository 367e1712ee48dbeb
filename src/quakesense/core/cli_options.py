"""Command-line options with one meaning in every pipeline, and hidden aliases of old spellings.

Each option that sets a config field defaults to None ("not given"); the defaults live once, in
the pydantic config models, and reach the verb through `core.config.resolve_config`. A renamed
option keeps its old spelling for one release as a separate hidden option (`deprecated`), which
`renamed` folds into the new one with a warning on stderr.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

LOG = logging.getLogger("quakesense")
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML/JSON settings, e.g. a run's config.json")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="replace an earlier quakesense run at --out")
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="where networks run: auto | cpu | cuda (cuda without a GPU: the CPU, with a warning)",
    ),
]
ProgressOption = Annotated[
    bool | None, typer.Option("--progress/--no-progress", help="progress bars on stderr")
]
DevicesOption = Annotated[
    int | None,
    typer.Option(
        "--devices",
        help="training processes (CPU) or GPUs working together (Lightning) [1]",
    ),
]
StrategyOption = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        help="Lightning strategy for --devices > 1: auto | ddp | ddp_spawn | fsdp "
        "(forecast: auto | ddp_spawn)",
    ),
]


def deprecated(old_flag: str, new_flag: str) -> Any:
    """A hidden Typer option for the old spelling `old_flag` of `new_flag`."""
    return typer.Option(old_flag, hidden=True, help=f"deprecated: use {new_flag}")


def renamed(new: T | None, old: T | None, old_flag: str, new_flag: str) -> T | None:
    """The value of a renamed option: the new flag wins; the old one still works, with a
    warning on stderr."""
    if old is None:
        return new
    LOG.warning("%s is deprecated; use %s", old_flag, new_flag)
    return new if new is not None else old
