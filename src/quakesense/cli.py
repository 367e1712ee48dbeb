"""The `quakesense` command: one Typer app with a sub-command group per pipeline.

`main(argv)` runs it and returns the exit code, so tests call the CLI in-process. Bad input
(`InputError`) prints one clear line on stderr and exits with status 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from quakesense.core.config import validation_message
from quakesense.core.errors import InputError

app = typer.Typer(
    name="quakesense",
    help="Deep-learning earthquake precursors, hypocentres, AE classification and forecasts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

PIPELINES: dict[str, str] = {
    "precursor": "AE time series -> precursor classifier -> warnings (seed 000)",
    "locate": "synthetic wavefields -> CNN hypocentres; real-waveform location (seeds 001, 002)",
    "aeclass": "AE arrival times -> event class and location (seed 003)",
    "forecast": "catalog -> ConvLSTM, ETAS and baselines -> CSEP-style scores (seed 004)",
}

for _name, _help in PIPELINES.items():
    _module = importlib.import_module(f"quakesense.{_name}.cli")
    app.add_typer(_module.app, name=_name, help=_help)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for the run folders")] = Path("quakesense-demo"),
    seed: Annotated[int, typer.Option(help="seed of every simulator and model")] = 0,
    only: Annotated[
        list[str] | None, typer.Option(help="run only these pipelines (repeatable)")
    ] = None,
) -> None:
    """Run every pipeline end to end on its embedded default data and write HTML reports."""
    from quakesense.core.report import RunFolder

    chosen = list(only) if only else list(PIPELINES)
    unknown = sorted(set(chosen) - set(PIPELINES))
    if unknown:
        raise InputError(
            f"unknown pipeline(s) {unknown}; choose from {list(PIPELINES)}", field="--only"
        )
    index = RunFolder(out, "quakesense demo")
    index.text(f"Embedded default data of each pipeline, seed {seed}.")
    for name in chosen:
        run_demo = importlib.import_module(f"quakesense.{name}.demo").run_demo
        typer.echo(f"[demo] {name}: {PIPELINES[name]}")
        report = Path(run_demo(out / name, seed=seed))
        index.heading(name)
        index.text(f"{PIPELINES[name]}: {report.relative_to(out)}")
        typer.echo(f"[demo] {name}: report {report}")
    typer.echo(f"[demo] index {index.write_report()}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: the process arguments) and return the exit status.

    Every refusal is one line on stderr: bad input (`InputError`, an invalid setting) exits 2,
    a file-system failure 1, Ctrl-C prints `interrupted` and exits 130.
    """
    try:
        result = app(args=argv, prog_name="quakesense", standalone_mode=False)
    except InputError as exc:
        typer.echo(f"error: {_one_line(exc)}", err=True)
        return 2
    except ValidationError as exc:
        location, message = validation_message(exc)
        typer.echo(f"error: setting '{location}': {_one_line(message)}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except OSError as exc:
        typer.echo(f"error: {_one_line(exc)}", err=True)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("interrupted", err=True)
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command, bad option value
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
