"""Health of a warehouse: what a published snapshot or an imported series needs in order to be
read, and what ``hubpulse check`` reports when something is missing, truncated or inconsistent.

A snapshot is *published* by its ``snapshots/date=…`` link; whatever that link points to is
never removed, even when it is damaged, so a damaged snapshot can be inspected and replaced
(``hubpulse ingest PATH --date D --replace``) rather than silently lost.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.errors import first_line

SNAPSHOT_FILES = ("models", "rejects", "aliases", "loads")
SERIES_FILES = (
    "series",
    "series_models",
    "coverage",
    "series_rejects",
    "series_loads",
    "series_months",
)
SPACE_FILES = ("spaces", "space_models", "space_rejects", "spaces_loads")
ROUTER_FILES = ("router_tokens", "router_rejects", "router_loads")
PROVIDER_FILES = ("provider_models", "provider_rejects", "providers_loads")
MODELSCOPE_FILES = ("modelscope_models", "modelscope_rejects", "modelscope_loads")
PRICE_FILES = ("prices", "price_rejects", "prices_loads")


class DamagedWarehouseWarning(UserWarning):
    """Some published data cannot be read; the rest still answers."""


class CatalogWarning(UserWarning):
    """``catalog.duckdb`` (derived, for other DuckDB clients) could not be rewritten."""


def published_problem(
    link: Path, root: Path, files: tuple[str, ...] = SNAPSHOT_FILES
) -> str | None:
    """Why the published directory ``link`` cannot be read (None when it can)."""
    target = link.resolve()
    if not target.is_dir():
        return f"{_rel(link, root)} points to {_rel(target, root)}, which is missing"
    for name in files:
        path = target / f"{name}.parquet"
        if not path.is_file():
            return f"{_rel(path, root)} is missing"
        try:
            pq.read_metadata(path)
        except (OSError, pa.ArrowException) as exc:
            return f"{_rel(path, root)} is not readable Parquet ({first_line(exc)})"
    return None


def count_problem(target: Path, root: Path, logged: dict[str, object]) -> str | None:
    """Where the files hold another number of rows than the load log recorded."""
    for name, column in (("models", "rows"), ("rejects", "rejects"), ("aliases", "aliases")):
        path = target / f"{name}.parquet"
        held = pq.read_metadata(path).num_rows
        if held != logged.get(column):
            return f"{_rel(path, root)} holds {held:,} rows; its load log says {logged.get(column)}"
    return None


def _rel(path: Path, root: Path) -> str:
    """``path`` inside the warehouse, as the user would name it there."""
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)
