"""Share prices in the warehouse: each imported or pulled file one load of the ``prices`` area
(``prices``, ``price_rejects``, ``prices_loads``) for one ticker over its days. Loads of other
tickers never conflict; a second file of a ticker over days it holds needs ``replace`` (a pull
replaces: restated prices win), and a reader reads each ticker's day from its newest load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from hubpulse.ingest.prices import PRICES_AREA, check_ticker, read_prices
from hubpulse.ingest.sources import Origin
from hubpulse.ingest.yahoo import YAHOO, YAHOO_TERMS, fetch_prices
from hubpulse.store.areas import AreaData, AreaLoad, newest_per_day, store_area

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


def import_prices(
    store: Warehouse,
    path: Path | str,
    *,
    ticker: str | None = None,
    columns: dict[str, str] | None = None,
    source: str | None = None,
    licence: str | None = None,
    replace: bool = False,
) -> AreaLoad:
    """Store a price CSV as the prices of its ticker over its days, with its source and
    licence (default: the file's name, "not stated")."""
    rows, rejects, found = read_prices(path, ticker, columns)
    data = AreaData(
        area=PRICES_AREA,
        path=Path(path),
        file_sha256=found["sha256"],
        options=found["ticker"],
        first_day=found["first_day"],
        last_day=found["last_day"],
        complete=True,
        tables={"prices": rows, "price_rejects": rejects},
        rows=rows.num_rows,
        rejects=rejects.num_rows,
        origin=Origin(
            source or Path(path).name,
            Path(path).name,
            found["sha256"][:12],
            licence or "not stated",
        ),
        parted=True,
    )
    with store.lock():
        return store_area(store, data, replace=replace, what=f"the {found['ticker']} prices of")


def pull_prices(store: Warehouse, ticker: str, first: dt.date, last: dt.date) -> AreaLoad:
    """Fetch ``ticker``'s daily prices through yfinance and store them, replacing the days
    they cover."""
    ticker = check_ticker(ticker)
    saved = fetch_prices(ticker, first, last, store.work_dir(PRICES_AREA))
    return import_prices(
        store, saved, ticker=ticker, source=YAHOO, licence=YAHOO_TERMS, replace=True
    )


def current_prices(store: Warehouse) -> ir.Table:
    """ticker, day, open … volume, load_id: each ticker's day from its newest load."""
    rows = store.series_table("prices")
    return newest_per_day(rows, store.series_table("prices_loads"), "day", part="ticker")


def list_prices(store: Warehouse) -> ir.Table:
    """Every stored price load: ticker, its days, rows, rejects, source and licence."""
    loads = store.series_table("prices_loads")
    return loads.select(
        ticker=loads.options,
        first_day=loads.first_day,
        last_day=loads.last_day,
        rows=loads.rows,
        rejects=loads.rejects,
        source=loads.dataset,
        licence=loads.licence,
        load=loads.load_id,
        loaded_at=loads.loaded_at,
    ).order_by(["ticker", "first_day", "loaded_at"])


def price_rejects(store: Warehouse) -> ir.Table:
    """The rows kept aside at import: file, row, ticker, field, reason, raw."""
    return store.series_table("price_rejects").order_by(["ticker", "file", "row"])
