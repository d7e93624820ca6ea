"""Spaces loads: each Spaces file (or crawl) stored as one load under ``<root>/spaces/<load_id>/``
(``spaces``, ``space_models``, ``space_rejects``, ``space_loads``), written under
``.tmp-<load_id>`` and published by renaming the directory, all or nothing.

A load is of one day. The same file again is a no-op; another file for a day already held is
refused unless ``replace``, which publishes the new load and then removes the old one. A reader
that sees both for a moment reads only the newer (``current_spaces``), so nothing is counted
twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse._version import __version__
from hubpulse.errors import SnapshotConflictError
from hubpulse.ingest.crawl import CrawlResult, CrawlScope, crawl_models, finish_crawl, start_crawl
from hubpulse.ingest.hub import Hub
from hubpulse.ingest.sources import Origin
from hubpulse.ingest.spaces import SPACE_LOAD_SCHEMA, SPACES_AREA, SpacesData, read_spaces
from hubpulse.store.durable import fsync_dir, staged, write_parquet
from hubpulse.store.loads import origin_columns, unpublish_series

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


@dataclass(frozen=True)
class SpacesLoad:
    """What one Spaces import did: ``status`` is ``loaded``, ``replaced`` or ``unchanged``."""

    status: str
    load_id: str
    snapshot_date: dt.date
    spaces: int
    links: int
    rejects: int
    complete: bool
    date_inferred: bool = False


def import_spaces(
    store: Warehouse,
    path: Path | str,
    snapshot_date: dt.date | None = None,
    *,
    complete: bool = False,
    replace_day: bool = False,
    origin: Origin | None = None,
) -> SpacesLoad:
    """Read a Spaces file (``ingest.spaces.read_spaces``) and store it as the Spaces of its day;
    ``complete``: it lists every Space on the Hub (a full crawl or dump)."""
    data = read_spaces(path, snapshot_date, complete=complete)
    data = replace(data, origin=origin)
    with store.lock():
        return _store(store, data, replace_day)


def crawl_spaces(
    store: Warehouse, hub: Hub, scope: CrawlScope | None, *, resume: bool = False
) -> tuple[CrawlResult, SpacesLoad]:
    """Crawl the Hub's Spaces listing (checkpointed like the model crawl), then import it as the
    Spaces of the crawl's day; complete when the crawl listed every Space (``--all``)."""
    state_dir = start_crawl(store.work_dir("crawls") / SPACES_AREA, scope, resume=resume)
    result = crawl_models(hub, state_dir)
    everything = _scope_of(state_dir).everything
    load = import_spaces(
        store, result.path, result.snapshot_date, complete=everything, replace_day=True
    )
    finish_crawl(state_dir, load.load_id)
    return result, load


def _scope_of(state_dir: Path) -> CrawlScope:
    state = json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
    return CrawlScope(**state["scope"])


def _store(store: Warehouse, data: SpacesData, replace_day: bool) -> SpacesLoad:
    base = store.root / SPACES_AREA
    held = [
        pq.read_table(d / "space_loads.parquet").to_pylist()[0]
        for d in store.survey.series_dirs(SPACES_AREA)
    ]
    same_day = [row for row in held if row["snapshot_date"] == data.snapshot_date]
    for row in same_day:
        if row["file_sha256"] == data.file_sha256 and row["complete"] == data.complete:
            return _result("unchanged", row, data)
    if same_day and not replace_day:
        row = same_day[0]
        raise SnapshotConflictError(
            f"the Spaces of {data.snapshot_date} are already stored from {row['file']} "
            f"(load {row['load_id']}); pass --replace to swap in {data.path}"
        )
    row = _publish(data, base)
    for old in same_day:
        unpublish_series(base / str(old["load_id"]))
    store.refresh_views()
    store.refresh_catalog()
    return _result("replaced" if same_day else "loaded", row, data)


def _publish(data: SpacesData, base: Path) -> dict[str, object]:
    load_id = uuid.uuid4().hex[:12]
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob(".tmp-*"):  # left by a killed import or removal
        shutil.rmtree(stale, ignore_errors=True)
    row = {
        "load_id": load_id,
        "snapshot_date": data.snapshot_date,
        "file": str(data.path.resolve()),
        "file_sha256": data.file_sha256,
        "complete": data.complete,
        "spaces": data.spaces.num_rows,
        "links": data.links.num_rows,
        "rejects": data.rejects.num_rows,
        **origin_columns(data.origin),
        "hubpulse_version": __version__,
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    with staged(base / f".tmp-{load_id}") as staging:
        load = pa.array([load_id] * data.spaces.num_rows, pa.string())
        write_parquet(staging / "spaces.parquet", data.spaces.append_column("load_id", load))
        load = pa.array([load_id] * data.links.num_rows, pa.string())
        write_parquet(staging / "space_models.parquet", data.links.append_column("load_id", load))
        write_parquet(staging / "space_rejects.parquet", data.rejects)
        write_parquet(
            staging / "space_loads.parquet", pa.Table.from_pylist([row], SPACE_LOAD_SCHEMA)
        )
        fsync_dir(staging)
    os.rename(staging, base / load_id)
    fsync_dir(base)
    return row


def _result(status: str, row: dict[str, object], data: SpacesData) -> SpacesLoad:
    return SpacesLoad(
        status=status,
        load_id=str(row["load_id"]),
        snapshot_date=data.snapshot_date,
        spaces=int(row["spaces"]),  # type: ignore[call-overload]
        links=int(row["links"]),  # type: ignore[call-overload]
        rejects=int(row["rejects"]),  # type: ignore[call-overload]
        complete=bool(row["complete"]),
        date_inferred=data.date_inferred and status != "unchanged",
    )


def current_spaces(store: Warehouse) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The Spaces, their model links and the load log, one load per day (the newest: a
    replaced day is never counted twice while its old load is being removed)."""
    loads = store.series_table("space_loads")
    newest = loads.loaded_at.max().over(ibis.window(group_by=loads.snapshot_date))
    current = loads.filter(loads.loaded_at == newest)
    keep = current.select("load_id")
    spaces = store.series_table("spaces").semi_join(keep, "load_id")
    links = store.series_table("space_models").semi_join(keep, "load_id")
    return spaces, links, current
