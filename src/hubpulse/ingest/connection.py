"""The one place a DuckDB connection is made: ``connect`` applies the memory limit, the number of
threads and the spill folder (``Limits``, from the settings) to every connection — the
warehouse's, the hub-stats reader's, the load log's and the catalog's. Ingest reads with it;
``store`` wraps it for Ibis (``store.engines.connect_duckdb``). Nothing else imports duckdb
outside ``store``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

Error = duckdb.Error
"""DuckDB's own error, for readers that fall back when a file is not what they expect."""

Connection = duckdb.DuckDBPyConnection


@dataclass(frozen=True)
class Limits:
    """What every DuckDB connection may use: ``memory_limit`` (beyond it, DuckDB spills to
    ``spill``), ``threads`` (None: DuckDB's default, one per core)."""

    memory_limit: str = "2GB"
    threads: int | None = None
    spill: Path | None = None


def connect(limits: Limits | None = None, database: str | Path = ":memory:") -> Connection:
    """A DuckDB connection to ``database`` under ``limits`` (the defaults when None), with
    DuckDB's own progress bar off (the CLI draws its own)."""
    limits = limits or Limits()
    config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": limits.memory_limit}
    if limits.threads is not None:
        config["threads"] = limits.threads
    if limits.spill is not None:
        config["temp_directory"] = str(limits.spill)
    con = duckdb.connect(str(database), config=config)
    con.execute("set enable_progress_bar = false")
    return con
