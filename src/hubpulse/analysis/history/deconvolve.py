"""Deconvolution: what a 30-day count observed day after day says about each day's downloads.

Under the counting model (``estimator``) a 30-day count is R(t) = d(t-29) + … + d(t) with
d ≥ 0, so counts on two consecutive observed days differ by one day in and one day out:

    R(t) − R(t−1) = d(t) − d(t−30).

That *links* day t to day t−30: along a *run* of linked days (30 apart) every day is the run's
first day plus a known sum of differences D(t). Each day gets bounds ``lo ≤ d(t) ≤ hi``:

1. non-negativity of every member of its run (lo), and, for hi, 0 before the repo's creation
   or the smallest count whose window holds the day, both carried along the run;
2. then the window sums: a day can hold at most its window's count minus the other days' lower
   bounds (the window's *slack*), and at least the count minus the others' upper bounds; again
   carried along the run.

A month is then the window of the count observed nearest its end (the *anchor*) plus the month
days outside that window minus the window days outside the month; the window part is bounded by
the anchor's count and slack, the rest by the day bounds. For a contiguous series these are the
tightest bounds any method can give (the tests check them against a linear programme), and when
the series starts on or before creation every day is exact. A missing day only cuts the two
links that need it, so bounds stay rigorous across gaps, just wider.

Observations that contradict the model, or look like collection failures, are left out and
listed with their reason (``clean_rolling``, ``contradictions``):

- ``glitch``: a dip of one to three days below 3/4 of the counts on both sides, the Hub's known
  collection glitch (it zeroes part of the window for a day or a few). A genuine dip of that
  shape needs a one-day spike 30 days earlier *and* a new one now; leaving it out only widens.
- ``stale``: the same count as the day before on a day when at least half of the (≥ 10) models
  observed on both days repeat theirs: a collection that did not refresh.
- ``before_creation``: a positive 30-day count before the repo was created.
- ``contradiction``: a model whose counts need negative downloads somewhere (a window
  holding more than its count, or a day whose floor exceeds its ceiling). Such a model is
  not deconvolved at all: its months keep the other methods' bounds.
"""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.analysis.history.evidence import Evidence, read_evidence
from hubpulse.store.engines import checkpoint, materialise
from hubpulse.store.warehouse import Warehouse

WINDOW = 30
GLITCH_DAYS = 3  # the longest dip read as a glitch
GLITCH_SHARE = (3, 4)  # … below 3/4 of both neighbours
DENSE_DAYS = 14  # half of the shortest month: fewer counts in every month, nothing to deconvolve
STALE_MODELS = 10  # a day is read as not refreshed when half of at least this many models repeat
_KEYS = ("model_id", "month")


def clean_rolling(evidence: Evidence) -> tuple[ir.Table, ir.Table]:
    """The 30-day counts fit to use (model_id, day, value) and those left out (model_id, day,
    value, reason)."""
    kept, left = _kept(evidence)
    per_day = evidence.repeats if evidence.repeats is not None else _tally(kept)
    frozen = per_day.filter(
        (per_day.pairs >= STALE_MODELS) & (per_day.repeats * 2 >= per_day.pairs)
    ).select(f_day="day")
    kept = kept.left_join(frozen, kept.day == frozen.f_day)
    stale = kept.repeat & kept.f_day.notnull()
    repeats = kept.filter(stale).select(
        "model_id",
        "day",
        "value",
        reason=ibis.literal(
            "stale: the same 30-day count as the day before, on a day most models' counts "
            "did not move (a collection that did not refresh)"
        ),
    )
    clean = kept.filter(~stale).select("model_id", "day", "value")
    return clean, ibis.union(*left, repeats)


def stale_candidates(evidence: Evidence) -> ir.Table:
    """day: the days that could be stale. A day's pairs are at most the 30-day counts of that
    day and of the day before, so only a day where both hold ``STALE_MODELS`` of them can be
    (a year of weekly dumps has a few: two dumps on consecutive days)."""
    obs = evidence.observations
    rolling = obs.filter(obs.kind == "rolling30")
    per_day = rolling.group_by("day").aggregate(n=rolling.count())
    busy = per_day.filter(per_day.n >= STALE_MODELS).select("day")
    before = busy.select(b_day=(busy.day + ibis.interval(days=1)).cast("date"))
    return busy.join(before, busy.day == before.b_day).select("day")


def near(evidence: Evidence, days: ir.Table) -> Evidence:
    """The evidence's observations within ``GLITCH_DAYS`` + 1 days before one of ``days`` and
    ``GLITCH_DAYS`` after: all that a 30-day count's glitch mark, and so a day's tally,
    depends on."""
    obs = evidence.observations
    shifts = ibis.memtable({"shift": list(range(-GLITCH_DAYS - 1, GLITCH_DAYS + 1))})
    span = days.cross_join(shifts)
    span = span.select(day=(span.day + span.shift.as_interval("D")).cast("date")).distinct()
    return replace(evidence, observations=obs.semi_join(span, "day"))  # a join on equal days


def repeat_tally(evidence: Evidence, days: ir.Table) -> ir.Table:
    """day, pairs, repeats on ``days``: the models whose 30-day count was also seen the day
    before (and positive), and those among them whose count did not move. A day most did not
    move is stale for every model, so an estimate built a slice of models at a time gives each
    slice the whole evidence's tally (``Evidence.repeats``). Exact when ``evidence`` holds at
    least the counts ``near`` the days."""
    return _tally(_kept(evidence)[0]).semi_join(days, "day")


def _tally(kept: ir.Table) -> ir.Table:
    return kept.group_by("day").aggregate(pairs=kept.pair.sum(), repeats=kept.repeat.sum())


def _kept(evidence: Evidence) -> tuple[ir.Table, list[ir.Table]]:
    """The 30-day counts past the creation and glitch checks, marked ``pair`` (seen the day
    before too) and ``repeat`` (unchanged since), and those the checks left out."""
    obs = evidence.observations
    rolling = obs.filter(obs.kind == "rolling30").select("model_id", "day", "value")
    created = evidence.created.select(c_id="model_id", c_created="created")
    rolling = rolling.left_join(created, rolling.model_id == created.c_id).select(
        "model_id", "day", "value", created="c_created"
    )
    early = rolling.created.notnull() & (rolling.day < rolling.created) & (rolling.value > 0)
    before = rolling.filter(early).select(
        "model_id",
        "day",
        "value",
        reason="positive 30-day count before the repo's creation on "
        + rolling.created.cast("string"),
    )
    marked = checkpoint(_glitches(rolling.filter(~early).select("model_id", "day", "value")))
    glitches = marked.filter(marked.glitch > 0).select(
        "model_id",
        "day",
        "value",
        reason="glitch: a dip of "
        + marked.glitch.cast("string")
        + " day(s) below 3/4 of the 30-day counts on both sides",
    )
    kept = marked.filter(marked.glitch == 0).select("model_id", "day", "value")
    w = ibis.window(group_by="model_id", order_by="day")
    kept = kept.mutate(p_day=kept.day.lag().over(w), p_val=kept.value.lag().over(w))
    pair = (kept.day.delta(kept.p_day, unit="day") == 1) & (kept.p_val > 0)  # type: ignore[attr-defined]
    repeat = (pair & (kept.value == kept.p_val)).fill_null(False)
    return kept.mutate(repeat=repeat, pair=pair.fill_null(False)), [before, glitches]


def left_out(evidence: Evidence) -> ir.Table:
    """model_id, day, value, reason: every 30-day count the estimator leaves out, and the first
    contradiction of each model it does not deconvolve, ordered by reason, model and day."""
    clean, out = clean_rolling(evidence)
    listed = out.union(contradictions(clean, evidence.created))
    return listed.order_by([listed.reason.split(":")[0], "model_id", "day"])


def list_left_out(warehouse: Warehouse) -> pa.Table:
    """``left_out`` of everything the warehouse holds."""
    return warehouse.execute(left_out(read_evidence(warehouse)))


def _glitches(rolling: ir.Table) -> ir.Table:
    """model_id, day, value, glitch: the length of the dip a day belongs to (0 for none)."""
    w = ibis.window(group_by="model_id", order_by="day")
    one = ibis.interval(days=1)
    t = rolling.mutate(p_day=rolling.day.lag().over(w), p_val=rolling.value.lag().over(w))
    for i in range(1, GLITCH_DAYS + 1):
        t = t.mutate(**{f"n{i}_day": t.day.lead(i).over(w), f"n{i}_val": t.value.lead(i).over(w)})
    num, den = GLITCH_SHARE
    runs = []
    for m in range(1, GLITCH_DAYS + 1):
        inside = [t.value] + [t[f"n{i}_val"] for i in range(1, m)]
        after, after_day = t[f"n{m}_val"], t[f"n{m}_day"]
        consecutive = [t.p_day == (t.day - one).cast("date")] + [
            t[f"n{i}_day"] == (t.day + ibis.interval(days=i)).cast("date") for i in range(1, m + 1)
        ]
        deepest = ibis.greatest(*inside) if m > 1 else t.value
        dip = deepest * den < ibis.least(t.p_val, after) * num
        ok = dip
        for c in consecutive:
            ok = ok & c
        runs.append(ok.fill_null(False) & after_day.notnull())
    # the longest dip a day starts: a two-day glitch whose first day is also lower than its
    # second is still one dip of two days, not a dip of one followed by a genuine day
    longest = range(GLITCH_DAYS, 0, -1)
    start = ibis.cases(*[(runs[m - 1], m) for m in longest], else_=0)
    t = t.mutate(start=start)
    cover = [t.start]
    for back in range(1, GLITCH_DAYS):
        earlier = t.start.lag(back).over(w)
        cover.append(ibis.ifelse(earlier > back, earlier, 0).fill_null(0))
    return t.select("model_id", "day", "value", glitch=ibis.greatest(*cover))


def day_bounds(clean: ir.Table, created: ir.Table) -> ir.Table:
    """model_id, n (day number), day, value (the 30-day count, where observed), lo, hi (bounds
    on the day's downloads; hi null = unbounded), slack (at observed days: R minus the window's
    lower bounds) and bad (the model contradicts the counting model somewhere). Only models
    with counts on two consecutive days are deconvolved: a lone count (a snapshot's) links
    nothing, and the month-end method already bounds it."""
    t = checkpoint(_chains(checkpoint(_span(_series_only(clean), created))))
    t = checkpoint(_through_runs(t, t.pinned_hi, ibis.literal(0, "int64"), "1"))
    win = ibis.window(group_by="model_id", order_by="n", range=(-(WINDOW - 1), 0))
    ahead = ibis.window(group_by="model_id", order_by="n", range=(0, WINDOW - 1))
    full = t.hi1.count().over(win) == WINDOW
    t = t.mutate(
        slack=t.value - t.lo1.sum().over(win),
        excess=ibis.ifelse(full, t.hi1.sum().over(win), ibis.null("int64")) - t.value,
    )
    t = t.mutate(
        hi_local=t.lo1 + t.slack.min().over(ahead), lo_local=t.hi1 - t.excess.min().over(ahead)
    )
    t = checkpoint(t)
    t = _through_runs(t, ibis.least(t.hi_local, t.hi1), ibis.greatest(t.lo_local, t.lo1), "")
    broken = ((t.lo > t.hi) | (t.slack < 0) | (t.excess < 0)).fill_null(False)
    t = t.mutate(broken=broken, bad=broken.any().over(ibis.window(group_by="model_id")))
    return t.select("model_id", "n", "day", "value", "lo", "hi", "slack", "broken", "bad")


def contradictions(clean: ir.Table, created: ir.Table) -> ir.Table:
    """model_id, day, value, reason: for each model whose 30-day counts the counting model
    cannot explain, the first day where it breaks; its months keep the other methods' bounds."""
    days = day_bounds(clean, created)
    broken = days.filter(days.broken)
    first = broken.group_by("model_id").aggregate(
        day=broken.day.min(), value=broken.value.argmin(broken.n), days=broken.n.count()
    )
    return first.select(
        "model_id",
        "day",
        "value",
        reason="contradiction: the 30-day counts need negative downloads or downloads before "
        "creation on " + first.days.cast("string") + " day(s), the first shown (not deconvolved)",
    )


def _series_only(clean: ir.Table) -> ir.Table:
    w = ibis.window(group_by="model_id", order_by="day")
    linked = clean.day.delta(clean.day.lag().over(w), unit="day") == 1  # type: ignore[attr-defined]
    series = clean.mutate(linked=linked.fill_null(False))
    series = series.filter(series.linked).select("model_id").distinct()
    return clean.semi_join(series, "model_id")


def _span(clean: ir.Table, created: ir.Table) -> ir.Table:
    """One row per model and day from its first observed window to its last observation: n,
    day, value (null where not observed) and pinned_hi (0 before creation, else the smallest
    30-day count whose window holds the day; null when none does)."""
    obs = clean.select("model_id", "value", n=clean.day.epoch_days())
    ends = obs.group_by("model_id").aggregate(first=obs.n.min() - (WINDOW - 1), last=obs.n.max())
    days = ends.select("model_id", n=ibis.range(ends.first, ends.last + 1).unnest())
    t = days.left_join(obs, ["model_id", "n"]).select("model_id", "n", "value")
    born = created.select(c_id="model_id", c_n=created.created.epoch_days())
    t = t.left_join(born, t.model_id == born.c_id).drop("c_id")
    ahead = ibis.window(group_by="model_id", order_by="n", range=(0, WINDOW - 1))
    smallest = t.value.min().over(ahead)
    return t.mutate(
        day=(ibis.date(1970, 1, 1) + t.n.as_interval("D")).cast("date"),
        pinned_hi=ibis.ifelse(t.c_n.notnull() & (t.n < t.c_n), 0, smallest),
    ).drop("c_n")


def _chains(t: ir.Table) -> ir.Table:
    """Adds run (days 30 apart linked by consecutive observations) and d = D(t), the sum of
    R(u) − R(u−1) along the run: each day is then its run's first day plus d."""
    w = ibis.window(group_by="model_id", order_by="n")
    step = t.value - t.value.lag().over(w)  # null unless both days are observed
    t = t.mutate(step=step, r=t.n % WINDOW)
    chain = ibis.window(group_by=["model_id", "r"], order_by="n")
    t = t.mutate(run=t.step.isnull().cast("int64").cumsum().over(chain))
    run = ibis.window(group_by=["model_id", "r", "run"], order_by="n")
    return t.mutate(d=t.step.fill_null(0).cumsum().over(run))


def _through_runs(t: ir.Table, hi: ir.Value, lo: ir.Value, suffix: str) -> ir.Table:
    """Day bounds carried along each run: the run's first day lies within every member's
    bounds shifted by its d."""
    run = ibis.window(group_by=["model_id", "r", "run"])
    first_hi = (hi - t.d).min().over(run)
    first_lo = ibis.greatest((lo - t.d).max().over(run), (-t.d).max().over(run))
    return t.mutate(**{f"lo{suffix}": first_lo + t.d, f"hi{suffix}": first_hi + t.d})


def dense_series(clean: ir.Table) -> ir.Table:
    """The 30-day counts of the models whose counts were seen on at least half the days of some
    calendar month: the only ones the method can estimate a month from. Sparse counts (say,
    weekly dumps) would be spread into a year of day bounds per model for nothing: their months
    are bounded by the counter (with the counter 30 days back, ``counter``) and the 30-day
    method instead."""
    month = clean.day.truncate("M")
    counts = clean.group_by([clean.model_id, month.name("month")]).aggregate(n=ibis._.count())
    dense = counts.filter(counts.n >= DENSE_DAYS).select("model_id").distinct()
    return clean.semi_join(dense, "model_id")


def deconvolved_months(grid: ir.Table, clean: ir.Table, created: ir.Table) -> ir.Table:
    """model_id, month, est, lo, hi: each model-month's bounds from the day bounds and the
    30-day count observed nearest the month end (its *anchor* u): the month is the anchor's
    window (W, exact in sum up to the window days outside the month, E) plus the month days
    outside the window (X). ``hi`` is null where a day of the month is unbounded; ``est`` (the
    middle of the bounds) only where the count was seen on at least half the month's days."""
    days = day_bounds(clean, created)
    days = materialise(days.filter(~days.bad))
    g = grid.filter(grid.born).select(
        *_KEYS, s_n=grid.start.epoch_days(), e_n=grid.month_end.epoch_days()
    )
    g = g.mutate(need=g.e_n - g.s_n + 1)
    anchored = checkpoint(_anchors(g, days))
    t = days.select(o_id="model_id", n="n", lo="lo", hi="hi", seen=days.value.notnull())
    span_lo = ibis.least(anchored.s_n, ibis.coalesce(anchored.u - (WINDOW - 1), anchored.s_n))
    span_hi = ibis.greatest(anchored.e_n, ibis.coalesce(anchored.u, anchored.e_n))
    t = anchored.join(t, (anchored.model_id == t.o_id) & (t.n >= span_lo) & (t.n <= span_hi)).drop(
        "o_id"
    )
    month = (t.n >= t.s_n) & (t.n <= t.e_n)
    window = (t.n >= t.u - (WINDOW - 1)) & (t.n <= t.u)
    w, x, e = month & window.fill_null(False), month & ~window.fill_null(False), ~month
    sums = t.group_by([*_KEYS, "need", "u_value", "u_slack"]).aggregate(
        w_lo=t.lo.sum(where=w),
        w_hi=t.hi.sum(where=w),
        w_n=t.n.count(where=w),
        w_open=t.hi.isnull().sum(where=w),
        x_lo=t.lo.sum(where=x),
        x_hi=t.hi.sum(where=x),
        x_n=t.hi.count(where=x),
        e_lo=t.lo.sum(where=e),
        e_hi=t.hi.sum(where=e),
        e_open=t.hi.isnull().sum(where=e),
        seen=t.seen.sum(where=month),
    )
    return _month_bounds(sums)


def _anchors(g: ir.Table, days: ir.Table) -> ir.Table:
    """The grid with u, u_value, u_slack: the observed day nearest the month end (earlier on a
    tie) among those whose window reaches into the month; null when there is none."""
    obs = days.filter(days.value.notnull()).select(
        o_id="model_id", o_n="n", o_value="value", o_slack="slack"
    )
    pairs = g.join(
        obs, (g.model_id == obs.o_id) & (obs.o_n >= g.s_n) & (obs.o_n <= g.e_n + WINDOW - 1)
    )
    distance = (pairs.o_n - pairs.e_n).abs() * 2 + (pairs.o_n > pairs.e_n).cast("int64")
    best = pairs.group_by(_KEYS).aggregate(
        u=pairs.o_n.argmin(distance),
        u_value=pairs.o_value.argmin(distance),
        u_slack=pairs.o_slack.argmin(distance),
    )
    return g.left_join(best, list(_KEYS)).drop("model_id_right", "month_right")


def _month_bounds(t: ir.Table) -> ir.Table:
    r, slack = t.u_value, t.u_slack
    anchored = r.notnull()
    lo_w = ibis.greatest(
        t.w_lo.fill_null(0),
        ibis.ifelse(t.e_open.fill_null(0) == 0, r - t.e_hi.fill_null(0), None),
        r - t.e_lo.fill_null(0) - slack,
    )
    hi_w = ibis.least(
        ibis.ifelse(t.w_open == 0, t.w_hi, None),
        r - t.e_lo.fill_null(0),
        t.w_lo.fill_null(0) + slack,
    )
    lower = ibis.ifelse(anchored, lo_w, 0) + t.x_lo.fill_null(0)
    x_closed = t.x_n == t.need - t.w_n.fill_null(0)
    upper = ibis.ifelse(anchored, hi_w, 0) + ibis.ifelse(x_closed, t.x_hi.fill_null(0), None)
    upper = upper.cast("float64")
    lower = lower.cast("float64")
    daily = upper.notnull() & (t.seen.fill_null(0) * 2 >= t.need)
    return t.select(
        *_KEYS,
        est=ibis.ifelse(daily, (lower + upper) / 2, ibis.null("float64")),
        lo=lower,
        hi=upper,
    )
