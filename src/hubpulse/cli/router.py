"""Use through routers: OpenRouter's public token rankings, pulled or imported, and the tokens
routed to each family beside its downloads."""

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
    by: Annotated[str, typer.Option(help="family, vendor, country or permaslug")] = "family",
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
    from hubpulse.present.tokens import show_tokens

    if month:
        month_span(month)
    settings = settings_of(warehouse, mode, families).model_copy(update={"routes_file": routes})
    show_tokens(console, settings, by=by, month=month, over_time=over_time, fmt=fmt)
