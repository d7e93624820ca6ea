"""The market view: daily share prices (imported, or pulled through the optional yfinance
extra), monthly adoption beside the share price, and the price move around dated events."""

from __future__ import annotations

import datetime as dt
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
    parse_date,
    settings_of,
)

prices_app = typer.Typer(
    help="Daily share prices: import a Yahoo-style CSV, or pull one (pip install "
    "'hubpulse[market]').",
    no_args_is_help=True,
)
app.add_typer(prices_app, name="prices")
TickerOpt = Annotated[
    str | None,
    typer.Option(help="The ticker (default: the registry's for the family or vendor)."),
]
BenchmarkOpt = Annotated[
    str | None,
    typer.Option(help="A benchmark ticker (an index or ETF, e.g. SPY or ^HSI) for excess returns."),
]


@prices_app.command("import")
def prices_import(
    path: Annotated[Path, typer.Argument(help="Daily prices: Date, Open, High, Low, Close, …")],
    ticker: Annotated[
        str | None, typer.Option(help="Whose prices (default: yfinance's Ticker header row).")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="Map a field to the file's column, FIELD=COLUMN (close=Price)."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the file is from.")] = None,
    licence: Annotated[str | None, typer.Option(help="The terms it is under.")] = None,
    replace: Annotated[bool, typer.Option(help="Replace the ticker's stored days.")] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import a CSV of daily prices as a ticker's, with its source and licence; bad rows are
    kept aside with the reason (`prices rejects`)."""
    from hubpulse.ingest.prices import parse_columns
    from hubpulse.present.progress import print_area_load
    from hubpulse.store.prices import import_prices
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    load = import_prices(
        store, path, ticker=ticker, columns=parse_columns(column or []), source=source,
        licence=licence, replace=replace,
    )  # fmt: skip
    print_area_load(console, load, f"{load.row['options']} prices")


@prices_app.command("pull")
def prices_pull(
    ticker: Annotated[str, typer.Argument(help="A Yahoo Finance symbol: BABA, 9988.HK, ^GSPC.")],
    first: Annotated[str | None, typer.Option("--from", help="First day YYYY-MM-DD.")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Pull a ticker's daily prices through yfinance (the optional extra hubpulse[market]),
    default the last two years; they replace the ticker's stored days."""
    from hubpulse.present.progress import print_area_load
    from hubpulse.store.prices import pull_prices
    from hubpulse.store.warehouse import open_store

    end = parse_date(last, "--to") or dt.datetime.now(dt.UTC).date()
    begin = parse_date(first, "--from") or end - dt.timedelta(days=730)
    if begin > end:
        raise typer.BadParameter(f"{begin} is after {end}", param_hint="--from")
    store = open_store(settings_of(warehouse), engine="duckdb")
    with console.status(f"Pulling {ticker.upper()} from Yahoo Finance…"):
        load = pull_prices(store, ticker, begin, end)
    print_area_load(console, load, f"{load.row['options']} prices")


@prices_app.command("list")
def prices_list(fmt: FormatOpt = "table", warehouse: WarehouseOpt = None) -> None:
    """The stored prices: ticker, days, rows, rejects, source and licence of each load."""
    from hubpulse.present import tables
    from hubpulse.store.prices import list_prices
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    table = tables.brief(store.execute(list_prices(store)), fmt, drop=["loaded_at"])
    tables.emit(console, table, fmt, title="Stored prices")


@prices_app.command("rejects")
def prices_rejects(fmt: FormatOpt = "table", warehouse: WarehouseOpt = None) -> None:
    """Price rows kept aside at import, with file, row, field and reason."""
    from hubpulse.present import tables
    from hubpulse.store.prices import price_rejects
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    table = tables.brief(store.execute(price_rejects(store)), fmt, drop=["load_id"])
    tables.emit(console, table, fmt, title="Rejected price rows")


@app.command()
def market(
    subject: Annotated[str, typer.Argument(help="A family (Qwen) or a vendor (Alibaba).")],
    ticker: TickerOpt = None,
    benchmark: BenchmarkOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Monthly adoption (estimate with bounds, share of the month, growth) beside the month's
    return and the excess over --benchmark, with rank correlations by lag: a description of
    co-movement, not evidence of cause."""
    from hubpulse.present.market import show_market

    settings = settings_of(warehouse, mode, families)
    show_market(console, settings, subject, fmt, ticker=ticker, benchmark=benchmark)


@app.command()
def events(
    subject: Annotated[str, typer.Argument(help="A family (Qwen) or a vendor (Alibaba).")],
    ticker: TickerOpt = None,
    benchmark: BenchmarkOpt = None,
    at: Annotated[
        str, typer.Option(help="Milestones to date, cumulative since the history's start.")
    ] = "100M,500M,700M",
    on: Annotated[
        list[str] | None,
        typer.Option(help="An event of your own, DATE=LABEL (2026-01-12='700M reported')."),
    ] = None,
    window: Annotated[str, typer.Option(help="Trading days around the event, A..B.")] = "-1..3",
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """The dated events of a family (milestones, a new top model, passing another) and yours,
    with the share price's move over a window of trading days around each and the excess
    over --benchmark: the usual event-study table."""
    from hubpulse.present.market import show_events
    from hubpulse.terms import parse_amounts

    settings = settings_of(warehouse, mode, families)
    given = []
    for item in on or []:
        day, sep, label = item.partition("=")
        when = parse_date(day.strip(), "--on")
        if not sep or when is None or not label.strip():
            raise typer.BadParameter(f"{item!r}: expected DATE=LABEL", param_hint="--on")
        given.append((when, label.strip()))
    first, sep, last = window.partition("..")
    try:
        span = (int(first), int(last))
    except ValueError:
        why = f"{window!r}: expected A..B, e.g. -1..3"
        raise typer.BadParameter(why, param_hint="--window") from None
    show_events(
        console, settings, subject, fmt, ticker=ticker, benchmark=benchmark,
        thresholds=parse_amounts(at, "--at"), extra=given, window=span,
    )  # fmt: skip
