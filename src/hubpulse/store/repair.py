"""Repair of stored analysis found damaged while it is read: a build deleted by hand while a
question ran, or bytes damaged behind an intact Parquet footer (which only reading the pages
finds). ``run_repairing`` runs a command and, when the engine fails on such a build, discards
the build and runs the command once more (building it again); ``build_problem`` is what
``check`` says of a build."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.errors import first_line
from hubpulse.ingest.connection import Error, as_os_error, out_of_memory
from hubpulse.store.names import DERIVED, META
from hubpulse.store.pins import pinned

log = logging.getLogger("hubpulse")


def run_repairing(run: Callable[[], None]) -> None:
    """``run()``; once more when a stored build it read went missing or proved damaged (that
    build is discarded first, so the second run builds it again)."""
    try:
        run()
    except Exception as exc:
        builds = unreadable_builds(exc)
        if not builds:
            raise
        for build in builds:
            log.warning(
                "a stored table of %s could not be read (%s): building it again",
                build.name,
                first_line(exc),
            )
            discard_build(build)
        run()


# A stored table named in an engine error: <root>/derived/<load_id>/<build>/<table>.parquet
_STORED_FILE = re.compile(
    r"(/[^\"'\s]*/" + DERIVED + r"/[^/\"'\s]+/[^/\"'\s.][^/\"'\s]*)/[^/\"'\s]+\.parquet"
)


def unreadable_builds(exc: BaseException) -> list[Path]:
    """The stage builds an engine error may come from: the one whose stored table it names
    (deleted while a question ran, unreadable), else those this process reads that prove
    damaged when read in full (bytes damaged behind an intact footer fail as "Out of buffer",
    naming no file); none for an error that is not about reading stored files."""
    if as_os_error(exc) is not None or not isinstance(exc, Error) or out_of_memory(exc):
        return []
    found = _STORED_FILE.search(str(exc))
    if found:
        return [Path(found.group(1))]
    builds = {
        p.parent for p in pinned() if p.name == META and p.parent.parent.parent.name == DERIVED
    }
    return sorted(b for b in builds if _damaged(b))


def _damaged(build: Path) -> bool:
    return build_problem(build) is not None


def build_problem(build: Path) -> str | None:
    """What is wrong with a published build (None when nothing is): ``meta.json`` not the
    object a build writes, or a table that fails to read in full (bytes damaged behind an
    intact footer fail only then)."""
    stage, _, rest = build.name.partition("-")
    try:
        meta = json.loads((build / META).read_text())
    except (OSError, ValueError) as exc:
        return f"{META} cannot be read ({first_line(exc)})"
    if not isinstance(meta, dict) or meta.get("stage") != stage or meta.get("key") != rest[:16]:
        return f"{META} is not what a build of {stage} writes"
    for table in sorted(build.glob("*.parquet")):
        try:
            pq.read_table(table)
        except (OSError, pa.ArrowException) as exc:
            return f"{table.name} cannot be read ({first_line(exc)})"
    return None


def discard_build(build: Path) -> None:
    """Take a damaged build out of view (the next question builds the stage again)."""
    gone = build.with_name(f".tmp-damaged-{build.name}")
    with contextlib.suppress(OSError):
        os.rename(build, gone)
        shutil.rmtree(gone, ignore_errors=True)
