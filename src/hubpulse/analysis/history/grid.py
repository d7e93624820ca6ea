"""The estimator's grid: every (model, month) a history holds, with the month's daily sum.

``model_months`` builds it sparse (see there); ``daily_sums`` gives the sums it reads and
``with_daily`` the ``daily`` and ``daily_partial`` methods' columns on it.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.counter import days_between
from hubpulse.analysis.history.evidence import Evidence
from hubpulse.store.engines import materialise

KEYS = ("model_id", "month")

_WORD = 62  # months per bit mask word (an int64; each bit set exactly as a power of 2.0)


def model_months(evidence: Evidence, months: ir.Table, sums: ir.Table | None) -> ir.Table:
    """Every (model, month) with the effective first day (creation cuts the month),
    ``observed``, the month's sum of daily counts (null: none), and ``mid``, an integer per
    model.

    Built sparse: the cells with a daily sum come from the sums themselves (joined with each
    model's row), the others from models × months less the months each model's bit mask holds,
    so the grid never meets the sums in a join on model and month (at Hub scale 45M cells
    against 30M sums: half a minute of spilling hash join, now a bit test per cell)."""
    seen = evidence.observations.select("model_id").union(evidence.created.select("model_id"))
    created = evidence.created.select(c_id="model_id", created="created")
    index, words = _month_index(months, evidence.observations)
    masks = [f"w{k}" for k in words] if sums is not None else []
    if sums is not None:
        sums = sums.semi_join(months.select("month_start"), "month_start")
        at = index(sums.month_start)
        # one sum per model and month, so adding the bits sets them (Spark has no bit_or)
        held = sums.group_by(h_id=sums.model_id).aggregate(
            **{w: _bit(at).sum(where=(at // _WORD) == k) for k, w in zip(words, masks, strict=True)}
        )
        seen = seen.union(held.select(model_id="h_id"))
    seen = seen.distinct()
    models = seen.left_join(created, seen.model_id == created.c_id)
    if sums is not None:
        models = models.left_join(held, seen.model_id == held.h_id)
    # one row per model, stored: both halves read it, and ``mid`` (numbered in no particular
    # order) must be the same number wherever a model's rows are read
    models = materialise(models.select("model_id", "created", *masks, mid=ibis.row_number().over()))
    rest = models.cross_join(months)
    if sums is None:
        grid = rest.mutate(observed=ibis.null("int64"))
    else:
        summed = sums.join(models, "model_id").join(months, "month_start")
        cell = index(rest.month_start)
        mask = ibis.cases(
            *[((cell // _WORD) == k, rest[w]) for k, w in zip(words, masks, strict=True)]
        )
        columns = ("model_id", "mid", "created", *months.columns, "observed")
        grid = summed.select(*columns).union(
            rest.filter((mask.fill_null(0) & _bit(cell)) == 0)
            .mutate(observed=ibis.null("int64"))
            .select(*columns)
        )
    start = ibis.greatest(grid.month_start, ibis.coalesce(grid.created, grid.month_start))
    return grid.mutate(
        start=start.cast("date"),
        before=(grid.month_start - ibis.interval(days=1)).cast("date"),
        born=grid.created.isnull() | (grid.created <= grid.month_end),
    )


def _month_index(
    months: ir.Table, evidence: ir.Table
) -> tuple[Callable[[ir.DateValue], ir.IntegerValue], range]:
    """A month's position in ``months`` (0 for the first) and the mask words they need.

    ``months`` may be an in-memory table alone (the newest day given, not read from the
    evidence): it is counted on the evidence's engine, never on Ibis's default connection,
    which another thread may be using (the dashboard's requests and a background build)."""
    first = months.month_start.min().as_scalar()
    backend = evidence._find_backend(use_default=True)
    count = int(backend.to_pyarrow(months.count()).as_py())

    def index(day: ir.DateValue) -> ir.IntegerValue:
        return (day.year() - first.year()) * 12 + day.month() - first.month()

    return index, range(max(1, -(-count // _WORD)))


def _bit(position: ir.IntegerValue) -> ir.IntegerValue:
    """The mask bit of a month position within its word."""
    return (ibis.literal(2.0) ** (position % _WORD)).cast("int64")


def daily_sums(evidence: Evidence, rows: bool) -> ir.Table | None:
    """model_id, month_start, observed: the sum of daily counts per model and month, as
    stored at import (loads before that kept daily rows, summed here; None: no daily
    evidence at all)."""
    if evidence.daily is None and not rows:
        return None
    obs = evidence.observations
    daily = obs.filter(obs.kind == "daily").left_join(evidence.created, "model_id")
    daily = daily.filter(daily.created.isnull() | (daily.day >= daily.created.cast("date")))
    sums = daily.group_by(model_id=daily.model_id, month_start=daily.day.truncate("M")).aggregate(
        observed=daily.value.sum()
    )
    if evidence.daily is None:
        return sums
    stored = evidence.daily.select("model_id", "month_start", "observed")
    if not rows:
        return stored
    both = sums.mutate(old=True).union(stored.mutate(old=False))
    return both.group_by(["model_id", "month_start"]).aggregate(
        observed=both.observed.argmin(both.old.cast("int64"))
    )


def with_daily(grid: ir.Table, evidence: Evidence) -> ir.Table:
    """The grid with d_est, d_partial, d_lo, d_hi: the sum of daily counts over the covered
    days, exact when the whole month is covered, scaled to it when only part is.

    The few shared sources' coverage is fetched once and computed on each row, never
    joined."""
    t = grid
    cov = evidence.coverage
    shared = cov.filter(cov.model_id.isnull()).to_pyarrow().to_pylist()  # one per daily source
    spans = [
        _overlap(t.start, t.month_end, ibis.literal(c["first_day"]), ibis.literal(c["last_day"]))
        for c in shared
    ]
    own = cov.filter(cov.model_id.notnull())  # per-model segments of cumulative counters
    pairs = grid.select(*KEYS, "start", "month_end").join(own, "model_id")
    segments = pairs.group_by(KEYS).aggregate(
        own=_overlap(pairs.start, pairs.month_end, pairs.first_day, pairs.last_day).sum()
    )
    t = t.left_join(segments, list(KEYS)).drop("model_id_right", "month_right")
    covered = ibis.greatest(t.own.fill_null(0), *spans) if spans else t.own.fill_null(0)
    need = days_between(t.month_end, t.start) + 1
    observed = t.observed.fill_null(0).cast("float64")
    some, full = covered > 0, covered >= need
    none = ibis.null("float64")
    return t.mutate(
        d_est=ibis.ifelse(some & full, observed, none),
        d_partial=ibis.ifelse(some & ~full, observed * need / covered, none),
        d_lo=ibis.ifelse(some, observed, none),
        d_hi=ibis.ifelse(some & full, observed, none),
    ).drop("observed", "own")


def _overlap(start: ir.Value, end: ir.Value, first: ir.Value, last: ir.Value) -> ir.IntegerValue:
    """Days from ``start`` to ``end`` that ``first`` … ``last`` covers (0 when none)."""
    return ibis.greatest(days_between(ibis.least(end, last), ibis.greatest(start, first)) + 1, 0)
