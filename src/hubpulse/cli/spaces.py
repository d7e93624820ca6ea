"""Applications: Spaces crawled or imported, and the Spaces built on each group's models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubpulse.cli.options import (
    DateOpt,
    FamiliesOpt,
    FormatOpt,
    ModeOpt,
    WarehouseOpt,
    app,
    bounded,
    console,
    parse_date,
    settings_of,
)

MAX_ROWS = 1_000_000

spaces_app = typer.Typer(
    help="Spaces (applications) and the models each declares it uses.", no_args_is_help=True
)
app.add_typer(spaces_app, name="spaces")


@spaces_app.command("crawl")
def spaces_crawl(
    everything: Annotated[bool, typer.Option("--all", help="Every Space on the Hub.")] = False,
    author: Annotated[list[str] | None, typer.Option(help="Owner of the Spaces.")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Only Spaces that use this model (repeatable).")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Substring of the Space id.")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Spaces per page.")] = 500,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished crawl.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Crawl the Hub's Spaces with the models each uses; resumable after any interruption.
    Only --all lists every Space: other crawls give lower bounds."""
    from hubpulse.cli.hub import hub_client
    from hubpulse.ingest.crawl import CrawlScope
    from hubpulse.present import progress
    from hubpulse.store.warehouse import open_store

    settings = settings_of(warehouse)
    scope = None
    if not resume:
        scope = CrawlScope(
            kind="spaces",
            everything=everything,
            authors=author or [],
            models=model or [],
            search=search,
            page_size=page_size,
        )
    store = open_store(settings, engine="duckdb")
    progress.crawl_with_progress(
        console, store, hub_client(settings), scope, resume=resume, replace=True, spaces=True
    )


@spaces_app.command("import")
def spaces_import(
    path: Annotated[Path, typer.Argument(help="Spaces as Hub API JSON / JSON Lines or Parquet.")],
    date: DateOpt = None,
    complete: Annotated[
        bool, typer.Option(help="The file lists every Space on the Hub (a full dump).")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace the stored Spaces of the day.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import a file of Spaces (id, models, likes, trendingScore, …) as the Spaces of its day."""
    from hubpulse.present import progress
    from hubpulse.store.spaces import import_spaces
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    load = import_spaces(store, path, parse_date(date), complete=complete, replace_day=replace)
    progress.print_spaces_load(console, load)


@spaces_app.command("list")
def spaces_list(fmt: FormatOpt = "table", warehouse: WarehouseOpt = None) -> None:
    """The stored days of Spaces: how many, whether every Space, model links, rejects, source."""
    from hubpulse.present import tables
    from hubpulse.store.queries import list_spaces
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    drop = ["revision", "loaded_at"]
    table = tables.brief(list_spaces(store), fmt, drop=drop)
    tables.emit(console, table, fmt, title="Stored Spaces")


@spaces_app.command("rejects")
def spaces_rejects(fmt: FormatOpt = "table", warehouse: WarehouseOpt = None) -> None:
    """Spaces records kept aside at import, with file, row, field and reason."""
    from hubpulse.present import tables
    from hubpulse.store.queries import list_spaces_rejects
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    table = tables.brief(list_spaces_rejects(store), fmt, drop=["raw"])
    tables.emit(console, table, fmt, title="Rejected Spaces records")


@app.command()
def applications(
    by: Annotated[str, typer.Option(help="family, model, vendor, country or author")] = "family",
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show the first N rows (0 = all).", callback=bounded("--limit", 0, MAX_ROWS)
        ),
    ] = 20,
    date: Annotated[
        str | None, typer.Option(help="The day of the Spaces YYYY-MM-DD (default: newest).")
    ] = None,
    over_time: Annotated[
        bool, typer.Option(help="Applications on every stored day of Spaces.")
    ] = False,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Rank families, models, vendors, countries or authors by the Spaces built on them."""
    from hubpulse.present.applications import show_applications

    settings = settings_of(warehouse, mode, families)
    show_applications(
        console,
        settings,
        by=by,
        day=parse_date(date),
        limit=limit,
        over_time=over_time,
        fmt=fmt,
    )
