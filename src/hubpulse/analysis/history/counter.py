"""The ``all_time`` method of the monthly estimator: differences of the cumulative counter
across a month's boundaries (see ``estimator`` for the counting model and the method's rule),
and the as-of lookups the 30-day method shares.

**Counters 30 days back.** A 30-day count and the counter on the same day fix the counter 30
days earlier: R(t) = A(t) − A(t−30), so A(t−30) = A(t) − R(t), in the same epoch as A(t). Such
derived points join the observed ones (an observed point wins on its day). Weekly snapshots
then bracket a month boundary from two interleaved sets of days instead of one: the observed
days and the same days shifted 30 back, so the bracket is up to twice as tight.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.evidence import Evidence
from hubpulse.store.engines import checkpoint, is_spark

_KEYS = ("model_id", "month")


def counter_points(evidence: Evidence, clean: ir.Table | None = None) -> ir.Table:
    """Cleaned all_time observations with creation anchors and epoch numbers, plus the points
    30 days back that ``clean`` 30-day counts (model_id, day, value) fix."""
    obs = evidence.observations
    points = obs.filter(obs.kind == "all_time").select("model_id", "day", "value")
    rolling = obs.filter(obs.kind == "rolling30").select(
        r_id="model_id", r_day="day", r_value="value"
    )
    created = evidence.created.filter(evidence.created.created.notnull())
    anchors = created.select(
        "model_id",
        day=(created.created - ibis.interval(days=1)).cast("date"),
        value=ibis.literal(0, "int64"),
    )
    points = points.union(anchors.semi_join(points, "model_id")).distinct(on=["model_id", "day"])
    window = ibis.window(group_by="model_id", order_by="day")
    points = points.mutate(previous=points.value.lag().over(window))
    points = points.left_join(
        rolling, (points.model_id == rolling.r_id) & (points.day == rolling.r_day)
    ).select(*points.columns, "r_value")
    stale = (points.value == points.previous) & (points.r_value.fill_null(0) > 0)
    points = points.filter(~stale).select("model_id", "day", "value")
    points = points.mutate(previous=points.value.lag().over(window))
    reset = (points.value < points.previous).cast("int64").fill_null(0)
    points = points.mutate(epoch=reset.cumsum().over(window)).select(
        "model_id", "day", "value", "epoch"
    )
    if clean is not None:
        points = points.union(_thirty_back(points, clean).anti_join(points, ["model_id", "day"]))
    return checkpoint(points)


def _thirty_back(points: ir.Table, rolling: ir.Table) -> ir.Table:
    """A(t − 30) = A(t) − R(t) where both are seen on day t, in A(t)'s epoch; never below 0 (a
    30-day count above the counter contradicts the counting model and is not used)."""
    r = rolling.select(r_id="model_id", r_day="day", r_value="value")
    p = points.select(p_id="model_id", p_day="day", p_value="value", p_epoch="epoch")
    joined = p.join(r, [p.p_id == r.r_id, p.p_day == r.r_day])
    back = joined.select(
        model_id=joined.p_id,
        day=(joined.p_day - ibis.interval(days=30)).cast("date"),
        value=joined.p_value - joined.r_value,
        epoch=joined.p_epoch,
    )
    return back.filter(back.value >= 0)


def lookup(left: ir.Table, points: ir.Table, at: str, prefix: str, *, backward: bool) -> ir.Table:
    """As-of join: the nearest point (model_id, day, value, epoch; one per model and day) on or
    before (or on or after) ``left[at]``, as ``<prefix>_day``, ``_val`` and ``_epoch``.

    DuckDB runs it as an as-of join; Spark SQL has none, so there it is a window over the
    points and the wanted days together, then equality joins (``_nearest``): the same rows,
    as the engine parity tests check (DuckDB's own join is 1.5× faster than the window)."""
    if is_spark(left._find_backend(use_default=True)):
        return _nearest(left, points, at, prefix, backward=backward)
    right = points.select(
        **{f"{prefix}_id": "model_id", f"{prefix}_day": "day", f"{prefix}_val": "value"},
        **{f"{prefix}_epoch": "epoch"},
    )
    on = left[at] >= right[f"{prefix}_day"] if backward else left[at] <= right[f"{prefix}_day"]
    joined = left.asof_join(right, on=on, predicates=left.model_id == right[f"{prefix}_id"])
    return joined.select(*left.columns, *[c for c in right.columns if c != f"{prefix}_id"])


def _nearest(left: ir.Table, points: ir.Table, at: str, prefix: str, *, backward: bool) -> ir.Table:
    """``lookup`` as window functions: a running max of the point days up to each wanted day
    (or a running min of those from it on), then the point's value by an equality join."""
    wanted = left.select(model_id=left.model_id, day=left[at].cast("date")).distinct()
    # on a tie the point counts: it sorts before the wanted day looking back, after looking on
    point_rank, wanted_rank = (0, 1) if backward else (1, 0)
    marks = wanted.mutate(rank=ibis.literal(wanted_rank, "int8"), hit=ibis.null("date")).union(
        points.select("model_id", "day", rank=ibis.literal(point_rank, "int8"), hit="day")
    )
    frame = (None, 0) if backward else (0, None)
    window = ibis.window(group_by="model_id", order_by=["day", "rank"], rows=frame)
    nearest = marks.hit.max() if backward else marks.hit.min()
    found = marks.mutate(found=nearest.over(window))
    found = found.filter(found["rank"] == wanted_rank).select(
        w_id="model_id", w_day="day", w_hit="found"
    )
    right = points.select(p_id="model_id", p_day="day", p_val="value", p_epoch="epoch")
    found = found.left_join(right, (found.w_id == right.p_id) & (found.w_hit == right.p_day))
    found = found.select(
        "w_id",
        "w_day",
        **{f"{prefix}_day": "p_day", f"{prefix}_val": "p_val", f"{prefix}_epoch": "p_epoch"},
    )
    joined = left.left_join(
        found, (left.model_id == found.w_id) & (left[at].cast("date") == found.w_day)
    )
    columns = [c for c in found.columns if c not in ("w_id", "w_day")]
    return checkpoint(joined.select(*left.columns, *columns))


def all_time(
    grid: ir.Table, evidence: Evidence, max_gap: int, rolling: ir.Table | None = None
) -> ir.Table:
    """Counter differences across the month boundaries, interpolated, with outer/inner bounds
    (observed points, and those ``rolling`` fixes 30 days back)."""
    points = counter_points(evidence, rolling)
    t = grid.select(*_KEYS, "before", "month_end").semi_join(points, "model_id")
    t = lookup(t, points, "before", "p1", backward=True)
    t = lookup(t, points, "before", "q1", backward=False)
    t = lookup(t, points, "month_end", "p2", backward=True)
    t = lookup(t, points, "month_end", "q2", backward=False)
    one_epoch = t.p1_epoch == t.q2_epoch
    hi = ibis.ifelse(one_epoch, (t.q2_val - t.p1_val).cast("float64"), ibis.null("float64"))
    inner = (t.q1_day <= t.p2_day) & (t.q1_epoch == t.p2_epoch)
    lo = ibis.ifelse(inner, ibis.greatest(t.p2_val - t.q1_val, 0).cast("float64"), 0.0)
    near = (days_between(t.before, t.p1_day) <= max_gap) & (
        days_between(t.q2_day, t.month_end) <= max_gap
    )
    est = _interpolate(t, "q2", "p2", "month_end") - _interpolate(t, "q1", "p1", "before")
    return t.select(
        *_KEYS,
        est=ibis.ifelse(one_epoch & near, est, ibis.null("float64")),
        lo=lo,
        hi=hi,
        reset=(t.p1_epoch != t.q2_epoch).fill_null(False),
    )


def _interpolate(t: ir.Table, upper: str, lower: str, at: str) -> ir.FloatingValue:
    p_day, q_day = t[f"{lower}_day"], t[f"{upper}_day"]
    p_val, q_val = t[f"{lower}_val"].cast("float64"), t[f"{upper}_val"].cast("float64")
    span = days_between(q_day, p_day)
    done = days_between(t[at], p_day)
    return ibis.ifelse(span == 0, p_val, p_val + (q_val - p_val) * done / span)


def days_between(later: ir.Value, earlier: ir.Value) -> ir.IntegerValue:
    """Whole days from ``earlier`` to ``later``."""
    return later.delta(earlier, unit="day")  # type: ignore[attr-defined,no-any-return]
