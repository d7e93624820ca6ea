"""Relative adoption, in the style of the ATOM Project's metric: a model's cumulative
downloads at age 30, 90, 180 and 365 days, against the median of the 10 models of its size
bucket with the most cumulative downloads at that age.

Cumulative downloads come from the monthly estimates: the sum of the model's months from its
creation month through the month holding the day it reached that age (so ages are read at month
ends), with the sums of the bounds. A model-age is no data when any of those months has no
estimate, when the history does not reach that day, or when the model was created before the
history starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.estimator import parse_month
from hubpulse.analysis.history.history import History, load_history
from hubpulse.analysis.snapshot.dimensions import first_party, model_dimensions

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.settings import Settings

AGES = (30, 90, 180, 365)
PEERS = 10


def adoption_targets(analysis: Analysis, target: str | None) -> ir.Table | None:
    """model_id of the models ``adoption`` shows: one model, a family's first-party repos, or
    (None) every model."""
    if target is None:
        return None
    if "/" in target:
        return ibis.memtable({"model_id": [analysis.require_model(target)]})
    name = analysis.registry.get(target).name
    own = first_party(analysis, "family")
    return own.filter(own.key == name).select("model_id")


def relative_adoption(
    history: History, analysis: Analysis, ages: tuple[int, ...] = AGES
) -> ir.Table:
    """model_id, size, created, age, cumulative, lower, upper, reference (median of
    the size bucket's top ``PEERS`` at that age), peers, relative: one row per model and age
    it can be judged at (see the module docstring)."""
    e = history.estimates
    start = ibis.literal(parse_month(history.first))
    born = e.filter(e.created.notnull() & (e.created.cast("date") >= start))
    newest = e.month_end.max().as_scalar()
    rows = []
    for age in ages:
        due = (born.created + ibis.interval(days=age)).cast("date")
        upto = born.filter(born.month_start <= due)
        per = upto.group_by(["model_id", "created"]).aggregate(
            cumulative=upto.estimate.sum(),
            lower=upto.lower.sum(),
            upper=ibis.ifelse(upto.upper.count() == upto.count(), upto.upper.sum(), None),
            months=upto.count(),
            known=upto.estimate.count(),
            reached=(upto.created + ibis.interval(days=age)).cast("date").max(),
        )
        per = per.filter((per.reached <= newest) & (per.known == per.months))
        rows.append(per.mutate(age=ibis.literal(age, "int64")).drop("months", "known"))
    out = ibis.union(*rows)
    sizes = model_dimensions(analysis).select("model_id", "size")
    out = out.join(sizes, "model_id")
    best = ibis.row_number().over(
        group_by=["size", "age"], order_by=[ibis.desc("cumulative"), "model_id"]
    )
    top = out.mutate(place=best)
    top = top.filter(top.place < PEERS)
    reference = top.group_by(["size", "age"]).aggregate(
        reference=top.cumulative.median(), peers=top.count()
    )
    joined = out.join(reference, ["size", "age"])
    return joined.select(
        "model_id",
        "size",
        "created",
        "age",
        "cumulative",
        "lower",
        "upper",
        "reference",
        "peers",
        relative=ibis.ifelse(
            joined.reference > 0, joined.cumulative / joined.reference, ibis.null("float64")
        ),
    )


def adoption_table(
    history: History,
    analysis: Analysis,
    target: str | None,
    ages: tuple[int, ...] = AGES,
    limit: int | None = None,
) -> ir.Table:
    """``relative_adoption`` for ``target`` (``adoption_targets``): by model and age, or —
    for every model — the most relatively adopted first (the first ``limit`` rows)."""
    table = relative_adoption(history, analysis, ages)
    chosen = adoption_targets(analysis, target)
    if chosen is not None:
        table = table.semi_join(chosen, "model_id").order_by(["model_id", "age"])
    else:
        table = table.order_by([ibis.desc("relative"), "model_id", "age"])
    return table.limit(limit) if limit else table


def relative_adoption_of(
    settings: Settings,
    target: str | None = None,
    *,
    ages: tuple[int, ...] = AGES,
    limit: int | None = None,
) -> tuple[ir.Table, History]:
    """``adoption``: ``adoption_table`` over the warehouse's whole history, counted in
    publisher mode (a model's own downloads: relative adoption compares models, not
    families), and the history it read."""
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.store.warehouse import open_store

    settings = settings.model_copy(update={"mode": "publisher"})
    store = open_store(settings)
    analysis = load_analysis(settings, None, store)
    history = load_history(settings, None, None, store, analysis)
    return adoption_table(history, analysis, target, ages, limit), history
