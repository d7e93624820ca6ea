"""The one place a DuckDB connection is made: ``connect`` applies the memory limit, the number of
threads and the spill folder (``Limits``, from the settings) to every connection — the
warehouse's, the hub-stats reader's, the load log's and the catalog's. Ingest reads with it;
``store`` wraps it for Ibis (``store.engines.connect_duckdb``). Nothing else imports duckdb
outside ``store``."""

from __future__ import annotations

import errno
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


_OS_ERRORS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
}


def as_os_error(exc: BaseException) -> OSError | None:
    """A DuckDB failure to write a file (a full disk, a read-only warehouse) as the
    ``OSError`` it is, so that what falls back on one (an analysis computed in memory) does;
    None for anything else."""
    if isinstance(exc, OSError):
        return exc
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc)
    for words, code in _OS_ERRORS.items():
        if words in text:
            return OSError(code, words)
    return None


def out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.OutOfMemoryException)


def engine_failure(exc: BaseException) -> str | None:
    """One line for a DuckDB or Spark failure that reached the command line (None: neither's)."""
    if out_of_memory(exc):
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return (
            f"DuckDB ran out of memory under its limit ({said}): raise "
            "HUBPULSE_DUCKDB_MEMORY_LIMIT (e.g. 4GB), or give it fewer threads "
            "(HUBPULSE_DUCKDB_THREADS=1), which need less memory at once"
        )
    found = as_os_error(exc)
    if found is not None:
        return f"{found.strerror} while the engine wrote its files: free space or fix the warehouse"
    if isinstance(exc, duckdb.Error):
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"the engine failed: {first} (`hubpulse check` names damaged files)"
    if type(exc).__module__.startswith(("pyspark", "py4j")):  # Spark's own, in one line
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"Spark failed: {first}"
    return None
