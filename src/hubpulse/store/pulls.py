"""Loads into the warehouse: a snapshot file, a crawl of the Hub ingested as a snapshot,
hub-stats revisions ingested as dated snapshots, the weekly snapshots ingested week by week,
hf-hub-characterization imported as daily history. A public dataset's loads record its name,
the file, the commit read and its licence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubpulse.errors import SeriesFormatError, SnapshotConflictError, first_line
from hubpulse.ingest.crawl import (
    CrawlResult,
    CrawlScope,
    crawl_models,
    finish_crawl,
    start_crawl,
    write_atomic,
)
from hubpulse.ingest.files import Progress
from hubpulse.ingest.hub import Hub, HubError, dataset_commit, download_file, hub_stats_revisions
from hubpulse.ingest.series import DailyColumns, SeriesLoad, ValueKind
from hubpulse.ingest.sources import CHARACTERIZATION, HUB_STATS, WEEKLY, origin
from hubpulse.ingest.weekly import Week, choose_weeks, dump_day, list_weeks, week_problem
from hubpulse.store.loads import LoadResult
from hubpulse.store.queries import list_snapshots
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
        loads.append(
            warehouse.ingest(path, rev.day, origin=origin(HUB_STATS, "models.parquet", rev.sha))
        )
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
    cache, commit = warehouse.work_dir("hub"), dataset_commit(hub, CHARACTERIZATION, revision)
    models = download_file(hub, CHARACTERIZATION, "models.parquet", commit, cache)
    downloads = download_file(hub, CHARACTERIZATION, "downloads.parquet", commit, cache)
    try:
        return warehouse.import_series(
            downloads,
            layout="daily",
            models_path=models,
            columns=columns,
            values=values,
            origin=origin(CHARACTERIZATION, "downloads.parquet", commit),
        )
    except SeriesFormatError as exc:  # name the dataset's file, not the download cache's path
        message = str(exc)
        for path in (downloads, models):
            message = message.replace(str(path), f"{CHARACTERIZATION} {path.name} @ {commit[:7]}")
        raise SeriesFormatError(message) from None


@dataclass(frozen=True)
class WeekDone:
    """What became of one week: ``loaded``, ``unchanged`` (its dump's day already holds this
    file), ``stored`` (held before, not downloaded again), ``refused`` or ``held`` (another
    file holds its day), with the reason."""

    week: Week
    status: str
    load: LoadResult | None = None
    reason: str = ""


@dataclass(frozen=True)
class WeeklyPull:
    revision: str
    weeks: list[WeekDone]
    missing: list[dt.date]  # labels the weekly cadence skips between the weeks pulled


@dataclass
class PullEvents:
    """Progress callbacks: the weeks chosen, each week done; ``bar``: a tqdm class for bytes."""

    start: Callable[[list[Week]], None] = lambda weeks: None
    week: Callable[[WeekDone], None] = lambda done: None
    bar: Any = None


PULL_STATE = "weekly.json"


def pull_weekly(
    warehouse: Warehouse,
    hub: Hub,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    revision: str | None = None,
    resume: bool = False,
    events: PullEvents | None = None,
) -> WeeklyPull:
    """Ingest the weekly snapshots covering ``first`` … ``last`` (``ingest.weekly.choose_weeks``)
    at one commit of the dataset, oldest first, each as the snapshot of its dump's day. Weeks
    already stored (by the file's SHA-256) are not downloaded again; a killed download resumes.
    ``resume`` continues the unfinished pull with its own range and commit. One weekly pull
    runs in a warehouse at a time: a second waits, then finds the first one's weeks stored."""
    with _pull_lock(warehouse.work_dir("pulls")):
        return _pull_weekly(warehouse, hub, first, last, revision, resume, events or PullEvents())


@contextlib.contextmanager
def _pull_lock(directory: Path) -> Iterator[None]:
    with (directory / "weekly.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pull_weekly(
    warehouse: Warehouse,
    hub: Hub,
    first: dt.date | None,
    last: dt.date | None,
    revision: str | None,
    resume: bool,
    events: PullEvents,
) -> WeeklyPull:
    state = warehouse.work_dir("pulls") / PULL_STATE
    if resume:
        if not state.is_file():
            raise HubError(
                f"no unfinished weekly pull in {warehouse.root}: start one with "
                "`hubpulse pull weekly --from YYYY-MM-DD`"
            )
        saved = json.loads(state.read_text())
        revision, first, last = saved["revision"], _day(saved["first"]), _day(saved["last"])
    else:
        revision = dataset_commit(hub, WEEKLY, revision)
        saved = {"revision": revision, "first": str(first or ""), "last": str(last or "")}
        write_atomic(state, json.dumps(saved))
    weeks, missing = choose_weeks(list_weeks(hub, revision), first, last)
    events.start(weeks)
    stored = list_snapshots(warehouse)
    files = zip(stored["dataset_file"].to_pylist(), stored["revision"].to_pylist(), strict=True)
    held: set[object] = {*stored["file_sha256"].to_pylist(), *files}
    done = []
    for week in weeks:
        done.append(_pull_week(warehouse, hub, week, str(revision), events, held))
        if done[-1].load is not None:  # a later week may repeat this file (a stale week)
            held |= {week.sha256, (week.path, str(revision))}
        events.week(done[-1])
    state.unlink(missing_ok=True)
    return WeeklyPull(str(revision), done, missing)


def _pull_week(
    warehouse: Warehouse,
    hub: Hub,
    week: Week,
    revision: str,
    events: PullEvents,
    held: set[object],
) -> WeekDone:
    """One week: skipped when ``held`` has its file (by SHA-256, or path and commit)."""
    if week.sha256 in held or (week.path, revision) in held:
        return WeekDone(week, "stored")
    path = download_file(hub, WEEKLY, week.path, revision, warehouse.work_dir("hub"), events.bar)
    problem = week_problem(week, dump_day(path, warehouse.limits))
    if problem is not None:
        return WeekDone(week, "refused", reason=problem)
    try:
        load = warehouse.ingest(path, origin=origin(WEEKLY, week.path, revision))
    except SnapshotConflictError as exc:
        return WeekDone(week, "held", reason=first_line(exc))
    _forget(path)
    return WeekDone(week, load.status, load)


def _forget(path: Path) -> None:
    """Delete a stored week's download (a week is up to 1.5 GB; the warehouse holds its rows
    and its SHA-256 marks it stored)."""
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)


def _day(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
