"""Loads into the warehouse: a snapshot file, a crawl of the Hub ingested as a snapshot,
hub-stats revisions ingested as dated snapshots, hf-hub-characterization imported as daily
history.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hubpulse.ingest.crawl import (
    CrawlResult,
    CrawlScope,
    crawl_models,
    finish_crawl,
    start_crawl,
)
from hubpulse.ingest.files import Progress
from hubpulse.ingest.hub import Hub, download_file, hub_stats_revisions
from hubpulse.ingest.series import DailyColumns, SeriesLoad, ValueKind
from hubpulse.ingest.sources import CHARACTERIZATION, HUB_STATS
from hubpulse.store.loads import LoadResult
from hubpulse.store.warehouse import Warehouse


def ingest_snapshot(
    warehouse: Warehouse,
    path: Path | str,
    snapshot_date: dt.date | None = None,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> LoadResult:
    """Ingest one file into ``warehouse`` (see ``Warehouse.ingest``)."""
    return warehouse.ingest(path, snapshot_date, replace=replace, progress=progress)


def crawl_hub(
    warehouse: Warehouse,
    hub: Hub,
    scope: CrawlScope | None,
    *,
    resume: bool = False,
    replace: bool = False,
) -> tuple[CrawlResult, LoadResult]:
    """Crawl into a checkpointed directory of the warehouse, then ingest the snapshot. With
    ``resume`` the newest unfinished crawl continues (its own scope; ``scope`` is ignored)."""
    state_dir = start_crawl(warehouse.work_dir("crawls"), scope, resume=resume)
    result = crawl_models(hub, state_dir)
    load = warehouse.ingest(result.path, result.snapshot_date, replace=replace)
    finish_crawl(state_dir, load.load_id)
    return result, load


def pull_hub_stats(
    warehouse: Warehouse,
    hub: Hub,
    *,
    revision: str | None = None,
    date: dt.date | None = None,
    since: dt.date | None = None,
) -> list[LoadResult]:
    """Download hub-stats ``models.parquet`` at the chosen dated revisions and ingest each as
    the snapshot of its commit day (already stored days are no-ops)."""
    loads = []
    for rev in hub_stats_revisions(hub, revision=revision, date=date, since=since):
        path = download_file(hub, HUB_STATS, "models.parquet", rev.sha, warehouse.work_dir("hub"))
        loads.append(warehouse.ingest(path, rev.day))
    return loads


def pull_characterization(
    warehouse: Warehouse,
    hub: Hub,
    *,
    columns: DailyColumns | None = None,
    values: ValueKind = "daily",
    revision: str = "main",
) -> SeriesLoad:
    """Download hf-hub-characterization ``models.parquet`` and ``downloads.parquet`` and import
    the daily downloads as history (joined on the immutable hub id)."""
    cache = warehouse.work_dir("hub")
    models = download_file(hub, CHARACTERIZATION, "models.parquet", revision, cache)
    downloads = download_file(hub, CHARACTERIZATION, "downloads.parquet", revision, cache)
    return warehouse.import_series(
        downloads, layout="daily", models_path=models, columns=columns, values=values
    )
