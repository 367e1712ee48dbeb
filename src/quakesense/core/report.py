"""Run folders, figures and the one HTML report each run writes.

A run folder holds `config.json` (every setting, seeds included), `metrics.json`, `figures/*.png`,
optionally `model/` and `report.html`, a single self-contained page (figures embedded) that
shows the figures first and the tables after, so people can look before they read.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel

import quakesense
from quakesense.core.config import META_KEY
from quakesense.core.store import atomic_dir, atomic_path, write_json


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

    def table(self, frame: pd.DataFrame, caption: str = "", float_format: str = "{:.4g}") -> None:
        """Add a table."""
        shown = frame.copy()
        for column in shown.columns:
            if pd.api.types.is_float_dtype(shown[column]):
                shown[column] = shown[column].map(
                    lambda v: "" if pd.isna(v) else float_format.format(v)
                )
        self._blocks.append(_Block("table", shown, caption))

    def figure(self, fig: plt.Figure, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as `figures/<name>.png`, add it to the report, close it."""
        target = self.path / "figures" / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
        self._blocks.append(_Block("figure", target, caption))
        return target

    def write_report(self) -> Path:
        """Write `report.html` (figures embedded as PNG data) and return its path."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "th{background:#f0f0f0}figure{margin:1em 0}img{max-width:100%}"
            "figcaption{color:#555;font-size:0.9em}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
            f"<p><small>quakesense {quakesense.__version__}, written {stamp}; "
            "settings in config.json, scores in metrics.json.</small></p>",
        ]
        for block in self._blocks:
            parts.append(_render(block))
        parts.append("</body></html>")
        with atomic_path(self.path / "report.html") as tmp:
            tmp.write_text("\n".join(parts))
        return self.out / "report.html"


def _render(block: _Block) -> str:
    if block.kind == "heading":
        return f"<h2>{html.escape(block.content)}</h2>"
    if block.kind == "text":
        return f"<p>{html.escape(block.content)}</p>"
    if block.kind == "table":
        caption = f"<p><b>{html.escape(block.caption)}</b></p>" if block.caption else ""
        return caption + block.content.to_html(index=False, border=0, escape=True)
    data = base64.b64encode(Path(block.content).read_bytes()).decode("ascii")
    caption = html.escape(block.caption or Path(block.content).stem)
    return (
        f"<figure><img src='data:image/png;base64,{data}' alt='{caption}'>"
        f"<figcaption>{caption}</figcaption></figure>"
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
    """Training and validation loss per epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h["epoch"] for h in history]
    for key in ("train_loss", "val_loss"):
        values = [h.get(key, np.nan) for h in history]
        ax.plot(epochs, values, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return fig
