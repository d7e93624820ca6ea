"""The catalog file: ``catalog.duckdb`` in the warehouse, one view per table over the Parquet
files, for any DuckDB client (``duckdb <warehouse>/catalog.duckdb``). hubpulse never reads it;
it is derived data, rewritten after every change."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from hubpulse.errors import first_line
from hubpulse.ingest.connection import Error, Limits
from hubpulse.store.engines import connect_duckdb, register_views
from hubpulse.store.health import CatalogWarning


def write_catalog(
    final: Path, views: list[tuple[str, list[str]]], limits: Limits | None = None
) -> None:
    """Write the views (name, absolute Parquet paths, so the file opens from any directory)
    to ``final``: whole, to a new file renamed over the old one, so a client holding the old
    file open (even read-only, which locks it) or a corrupt old file does not matter. If it
    still cannot be written, the data stays stored and a one-line warning says so."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        temp.unlink(missing_ok=True)
        catalog = connect_duckdb(limits, temp)
        try:
            register_views(catalog, views)
        finally:
            catalog.disconnect()
        os.replace(temp, final)
    except (OSError, Error) as exc:
        temp.unlink(missing_ok=True)
        warnings.warn(
            f"{final} was not refreshed ({first_line(exc)}); the data is stored, and the next "
            "ingest or `hubpulse check` rewrites it",
            CatalogWarning,
            stacklevel=3,
        )
