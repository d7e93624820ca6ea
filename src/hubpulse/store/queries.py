"""What the warehouse holds, as tables for people: the snapshot and series load logs and the
records kept aside as rejects."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from hubpulse.ingest.files import REJECT_SCHEMA
from hubpulse.ingest.series import SERIES_LOAD_SCHEMA
from hubpulse.store.loads import LOAD_SCHEMA
from hubpulse.store.warehouse import LOADS, REJECTS, SERIES_LOADS, SERIES_REJECTS, Warehouse


def list_snapshots(warehouse: Warehouse) -> pa.Table:
    """The load log: one row per stored snapshot, oldest first."""
    if not warehouse.snapshot_dates():
        return LOAD_SCHEMA.empty_table()
    loads = warehouse.table(LOADS).select(*LOAD_SCHEMA.names).order_by("snapshot_date")
    return warehouse.execute(loads)


def list_rejects(warehouse: Warehouse, date: dt.date | None = None) -> pa.Table:
    """Malformed records kept aside at ingest, with file, row, field and reason."""
    date = warehouse.resolve_date(date)
    rejects = warehouse.table(REJECTS)
    loads = warehouse.table(LOADS).filter(ibis._.snapshot_date == date).select("load_id")
    kept = rejects.semi_join(loads, "load_id").order_by(["file", "row"])
    return warehouse.execute(kept.select("file", "row", "model_id", "field", "reason", "raw"))


def list_series(warehouse: Warehouse) -> pa.Table:
    """The series load log: one row per imported series file, oldest first."""
    loads = warehouse.series_table(SERIES_LOADS).order_by("loaded_at")
    return warehouse.execute(loads.select(*SERIES_LOAD_SCHEMA.names))


def list_series_rejects(warehouse: Warehouse) -> pa.Table:
    """Series observations kept aside at import, with file, row, field and reason."""
    rejects = warehouse.series_table(SERIES_REJECTS).order_by(["file", "row"])
    return warehouse.execute(rejects.select(*REJECT_SCHEMA.names))
