"""Trends: questions over time asked of a ``History`` (``analysis.history``) — a family's
monthly trend, concentration, the family-vs-next-N claim in a month, cumulative downloads and
milestones, and new derivatives per month — each carrying the bounds of the estimates it sums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.estimator import HistoryError
from hubpulse.analysis.history import History, TrendBy, credited_estimates, monthly_downloads
from hubpulse.analysis.metrics import derivative_pairs
from hubpulse.analysis.snapshot import Analysis
from hubpulse.errors import UnknownFamilyError
from hubpulse.registry import UNATTRIBUTED, Registry
from hubpulse.settings import Mode

RELATIONS = ("finetune", "adapter", "quantized", "merge")


def family_trend(monthly: ir.Table, families: list[str]) -> ir.Table:
    """The monthly family rows of ``families`` with month-over-month growth."""
    wanted = monthly.filter(monthly.family.isin(families))
    previous = wanted.estimate.lag().over(group_by="family", order_by="month")
    growth = ibis.ifelse(previous > 0, wanted.estimate / previous - 1, ibis.null("float64"))
    return wanted.select(
        "family",
        "month",
        "estimate",
        "lower",
        "upper",
        mom_growth=growth,
        share="share",
        methods="methods",
    ).order_by(["family", "month"])


def concentration(monthly: ir.Table, by: TrendBy, top: int = 5) -> ir.Table:
    """month, groups, total, top1_share, top<N>_share, hhi (0–10,000), gini (0–1), over the
    attributed groups (``(unattributed)`` is left out), from point estimates."""
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
    n = stats.groups.cast("float64")
    gini = 2 * stats.weighted / (n * stats.total) - (n + 1) / n
    return stats.select(
        "month",
        "groups",
        "total",
        "top1_share",
        **{f"top{top}_share": stats.top_n_share},
        hhi=stats.hhi.round(1),
        gini=gini.round(4),
    ).order_by("month")


@dataclass(frozen=True)
class MonthlyComparison:
    """A family's estimated downloads in one calendar month against the next N combined."""

    family: str
    mode: Mode
    month: str
    next_n: int
    rank: int
    value: dict[str, int | None]
    combined: dict[str, int | None]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``holds`` when even the family's lower bound beats the others' upper bound,
        ``fails`` when its upper bound is below their lower bound, else undecided."""
        own_lo, own_hi = self.value["lower"], self.value["upper"]
        other_lo, other_hi = self.combined["lower"], self.combined["upper"]
        if other_hi is not None and own_lo is not None and own_lo > other_hi:
            return "holds"
        if own_hi is not None and other_lo is not None and own_hi < other_lo:
            return "fails"
        return "undecided within error"

    @property
    def point_verdict(self) -> str:
        value, other = self.value["estimate"] or 0, self.combined["estimate"] or 0
        return "exceeds" if value > other else "does not exceed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "mode": self.mode,
            "month": self.month,
            "next_n": self.next_n,
            "rank": self.rank,
            "value": self.value,
            "combined_next": self.combined,
            "verdict": self.verdict,
            "point_estimate_verdict": self.point_verdict,
            "families": self.rows,
        }


def compare_month(
    monthly_rows: list[dict[str, Any]], family: str, next_n: int, *, mode: Mode, month: str
) -> MonthlyComparison:
    """Compare ``family`` with the ``next_n`` families ranked below it by estimate in
    ``month``; ``monthly_rows`` are executed ``monthly_downloads(by="family")`` rows."""
    ordered = sorted(
        (r for r in monthly_rows if r["month"] == month and r["family"] != UNATTRIBUTED),
        key=lambda r: (-(r["estimate"] or 0), r["family"]),
    )
    names = [r["family"].lower() for r in ordered]
    if family.lower() not in names:
        raise UnknownFamilyError(f"family {family!r} has no estimate for {month} ({mode} mode)")
    at = names.index(family.lower())
    subject, following = ordered[at], ordered[at + 1 : at + 1 + next_n]
    figures = ("estimate", "lower", "upper")
    rows = [
        {"role": "subject" if i == 0 else "next", "rank": at + 1 + i, "family": r["family"]}
        | {k: r[k] for k in figures}
        | {"methods": r["methods"]}
        for i, r in enumerate([subject, *following])
    ]
    combined: dict[str, int | None] = {
        k: sum(r[k] for r in following) if all(r[k] is not None for r in following) else None
        for k in figures
    }
    return MonthlyComparison(
        family=subject["family"],
        mode=mode,
        month=month,
        next_n=len(following),
        rank=at + 1,
        value={k: subject[k] for k in figures},
        combined=combined,
        rows=rows,
    )


def compare_family_month(
    history: History, family: str, next_n: int, month: str
) -> MonthlyComparison:
    """Rank ``history``'s families in ``month`` and compare ``family`` with the next N."""
    name = history.registry.get(family).name
    rows = history.monthly("family").to_pyarrow().to_pylist()
    return compare_month(rows, name, next_n, mode=history.mode, month=month)


def cumulative_downloads(
    estimates: ir.Table, shares: ir.Table, registry: Registry, by: TrendBy = "family"
) -> ir.Table:
    """month, <by>, cumulative estimate/lower/upper since the first month of ``estimates``.

    A model created before that month (or of unknown creation) brings an unknown base: the
    group's cumulative ``upper`` is then null and ``base_unknown`` counts such models."""
    key = "model_id" if by == "model" else by
    monthly = monthly_downloads(estimates, shares, registry, by)
    start = estimates.month_start.min().as_scalar()
    credited = credited_estimates(estimates, shares, registry)
    older = credited.filter(credited.created.isnull() | (credited.created < start))
    unknown = older.group_by(key).aggregate(base_unknown=older.model_id.nunique())
    monthly = monthly.left_join(unknown, key).drop(f"{key}_right")
    running = ibis.window(group_by=key, order_by="month", preceding=None, following=0)
    open_ended = monthly.upper.isnull().cast("int64").max().over(running)
    base = monthly.base_unknown.fill_null(0)
    return monthly.select(
        "month",
        key,
        cumulative=monthly.estimate.sum().over(running),
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
        results.append(
            {
                key: cumulative_rows[0][key] if cumulative_rows else None,
                "threshold": threshold,
                "estimated": _crossing(cumulative_rows, "cumulative", threshold),
                "earliest": _crossing(cumulative_rows, "upper", threshold),
                "latest": _crossing(cumulative_rows, "lower", threshold),
            }
        )
    return results


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


def parse_counts(text: str) -> list[int]:
    """``100M,1.5B,20K,700000`` → integers (a clear error for anything else)."""
    scale = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
    values = []
    for part in text.split(","):
        part = part.strip().upper()
        factor = scale.get(part[-1:], 1)
        number = part[:-1] if part[-1:] in scale else part
        try:
            values.append(round(float(number) * factor))
        except ValueError:
            raise HistoryError(f"{part!r} is not a count such as 100M, 1.5B or 700000") from None
    return values
