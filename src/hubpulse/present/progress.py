"""Progress for long work: Rich progress bars over an ingest or a crawl, and the one-line summary
of each load."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from hubpulse.ingest.files import count_records
from hubpulse.store.loads import LoadResult
from hubpulse.store.warehouse import Warehouse

if TYPE_CHECKING:  # the Hub client is imported by a crawl only, not by every ingest
    from hubpulse.ingest.crawl import CrawlScope
    from hubpulse.ingest.hub import Hub
    from hubpulse.ingest.series import SeriesLoad
    from hubpulse.settings import Settings
    from hubpulse.store.areas import AreaLoad
    from hubpulse.store.pulls import WeeklyPull
    from hubpulse.store.spaces import SpacesLoad


def bar(console: Console) -> Progress:
    """A transient Rich bar (description, bar, done of total, elapsed), only on a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    )


def ingest_with_progress(
    console: Console,
    warehouse: Warehouse,
    path: Path,
    date: dt.date | None,
    *,
    replace: bool = False,
) -> LoadResult:
    """Ingest one file with a Rich progress bar over its records (on a terminal)."""
    with bar(console) as progress:
        task = progress.add_task(f"ingest {Path(path).name}", total=count_records(path))
        return warehouse.ingest(
            path, date, replace=replace, progress=lambda n: progress.advance(task, n)
        )


def print_load(console: Console, result: LoadResult) -> None:
    inferred = " (inferred from newest lastModified)" if result.date_inferred else ""
    verb = {"loaded": "loaded", "replaced": "replaced", "unchanged": "already ingested"}[
        result.status
    ]
    console.print(
        f"{verb}: {Path(result.file).name} → snapshot {result.snapshot_date}{inferred}: "
        f"{result.rows:,} rows, {result.rejects:,} rejected, {result.aliases:,} aliases "
        f"[dim](load {result.load_id}, {result.source})[/]",
        highlight=False,
    )


def crawl_with_progress(
    console: Console,
    warehouse: Warehouse,
    hub: Hub,
    scope: CrawlScope | None,
    *,
    resume: bool,
    replace: bool,
    spaces: bool = False,
) -> None:
    """Crawl with a Rich progress line (pages, items, rate, rate-limit waits), then ingest: the
    model listing as a snapshot, or with ``spaces`` the Spaces listing as a day's Spaces."""
    from hubpulse.ingest.hub import CrawlEvents
    from hubpulse.store.pulls import crawl_hub
    from hubpulse.store.spaces import crawl_spaces

    kind = "Spaces" if spaces else "models"
    waits: list[float] = []
    with Progress(
        TextColumn(f"[bold]crawl[/] {{task.completed:,}} pages · {{task.fields[items]:,}} {kind}"),
        TextColumn(f"· {{task.fields[rate]:.0f}} {kind}/s · waits {{task.fields[waits]}}"),
        TimeElapsedColumn(),
        TextColumn("· listing ETA"),
        TimeRemainingColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("crawl", total=None, items=0, rate=0.0, waits="none")
        start, seen = time.monotonic(), [0]

        def page(pages: int, items: int, remaining: int | None) -> None:
            seen[0] += items
            rate = seen[0] / max(time.monotonic() - start, 1e-9)
            progress.update(task, completed=pages, items=seen[0], rate=rate)
            if remaining is not None and items:  # pages left in this listing, for the ETA
                progress.update(task, total=pages + remaining / items)

        def wait(seconds: float, reason: str) -> None:
            waits.append(seconds)
            progress.update(task, waits=f"{len(waits)} ({sum(waits):.0f}s, last: {reason})")

        hub.events = CrawlEvents(page=page, wait=wait)
        if spaces:
            result, spaces_load = crawl_spaces(warehouse, hub, scope, resume=resume)
        else:
            result, load = crawl_hub(warehouse, hub, scope, resume=resume, replace=replace)
    console.print(
        f"crawled {result.records:,} {kind} in {result.pages:,} pages of {result.listings:,} "
        f"listings (crawl {result.crawl_id}; {len(waits)} waits, {sum(waits):.0f}s)",
        highlight=False,
    )
    if spaces:
        print_spaces_load(console, spaces_load)
    else:
        print_load(console, load)


def print_spaces_load(console: Console, result: SpacesLoad) -> None:
    inferred = " (inferred from newest lastModified)" if result.date_inferred else ""
    verb = {"loaded": "loaded", "replaced": "replaced", "unchanged": "already imported"}[
        result.status
    ]
    cover = "every Space on the Hub" if result.complete else "a partial listing"
    console.print(
        f"{verb}: Spaces of {result.snapshot_date}{inferred}: {result.spaces:,} Spaces "
        f"({cover}), {result.links:,} model links, {result.rejects:,} rejected "
        f"[dim](load {result.load_id})[/]",
        highlight=False,
    )


def router_with_progress(
    console: Console, settings: Settings, first: dt.date, last: dt.date
) -> None:
    """Pull OpenRouter's rankings window by window, a line each, then the citation."""
    from hubpulse.ingest.router import cite
    from hubpulse.store.router import pull_rankings
    from hubpulse.store.warehouse import open_store

    store = open_store(settings, engine="duckdb")
    with console.status(f"Pulling OpenRouter rankings {first} … {last}…"):
        loads = pull_rankings(store, first, last, endpoint=settings.router_endpoint)
    for load in loads:
        print_router_load(console, load)
    if loads:
        console.print(f"[dim]{escape(cite(loads[-1].row['revision']))}[/]", highlight=False)


def print_router_load(console: Console, load: AreaLoad) -> None:
    print_area_load(console, load, "router tokens")


def print_area_load(console: Console, load: AreaLoad, what: str) -> None:
    """One line for a load of an area (router tokens, providers)."""
    row = load.row
    verb = {"loaded": "loaded", "replaced": "replaced", "unchanged": "already imported"}
    days = str(row["first_day"])
    days += f" … {row['last_day']}" if row["last_day"] != row["first_day"] else ""
    cover = "" if row["complete"] else " (a partial listing)"
    console.print(
        f"{verb[load.status]}: {what} of {days}{cover}: {row['rows']:,} rows, "
        f"{row['rejects']:,} rejected [dim](load {row['load_id']})[/]",
        highlight=False,
    )


def modelscope_with_progress(
    console: Console, settings: Settings, owners: list[str], *, resume: bool, page_size: int
) -> None:
    """Crawl ModelScope owner by owner with a status line, then store the models."""
    from hubpulse.store.modelscope import crawl_into
    from hubpulse.store.warehouse import open_store

    store = open_store(settings, engine="duckdb")
    with console.status("Listing the owners' models on ModelScope…"):
        load, truncated = crawl_into(
            store, owners, resume=resume, endpoint=settings.modelscope_endpoint, page_size=page_size
        )
    print_area_load(console, load, "ModelScope models")
    for owner in truncated:
        console.print(
            f"[yellow]warning:[/] {escape(owner)} has more than 3,000 models on ModelScope; a "
            "listing returns at most 3,000, the most downloaded: the rest are not counted",
            highlight=False,
        )


def providers_with_progress(
    console: Console, settings: Settings, hub: Hub, scope: CrawlScope | None, *, resume: bool
) -> None:
    """Crawl the served models with a status line, then store them."""
    from hubpulse.store.providers import crawl_providers
    from hubpulse.store.warehouse import open_store

    store = open_store(settings, engine="duckdb")
    with console.status("Crawling the models inference providers serve…"):
        result, load = crawl_providers(store, hub, scope, resume=resume)
    console.print(
        f"crawled {result.records:,} served models in {result.pages:,} pages "
        f"(crawl {result.crawl_id})",
        highlight=False,
    )
    print_area_load(console, load, "providers")


def print_series_load(console: Console, result: SeriesLoad, name: str | None = None) -> None:
    verb = "imported" if result.status == "loaded" else "already imported"
    console.print(
        f"{verb}: {name or Path(result.file).name} ({result.layout}): {result.rows:,} "
        f"observations of "
        f"{result.models:,} models, {result.first_day} … {result.last_day}, "
        f"{result.rejects:,} rejected [dim](load {result.load_id})[/]",
        highlight=False,
    )


def weekly_with_progress(
    console: Console,
    warehouse: Warehouse,
    hub: Hub,
    first: dt.date | None,
    last: dt.date | None,
    *,
    revision: str | None,
    resume: bool,
) -> None:
    """Pull the weekly snapshots with Rich progress (weeks, and the bytes of the current
    download), then one line per week and what the dataset lacks."""
    from huggingface_hub.utils import tqdm

    from hubpulse.store.pulls import PullEvents, pull_weekly

    with bar(console) as progress:
        weeks = progress.add_task("weeks", total=None)
        data = progress.add_task("download", total=None)

        class Bytes(tqdm):  # type: ignore[misc,type-arg]
            """hf_hub_download's byte counts, onto the Rich bar."""

            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, **{**kwargs, "disable": True})
                total = kwargs.get("total")
                progress.reset(data, total=total if isinstance(total, int | float) else None)

            def update(self, n: float | None = 1) -> bool | None:
                progress.advance(data, n or 0)
                return None

        events = PullEvents(
            start=lambda chosen: progress.update(weeks, total=len(chosen)),
            week=lambda done: progress.advance(weeks),
            bar=Bytes,
        )
        result = pull_weekly(
            warehouse, hub, first=first, last=last, revision=revision, resume=resume, events=events
        )
    print_weekly(console, result)


def print_weekly(console: Console, result: WeeklyPull) -> None:
    """One line per week pulled, the weeks the dataset lacks and the source with its licence."""
    from hubpulse.ingest.sources import WEEKLY, origin

    for done in result.weeks:
        if done.load is not None:
            load = done.load
            console.print(
                f"week {done.week.label}: {done.status} → snapshot {load.snapshot_date} (its "
                f"dump's day): {load.rows:,} rows, {load.rejects:,} rejected, {load.aliases:,} "
                f"aliases [dim](load {load.load_id})[/]",
                highlight=False,
            )
        else:
            what = done.reason or "already stored (same file), not downloaded again"
            console.print(f"week {done.week.label}: {done.status}: {what}", highlight=False)
    if result.missing:
        gaps = ", ".join(str(d) for d in result.missing)
        console.print(f"[yellow]the dataset has no week {gaps}[/]", highlight=False)
    cite = origin(WEEKLY, "", result.revision).cite()
    console.print(f"[dim]source: {cite}; attribution required by the licence[/]")


def print_characterization(console: Console, load: SeriesLoad) -> None:
    """The import line of hf-hub-characterization, named as the dataset's file, and its source."""
    from hubpulse.ingest.sources import CHARACTERIZATION, licence_of

    print_series_load(console, load, f"{CHARACTERIZATION} downloads.parquet")
    licence = licence_of(CHARACTERIZATION)
    console.print(f"[dim]source: {CHARACTERIZATION} ({licence}); attribution required[/]")
