"""Run folders, figures and the one HTML report each run writes.

A run folder holds `config.json` (every setting, seeds included), `metrics.json`, `figures/*.png`,
optionally `model/` and `report.html`, a single self-contained page (figures embedded) that
shows the figures first and the tables after, so people can look before they read.

The page comes from a Jinja2 template with HTML escaping on, so every value a user supplied
(station ids, file names) is escaped. It links the run's `config.json`, `metrics.json` and
`model/` when they exist; numbers are rounded to 4 significant digits, mappings and lists are
shown as `key: value` lines, never as Python reprs, and tables longer than `FOLD_ROWS` rows are
folded (`<details>`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
import numbers
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jinja2 import Environment
from pydantic import BaseModel

import quakesense
from quakesense.core.config import META_KEY
from quakesense.core.store import atomic_dir, atomic_path, write_json

LOG = logging.getLogger(__name__)

FOLD_ROWS = 15
"""Tables with more rows than this are folded into a `<details>` element."""
RUN_FILES = (
    ("config.json", "settings"),
    ("metrics.json", "scores"),
    ("model", "trained model"),
    ("models", "trained models"),
)
"""Files of a run folder that every report links when they exist: (name, what it holds)."""


@dataclass
class _Block:
    kind: str
    content: Any
    caption: str = ""


@dataclass
class RunFolder:
    """One run's output folder and the report being assembled for it.

    Verbs open it with `RunFolder.create`, which builds the run in a temporary folder and moves
    it to `out` only when the verb succeeds.

    Args:
        path: Folder to write into (created): the working folder while the run is built.
        title: Report title.
        out: Final folder of the run (default: `path`).
    """

    path: Path
    title: str
    out: Path | None = None
    _blocks: list[_Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.out = Path(self.out) if self.out is not None else self.path
        (self.path / "figures").mkdir(parents=True, exist_ok=True)

    @classmethod
    @contextlib.contextmanager
    def create(cls, out: str | Path, title: str, *, force: bool = False) -> Iterator[RunFolder]:
        """Build a run in a temporary sibling of `out`, moved into place only on success.

        `out` is checked first (`core.store.check_output_dir`): foreign files are never touched
        and an earlier run is replaced only with `force`. A failed or interrupted run leaves
        nothing at `out`, and a failed re-run leaves the earlier run as it was.
        """
        with atomic_dir(out, force=force) as tmp:
            yield cls(tmp, title, out=Path(out))

    def save_config(self, config: BaseModel | dict[str, Any], **meta: Any) -> Path:
        """Write every setting of the run to `config.json`, which `--config` reads back.

        Args:
            config: The verb's config model (or its mapping); nothing else, so it round-trips.
            **meta: Facts about the run that are not settings (input files, versions).
        """
        data = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        data[META_KEY] = {"version": quakesense.__version__, **meta}
        return write_json(data, self.path / "config.json")

    def save_metrics(self, metrics: dict[str, Any]) -> Path:
        """Write the run's scores to `metrics.json`."""
        return write_json(metrics, self.path / "metrics.json")

    def heading(self, text: str) -> None:
        """Start a report section."""
        self._blocks.append(_Block("heading", text))

    def text(self, text: str) -> None:
        """Add a paragraph (plain text, escaped)."""
        self._blocks.append(_Block("text", text))

    def table(
        self, frame: pd.DataFrame | Mapping[str, Any], caption: str = "", digits: int = 4
    ) -> None:
        """Add a table; a mapping becomes a two-column `setting | value` table.

        Numbers are rounded to `digits` significant digits and mapping or list cells are shown
        as `key: value` lines; a one-row table wider than 6 columns is turned on its side, and a
        table longer than `FOLD_ROWS` rows is folded under its caption.
        """
        if isinstance(frame, Mapping):
            frame = pd.DataFrame({"setting": list(frame), "value": list(frame.values())})
        shown = frame.copy()
        if isinstance(shown.columns, pd.MultiIndex):
            shown.columns = [" ".join(map(str, c)).strip() for c in shown.columns]
        shown.columns = [str(c) for c in shown.columns]
        if len(shown) == 1 and len(shown.columns) > 6:
            shown = pd.DataFrame({"setting": shown.columns, "value": shown.iloc[0].to_list()})
        shown = pd.DataFrame(
            {column: [cell_text(v, digits) for v in shown[column]] for column in shown.columns}
        )
        self._blocks.append(_Block("table", shown, caption))

    def figure(self, fig: plt.Figure, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as `figures/<name>.png`, add it to the report, close it.

        Without a caption the figure is captioned with its name made readable.
        """
        target = self.path / "figures" / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
        self._blocks.append(_Block("figure", target, caption or humanise(name)))
        return target

    def link(self, target: str | Path, text: str) -> None:
        """Add a link to a file or folder of this run (relative, so the folder can move).

        `target` is a path under the working folder `path`; one that does not exist when the
        report is written is left out (and logged), so a report never names a missing file.
        """
        self._blocks.append(_Block("link", Path(target), text))

    def final(self, path: str | Path) -> Path:
        """Where `path`, under the working folder, will be once the run is in place."""
        relative = Path(path).resolve().relative_to(self.path.resolve())
        return Path(self.out or self.path) / relative

    def write_report(self) -> Path:
        """Write `report.html` (figures embedded as PNG data) and return its final path."""
        files = [
            (name + ("/" if (self.path / name).is_dir() else ""), what)
            for name, what in RUN_FILES
            if (self.path / name).exists()
        ]
        page = _TEMPLATE.render(
            title=self.title,
            version=quakesense.__version__,
            stamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            files=files,
            blocks=[self._render(block) for block in self._blocks],
            fold_rows=FOLD_ROWS,
        )
        with atomic_path(self.path / "report.html") as tmp:
            tmp.write_text(page)
        return Path(self.out or self.path) / "report.html"

    def _render(self, block: _Block) -> dict[str, Any]:
        """A block as template data (the template escapes every value)."""
        if block.kind == "table":
            frame: pd.DataFrame = block.content
            return {
                "kind": "table",
                "caption": block.caption,
                "columns": list(frame.columns),
                "rows": frame.to_numpy().tolist(),
            }
        if block.kind == "figure":
            data = base64.b64encode(Path(block.content).read_bytes()).decode("ascii")
            src = f"data:image/png;base64,{data}"
            return {"kind": "figure", "caption": block.caption, "src": src}
        if block.kind == "link":
            target = Path(block.content)
            if not target.exists():
                LOG.warning("report '%s': %s does not exist; not linked", self.title, target)
                return {"kind": "omitted"}
            href = Path(os.path.relpath(target, self.path)).as_posix()
            href += "/" if target.is_dir() else ""
            return {"kind": "link", "href": href, "text": block.caption}
        return {"kind": block.kind, "text": block.content}


def humanise(name: str) -> str:
    """A readable caption from a file name: `event_counts` -> `Event counts`."""
    words = " ".join(str(name).replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:]


def cell_text(value: Any, digits: int = 4) -> str:
    """A table cell as text: numbers to `digits` significant digits, mappings as `key: value`
    lines (nested keys joined by dots), sequences comma-separated (sequences of mappings one
    block each), missing values empty."""
    if isinstance(value, Mapping):
        return "\n".join(_mapping_lines(value, digits))
    if isinstance(value, list | tuple | np.ndarray):
        blocks = any(isinstance(item, Mapping) for item in value)
        return ("\n\n" if blocks else ", ").join(cell_text(item, digits) for item in value)
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.{digits}g}"
    return str(value)


def _mapping_lines(mapping: Mapping[str, Any], digits: int, prefix: str = "") -> Iterator[str]:
    """`key: value` lines of a mapping; a nested mapping's keys as `parent.key`."""
    for key, item in mapping.items():
        if isinstance(item, Mapping) and item:
            yield from _mapping_lines(item, digits, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}: {cell_text(item, digits)}"


_TEMPLATE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.3em 0 1.5em;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
td{white-space:pre-line}
th{background:#f0f0f0}figure{margin:1em 0 2em}img{max-width:100%}
figcaption{color:#444}.caption{font-weight:bold;margin:1em 0 0.2em}summary{cursor:pointer}
.files a{margin-right:0.3em}
</style></head><body>
{% macro table(b) %}
<table><thead><tr>{% for c in b.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for row in b.rows %}
<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody></table>
{% endmacro %}
<h1>{{ title }}</h1>
<p><small>quakesense {{ version }}, written {{ stamp }}.</small></p>
{% if files %}
<p class="files">Run files:
{% for name, what in files %}
<a href="{{ name }}">{{ name }}</a> ({{ what }}){{ ";" if not loop.last else "" }}
{% endfor %}
</p>
{% endif %}
{% for b in blocks %}
{% if b.kind == "heading" %}
<h2>{{ b.text }}</h2>
{% elif b.kind == "text" %}
<p>{{ b.text }}</p>
{% elif b.kind == "link" %}
<p><a href="{{ b.href }}">{{ b.text }}</a></p>
{% elif b.kind == "figure" %}
<figure><img src="{{ b.src }}" alt="{{ b.caption }}">
<figcaption>{{ b.caption }}</figcaption></figure>
{% elif b.kind == "table" and b.rows|length > fold_rows %}
<details><summary class="caption">{{ b.caption or "Table" }}
({{ b.rows|length }} rows, click to show)</summary>
{{ table(b) }}
</details>
{% elif b.kind == "table" %}
{% if b.caption %}<p class="caption">{{ b.caption }}</p>{% endif %}
{{ table(b) }}
{% endif %}
{% endfor %}
</body></html>
"""
)


def confusion_matrix_figure(
    matrix: np.ndarray | list[list[int]], labels: list[str], title: str
) -> plt.Figure:
    """Confusion matrix with counts and row percentages; rows are the true class."""
    matrix = np.asarray(matrix)
    row_sum = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * matrix, row_sum, out=np.zeros(matrix.shape), where=row_sum > 0)
    size = 1.0 + 0.7 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            colour = "white" if percent[i, j] > 60 else "black"
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n{percent[i, j]:.0f}%",
                ha="center",
                va="center",
                color=colour,
                fontsize=8,
            )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str) -> plt.Figure:
    """ROC curves: name -> (false-positive rate, true-positive rate, AUC)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def loss_curve_figure(history: list[dict[str, float]], title: str) -> plt.Figure:
    """Training and validation loss per epoch (with markers when there are few epochs)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h["epoch"] for h in history]
    marker = "o" if len(epochs) <= 30 else None  # a single epoch is a point, not a line
    for key in ("train_loss", "val_loss"):
        values = [h.get(key, np.nan) for h in history]
        ax.plot(epochs, values, marker=marker, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return fig
