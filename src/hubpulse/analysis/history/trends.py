"""Trends: questions over time asked of a ``History`` (``analysis.history``) — a family's
monthly trend, concentration, the family-vs-next-N claim in a month, cumulative downloads and
milestones, and new derivatives per month — each carrying the bounds of the estimates it sums.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.history import History, TrendBy
from hubpulse.analysis.history.monthly import credited_estimates, monthly_downloads
from hubpulse.analysis.snapshot.dimensions import derivative_pairs
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.registry import UNATTRIBUTED, Registry

RELATIONS = ("finetune", "adapter", "quantized", "merge")


def family_trend(monthly: ir.Table, families: list[str], min_coverage: float = 0.8) -> ir.Table:
    """The monthly family rows of ``families`` with month-over-month growth, defined only
    between consecutive months that both have an estimate covering ``min_coverage``."""
    wanted = monthly.filter(monthly.family.isin(families))
    sound = wanted.estimate.notnull() & (wanted.coverage >= min_coverage) & wanted.through.isnull()
    wanted = wanted.mutate(sound=sound.fill_null(False))
    window = ibis.window(group_by="family", order_by="month")
    previous = wanted.estimate.lag().over(window)
    previous_sound = wanted.sound.lag().over(window)
    growth = ibis.ifelse(
        wanted.sound & previous_sound.fill_null(False) & (previous > 0),
        wanted.estimate / previous - 1,
        ibis.null("float64"),
    )
    return wanted.select(
        "family",
        "month",
        "through",
        "estimate",
        "lower",
        "upper",
        mom_growth=growth,
        share="share",
        coverage="coverage",
        estimated="estimated",
        models="models",
        caveats="caveats",
        methods="methods",
    ).order_by(["family", "month"])


def concentration(
    monthly: ir.Table, by: TrendBy, top: int = 5, min_coverage: float = 0.8
) -> ir.Table:
    """month, coverage, groups, total, top1_share, top<N>_share, hhi (0–10,000), gini (0–1),
    over the attributed groups with an estimate (``(unattributed)`` is left out), from point
    estimates; the measures are null in months whose coverage (the part of all models' newest
    30-day downloads that was estimated) is below ``min_coverage``."""
    months = monthly.group_by("month").aggregate(cover=monthly.month_coverage.max())
    rows = monthly.filter((monthly[by] != UNATTRIBUTED) & (monthly.estimate > 0))
    total = rows.estimate.sum().over(group_by="month")
    rank_desc = ibis.row_number().over(group_by="month", order_by=ibis.desc("estimate")) + 1
    rank_asc = ibis.row_number().over(group_by="month", order_by="estimate") + 1
    rows = rows.mutate(s=rows.estimate / total, rank_desc=rank_desc, rank_asc=rank_asc)
    stats = rows.group_by("month").aggregate(
        groups=rows.count(),
        total=rows.estimate.sum(),
        top1_share=rows.s.sum(where=rows.rank_desc == 1),
        top_n_share=rows.s.sum(where=rows.rank_desc <= top),
        hhi=(rows.s * rows.s).sum() * 10_000,
        weighted=(rows.rank_asc * rows.estimate).sum(),
    )
    stats = months.left_join(stats, "month").drop("month_right")
    n = stats.groups.cast("float64")
    gini = 2 * stats.weighted / (n * stats.total) - (n + 1) / n
    ok = stats.cover >= min_coverage

    def when_ok(value: ir.Value) -> ir.Value:
        return ibis.ifelse(ok, value, ibis.null(value.type()))

    return stats.select(
        "month",
        coverage=stats.cover.round(4),
        groups=stats.groups,
        total=stats.total,
        top1_share=when_ok(stats.top1_share),
        **{f"top{top}_share": when_ok(stats.top_n_share)},
        hhi=when_ok(stats.hhi.round(1)),
        gini=when_ok(gini.round(4)),
    ).order_by("month")


def cumulative_downloads(
    estimates: ir.Table, shares: ir.Table, registry: Registry, by: TrendBy = "family"
) -> ir.Table:
    """month, <by>, cumulative estimate/lower/upper since the first month of ``estimates``.

    A model created before that month (or of unknown creation) brings an unknown base: the
    group's cumulative ``upper`` is then null and ``base_unknown`` counts such models. A month
    with no estimate is no data, not zero: the cumulative estimate is null from it on (the
    lower bound still holds, as no month has fewer than 0 downloads)."""
    key = "model_id" if by == "model" else by
    monthly = monthly_downloads(estimates, shares, registry, by)
    start = estimates.month_start.min().as_scalar()
    credited = credited_estimates(estimates, shares, registry)
    older = credited.filter(credited.created.isnull() | (credited.created < start))
    unknown = older.group_by(key).aggregate(base_unknown=older.model_id.nunique())
    monthly = monthly.left_join(unknown, key).drop(f"{key}_right")
    running = ibis.window(group_by=key, order_by="month", preceding=None, following=0)
    open_ended = monthly.upper.isnull().cast("int64").max().over(running)
    gap = monthly.estimate.isnull().cast("int64").max().over(running)
    base = monthly.base_unknown.fill_null(0)
    return monthly.select(
        "month",
        key,
        cumulative=ibis.ifelse(gap > 0, None, monthly.estimate.sum().over(running)).cast("int64"),
        lower=monthly.lower.sum().over(running),
        upper=ibis.ifelse(
            (open_ended > 0) | (base > 0), None, monthly.upper.sum().over(running)
        ).cast("int64"),
        base_unknown=base,
    ).order_by([key, "month"])


def find_milestones(
    cumulative_rows: list[dict[str, Any]], thresholds: list[int], key: str = "family"
) -> list[dict[str, Any]]:
    """For each threshold, the estimated day the cumulative count crossed it (linear within the
    month), and the earliest (upper curve) and latest (lower curve) days it may have."""
    results = []
    for threshold in thresholds:
        found = {
            key: cumulative_rows[0][key] if cumulative_rows else None,
            "threshold": threshold,
            "estimated": _crossing(cumulative_rows, "cumulative", threshold),
            "earliest": _crossing(cumulative_rows, "upper", threshold),
            "latest": _crossing(cumulative_rows, "lower", threshold),
        }
        results.append(found | {"why": _undated(cumulative_rows, found, threshold)})
    return results


def _undated(rows: list[dict[str, Any]], found: dict[str, Any], threshold: int) -> str:
    """Why a crossing (or its bounds) cannot be dated; "" when all three are dated."""
    if not rows:
        return "no months with estimates"
    why = []
    if found["estimated"] is None:
        gap = next((r["month"] for r in rows if r["cumulative"] is None), None)
        reached = max((r["cumulative"] for r in rows if r["cumulative"] is not None), default=0)
        if gap is not None and reached < threshold:
            why.append(f"no estimate for {gap} (no data, not zero): the curve stops at {reached:,}")
        elif gap is None:
            why.append(f"not reached by {rows[-1]['month']} ({reached:,} since {rows[0]['month']})")
    if found["earliest"] is None and any(r["upper"] is None for r in rows):
        older = rows[-1].get("base_unknown") or 0
        why.append(
            f"earliest: {older:,} models older than {rows[0]['month']} bring an unknown base"
            if older
            else "earliest: a month without an upper bound"
        )
    if found["latest"] is None:
        why.append(f"latest: the lower bound reaches {rows[-1]['lower'] or 0:,} only")
    return "; ".join(why)


def family_milestones(
    history: History, family: str, thresholds: list[int]
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """``milestones``: the family's registry name, the day its cumulative downloads since the
    history's first month crossed each threshold (``find_milestones``) and the cumulative
    curve they were read from."""
    name = check_families(history.registry, [family])[0]
    curve = cumulative_downloads(history.estimates, history.shares, history.registry)
    rows = curve.filter(curve.family == name).to_pyarrow().to_pylist()
    return name, find_milestones(rows, thresholds), rows


def _crossing(rows: list[dict[str, Any]], column: str, threshold: int) -> dt.date | None:
    previous = 0.0
    for row in rows:
        value = row[column]
        if value is None:
            return None
        if value >= threshold:
            start = dt.date.fromisoformat(row["month"] + "-01")
            days = ((start + dt.timedelta(days=32)).replace(day=1) - start).days
            fraction = (threshold - previous) / (value - previous) if value > previous else 1.0
            return start + dt.timedelta(days=max(0, round(fraction * days) - 1))
        previous = value
    return None


def count_new_derivatives(
    analysis: Analysis, first: str, last: str, families: list[str] | None = None
) -> ir.Table:
    """month, family, new derivatives per relation and in total, by repo creation month: the
    snapshot's descendants of each family's first-party repos (a lineage fact, mode-free)."""
    pairs = derivative_pairs(analysis, "family")
    models = analysis.models.select("model_id", "created_at", "base_relation")
    rows = pairs.join(models, pairs.descendant == models.model_id)
    rows = rows.filter(rows.created_at.notnull()).select(
        month=rows.created_at.strftime("%Y-%m"),
        family=rows.key,
        model_id=rows.descendant,
        relation=ibis.coalesce(rows.base_relation, ibis.literal("unknown")),
    )
    rows = rows.filter((rows.month >= first) & (rows.month <= last))
    if families:
        rows = rows.filter(rows.family.isin(families))
    counts = {rel: rows.model_id.nunique(where=rows.relation == rel) for rel in RELATIONS}
    grouped = rows.group_by(["month", "family"]).aggregate(
        **counts,
        unknown=rows.model_id.nunique(where=rows.relation == "unknown"),
        total=rows.model_id.nunique(),
    )
    return grouped.order_by(["month", ibis.desc("total"), "family"])


def check_families(registry: Registry, names: list[str]) -> list[str]:
    """Registry spellings of ``names`` (a clear error for an unknown one)."""
    return [registry.get(name).name for name in names]
