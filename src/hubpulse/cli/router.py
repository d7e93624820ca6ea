"""Use through inference: OpenRouter's public token rankings (pulled or imported) and the tokens
routed to each family beside its downloads; the models the Hub's inference providers serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubpulse.cli.options import (
    FamiliesOpt,
    FormatOpt,
    ModeOpt,
    WarehouseOpt,
    app,
    bounded,
    console,
    month_span,
    parse_date,
    settings_of,
)

router_app = typer.Typer(
    help="OpenRouter's daily token rankings (CC BY 4.0; needs OPENROUTER_API_KEY to pull).",
    no_args_is_help=True,
)
app.add_typer(router_app, name="router")


@router_app.command("pull")
def router_pull(
    first: Annotated[str | None, typer.Option("--from", help="First day YYYY-MM-DD.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day YYYY-MM-DD.")] = None,
    month: Annotated[str | None, typer.Option(help="One calendar month YYYY-MM.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Pull OpenRouter's rankings-daily for the days asked (30-day windows, 2 s apart, within its
    30 requests a minute) with the key in OPENROUTER_API_KEY; a later pull restates the days."""
    from hubpulse.present.progress import router_with_progress

    if month:
        span = month_span(month)
    else:
        begin, end = parse_date(first, "--from"), parse_date(last, "--to")
        if begin is None or end is None:
            raise typer.BadParameter("give --month, or --from and --to", param_hint="--month")
        span = (begin, end)
    router_with_progress(console, settings_of(warehouse), *span)


@router_app.command("import")
def router_import(
    path: Annotated[Path, typer.Argument(help="A saved rankings-daily JSON response.")],
    replace: Annotated[bool, typer.Option(help="Replace the stored days it covers.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import a saved rankings-daily response as the router tokens of its window."""
    from hubpulse.present.progress import print_router_load
    from hubpulse.store.router import import_rankings
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    print_router_load(console, import_rankings(store, path, replace=replace))


@app.command()
def tokens(
    by: Annotated[
        str,
        typer.Option(help="family, vendor, country, model (a linked Hub model) or permaslug"),
    ] = "family",
    month: Annotated[
        str | None, typer.Option(help="Calendar month YYYY-MM (default: the newest).")
    ] = None,
    over_time: Annotated[bool, typer.Option(help="Every month with rankings.")] = False,
    routes: Annotated[
        Path | None, typer.Option(help="TOML of routes (router names → families).")
    ] = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Tokens routed to each family (vendor, country) per month on OpenRouter, with its share of
    the month beside its share of 30-day downloads; tokens are not comparable across tokenizers."""
    from hubpulse.present.inference import show_tokens

    if month:
        month_span(month)
    settings = settings_of(warehouse, mode, families)
    if routes is not None:
        settings = settings.model_copy(update={"routes_file": routes})
    show_tokens(console, settings, by=by, month=month, over_time=over_time, fmt=fmt)


MAX = 1_000_000
providers_app = typer.Typer(
    help="The models the Hub's inference providers serve (inferenceProviderMapping).",
    no_args_is_help=True,
)
app.add_typer(providers_app, name="providers")


@providers_app.command("crawl")
def providers_crawl(
    provider: Annotated[
        list[str] | None, typer.Option(help="Only this provider's models (default: every one).")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Models per page.")] = 500,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished crawl.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Crawl the models the Hub's inference providers serve, with each model's providers and
    status; resumable. Without --provider it lists every served model (complete)."""
    from hubpulse.cli.hub import hub_client
    from hubpulse.ingest.crawl import CrawlScope
    from hubpulse.present.progress import providers_with_progress

    settings = settings_of(warehouse)
    scope = None
    if not resume:
        scope = CrawlScope(kind="providers", providers=provider or [], page_size=page_size)
    providers_with_progress(console, settings, hub_client(settings), scope, resume=resume)


@providers_app.command("import")
def providers_import(
    path: Annotated[Path, typer.Argument(help="Hub API models JSON / JSON Lines with mappings.")],
    date: Annotated[str, typer.Option(help="The day the listing is of YYYY-MM-DD.")],
    complete: Annotated[
        bool, typer.Option(help="It lists every model any provider serves.")
    ] = False,
    replace: Annotated[bool, typer.Option(help="Replace the stored providers of the day.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import a listing of models with their inferenceProviderMapping as the providers of a day."""
    from hubpulse.present.progress import print_area_load
    from hubpulse.store.providers import import_providers
    from hubpulse.store.warehouse import open_store

    day = parse_date(date)
    assert day is not None  # a required option
    store = open_store(settings_of(warehouse), engine="duckdb")
    load = import_providers(store, path, day, complete=complete, replace=replace)
    print_area_load(console, load, "providers")


@app.command()
def inference(
    by: Annotated[str, typer.Option(help="family, model, vendor, country or author")] = "family",
    status: Annotated[
        list[str] | None,
        typer.Option(help="Mapping status counted: live (default), staging, error."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show the first N rows (0 = all).", callback=bounded("--limit", 0, 10**6)
        ),
    ] = 20,
    date: Annotated[str | None, typer.Option(help="The providers' day (default: newest).")] = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """How many of each group's models the Hub's inference providers serve, by how many
    providers (an offer to serve, not a measure of use)."""
    from hubpulse.present.inference import show_providers

    settings = settings_of(warehouse, mode, families)
    show_providers(
        console,
        settings,
        by=by,
        day=parse_date(date),
        statuses=tuple(status or ["live"]),
        limit=limit,
        fmt=fmt,
    )
