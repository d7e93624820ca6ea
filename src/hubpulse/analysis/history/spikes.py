"""Spikes: a model-month that rose more than ``spike_factor`` times over the month before and fell
back by as much the month after — a burst of pulls (a CI loop, a mirror, a benchmark run), not
adoption that lasted. Raw counting keeps every download and names the jump in the caveats;
robust counting discounts a spike to the level around it (``discount_spikes``) and names each
one it discounted.

Both are read from the jump marks ``monthly.with_jumps`` stored with the estimates (a few rows,
not the model-months): a rise marked in one month, a fall marked in the next. The level around
a spike is the larger of its two neighbours, recovered from the marks' ratios (the month before
is the spike over its rise, the month after the spike times its fall).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def find_spikes(estimates: ir.Table) -> ir.Table:
    """model_id, month, month_start, jump (the rise), fall (the month after over the spike),
    level (the larger neighbour): every spike of ``estimates`` (model-months with jump
    marks, any range)."""
    marks = estimates.filter(estimates.jump.notnull())
    up = marks.filter(marks.jump > 1).select("model_id", "month", "month_start", "estimate", "jump")
    down = marks.filter(marks.jump < 1).select(
        d_id=marks.model_id,
        d_before=(marks.month_start - ibis.interval(months=1)).cast("date"),
        fall=marks.jump,
    )
    spikes = up.join(down, (up.model_id == down.d_id) & (up.month_start == down.d_before))
    level = ibis.greatest(spikes.estimate / spikes.jump, spikes.estimate * spikes.fall)
    return spikes.select(
        "model_id", "month", "month_start", "jump", "fall", level=level.round().cast("float64")
    )


def discount_spikes(estimates: ir.Table, spikes: ir.Table) -> ir.Table:
    """``estimates`` with each spike's month counted at the level around it (its lower bound
    no higher than that level; its upper bound kept) and the marks of the spike and of its
    fall cleared, so no caveat names what was discounted."""
    hit = spikes.select(s_id=spikes.model_id, s_start=spikes.month_start, level=spikes.level)
    after = spikes.select(
        a_id=spikes.model_id,
        a_start=(spikes.month_start + ibis.interval(months=1)).cast("date"),
        fell=ibis.literal(True),
    )
    t = estimates.left_join(
        hit, (estimates.model_id == hit.s_id) & (estimates.month_start == hit.s_start)
    )
    t = t.left_join(after, (t.model_id == after.a_id) & (t.month_start == after.a_start))
    spiked = t.level.notnull()
    cleared = spiked | t.fell.notnull()
    return t.mutate(
        estimate=ibis.ifelse(spiked, t.level, t.estimate),
        lower=ibis.ifelse(spiked, ibis.least(t.lower, t.level), t.lower),
        jump=ibis.ifelse(cleared, ibis.null("float64"), t.jump),
        jump_size=ibis.ifelse(cleared, ibis.null("float64"), t.jump_size),
    ).drop("s_id", "s_start", "level", "a_id", "a_start", "fell")
