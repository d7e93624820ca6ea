"""Daily share prices: a CSV in the common Yahoo-style layout, or a pull through yfinance.

The layout is one row per trading day with the columns ``Date, Open, High, Low, Close,
Adj Close, Volume`` (Yahoo's download, most brokers' and data vendors' exports). Other names are
mapped with ``columns`` (``{"close": "Price"}``: the file's ``Price`` is the close). yfinance's
own ``to_csv`` writes two more header rows (``Ticker,BABA,…`` and ``Date,,…``); they are read
too, and the ticker taken from them.

A row is a reject, with the field and the reason, when its date is not a date, its close is
missing or not a number, a price is not positive, the volume is negative, or its date repeats an
earlier row's. The rest load: nothing else is lost. ``adj_close`` (dividends and splits
adjusted) is what returns are read from where the source gives it; else ``close``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from hubpulse.errors import SnapshotFormatError
from hubpulse.ingest.files import existing_file, file_sha256
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA

PRICES_AREA = "prices"
PRICE_FIELDS = ("date", "open", "high", "low", "close", "adj_close", "volume")
DEFAULT_COLUMNS = {
    "date": "Date",
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "adj_close": "Adj Close",
    "volume": "Volume",
}
PRICES_SCHEMA = pa.schema(
    [
        ("ticker", pa.string()),
        ("day", pa.date32()),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("adj_close", pa.float64()),
        ("volume", pa.int64()),
    ]
)
PRICE_REJECT_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("ticker", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
PRICES_TABLES = {
    "prices": PRICES_SCHEMA,
    "price_rejects": PRICE_REJECT_SCHEMA,
    "prices_loads": AREA_LOAD_SCHEMA,
}
MAX_PRICE_BYTES = 64 << 20  # a century of daily rows is ~2 MB; more is no price file
_TICKER = re.compile(r"[A-Za-z0-9^][A-Za-z0-9.\-=^]{0,19}")


def check_ticker(ticker: str) -> str:
    """``ticker`` upper-cased (``9988.HK``, ``^GSPC``, ``BRK-B``); a clear error otherwise."""
    if not _TICKER.fullmatch(ticker):
        raise SnapshotFormatError(f"ticker {ticker!r}: expected a symbol like BABA or 9988.HK")
    return ticker.upper()


def parse_columns(pairs: list[str]) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs (``close=Price``) as a mapping over the default names."""
    columns = dict(DEFAULT_COLUMNS)
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep or name.strip().lower() not in PRICE_FIELDS or not column.strip():
            raise SnapshotFormatError(
                f"--column {pair!r}: expected FIELD=COLUMN, FIELD one of {', '.join(PRICE_FIELDS)}"
            )
        columns[name.strip().lower()] = column.strip()
    return columns


def read_prices(
    path: Path | str, ticker: str | None, columns: dict[str, str] | None = None
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """A price CSV → (prices, rejects, facts: ``ticker``, ``first_day``, ``last_day``,
    ``sha256``). The ticker is ``ticker``, else yfinance's ``Ticker`` header row; neither is a
    clear error."""
    path = existing_file(path)
    lines = list(csv.reader(io.StringIO(_text(path))))
    header, body, found = _header(lines, path)
    if not (ticker or found):
        raise SnapshotFormatError(f"{path}: which ticker are these prices of? give --ticker")
    ticker = check_ticker(ticker or found or "")
    names = columns or DEFAULT_COLUMNS
    at = {field: _column(header, names[field]) for field in PRICE_FIELDS}
    for field in ("date", "close"):
        if at[field] is None:
            raise SnapshotFormatError(
                f"{path}: no {names[field]!r} column (the {field}); map it with "
                f"--column {field}=NAME (columns: {', '.join(header)})"
            )
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: set[dt.date] = set()
    first_row = len(lines) - len(body) + 1  # 1-based line number of the first data row
    for number, cells in enumerate(body, start=first_row):
        if not any(c.strip() for c in cells):
            continue
        row, problem = _row(cells, at, ticker)
        if problem is None and row["day"] in seen:
            problem = ("date", f"{row['day']} repeats an earlier row")
        if problem is not None:
            field, reason = problem
            raw = ",".join(cells)[:500]
            rejects.append(
                {"file": path.name, "row": number, "ticker": ticker}
                | {"field": field, "reason": reason, "raw": raw}
            )
            continue
        seen.add(row["day"])
        rows.append(row)
    if not rows:
        first = f"; row {rejects[0]['row']}, {rejects[0]['field']}: {rejects[0]['reason']}"
        raise SnapshotFormatError(
            f"{path}: no valid price rows ({len(rejects)} rejected{first if rejects else ''})"
        )
    days = [r["day"] for r in rows]
    facts = {"ticker": ticker, "first_day": min(days), "last_day": max(days)}
    return (
        pa.Table.from_pylist(sorted(rows, key=lambda r: r["day"]), PRICES_SCHEMA),
        pa.Table.from_pylist(rejects, PRICE_REJECT_SCHEMA),
        facts | {"sha256": file_sha256(path)},
    )


def _text(path: Path) -> str:
    """The file's text: at most ``MAX_PRICE_BYTES``, UTF-8 (a byte-order mark dropped)."""
    if path.stat().st_size > MAX_PRICE_BYTES:
        raise SnapshotFormatError(
            f"{path}: {path.stat().st_size:,} bytes is no daily price file (at most "
            f"{MAX_PRICE_BYTES:,}; a century of daily rows is about 2 MB)"
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SnapshotFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _header(lines: list[list[str]], path: Path) -> tuple[list[str], list[list[str]], str | None]:
    """The header, the data rows and the ticker of yfinance's extra header rows, if any."""
    if not lines:
        raise SnapshotFormatError(f"{path}: empty file")
    header = [c.strip() for c in lines[0]]
    body = lines[1:]
    ticker = None
    if header and header[0] == "Price" and body and body[0] and body[0][0].strip() == "Ticker":
        symbols = {c.strip() for c in body[0][1:] if c.strip()}
        ticker = symbols.pop() if len(symbols) == 1 else None
        body = body[1:]
        if body and body[0] and body[0][0].strip() == "Date" and not any(body[0][1:]):
            body = body[1:]
        header = ["Date", *header[1:]]
    return header, body, ticker


def _column(header: list[str], name: str) -> int | None:
    lowered = [h.lower() for h in header]
    return lowered.index(name.lower()) if name.lower() in lowered else None


def _row(
    cells: list[str], at: dict[str, int | None], ticker: str
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    def cell(field: str) -> str:
        i = at[field]
        return cells[i].strip() if i is not None and i < len(cells) else ""

    row: dict[str, Any] = {"ticker": ticker}
    try:
        row["day"] = dt.date.fromisoformat(cell("date")[:10])
    except ValueError:
        return row, ("date", f"{cell('date')!r} is not a date YYYY-MM-DD")
    for field in ("open", "high", "low", "close", "adj_close"):
        text = cell(field)
        if text in ("", "null", "NaN", "nan"):
            if field == "close":
                return row, ("close", "no close price")
            row[field] = None
            continue
        try:
            value = float(text)
        except ValueError:
            return row, (field, f"{text!r} is not a number")
        if not math.isfinite(value) or value <= 0:  # a price of 0 would divide a return by 0
            return row, (field, f"{text} is not a price (a positive number)")
        row[field] = value
    volume = cell("volume")
    try:
        row["volume"] = None if volume in ("", "null", "NaN") else int(float(volume))
    except ValueError:
        return row, ("volume", f"{volume!r} is not a number")
    if row["volume"] is not None and row["volume"] < 0:
        return row, ("volume", f"{volume} is negative")
    return row, None
