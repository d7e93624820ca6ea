"""Live Hub commands: crawl and pull."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hubpulse.cli.options import (
    FamiliesOpt,
    WarehouseOpt,
    app,
    console,
    month_span,
    parse_date,
    settings_of,
)

if TYPE_CHECKING:
    from hubpulse.ingest.hub import Hub
    from hubpulse.settings import Settings


@app.command()
def crawl(
    everything: Annotated[bool, typer.Option("--all", help="Every model on the Hub.")] = False,
    author: Annotated[list[str] | None, typer.Option(help="Organisation or user.")] = None,
    family: Annotated[list[str] | None, typer.Option(help="A registry family's repos.")] = None,
    search: Annotated[str | None, typer.Option(help="Substring of the repo id.")] = None,
    derivatives: Annotated[
        bool, typer.Option(help="Also walk derivatives level by level (filter=base_model:ID).")
    ] = False,
    children: Annotated[
        bool, typer.Option(help="Add childrenModelCount per model (one request each).")
    ] = False,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Models per page.")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, help="Parallel per-model requests.")] = 4,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished crawl.")] = False,
    replace: Annotated[bool, typer.Option(help="Replace a stored snapshot of the day.")] = False,
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Crawl the Hub's model listing into a snapshot; resumable after any interruption."""
    from hubpulse.ingest.crawl import scope_for
    from hubpulse.present import progress
    from hubpulse.registry import load_registry
    from hubpulse.store.warehouse import open_store

    settings = settings_of(warehouse, families=families)
    scope = None
    if not resume:
        scope = scope_for(
            load_registry(settings.families_file),
            everything=everything,
            authors=author,
            families=family,
            search=search,
            derivatives=derivatives,
            children=children,
            page_size=page_size,
        )
    hub = hub_client(settings, concurrency)
    store = open_store(settings, engine="duckdb")
    progress.crawl_with_progress(console, store, hub, scope, resume=resume, replace=replace)


pull_app = typer.Typer(help="Pull public Hub dumps into the warehouse.", no_args_is_help=True)
app.add_typer(pull_app, name="pull")


@pull_app.command("hub-stats")
def pull_hub_stats_command(
    revision: Annotated[str | None, typer.Option(help="One commit sha (or prefix).")] = None,
    date: Annotated[str | None, typer.Option(help="The commit of one day YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option(help="One commit per day since YYYY-MM-DD.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Ingest cfahlgren1/hub-stats models.parquet at dated revisions (default: the newest)."""
    from hubpulse.present import progress
    from hubpulse.store.pulls import pull_hub_stats
    from hubpulse.store.warehouse import open_store

    settings = settings_of(warehouse)
    hub = hub_client(settings)
    store = open_store(settings, engine="duckdb")
    for load in pull_hub_stats(
        store, hub, revision=revision, date=parse_date(date), since=parse_date(since)
    ):
        progress.print_load(console, load)


@pull_app.command("weekly")
def pull_weekly_command(
    first: Annotated[
        str | None, typer.Option("--from", help="First day wanted YYYY-MM-DD (default: all).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last day wanted YYYY-MM-DD (default: all).")
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="The weeks bracketing one month YYYY-MM.")
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Dataset branch or commit.")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the unfinished pull (its range and commit).")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Ingest hfmlsoc/hub_weekly_snapshots (ODbL-1.0) week by week: each week's models file as
    the snapshot of its dump's day, plus the week before and after the range."""
    from hubpulse.present import progress
    from hubpulse.store.warehouse import open_store

    settings = settings_of(warehouse)
    span = month_span(month) if month else (parse_date(first, "--from"), parse_date(last, "--to"))
    store = open_store(settings, engine="duckdb")
    progress.weekly_with_progress(
        console, store, hub_client(settings), *span, revision=revision, resume=resume
    )


@pull_app.command("characterization")
def pull_characterization_command(
    column: Annotated[
        list[str] | None, typer.Option(help="Column mapping role=name (see import-series).")
    ] = None,
    values: Annotated[str, typer.Option(help="daily counts or a cumulative counter")] = "daily",
    revision: Annotated[str, typer.Option(help="Dataset revision.")] = "main",
    warehouse: WarehouseOpt = None,
) -> None:
    """Import harvardMadsys/hf-hub-characterization daily downloads as history."""
    from hubpulse.ingest.series import DailyColumns
    from hubpulse.present import progress
    from hubpulse.store.pulls import pull_characterization
    from hubpulse.store.warehouse import open_store

    settings = settings_of(warehouse)
    hub = hub_client(settings)
    store = open_store(settings, engine="duckdb")
    mapping = DailyColumns.from_pairs(column or [])
    load = pull_characterization(store, hub, columns=mapping, values=values, revision=revision)  # type: ignore[arg-type]
    progress.print_characterization(console, load)


def hub_client(settings: Settings, concurrency: int = 4) -> Hub:
    """The Hub client with the settings' politeness (retries, timeout, rate-limit cap)."""
    from hubpulse.ingest.hub import Hub, Politeness

    politeness = Politeness(
        base_wait=settings.hub_retry_wait,
        concurrency=concurrency,
        timeout=settings.hub_timeout,
        max_rate_wait=settings.hub_max_rate_wait,
    )
    return Hub(politeness=politeness)


modelscope_app = typer.Typer(
    help="ModelScope, a second hub (needs the optional client: hubpulse[modelscope]).",
    no_args_is_help=True,
)
app.add_typer(modelscope_app, name="modelscope")


@modelscope_app.command("crawl")
def modelscope_crawl(
    family: Annotated[
        list[str] | None, typer.Option(help="A registry family's organisations.")
    ] = None,
    owner: Annotated[list[str] | None, typer.Option(help="A ModelScope owner.")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Models per page.")] = 100,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished crawl.")] = False,
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """List the families' (or owners') models on ModelScope with their downloads, owner by
    owner (a query returns at most 3,000), and store them as the ModelScope models of the day."""
    from hubpulse.present.progress import modelscope_with_progress
    from hubpulse.registry import load_registry
    from hubpulse.store.modelscope import modelscope_owners

    settings = settings_of(warehouse, families=families)
    owners = (
        []
        if resume
        else modelscope_owners(load_registry(settings.families_file), family or [], owner or [])
    )
    modelscope_with_progress(console, settings, owners, resume=resume, page_size=page_size)


@modelscope_app.command("import")
def modelscope_import(
    path: Annotated[Path, typer.Argument(help="ModelScope models as JSON / JSON Lines.")],
    date: Annotated[str, typer.Option(help="The day the listing is of YYYY-MM-DD.")],
    owner: Annotated[
        list[str] | None,
        typer.Option(help="An owner the listing holds in full (repeatable); audits read it."),
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Store it over a day held: the owners it lists replace theirs.")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import a listing of ModelScope models (id, downloads, likes, …) as those of a day."""
    from hubpulse.present.progress import print_area_load
    from hubpulse.store.modelscope import import_modelscope
    from hubpulse.store.warehouse import open_store

    day = parse_date(date)
    assert day is not None  # a required option
    store = open_store(settings_of(warehouse), engine="duckdb")
    load = import_modelscope(store, path, day, owners=",".join(owner or []), replace=replace)
    print_area_load(console, load, "ModelScope models")
