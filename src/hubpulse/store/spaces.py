"""Spaces loads: each Spaces file (or crawl) stored as one load of the ``spaces`` area
(``store.areas``: ``spaces``, ``space_models``, ``space_rejects``, ``spaces_loads``), published
by renaming its directory, all or nothing.

A load is of one day. The same file again is a no-op; another file for a day already held is
refused unless ``replace``, which publishes the new load beside the old one; every reader reads
only the newest (``current_spaces``), so nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pyarrow.parquet as pq

from hubpulse.ingest.crawl import (
    CrawlResult,
    CrawlScope,
    crawl_models,
    crawl_scope,
    finish_crawl,
    start_crawl,
)
from hubpulse.ingest.hub import Hub
from hubpulse.ingest.sources import Origin
from hubpulse.ingest.spaces import SPACES_AREA, SpacesData, read_spaces
from hubpulse.store.areas import AreaData, newest_per_day, store_area

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
    everything = crawl_scope(state_dir).everything
    load = import_spaces(
        store, result.path, result.snapshot_date, complete=everything, replace_day=True
    )
    finish_crawl(state_dir, load.load_id)
    return result, load


def _store(store: Warehouse, data: SpacesData, replace_day: bool) -> SpacesLoad:
    tables = {"spaces": data.spaces, "space_models": data.links, "space_rejects": data.rejects}
    found = AreaData(
        area=SPACES_AREA,
        path=data.path,
        file_sha256=data.file_sha256,
        options="",
        first_day=data.snapshot_date,
        last_day=data.snapshot_date,
        complete=data.complete,
        tables=tables,
        rows=data.spaces.num_rows,
        rejects=data.rejects.num_rows,
        origin=data.origin,
    )
    load = store_area(store, found, replace=replace_day, what="the Spaces of")
    row = load.row
    links = pq.read_metadata(store.root / SPACES_AREA / row["load_id"] / "space_models.parquet")
    return SpacesLoad(
        status=load.status,
        load_id=str(row["load_id"]),
        snapshot_date=data.snapshot_date,
        spaces=int(row["rows"]),
        links=links.num_rows,
        rejects=int(row["rejects"]),
        complete=bool(row["complete"]),
        date_inferred=data.date_inferred and load.status != "unchanged",
    )


def current_spaces(store: Warehouse) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The Spaces, their model links and the load log (with ``snapshot_date``), one load per
    day (the newest: a replaced day is never counted twice)."""
    loads = store.series_table("spaces_loads")
    spaces = newest_per_day(store.series_table("spaces"), loads, "snapshot_date")
    keep = spaces.select("load_id").distinct()
    links = store.series_table("space_models").semi_join(keep, "load_id")
    current = loads.semi_join(keep, "load_id")
    return spaces, links, current.mutate(snapshot_date=current.first_day)
