"""``hubpulse market`` and ``hubpulse events``: adoption beside the share price, with the
caveats an investor needs (``analysis.history.market`` and ``events`` define every figure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from hubpulse.analysis.history.events import adoption_events, event_moves
from hubpulse.analysis.history.market import (
    CAUSE,
    market_months,
    monthly_returns,
    rank_correlations,
)
from hubpulse.errors import (
    HubpulseError,
    OptionError,
    SnapshotNotFoundError,
    UnknownFamilyError,
    one_line,
)
from hubpulse.ingest.prices import check_ticker
from hubpulse.present.charts import Chart, Series
from hubpulse.present.tables import emit, history_meta, rich_table
from hubpulse.registry import Registry, load_registry
from hubpulse.settings import Settings
from hubpulse.store.prices import current_prices
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import OutputFormat

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History

PRICE_NOTE = (
    "price: the adjusted close (dividends and splits) where the source gives one, else the "
    "close; return: the month's last price over the previous month's, minus 1 (no data "
    "across a month without prices)"
)


@dataclass(frozen=True)
class Priced:
    """What an answer is about: the group (``key`` family or vendor), its ticker and the
    benchmark, and the prices' sources."""

    key: str
    group: str
    ticker: str
    benchmark: str | None
    sources: list[str]

    @property
    def symbols(self) -> list[str]:
        return [self.ticker, *([self.benchmark] if self.benchmark else [])]

    def facts(self) -> dict[str, Any]:
        """What every answer about it states: the group, the tickers, the prices' sources."""
        return {
            "subject": self.group,
            "by": self.key,
            "ticker": self.ticker,
            "benchmark": self.benchmark,
            "sources": self.sources,
            "price": PRICE_NOTE,
        }


def priced(
    store: Warehouse, registry: Registry, subject: str, ticker: str | None, benchmark: str | None
) -> Priced:
    """The subject as a family or vendor, its ticker (``ticker``, else the registry's) and the
    sources of the stored prices of it and the benchmark; a clear error for a missing one."""
    family = next((f for f in registry.families if f.name.lower() == subject.lower()), None)
    vendors = [f for f in registry.families if f.vendor.lower() == subject.lower()]
    if family is None and not vendors:
        raise UnknownFamilyError(f"{subject!r} is neither a family nor a vendor of the registry")
    key, group = ("family", family.name) if family else ("vendor", vendors[0].vendor)
    listed = [t for f in ([family] if family else vendors) for t in [f.ticker, *f.tickers] if t]
    chosen = check_ticker(ticker) if ticker else (listed[0] if listed else None)
    if chosen is None:
        raise OptionError(
            f"the registry names no ticker for {group} (privately held?): give --ticker"
        )
    bench = check_ticker(benchmark) if benchmark else None
    loads = store.execute(store.series_table("prices_loads")).to_pylist()
    sources = []
    for symbol in [chosen, *([bench] if bench else [])]:
        held = [r for r in loads if r["options"] == symbol]
        if not held:
            raise SnapshotNotFoundError(
                f"warehouse {store.root} holds no prices of {symbol}: run `hubpulse prices "
                f"import FILE --ticker {symbol}` (or `hubpulse prices pull {symbol}`)"
            )
        sources += sorted({f"{symbol}: {r['dataset']} ({r['licence']})" for r in held})
    return Priced(key, group, chosen, bench, sources)


def _priced_history(
    store: Warehouse, settings: Settings, subject: str, ticker: str | None, benchmark: str | None
) -> tuple[Priced, History]:
    from hubpulse.analysis.history.history import load_history

    registry = load_registry(settings.families_file)
    about = priced(store, registry, subject, ticker, benchmark)
    return about, load_history(settings, None, None, store)


def market_answer(
    store: Warehouse,
    settings: Settings,
    subject: str,
    *,
    ticker: str | None = None,
    benchmark: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per month: adoption (estimate, bounds, share, growth) beside the return, the excess
    return; and in the facts the rank correlations by lag with the months they pair."""
    about, history = _priced_history(store, settings, subject, ticker, benchmark)
    returns = store.execute(monthly_returns(current_prices(store), about.symbols))
    rows = market_months(history, about.key, about.group, returns, about.ticker, about.benchmark)
    column = "excess_return" if about.benchmark else "return"
    meta = (
        history_meta(history)
        | about.facts()
        | {
            "growth": "adoption growth: the month's estimate over the previous month's, minus 1, "
            "only where both months are complete and the group's coverage is at or above "
            f"{history.checks.min_coverage:.0%}",
            "correlations": rank_correlations(rows, column),
            "cause": CAUSE,
        }
    )
    return rows, meta


def events_answer(
    store: Warehouse,
    settings: Settings,
    subject: str,
    *,
    ticker: str | None = None,
    benchmark: str | None = None,
    thresholds: list[int] | None = None,
    extra: list[tuple[dt.date, str]] | None = None,
    window: tuple[int, int] = (-1, 3),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The dated events of ``subject`` (and ``extra``, the user's) with the price move over
    ``window`` trading days around each, and the excess over ``benchmark``."""
    if window[0] > window[1]:
        raise OptionError(f"--window {window[0]}..{window[1]}: the first day comes first")
    about, history = _priced_history(store, settings, subject, ticker, benchmark)
    events = adoption_events(history, about.key, about.group, thresholds or [])
    events += [{"date": d, "kind": "given", "event": label} for d, label in extra or []]
    events.sort(key=lambda e: (e["date"], e["kind"]))
    prices = current_prices(store)
    rows = store.execute(
        prices.filter(prices.ticker.isin(about.symbols)).order_by(["ticker", "day"])
    ).to_pylist()
    series: dict[str, list[tuple[dt.date, float]]] = {}
    for r in rows:
        price = r["adj_close"] if r["adj_close"] is not None else r["close"]
        series.setdefault(r["ticker"], []).append((r["day"], price))
    moved = event_moves(events, series, about.ticker, about.benchmark, window)
    column = "excess_move" if about.benchmark else "move"
    seen = [e[column] for e in moved if e["kind"] != "given" and e.get(column) is not None]
    meta = (
        history_meta(history)
        | about.facts()
        | {
            "mean": None if not seen else sum(seen) / len(seen),
            "mean_of": f"the mean {column.replace('_', ' ')} over the {len(seen)} dated adoption "
            "events with prices (your own events left out)",
            "window": f"trading days {window[0]:+d} … {window[1]:+d} around t, the first trading "
            "day on or after the event (move: the price at the window's end over the close before "
            "it opens, minus 1)",
            "dating": "a month's event is dated the first day of the next month, when the month's "
            "figure can first be known",
            "cause": "an event study describes the moves around dates; with a handful of events it "
            "cannot separate them from the rest of the news: " + CAUSE,
        }
    )
    return moved, meta


def show_market(
    console: Console, settings: Settings, subject: str, fmt: OutputFormat, **options: Any
) -> None:
    """Print ``market_answer``: the months, then the correlations and the caveats."""
    rows, meta = market_answer(open_store(settings), settings, subject, **options)
    bench = meta["benchmark"]
    title = f"{meta['subject']} adoption beside {meta['ticker']}"
    if fmt != "table":
        emit(console, rows, fmt, title=title, meta=meta)
        return
    keep = ["month", "estimate", "lower", "upper", "growth", "return"]  # JSON: every column
    keep += ["excess_return"] if bench else []
    emit(console, [{k: r[k] for k in keep} for r in rows], fmt, title=title)
    shown = ("lag", "pairs", "months", "rho", "note")
    found = [{k: c[k] for k in shown} for c in meta["correlations"]]
    what = f"excess return over {bench}" if bench else "return"
    console.print(rich_table(found, list(found[0]), title=f"Rank correlation with the {what}"))
    notes = [meta["price"], meta["growth"], meta["cause"], *meta["sources"]]
    notes.append(f"{meta['mode']} mode; ∞ = unbounded, — = no data; `--format json`: every column")
    for note in notes:
        console.print(f"[dim]{escape(note)}[/]", highlight=False)


def show_events(
    console: Console, settings: Settings, subject: str, fmt: OutputFormat, **options: Any
) -> None:
    """Print ``events_answer``: the event-study table, then its window and caveats."""
    rows, meta = events_answer(open_store(settings), settings, subject, **options)
    title = f"{meta['subject']}: dated events and {meta['ticker']}'s move around each"
    if fmt != "table" or not rows:
        emit(console, rows or pa.table({"date": []}).to_pylist(), fmt, title=title, meta=meta)
        if not rows and fmt == "table":
            console.print("no dated events: see `hubpulse milestones` and `hubpulse monthly`")
        return
    keep = ["date", "kind", "event", "move"] + (["excess_move"] if meta["benchmark"] else [])
    emit(console, [{k: r.get(k) for k in [*keep, "note"]} for r in rows], fmt, title=title)
    if meta["mean"] is not None:
        console.print(f"{meta['mean_of']}: {meta['mean']:+.1%}", highlight=False)
    for note in [meta["window"], meta["dating"], meta["price"], meta["cause"], *meta["sources"]]:
        console.print(f"[dim]{escape(note)}[/]", highlight=False)


def market_view(
    store: Warehouse,
    settings: Settings,
    subject: str,
    ticker: str | None = None,
    *,
    strict: bool = False,
) -> dict[str, Any]:
    """The market answer and the events of ``subject`` (default thresholds) for the report and
    the dashboard: rows, correlations, events and notes; empty when no prices of its ticker
    (or of the settings' benchmark) are stored or the warehouse holds no history: then only
    ``missing``, why (``strict``: the error itself)."""
    try:
        rows, meta = market_answer(
            store, settings, subject, ticker=ticker, benchmark=settings.benchmark
        )
        found, facts = events_answer(
            store, settings, subject, ticker=ticker, benchmark=settings.benchmark,
            thresholds=[100_000_000, 500_000_000, 700_000_000],
        )  # fmt: skip
    except HubpulseError as exc:  # no ticker, no prices, no history: said, not drawn
        if strict:
            raise
        return {"missing": one_line(str(exc))}
    notes = [meta["price"], meta["growth"], facts["window"], facts["dating"], meta["cause"]]
    if not settings.benchmark:
        notes.append("excess returns: set a benchmark (`hubpulse market --benchmark T`)")
    return {
        "subject": meta["subject"],
        "ticker": meta["ticker"],
        "benchmark": meta["benchmark"],
        "rows": rows,
        "correlations": meta["correlations"],
        "cause": meta["cause"],
        "events": [_plain(e) for e in found],
        "notes": notes + meta["sources"],
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def market_chart(market: dict[str, Any]) -> Chart:
    """The adoption line with its bounds, the month-end price on a second axis, and the dated
    events marked at their months."""
    rows = market["rows"]
    months = [r["month"] for r in rows]
    marks = [(e["date"][:7], e["kind"]) for e in market["events"] if e["date"][:7] in months]
    return Chart(
        "market",
        f"{market['subject']} monthly downloads beside {market['ticker']}",
        "line",
        months,
        [
            Series(
                f"{market['subject']} downloads (estimate)",
                [r["estimate"] for r in rows],
                lower=[r["lower"] for r in rows],
                upper=[r["upper"] for r in rows],
            )
        ],
        "estimated downloads per month",
        secondary=Series(f"{market['ticker']} month-end price", [r["close"] for r in rows]),
        secondary_title=f"{market['ticker']} price",
        marks=marks,
    )
