"""Inference providers in the warehouse: each providers listing (a crawl of
``/api/models?inference_provider=…`` or an imported file) one load of the ``providers`` area
(``provider_models``, ``provider_rejects``, ``providers_loads``), of one day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from hubpulse.ingest.crawl import (
    CrawlResult,
    CrawlScope,
    crawl_models,
    crawl_scope,
    finish_crawl,
    start_crawl,
)
from hubpulse.ingest.hub import Hub
from hubpulse.ingest.providers import PROVIDERS_AREA, read_providers
from hubpulse.store.areas import AreaData, AreaLoad, newest_per_day, store_area

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


def import_providers(
    store: Warehouse, path: Path | str, day: dt.date, *, complete: bool, replace: bool = False
) -> AreaLoad:
    """Store a providers listing as the providers of ``day``; ``complete``: it lists every model
    any provider serves (``inference_provider=all``)."""
    rows, rejects, sha256 = read_providers(path, day)
    data = AreaData(
        area=PROVIDERS_AREA,
        path=Path(path),
        file_sha256=sha256,
        options="",
        first_day=day,
        last_day=day,
        complete=complete,
        tables={"provider_models": rows, "provider_rejects": rejects},
        rows=rows.num_rows,
        rejects=rejects.num_rows,
    )
    with store.lock():
        return store_area(store, data, replace=replace, what="the providers of")


def crawl_providers(
    store: Warehouse, hub: Hub, scope: CrawlScope | None, *, resume: bool = False
) -> tuple[CrawlResult, AreaLoad]:
    """Crawl the models the Hub's inference providers serve (checkpointed like the model
    crawl), then store them as the providers of the crawl's day."""
    state_dir = start_crawl(store.work_dir("crawls") / PROVIDERS_AREA, scope, resume=resume)
    result = crawl_models(hub, state_dir)
    complete = not crawl_scope(state_dir).providers  # inference_provider=all
    load = import_providers(
        store, result.path, result.snapshot_date, complete=complete, replace=True
    )
    finish_crawl(state_dir, str(load.row["load_id"]))
    return result, load


def current_providers(store: Warehouse) -> tuple[ir.Table, ir.Table]:
    """The provider rows of each stored day from its newest load, and the load log."""
    loads = store.series_table("providers_loads")
    rows = newest_per_day(store.series_table("provider_models"), loads, "day")
    return rows, loads.semi_join(rows.select("load_id").distinct(), "load_id")
