"""The ``hubpulse`` command line: each command parses options, calls one library function and
prints the result as a Rich table, JSON or CSV. Errors become one-line messages in ``main``.

``options`` holds the app, the shared options and helpers; the commands live by subject in
``snapshots``, ``history``, ``audit``, ``spaces``, ``router``, ``hub``, ``report`` and ``synth``
and register themselves on ``app`` when imported."""

from __future__ import annotations

import logging
import sys
import warnings

from rich.console import Console
from rich.markup import escape

from hubpulse.cli.options import app
from hubpulse.errors import HubpulseError, one_line, redact
from hubpulse.ingest.connection import engine_failure

__all__ = ["app", "main"]

# The commands register themselves on ``app`` when their modules are imported, in help order.
from hubpulse.cli import snapshots, history, audit, spaces, router, hub, market, report, synth  # noqa: F401, I001


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """A warning is one line on stderr, like an error."""
    Console(stderr=True).print(
        f"[bold yellow]warning:[/] {escape(one_line(str(message)))}",
        highlight=False,
        soft_wrap=True,
    )


class _Notes(logging.Handler):
    """Library notes (logger ``hubpulse``, e.g. "building the lineage of snapshot …") as one dim
    line each on stderr, so that stdout stays the answer."""

    def emit(self, record: logging.LogRecord) -> None:
        text = escape(one_line(record.getMessage()))
        warn = record.levelno >= logging.WARNING
        line = f"[bold yellow]warning:[/] {text}" if warn else f"[dim]note: {text}[/]"
        Console(stderr=True).print(line, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning hubpulse errors and operating-system failures (a
    read-only warehouse, a full disk) into one clear line and exit 1."""
    warnings.showwarning = _show_warning
    logger, notes = logging.getLogger("hubpulse"), _Notes()
    logger.setLevel(logging.INFO)
    logger.addHandler(notes)
    try:
        _run()
    except HubpulseError as exc:
        _fail(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
    except Exception as exc:  # the engine's own errors: one line, never a traceback
        message = engine_failure(exc)
        if message is None:
            raise
        _fail(message)
    finally:
        logger.removeHandler(notes)


def _run() -> None:
    from hubpulse.store.repair import run_repairing  # when run: `--help` needs no Ibis

    run_repairing(lambda: app(prog_name="hubpulse"))


def _fail(message: str) -> None:
    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(one_line(redact(message)))}",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(1)
