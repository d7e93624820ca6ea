"""History: monthly downloads per model, estimated from whatever evidence exists, with bounds.

The Hub serves no history: a snapshot gives the rolling 30-day count and (since about
2025-02-27) the cumulative counter on the day it was taken. Series add daily counts or daily
30-day counts. ``estimate_monthly_downloads`` turns all of it into one row per model and calendar
month with the ``method`` used, an ``estimate`` and a ``lower``/``upper`` bound.

**Counting model.** Let d(t) ≥ 0 be a model's downloads on day t. A ``daily`` observation is d(t);
a ``rolling30`` observation on day t is R(t) = d(t-29) + … + d(t); an ``all_time`` observation on
day t is A(t) = Σ d(u) for u ≤ t (a snapshot dated t counts as the end of day t). Before its
creation day a model has d = 0. Under this model every bound below is *rigorous*: it contains the
truth whatever the downloads were on days nobody observed. ``upper`` is null where the evidence
cannot bound the month from above (say, a month no observation window reaches).

**Methods**, best first (the first one that applies is the row's ``method``):

1. ``daily`` — every day of the month is covered by a daily source: the sum, exact. Daily
   sources are summed per model and month at import; the estimator reads those sums.
2. ``deconvolved`` — the 30-day count was seen on at least half of the month's days and the
   series bounds every day of it: consecutive counts chain each day to the day 30 before it
   (``deconvolve``), giving the tightest bounds the counts allow, exact where the series
   starts before creation. The estimate is the ``rolling30`` one (or the middle of the
   bounds) clamped into them. Counts that contradict the model are left out and listed.
3. ``all_time`` — the cumulative counter is observed on both sides of both month boundaries
   (the day before the month starts and its last day), each within ``max_gap_days``. The
   estimate interpolates the counter linearly to the boundaries; ``upper`` is the counter
   difference between the outer observations, ``lower`` between the inner ones.
4. ``rolling30`` — the 30-day count R(t*) observed nearest the month's last day (within
   ``max_gap_days``, and only when its window holds at least half of the month's days, so one
   count never stands for a month it barely saw), scaled by the month's length:
   ``R(t*) × n / 30`` (n = days of the month since creation; the window is likewise cut at
   creation). So a 30-day month observed on its
   last day is exact, a 31-day month is ``R × 31/30`` with ``lower = R`` and ``upper = R +`` the
   smallest 30-day count whose window holds the month's first day, and February is
   ``R × 28/30`` with ``upper = R`` and ``lower = R −`` the smallest count whose window holds the
   two days before it. Month days outside the window raise ``upper`` the same way; window days
   outside the month lower ``lower``.
5. ``daily_partial`` — a daily source covers only part of the month: the observed sum scaled to
   the month; ``lower`` is the observed sum.

``not_created`` rows (created after the month) are exactly 0; ``none`` rows have no estimate.

**Never past the evidence.** Months after the newest observation's day are not estimated, and
the month holding that day ends on it: its ``month_end`` is that day and ``complete`` is false,
so a snapshot taken on the 20th estimates the month's first 20 days, never the rest.
Bounds from *every* method that yields one are intersected, and the estimate is clamped into the
result, so a far but valid counter bracket still caps a rolling estimate. Where the evidence
contradicts itself (lower > upper) the chosen method's own bounds are kept and ``conflict`` is
flagged.

**Defects handled.** A cumulative counter that goes down starts a new *epoch*: counter
differences are only taken inside one epoch (flag ``counter_reset``). A counter that does not
move while the same day's 30-day count is positive is stale (a stall awaiting catch-up) and
that observation is ignored, so interpolation spans the stall. Renamed repos are merged under
their current id through the alias table before anything else. Deleted models simply stop
producing observations.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.analysis.history.counter import all_time, days_between, lookup
from hubpulse.analysis.history.deconvolve import clean_rolling, deconvolved_months, dense_series
from hubpulse.analysis.history.evidence import Evidence, decode, observed_days
from hubpulse.analysis.history.grid import KEYS, daily_sums, model_months, with_daily
from hubpulse.errors import HubpulseError
from hubpulse.store.engines import checkpoint, materialise

METHODS = (
    "daily",
    "deconvolved",
    "all_time",
    "rolling30",
    "daily_partial",
    "not_created",
    "none",
)
WINDOW = 30
_BIG = 9.0e18  # stands for "unbounded" inside least(); turned back into null


class HistoryError(ValueError, HubpulseError):
    """A month range or history question that cannot be answered as asked."""


def month_table(first: str, last: str) -> ir.Table:
    """month ('YYYY-MM'), month_start, month_end, days for every month from first to last."""
    start, end = parse_month(first), parse_month(last)
    if end < start:
        raise HistoryError(f"month range {first} … {last} is empty: --from is after --to")
    rows = []
    while start <= end:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last_day = following - dt.timedelta(days=1)
        rows.append(
            {
                "month": start.strftime("%Y-%m"),
                "month_start": start,
                "month_end": last_day,
                "days": last_day.day,
            }
        )
        start = following
    return ibis.memtable(pa.Table.from_pylist(rows))


# The months a question may name: from the Hub's founding year to well past any evidence.
FIRST_MONTH, LAST_MONTH = dt.date(2016, 1, 1), dt.date(2099, 12, 1)


def parse_month(text: str) -> dt.date:
    """The first day of month ``YYYY-MM`` (ASCII digits, two for the month) from 2016-01 to
    2099-12; a clear error otherwise."""
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
            raise ValueError(text)
        start = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise HistoryError(f"{text!r} is not a month (YYYY-MM, e.g. 2025-12)") from None
    if not FIRST_MONTH <= start <= LAST_MONTH:
        raise HistoryError(
            f"{text!r} is outside the months a history can hold "
            f"({FIRST_MONTH:%Y-%m} to {LAST_MONTH:%Y-%m})"
        )
    return start


def estimate_monthly_downloads(
    evidence: Evidence,
    months: ir.Table,
    *,
    max_gap_days: int = 31,
    deconvolve: bool = True,
    keyed: bool = False,
    newest: dt.date | None = None,
    settle: bool = False,
) -> ir.Table:
    """model_id, month, month_start, month_end, days, complete, created, method, estimate, lower,
    upper, caveats.

    One row per known model (observed, or with a known creation date) and per month of
    ``months`` up to the newest observation (see the module docstring for methods and bounds).
    ``estimate`` is null only for ``none`` rows; ``upper`` is null where the month cannot be
    bounded from above. ``keyed`` adds ``mid``, an integer per model (a window partitioned by
    it runs three times faster than by the id). ``newest``: the newest day of the evidence
    this is a slice of (default: of ``evidence``). ``settle``: the observations are few enough
    to store in the engine once (a slice of the stored stage's), not read again by each method."""
    # read by several methods: built once, not once each (stored when ``settle`` bounds them)
    created, observations = evidence.created, evidence.observations
    evidence = replace(
        evidence,
        observations=materialise(observations) if settle else checkpoint(observations),
        created=materialise(created)
        if settle or evidence.daily is not None
        else checkpoint(created),
    )
    last = observed_days(evidence).day.max().as_scalar()
    newest = last if newest is None else ibis.literal(newest, "date")
    months = months.filter(months.month_start <= newest).mutate(
        month_end=ibis.least(months.month_end, newest).cast("date"),
        complete=months.month_end <= newest,
    )
    obs = evidence.observations
    kinds = set(obs.select("kind").distinct().to_pyarrow().column("kind").to_pylist())
    grid = checkpoint(model_months(evidence, months, daily_sums(evidence, "daily" in kinds)))
    joined = checkpoint(with_daily(grid, evidence))
    for candidate in _methods(grid, evidence, kinds, max_gap_days, deconvolve=deconvolve):
        joined = joined.left_join(candidate, list(KEYS)).select(
            *joined.columns, *[c for c in candidate.columns if c not in KEYS]
        )
    estimates = decode(_combine(joined), evidence.names)
    return estimates if keyed else estimates.drop("mid")


def _methods(
    grid: ir.Table, evidence: Evidence, kinds: set[str], max_gap: int, *, deconvolve: bool
) -> list[ir.Table]:
    """Each method's rows (deconvolved ``v_*``, all-time ``a_*``, 30-day ``r_*``); a kind
    nobody observed adds nothing, and its method is not built at all (nor deconvolution when
    no model's 30-day counts are dense enough for it)."""
    rolling = materialise(clean_rolling(evidence)[0])
    dense = materialise(dense_series(rolling)) if deconvolve and "rolling30" in kinds else None
    if dense is not None and not dense.limit(1).count().to_pyarrow().as_py():
        dense = None
    methods = (
        deconvolved_months(grid, dense, evidence.created)
        if dense is not None
        else _nothing(grid, "est", "lo", "hi"),
        all_time(grid, evidence, max_gap, rolling)
        if "all_time" in kinds
        else _nothing(grid, "est", "lo", "hi", reset="boolean"),
        _rolling(grid, rolling, evidence, max_gap)
        if "rolling30" in kinds
        else _nothing(grid, "est", "lo", "hi", gap="int64"),
    )
    return [
        checkpoint(m.rename(lambda c, p=prefix: c if c in KEYS else f"{p}_{c}"))
        for m, prefix in zip(methods, "var", strict=True)
    ]


def _nothing(grid: ir.Table, *floats: str, **typed: str) -> ir.Table:
    """A method's columns with no rows: what a method without evidence contributes."""
    columns = {name: ibis.null("float64") for name in floats}
    columns |= {name: ibis.null(kind) for name, kind in typed.items()}
    return grid.select(*KEYS, **columns).limit(0)


def _rolling(grid: ir.Table, rolling: ir.Table, evidence: Evidence, max_gap: int) -> ir.Table:
    """The 30-day count nearest the month end, scaled to the month, with window bounds."""
    created = evidence.created.select(c_id="model_id", c_created="created")
    rolling = rolling.left_join(created, rolling.model_id == created.c_id)
    rolling = rolling.filter(
        rolling.c_created.isnull() | (rolling.day >= rolling.c_created)
    ).select("model_id", "day", "value", epoch=ibis.literal(0, "int64"))
    t = grid.filter(grid.born).select(*KEYS, "start", "month_end", "created")
    t = t.semi_join(rolling, "model_id")
    t = lookup(t, rolling, "month_end", "b", backward=True)
    t = lookup(t, rolling, "month_end", "f", backward=False)
    gap_b = days_between(t.month_end, t.b_day)
    gap_f = days_between(t.f_day, t.month_end)
    use_f = t.f_day.notnull() & (t.b_day.isnull() | (gap_f <= gap_b))
    t = t.mutate(
        t_day=ibis.ifelse(use_f, t.f_day, t.b_day),
        r=ibis.ifelse(use_f, t.f_val, t.b_val).cast("float64"),
        gap=ibis.ifelse(use_f, gap_f, gap_b),
    ).filter(lambda s: s.t_day.notnull())
    first = (t.t_day - ibis.interval(days=WINDOW - 1)).cast("date")
    t = t.mutate(w_start=ibis.greatest(first, ibis.coalesce(t.created, first)).cast("date"))
    t = checkpoint(_ceilings(t, rolling))
    n = days_between(t.month_end, t.start) + 1
    width = days_between(t.t_day, t.w_start) + 1
    hi = t.r + t.u_left + t.u_right
    lo = ibis.greatest(t.r - t.v_left.fill_null(_BIG) - t.v_right.fill_null(_BIG), 0.0)
    seen = days_between(ibis.least(t.t_day, t.month_end), ibis.greatest(t.w_start, t.start)) + 1
    usable = (t.gap <= max_gap) & (seen * 2 >= n)
    return t.select(
        *KEYS,
        est=ibis.ifelse(usable, t.r * n / width, ibis.null("float64")),
        lo=lo,
        hi=hi,
        gap=t.gap,
    )


def _ceilings(t: ir.Table, rolling: ir.Table) -> ir.Table:
    """For the month days outside the chosen window (u_*) and the window days outside the month
    (v_*), the smallest 30-day count whose window holds them: 0 when there are none, null when
    no observation covers them."""
    day = ibis.interval(days=1)
    pieces = {
        "u_left": (t.start, ibis.least(t.month_end, t.w_start - day), t.w_start > t.start),
        "u_right": (ibis.greatest(t.start, t.t_day + day), t.month_end, t.t_day < t.month_end),
        "v_left": (t.w_start, ibis.least(t.t_day, t.start - day), t.w_start < t.start),
        "v_right": (ibis.greatest(t.w_start, t.month_end + day), t.t_day, t.t_day > t.month_end),
    }
    obs = rolling.select(o_id="model_id", o_day="day", o_val="value")
    spec = ibis.union(
        *[
            t.select(
                *KEYS, piece=ibis.literal(name), px=x.cast("date"), py=y.cast("date"), on=present
            )
            for name, (x, y, present) in pieces.items()
        ]
    )
    live = spec.filter(spec.on)
    reach = (live.px + ibis.interval(days=WINDOW - 1)).cast("date")
    hits = live.join(
        obs, (live.model_id == obs.o_id) & (obs.o_day >= live.py) & (obs.o_day <= reach)
    )
    best = hits.group_by([*KEYS, "piece"]).aggregate(low=hits.o_val.min().cast("float64"))
    spec = spec.left_join(best, [*KEYS, "piece"]).select(
        *KEYS, "piece", value=ibis.ifelse(ibis._.on, ibis._.low, 0.0)
    )
    wide = spec.group_by(KEYS).aggregate(
        **{name: spec.value.max(where=spec.piece == name) for name in pieces}
    )
    return t.join(wide, list(KEYS))


def _combine(t: ir.Table) -> ir.Table:
    """Pick the method, intersect the bounds, clamp the estimate, name the caveats."""
    method = ibis.cases(
        (~t.born, "not_created"),
        (t.d_est.notnull(), "daily"),
        (t.v_est.notnull(), "deconvolved"),
        (t.a_est.notnull(), "all_time"),
        (t.r_est.notnull(), "rolling30"),
        (t.d_partial.notnull(), "daily_partial"),
        else_="none",
    )
    chosen = {
        "daily": (t.d_lo, t.d_hi),
        "deconvolved": (t.v_lo, t.v_hi),
        "all_time": (t.a_lo, t.a_hi),
        "rolling30": (t.r_lo, t.r_hi),
        "daily_partial": (t.d_lo, t.d_hi),
    }
    t = t.mutate(method=method)
    lowers = [t.d_lo, t.v_lo, t.a_lo, t.r_lo]
    uppers = [t.d_hi, t.v_hi, t.a_hi, t.r_hi]
    lower = ibis.greatest(*[x.fill_null(0.0) for x in lowers])
    upper = ibis.least(*[x.fill_null(_BIG) for x in uppers])
    own_lo = ibis.cases(*[(t.method == m, lo) for m, (lo, _) in chosen.items()], else_=0.0)
    own_hi = ibis.cases(*[(t.method == m, hi) for m, (_, hi) in chosen.items()], else_=None)
    conflict = lower > upper
    t = t.mutate(
        lower=ibis.ifelse(conflict, own_lo.fill_null(0.0), lower),
        upper=ibis.ifelse(conflict, own_hi.fill_null(_BIG), upper),
        conflict=conflict,
        raw=ibis.cases(
            (t.method == "daily", t.d_est),
            (t.method == "deconvolved", ibis.coalesce(t.r_est, t.v_est)),
            (t.method == "all_time", t.a_est),
            (t.method == "rolling30", t.r_est),
            (t.method == "daily_partial", t.d_partial),
            else_=ibis.null("float64"),
        ),
    )
    zero = ~t.born
    clamped = ibis.least(ibis.greatest(t.raw, t.lower), t.upper)
    estimate = ibis.ifelse(t.raw.isnull(), ibis.null("float64"), clamped)
    caveats = _caveats(t)
    return t.select(
        *KEYS,
        "mid",
        "month_start",
        "month_end",
        "days",
        "complete",
        "created",
        "method",
        estimate=ibis.ifelse(zero, 0.0, estimate),
        lower=ibis.ifelse(zero, 0.0, t.lower),
        upper=ibis.ifelse(zero, 0.0, ibis.ifelse(t.upper >= _BIG, ibis.null("float64"), t.upper)),
        caveats=ibis.ifelse(caveats == "", ibis.null("string"), caveats),
    )


def _caveats(t: ir.Table) -> ir.StringValue:
    """conflict, counter_reset and nearest_<N>d (a 30-day count N days from the month end),
    joined by commas."""
    nearest = ((t.method == "rolling30") & (t.r_gap > 0)).fill_null(False)
    caveats = (
        ibis.ifelse(t.conflict.fill_null(False), ",conflict", "")
        + ibis.ifelse(t.a_reset.fill_null(False), ",counter_reset", "")
        + ibis.ifelse(nearest, ",nearest_" + t.r_gap.cast("string") + "d", "")
    )
    return caveats.substr(1)  # without the leading comma (string concatenation, not lists:
    # a list per row cost seconds on a year of the Hub)
