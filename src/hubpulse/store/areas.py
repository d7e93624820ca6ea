"""Loads of the adoption signals beyond downloads (Spaces, inference providers, router tokens),
each stored under ``<root>/<area>/<load_id>/`` (its tables and ``<area>_loads``, the load log
row), written under ``.tmp-<load_id>`` and published by renaming the directory, all or nothing.

A load covers the days ``first_day`` … ``last_day`` (one day for a listing). The same file (and
options) as the newest load of those days is a no-op; another load over a day already held is
refused unless ``replace``, which publishes the new load beside the old ones. Readers read, for
each day, only the newest load covering it (``newest_per_day``), so nothing is counted twice and
restated figures replace the ones before. A superseded load is never deleted: a reader that
registered its files before the new load came keeps reading them whole (these loads are small).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse._version import __version__
from hubpulse.errors import SnapshotConflictError
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA as LOAD_SCHEMA
from hubpulse.ingest.sources import Origin
from hubpulse.store.durable import fsync_dir, staged, write_parquet
from hubpulse.store.loads import origin_columns

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


@dataclass(frozen=True)
class AreaData:
    """One input of an area normalised: its tables (without ``load_id``), the days it covers
    and what identifies it."""

    area: str
    path: Path
    file_sha256: str
    options: str
    first_day: dt.date
    last_day: dt.date
    complete: bool
    tables: dict[str, pa.Table]
    rows: int
    rejects: int
    origin: Origin | None = None
    parted: bool = False  # loads of other ``options`` (a ticker, owners) never cover its days


@dataclass(frozen=True)
class AreaLoad:
    """What one import did: ``status`` is ``loaded``, ``replaced`` or ``unchanged``."""

    status: str
    row: dict[str, Any]


def store_area(store: Warehouse, data: AreaData, *, replace: bool, what: str) -> AreaLoad:
    """Publish ``data`` in its area (the caller holds the warehouse lock); ``what`` names it in
    the error for a day already held ("the Spaces of", "the router tokens of")."""
    base = store.root / data.area
    held = area_loads(store, data.area)
    covered = [
        r
        for r in held
        if r["first_day"] <= data.last_day
        and data.first_day <= r["last_day"]
        and (not data.parted or r["options"] == data.options)
    ]
    newest = max(covered, key=lambda r: r["loaded_at"], default=None)  # what readers read
    if newest is not None:
        same = (newest["file_sha256"], newest["options"], newest["complete"])
        if same == (data.file_sha256, data.options, data.complete):
            return AreaLoad("unchanged", newest)
    if covered and not replace:
        row = covered[0]
        raise SnapshotConflictError(
            f"{what} {row['first_day']} … {row['last_day']} are already stored from "
            f"{Path(str(row['file'])).name} (load {row['load_id']}); pass --replace to store "
            f"{data.path} in their place"
        )
    row = _publish(data, base)  # the loads it supersedes stay: a reader may be reading them
    store.refresh_views()
    store.refresh_catalog()
    return AreaLoad("replaced" if covered else "loaded", row)


def area_loads(store: Warehouse, area: str) -> list[dict[str, Any]]:
    """The load log rows of the readable loads of ``area``."""
    return [
        pq.read_table(d / f"{area}_loads.parquet").to_pylist()[0]
        for d in store.survey.series_dirs(area)
    ]


def _publish(data: AreaData, base: Path) -> dict[str, Any]:
    load_id = uuid.uuid4().hex[:12]
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob(".tmp-*"):  # left by a killed import or removal
        shutil.rmtree(stale, ignore_errors=True)
    row = {
        "load_id": load_id,
        "first_day": data.first_day,
        "last_day": data.last_day,
        "file": str(data.path.resolve()),
        "file_sha256": data.file_sha256,
        "options": data.options,
        "complete": data.complete,
        "rows": data.rows,
        "rejects": data.rejects,
        **origin_columns(data.origin),
        "hubpulse_version": __version__,
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    with staged(base / f".tmp-{load_id}") as staging:
        for name, table in data.tables.items():
            ids = pa.repeat(pa.scalar(load_id, pa.string()), table.num_rows)
            write_parquet(staging / f"{name}.parquet", table.append_column("load_id", ids))
        log = pa.Table.from_pylist([row], LOAD_SCHEMA)
        write_parquet(staging / f"{data.area}_loads.parquet", log)
        fsync_dir(staging)
    os.rename(staging, base / load_id)
    fsync_dir(base)
    return row


def newest_per_day(rows: ir.Table, loads: ir.Table, day: str, part: str | None = None) -> ir.Table:
    """``rows`` (with ``load_id`` and the date column ``day``) kept where their load is the
    newest covering that day (with ``part``, a column of ``rows``: that day's ``part``)."""
    keys = [day] if part is None else [day, part]
    covering = (
        rows.select(*keys, "load_id")
        .distinct()
        .join(loads.select("load_id", "loaded_at"), "load_id")
    )
    newest = covering.loaded_at.max().over(ibis.window(group_by=[covering[k] for k in keys]))
    kept = covering.filter(covering.loaded_at == newest).select(*keys, "load_id")
    return rows.semi_join(kept, [*keys, "load_id"])
