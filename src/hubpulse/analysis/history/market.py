"""Adoption beside the share price: a family's (or vendor's) monthly downloads next to the
month's return of its listed parent, and the price move around the dates the warehouse can put
on its adoption.

Definitions (``docs/market.md`` says the same to users):

- a day's price is its adjusted close (dividends and splits) where the source gives one, else
  its close; a month's return is its last trading day's price over the previous month's last
  one, minus 1: no data when either month has no prices (a gap is never a 0% month);
- the excess return is the return minus the benchmark's over the same month (or window);
- adoption growth is a month's estimate over the previous month's, minus 1, read only where
  both months are complete and the group's coverage (the part of its downloads estimated) is
  at or above the threshold in each;
- the rank correlation (Spearman's, ties averaged) pairs adoption growth in month m with the
  (excess) return of month m + lag; it is a description of co-movement over the months it
  names, never evidence that one moves the other.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History

LAGS = (-1, 0, 1, 2)
MIN_PAIRS = 6
CAUSE = (
    "correlation is not evidence of cause: downloads and the share price may both follow the "
    "same news, and a handful of months can line up by chance"
)


def monthly_returns(prices: ir.Table, tickers: list[str]) -> ir.Table:
    """ticker, month (YYYY-MM), close (the month's last price), days (trading days),
    last_day, return (over the previous calendar month's last price; null across a gap)."""
    rows = prices.filter(prices.ticker.isin(tickers))
    price = ibis.coalesce(rows.adj_close, rows.close)
    rows = rows.mutate(price=price, month=rows.day.truncate("M"))
    months = rows.group_by(["ticker", "month"]).aggregate(
        close=rows.price.argmax(rows.day), days=rows.day.nunique(), last_day=rows.day.max()
    )
    order = ibis.window(group_by="ticker", order_by="month")
    previous = months.close.lag().over(order)
    before = months.month.lag().over(order)
    follows = before == months.month - ibis.interval(months=1)
    return months.select(
        "ticker",
        month=months.month.strftime("%Y-%m"),
        close=months.close,
        days=months.days,
        last_day=months.last_day,
        **{"return": ibis.ifelse(follows, months.close / previous - 1, ibis.null("float64"))},
    ).order_by(["ticker", "month"])


def market_months(
    history: History, key: str, group: str, returns: pa.Table, ticker: str, benchmark: str | None
) -> list[dict[str, Any]]:
    """Per month of the history: the group's estimate, bounds, share and coverage, adoption
    growth, the ticker's return and (with ``benchmark``) the excess return."""
    monthly = history.monthly(by=key)  # type: ignore[arg-type]
    rows = monthly.filter(monthly[key] == group).to_pyarrow().to_pylist()
    by_month = {(r["ticker"], r["month"]): r for r in returns.to_pylist()}
    out: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for row in rows:
        price = by_month.get((ticker, row["month"]))
        bench = by_month.get((benchmark, row["month"])) if benchmark else None
        usable = (
            row["through"] is None
            and row["estimate"] is not None
            and (row["coverage"] or 0) >= history.checks.min_coverage
        )
        growth = None
        follows = previous is not None and _next_month(previous["month"]) == row["month"]
        if usable and follows and previous["usable"] and previous["estimate"]:  # type: ignore[index]
            growth = row["estimate"] / previous["estimate"] - 1  # type: ignore[index]
        ret = price["return"] if price else None
        bench_ret = bench["return"] if bench else None
        found = {
            "month": row["month"],
            "estimate": row["estimate"],
            "lower": row["lower"],
            "upper": row["upper"],
            "share": row["share"],
            "coverage": row["coverage"],
            "growth": growth,
            "close": price["close"] if price else None,
            "return": ret,
        }
        if benchmark:
            excess = ret - bench_ret if ret is not None and bench_ret is not None else None
            found |= {"benchmark_return": bench_ret, "excess_return": excess}
        out.append(found)
        previous = row | {"usable": usable}
    return out


def rank_correlations(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    """Spearman's rank correlation of adoption growth in month m with ``column`` (a return)
    in month m + lag, per lag, with the number of months paired (fewer than ``MIN_PAIRS``: no
    figure, said so)."""
    at = {r["month"]: r for r in rows}
    found = []
    for lag in LAGS:
        pairs = [
            (r["growth"], at[m][column])
            for r in rows
            if r["growth"] is not None
            and (m := _shift(r["month"], lag)) in at
            and at[m][column] is not None
        ]
        rho = spearman(pairs) if len(pairs) >= MIN_PAIRS else None
        months = sorted(r["month"] for r in rows if r["growth"] is not None)
        found.append(
            {
                "lag": lag,
                "pairs": f"growth in m, return in m{lag:+d}" if lag else "both in m",
                "months": len(pairs),
                "rho": None if rho is None else round(rho, 3),
                "note": "" if rho is not None else f"fewer than {MIN_PAIRS} months: no figure",
                "span": f"{months[0]} … {months[-1]}" if months else "",
            }
        )
    return found


def spearman(pairs: list[tuple[float, float]]) -> float | None:
    """Spearman's rho: Pearson's correlation of the ranks (ties get their average rank);
    None when either side does not vary."""
    xs, ys = _ranks([p[0] for p in pairs]), _ranks([p[1] for p in pairs])
    n = len(pairs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return float(sxy / (sxx * syy) ** 0.5)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _shift(month: str, by: int) -> str:
    year, number = int(month[:4]), int(month[5:7]) - 1 + by
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _next_month(month: str) -> str:
    return _shift(month, 1)


def month_start(month: str) -> dt.date:
    return dt.date.fromisoformat(f"{month}-01")
