"""Tiny hand-built snapshots for lineage and attribution tests: one named model per case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.ingest.files import ALIAS_SCHEMA, SNAPSHOT_SCHEMA

DAY = dt.date(2026, 1, 1)


def model(
    model_id: str,
    parents: list[str] | None = None,
    relation: str | None = None,
    *,
    created: str | None = None,
    downloads: int = 0,
    likes: int = 0,
) -> dict[str, Any]:
    return {
        "snapshot_date": DAY,
        "model_id": model_id,
        "author": model_id.split("/")[0],
        "created_at": dt.datetime.fromisoformat(created) if created else None,
        "downloads_30d": downloads,
        "downloads_all_time": downloads * 10,
        "likes": likes,
        "tags": [],
        "is_gguf": False,
        "base_models": parents or [],
        "base_relation": relation if parents else None,
    }


def snapshot(rows: list[dict[str, Any]]) -> ir.Table:
    return ibis.memtable(pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA))


def aliases(pairs: list[tuple[str, str]] | None = None) -> ir.Table:
    rows = [{"old_id": old, "new_id": new} for old, new in pairs or []]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=ALIAS_SCHEMA))


def records(table: ir.Table) -> list[dict[str, Any]]:
    return table.to_pyarrow().to_pylist()
