"""Daily prices pulled through yfinance (the optional extra ``hubpulse[market]``), saved as the
Yahoo-style CSV that ``ingest.prices`` reads, so a pull and an import of the same file load the
same rows and the saved file stays beside the warehouse for audit.

Yahoo Finance's data is for personal use under its terms; it is never bundled, and every output
using a pulled series names it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hubpulse.errors import HubpulseError, first_line

YAHOO = "Yahoo Finance (via yfinance)"
YAHOO_TERMS = "Yahoo terms of service (personal use)"


class MarketError(HubpulseError):
    """The price source is not installed, refused, or had nothing for the request."""


def fetch_prices(ticker: str, first: dt.date, last: dt.date, folder: Path) -> Path:
    """Daily prices of ``ticker`` from ``first`` to ``last`` (inclusive), saved as a CSV in
    ``folder``; a one-line error when yfinance is missing, refuses or has no rows."""
    try:
        import yfinance
    except ImportError:
        raise MarketError(
            "prices pull needs the optional extra: pip install 'hubpulse[market]' "
            "(or import a CSV with `hubpulse prices import FILE --ticker T`)"
        ) from None
    try:
        frame = yfinance.Ticker(ticker).history(
            start=first.isoformat(),
            end=(last + dt.timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
            auto_adjust=False,
            actions=False,
            raise_errors=True,
        )
    except Exception as exc:  # yfinance raises its own, requests' and curl's errors alike
        raise MarketError(f"Yahoo Finance refused {ticker}: {first_line(exc)}") from None
    if frame is None or len(frame) == 0:
        raise MarketError(f"Yahoo Finance has no prices of {ticker} for {first} … {last}")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{ticker}_{first}_{last}_{stamp}.csv"
    table = frame.reset_index()
    table["Date"] = [str(d)[:10] for d in table[table.columns[0]]]
    wanted = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
    keep = [c for c in wanted if c in table]
    table[keep].to_csv(path, index=False)
    return path
