"""History: a warehouse's monthly estimates (``estimator``) over a month range, with every model
attributed to families under one mode — the ``History`` that questions over time
(``trends``) and every surface read.

A group's ``lower`` and ``upper`` are the sums of its models' bounds, so they stay rigorous;
``upper`` is null as soon as one model cannot be bounded from above, and ``unestimated`` counts
models with no estimate that month (their downloads are missing from ``estimate``, never
guessed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.estimator import (
    HistoryError,
    estimate_monthly_downloads,
    month_table,
    parse_month,
)
from hubpulse.analysis.evidence import Evidence, evidence_months, read_evidence
from hubpulse.analysis.families import assign_publishers
from hubpulse.analysis.metrics import exact
from hubpulse.analysis.snapshot import Analysis
from hubpulse.analysis.stored import load_analysis
from hubpulse.errors import EngineError
from hubpulse.registry import Registry, load_registry
from hubpulse.settings import Settings
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import Mode, TrendBy


@dataclass(frozen=True)
class History:
    """Monthly estimates of a month range, attributed under one mode: ready for questions."""

    estimates: ir.Table
    shares: ir.Table
    registry: Registry
    mode: Mode
    first: str
    last: str
    lineage_date: dt.date | None

    def monthly(self, by: TrendBy = "family") -> ir.Table:
        return monthly_downloads(self.estimates, self.shares, self.registry, by)


def prepare_history(
    evidence: Evidence,
    registry: Registry,
    *,
    mode: Mode,
    analysis: Analysis | None,
    first: str | None = None,
    last: str | None = None,
    max_gap_days: int = 31,
) -> History:
    """Estimate every model-month from ``first`` to ``last`` (default: the months the evidence
    spans) and attribute the models; ``analysis`` supplies the lineage graph."""
    span = evidence_months(evidence)
    if span is None:
        raise HistoryError(
            "no download history in the warehouse: run `hubpulse import-series PATH` "
            "or ingest snapshots first"
        )
    first, last = first or span[0], last or span[1]
    months = month_table(first, last)
    estimates = estimate_monthly_downloads(evidence, months, max_gap_days=max_gap_days).cache()
    shares = attribute_history(estimates.select("model_id"), registry, mode, analysis).cache()
    date = analysis.snapshot_date if analysis is not None and mode == "lineage" else None
    return History(estimates, shares, registry, mode, first, last, date)


def attribute_history(
    model_ids: ir.Table, registry: Registry, mode: Mode, analysis: Analysis | None
) -> ir.Table:
    """model_id, family, weight for every model with history.

    Lineage mode takes each model's roots from ``analysis`` (the snapshot whose graph is used);
    a model that snapshot does not hold counts for its own publisher's family."""
    ids = model_ids.select("model_id").distinct()
    if mode == "publisher" or analysis is None:
        return assign_publishers(ids, registry)
    graph = analysis.models.select("model_id")
    known = analysis.attribution("lineage").semi_join(ids, "model_id")
    rest = ids.filter(~ids.model_id.isin(graph.model_id))
    return known.union(assign_publishers(rest, registry))


def monthly_downloads(
    estimates: ir.Table, shares: ir.Table, registry: Registry, by: TrendBy = "family"
) -> ir.Table:
    """month, <by>, estimate, lower, upper, share, models, unestimated, methods."""
    credited = credited_estimates(estimates, shares, registry)
    key = "model_id" if by == "model" else by
    keys = ["month", key]
    grouped = credited.group_by(keys).aggregate(
        estimate=(exact(credited.estimate) * exact(credited.weight)).sum(),
        lower=(exact(credited.lower) * exact(credited.weight)).sum(),
        upper=(exact(credited.upper) * exact(credited.weight)).sum(),
        open_ended=credited.upper.isnull().any(),
        models=credited.model_id.nunique(),
        unestimated=credited.model_id.nunique(where=credited.method == "none"),
    )
    per_method = credited.group_by([*keys, "method"]).aggregate(n=credited.model_id.nunique())
    methods = per_method.group_by(keys).aggregate(
        methods=(per_method.method + ":" + per_method.n.cast("string")).group_concat(
            " ", order_by=[ibis.desc(per_method.n), per_method.method]
        )
    )
    grouped = grouped.join(methods, keys)
    total = grouped.estimate.sum().over(group_by="month")
    return grouped.select(
        "month",
        key,
        estimate=grouped.estimate.round().cast("int64"),
        lower=grouped.lower.round().cast("int64"),
        upper=ibis.ifelse(grouped.open_ended, None, grouped.upper.round()).cast("int64"),
        share=ibis.ifelse(total > 0, grouped.estimate / total, ibis.null("float64")),
        models=grouped.models,
        unestimated=grouped.unestimated,
        methods=grouped.methods,
    ).order_by(["month", ibis.desc("estimate"), key])


def credited_estimates(estimates: ir.Table, shares: ir.Table, registry: Registry) -> ir.Table:
    joined = estimates.join(shares, "model_id").join(registry.table(), "family")
    return joined.select(
        "model_id",
        "month",
        "method",
        "created",
        "estimate",
        "lower",
        "upper",
        "weight",
        "family",
        "vendor",
        "country",
        author=joined.model_id.split("/")[0],
    )


def load_history(
    settings: Settings,
    first: str | None,
    last: str | None,
    warehouse: Warehouse | None = None,
    analysis: Analysis | None = None,
) -> History:
    """Monthly estimates for the month range; lineage mode uses the newest snapshot's graph."""
    if settings.engine == "spark":
        raise EngineError(
            "monthly estimates (--month, monthly, trend, history) join each day to the nearest "
            "observation (an as-of join), which Spark SQL lacks: run them with --engine duckdb"
        )
    store = warehouse or open_store(settings)
    dates = store.snapshot_dates()
    if (
        settings.mode == "lineage"
        and dates
        and (analysis is None or analysis.snapshot_date != dates[-1])
    ):
        analysis = load_analysis(settings, None, store)
    return prepare_history(
        read_evidence(store),
        load_registry(settings.families_file),
        mode=settings.mode,
        analysis=analysis if settings.mode == "lineage" and dates else None,
        first=first,
        last=last,
        max_gap_days=settings.max_gap_days,
    )


def month_range(warehouse: Warehouse, month: str | None, months: int) -> tuple[str, str] | None:
    """The ``months`` months ending at ``month`` (default: the last month with data), clipped
    to the months the warehouse holds; None when it holds no history."""
    span = evidence_months(read_evidence(warehouse))
    if span is None:
        return None
    last = parse_month(month or span[1])
    first = last
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    first = min(max(first, parse_month(span[0])), last)
    return first.strftime("%Y-%m"), last.strftime("%Y-%m")
