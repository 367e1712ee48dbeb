"""MkDocs hook: fill `cli.md` with every verb's options, read from the command itself.

The tables are built from the Typer/Click command tree (what `--help` prints) between the two
markers of `cli.md`: at docs-build time, so the built page cannot drift from the code, and by
`python docs/hooks/cli_options.py`, which rewrites the committed page for readers of the
repository. Options that break the naming table are listed under "Deviations".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

MARKER = "<!-- cli-options -->"
END_MARKER = "<!-- /cli-options -->"
REGION = re.compile(re.escape(MARKER) + ".*?" + re.escape(END_MARKER), re.DOTALL)
SHARED = (
    "--config",
    "--out",
    "--force",
    "--model",
    "--method",
    "--epochs",
    "--device",
    "--devices",
    "--progress",
    "--seed",
)
"""Options with one meaning everywhere: the columns of the verb x option matrix."""
OLD_SPELLINGS = {
    "--max-epochs": "--epochs",
    "--model-type": "--method",
    "--kind": "--method",
    "--backend": "--method",
    "--mc": "--min-magnitude",
    "--days": "--duration-days",
}
"""Spellings the naming table replaced; they may remain only as hidden aliases."""


def _verbs(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, command) of every leaf command; Typer's Click objects, duck-typed."""
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        if hasattr(command, "commands"):
            found += _verbs(command, path)
        else:
            found.append((path, command))
    return found


def _options(command: Any) -> list[Any]:
    return [
        p for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", 0)
    ]


def _flag(option: Any) -> str:
    names = [o for o in option.opts if o.startswith("--")] or option.opts
    flag = names[0]
    if option.secondary_opts:
        flag += "/" + option.secondary_opts[0]
    return flag


def cli_markdown() -> str:
    """The verb x shared-option matrix, each verb's options with their help, and deviations."""
    from quakesense.cli import app

    verbs = _verbs(typer.main.get_command(app))
    lines = [
        "## Shared options by verb",
        "",
        "| verb | " + " | ".join(f"`{s}`" for s in SHARED) + " |",
        "|---|" + "---|" * len(SHARED),
    ]
    deviations = []
    for path, command in verbs:
        names = {o for option in _options(command) for o in option.opts + option.secondary_opts}
        marks = ["yes" if s in names else "" for s in SHARED]
        lines.append(f"| `{path}` | " + " | ".join(marks) + " |")
        deviations += [
            f"- `quakesense {path}` shows `{old}` (table: `{new}`)"
            for old, new in OLD_SPELLINGS.items()
            if old in names
        ]
    lines += ["", "## Every verb's options", ""]
    for path, command in verbs:
        summary = (command.help or "").strip().splitlines()[0] if command.help else ""
        lines += [f"### `quakesense {path}`", "", summary, "", "| option | meaning |", "|---|---|"]
        for option in _options(command):
            text = " ".join((option.help or "").split()).replace("|", "\\|")
            lines.append(f"| `{_flag(option)}` | {text} |")
        lines.append("")
    lines += ["## Deviations from the naming table", ""]
    lines += deviations or ["None: no verb shows a replaced spelling."]
    return "\n".join(lines) + "\n"


def fill(markdown: str) -> str:
    """`markdown` with the region between the markers replaced by the generated tables."""
    return REGION.sub(lambda _: f"{MARKER}\n{cli_markdown()}{END_MARKER}", markdown)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Regenerate the tables of `cli.md` when the documentation is built."""
    return fill(markdown) if page.file.src_uri == "cli.md" else markdown


if __name__ == "__main__":
    page = Path(__file__).resolve().parents[1] / "cli.md"
    page.write_text(fill(page.read_text()))
