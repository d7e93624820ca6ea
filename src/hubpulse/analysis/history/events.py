"""Dated adoption events and the price move around each: the usual event-study table.

The events the warehouse can date, for one family (or vendor):

- **milestone**: the estimated day its cumulative downloads since the history's first month
  crossed a threshold (``trends.find_milestones``; the earliest and latest days it may have
  been are kept beside it);
- **new top model**: a month whose most downloaded model differs from the month before's;
- **passes**: a month in which it out-downloads a group it trailed the month before (among the
  month's ten largest), with whether the bounds separate the two or only the estimates do.

A month's event is read only where each group compared is complete that month and the month
before and has its coverage (the part of its downloads estimated) at or above the threshold.

A month's figure can be known only once the month is over, so a month's event is dated the
first day of the next month. A user may add dated events of their own (``--on``).

The move is over trading days ``window`` = (a, b) around the event's day t (the first trading
day on or after its date): the price at t + b over the price at t + a - 1 (the close before the
window opens), minus 1. The benchmark's move is over the same calendar days, each read as the
benchmark's last price on or before it (exchanges keep different holidays); the excess move is
the difference. A window the prices do not cover is no data, said so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

from hubpulse.analysis.history.market import month_start
from hubpulse.analysis.history.trends import cumulative_downloads, find_milestones
from hubpulse.registry import UNATTRIBUTED

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History

TOP = 10


def adoption_events(
    history: History, key: str, group: str, thresholds: list[int]
) -> list[dict[str, Any]]:
    """The dated events of ``group`` (a ``key``: family or vendor), oldest first."""
    events: list[dict[str, Any]] = []
    curve = cumulative_downloads(history.estimates, history.shares, history.registry, by=key)  # type: ignore[arg-type]
    rows = curve.filter(curve[key] == group).order_by("month").to_pyarrow().to_pylist()
    for found in find_milestones(rows, thresholds, key):
        if found["estimated"] is None:
            continue
        bounds = f"earliest {found['earliest'] or 'unknown'}, latest {found['latest'] or 'unknown'}"
        events.append(
            {
                "date": found["estimated"],
                "kind": "milestone",
                "event": f"passes {found['threshold']:,} downloads since {history.first} "
                f"(estimated; {bounds})",
            }
        )
    monthly = history.monthly(by=key).to_pyarrow().to_pylist()  # type: ignore[arg-type]
    events += _month_events(monthly, key, group, history.checks.min_coverage)
    return sorted(events, key=lambda e: (e["date"], e["kind"]))


def _month_events(
    monthly: list[dict[str, Any]], key: str, group: str, min_coverage: float
) -> list[dict[str, Any]]:
    """New top model and passes: read only where each group compared has its coverage (the
    part of its downloads estimated) at least ``min_coverage`` in both months."""
    months = sorted({r["month"] for r in monthly})
    at = {
        (r["month"], r[key]): r
        for r in monthly
        if r["through"] is None
        and r["estimate"] is not None
        and (r["coverage"] or 0) >= min_coverage
        and r[key] != UNATTRIBUTED
    }
    events = []
    for before, month in itertools.pairwise(months):
        own, prior = at.get((month, group)), at.get((before, group))
        if own is None or prior is None:
            continue
        day = _following(month)
        if own["top_model"] and prior["top_model"] and own["top_model"] != prior["top_model"]:
            events.append(
                {
                    "date": day,
                    "kind": "new top model",
                    "event": f"{own['top_model']} is its most downloaded in {month} "
                    f"(was {prior['top_model']})",
                }
            )
        ranked = sorted(
            (r for (m, _), r in at.items() if m == month), key=lambda r: -r["estimate"]
        )[:TOP]
        for other in ranked:
            was = at.get((before, other[key]))
            if other[key] == group or was is None:
                continue
            if own["estimate"] > other["estimate"] and prior["estimate"] <= was["estimate"]:
                firm = other["upper"] is not None and own["lower"] > other["upper"]
                events.append(
                    {
                        "date": day,
                        "kind": "passes",
                        "event": f"out-downloads {other[key]} in {month} "
                        + ("(bounds separate)" if firm else "(by estimate; bounds overlap)"),
                    }
                )
    return events


def _following(month: str) -> dt.date:
    start = month_start(month)
    return (start + dt.timedelta(days=32)).replace(day=1)


def event_moves(
    events: list[dict[str, Any]],
    prices: dict[str, list[tuple[dt.date, float]]],
    ticker: str,
    benchmark: str | None,
    window: tuple[int, int] = (-1, 3),
) -> list[dict[str, Any]]:
    """Each event with its trading day t, the window's first and last days, the ticker's
    move, the benchmark's and the excess (see the module docstring)."""
    series = prices.get(ticker, [])
    days = [d for d, _ in series]
    out = []
    for event in events:
        row = dict(event) | {"t": None, "from": None, "to": None, "move": None}
        t = bisect.bisect_left(days, event["date"])
        start, end = t + window[0] - 1, t + window[1]
        if t >= len(days) or start < 0 or end >= len(days):
            out.append(row | {"note": f"{ticker}'s prices do not cover the window"})
            continue
        move = series[end][1] / series[start][1] - 1
        row |= {"t": days[t], "from": days[start], "to": days[end], "move": move, "note": ""}
        if benchmark:
            bench = _move_on(prices.get(benchmark, []), days[start], days[end])
            row |= {
                "benchmark_move": bench,
                "excess_move": None if bench is None else move - bench,
            }
            if bench is None:
                row["note"] = f"{benchmark}'s prices do not cover the window"
        out.append(row)
    return out


def _move_on(series: list[tuple[dt.date, float]], first: dt.date, last: dt.date) -> float | None:
    """The move from the last price on or before ``first`` to the last on or before ``last``."""
    days = [d for d, _ in series]
    i, j = bisect.bisect_right(days, first) - 1, bisect.bisect_right(days, last) - 1
    stale = dt.timedelta(days=7)  # a price older than a week is no price of that day
    if i < 0 or j < 0 or first - days[i] > stale or last - days[j] > stale:
        return None
    return series[j][1] / series[i][1] - 1
