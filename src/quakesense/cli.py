"""The `quakesense` command: one Typer app with a sub-command group per pipeline.

`main(argv)` runs it and returns the exit code, so tests call the CLI in-process. Bad input
(`InputError`) prints one clear line on stderr and exits with status 2. Messages go through the
`quakesense` logger to stderr (INFO by default; `-v` adds debug detail, `-q` keeps warnings and
errors only), so stdout holds only results.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

import quakesense
from quakesense.aeclass.cli import app as aeclass_app
from quakesense.core.cli_options import ProgressOption
from quakesense.core.config import validation_message
from quakesense.core.errors import InputError
from quakesense.forecast.cli import app as forecast_app
from quakesense.locate.cli import app as locate_app
from quakesense.precursor.cli import app as precursor_app

LOG = logging.getLogger("quakesense")

app = typer.Typer(
    name="quakesense",
    help="Deep-learning earthquake precursors, hypocentres, AE classification and forecasts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

PIPELINES: dict[str, str] = {
    "precursor": "Earthquake precursors from rock acoustic emission: AE hits -> window features "
    "-> MLP and baselines -> warnings (after Jiang, Zhu, Lacidogna, Friedrich & Iturrioz 2025).",
    "locate": "Hypocentres from seismic waveforms: synthetic wavefields -> snapshot images -> "
    "CNN, real-waveform location and a grid-search baseline (after Sugiyama, Tsuboi & "
    "Yukutake 2021).",
    "aeclass": "AE event classes and locations from arrival-time profiles: picks -> profiles -> "
    "network and baselines; physics and learned locators (after the hydraulic-fracturing "
    "study of Research Square preprint rs-1639099).",
    "forecast": "Mid-term earthquake forecasts: catalog -> daily grid -> ConvLSTM, ETAS and "
    "baselines -> CSEP-style scores and maps (after Kail, Zaytsev & Burnaev 2020).",
}
"""What each pipeline does and the paper it follows (group help and the demo index)."""

app.add_typer(precursor_app, name="precursor", help=PIPELINES["precursor"])
app.add_typer(locate_app, name="locate", help=PIPELINES["locate"])
app.add_typer(aeclass_app, name="aeclass", help=PIPELINES["aeclass"])
app.add_typer(forecast_app, name="forecast", help=PIPELINES["forecast"])


class _StderrHandler(logging.StreamHandler):
    """Writes to the current `sys.stderr` (replaced by test harnesses between runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Formatter(logging.Formatter):
    """INFO as plain lines; warnings and errors prefixed with their level."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {text}"
        return text


def configure_logging(verbosity: int = 0) -> None:
    """Send the `quakesense` logger to stderr: INFO at 0, DEBUG at >= 1, WARNING at -1, ERROR
    below; one handler however often the CLI runs in one process."""
    level = {1: logging.DEBUG, 0: logging.INFO, -1: logging.WARNING}.get(
        max(-2, min(1, verbosity)), logging.ERROR
    )
    for handler in [h for h in LOG.handlers if isinstance(h, _StderrHandler)]:
        LOG.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    LOG.addHandler(handler)
    LOG.setLevel(level)
    LOG.propagate = False


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"quakesense {quakesense.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="more detail on stderr")
    ] = 0,
    quiet: Annotated[
        int,
        typer.Option("--quiet", "-q", count=True, help="warnings and errors only (-qq: errors)"),
    ] = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Deep-learning earthquake precursors, hypocentres, AE classification and forecasts.

    Every verb writes one run folder (config.json, metrics.json, model/, report.html); see
    `quakesense PIPELINE --help`, and the Python API `quakesense.load(run_folder)`.
    """
    configure_logging(verbose - quiet)


def _demos() -> dict[str, Callable[..., Path]]:
    """Each pipeline's demo (imported on use: they load the heavy libraries)."""
    from quakesense.aeclass.demo import run_demo as aeclass_demo
    from quakesense.forecast.demo import run_demo as forecast_demo
    from quakesense.locate.demo import run_demo as locate_demo
    from quakesense.precursor.demo import run_demo as precursor_demo

    return {
        "precursor": precursor_demo,
        "locate": locate_demo,
        "aeclass": aeclass_demo,
        "forecast": forecast_demo,
    }


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for the run folders")] = Path("quakesense-demo"),
    seed: Annotated[int, typer.Option(help="seed of every simulator and model")] = 0,
    only: Annotated[
        list[str] | None, typer.Option(help="run only these pipelines (repeatable)")
    ] = None,
    progress: ProgressOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace an earlier quakesense demo at --out")
    ] = False,
) -> None:
    """Run every pipeline end to end on its embedded default data and write HTML reports.

    OUT/report.html links each pipeline's report; the whole folder appears only when every
    chosen pipeline succeeded. Progress bars (stderr) are on unless --no-progress.
    """
    from quakesense.core.report import RunFolder

    chosen = list(only) if only else list(PIPELINES)
    unknown = sorted(set(chosen) - set(PIPELINES))
    if unknown:
        raise InputError(
            f"unknown pipeline(s) {unknown}; choose from {list(PIPELINES)}", field="--only"
        )
    demos = _demos()
    with RunFolder.create(out, "quakesense demo", force=force) as index:
        index.text(
            f"Each pipeline run end to end on its embedded default data with seed {seed}; "
            "follow a link for its report."
        )
        for name in chosen:
            LOG.info("[demo] %s: %s", name, PIPELINES[name])
            report = Path(demos[name](index.path / name, seed, progress=progress is not False))
            index.heading(name)
            index.text(PIPELINES[name])
            index.link(report, f"{name} report")
            LOG.info("[demo] %s: report %s", name, index.final(report))
        LOG.info("[demo] index %s", index.write_report())


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT, as shells report it)."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: the process arguments) and return the exit status.

    Every refusal is one line on stderr: bad input (`InputError`, an invalid setting) exits 2,
    a file-system failure 1, Ctrl-C prints `interrupted` and exits 130.
    """
    with _sigint_watch() as interrupted:
        try:
            code = _run(argv)
        except Exception:
            # A Ctrl-C that lands inside a C extension can surface as another exception
            # (matplotlib's path code turns it into "ValueError: Invalid affine transformation
            # matrix"); after a Ctrl-C any failure is the interrupt, not a bug to trace.
            if not interrupted():
                raise
            code = INTERRUPTED
    if interrupted() or code == INTERRUPTED:
        typer.echo("interrupted", err=True)
        return INTERRUPTED
    return code


@contextlib.contextmanager
def _sigint_watch() -> Iterator[Callable[[], bool]]:
    """Note a Ctrl-C before it turns into KeyboardInterrupt.

    Typer turns a KeyboardInterrupt into a silent `return 130`, so the CLI cannot tell it from a
    result without this flag.
    """
    seen: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: bool(seen)
        return

    def on_sigint(signum: int, frame: object) -> None:
        seen.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None) -> int:
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
        return INTERRUPTED
    except OSError as exc:
        typer.echo(f"error: {_one_line(exc)}", err=True)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return INTERRUPTED
    except typer.TyperException as exc:  # usage errors: unknown command, bad option value
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
