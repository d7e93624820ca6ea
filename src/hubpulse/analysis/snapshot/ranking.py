"""Rankings and derivative counts for one snapshot.

Every function takes an ``Analysis`` (a snapshot's models, its lineage and the family registry)
and returns Ibis expressions or small result objects; nothing here knows the engine. Downloads
of a model split between families (lineage mode, cross-family merges) are split in whole
downloads, so family totals add up to the snapshot total exactly.

Definitions used throughout:

- ``downloads_30d`` is the Hub's rolling 30-day count at the snapshot; ``downloads_all_time`` the
  cumulative count (null where the source did not serve it: a group's sum is of the models
  whose count is known, null when none is);
- a model split between n families (lineage mode, cross-family merges) gives each ⌊v/n⌋ whole
  downloads and the remainder one each to its first families by name, so family totals add up
  to the per-model sum exactly;
- ``share`` is the row's ``downloads_30d`` over the snapshot's total ``downloads_30d``;
- ``models`` counts the repos credited to the row (any share); ``derivatives`` counts repos in
  the snapshot that descend from the row's first-party repos and are not first-party themselves
  (a lineage fact, the same in both modes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.dimensions import (
    derivative_pairs,
    model_credits,
    model_dimensions,
)
from hubpulse.analysis.snapshot.flags import flag_marks, model_signals
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.sizes import (
    SIZE_BUCKETS,
    UNKNOWN_SIZE,
    parameter_count,
    size_bucket,
)
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.terms import GROUPS, GroupBy, Metric, Mode

__all__ = [  # re-exported; the functions are public by name
    "GROUPS",
    "SIZE_BUCKETS",
    "UNKNOWN_SIZE",
    "GroupBy",
    "Metric",
    "parameter_count",
    "size_bucket",
]


def rank_models(
    analysis: Analysis,
    by: GroupBy = "family",
    mode: Mode = "lineage",
    limit: int | None = None,
    selection: Selection | None = None,
    family: str | None = None,
) -> ir.Table:
    """Ranking by ``by``: rank, key, downloads (30-day, all-time), share, likes, models,
    derivatives; ordered by 30-day downloads. ``size`` groups by ``SIZE_BUCKETS`` (derivatives
    are null there); model rows carry their size. ``selection`` restricts the models counted
    (under robust counting, ``removed_30d`` and ``copies_30d`` say what each row left out);
    ``family`` keeps only the credits of that family (e.g. its size breakdown)."""
    selection = selection or Selection()
    credited = _selected(analysis, mode, selection, family)
    key = "model_id" if by == "model" else by
    kept = credited.filter(~credited.flagged)
    grouped = kept.group_by(key).aggregate(
        downloads_30d=kept.dl30.sum(),
        downloads_all_time=kept.dlall.sum(),
        likes=kept.likes_w.sum(),
        models=_model_count(kept, by),
    )
    if by == "size":  # a size class has no first-party repos, so no derivatives
        grouped = grouped.mutate(derivatives=ibis.null("int64"))
    else:
        grouped = grouped.left_join(_derivative_counts(analysis, by), key).drop(f"{key}_right")
        grouped = grouped.mutate(derivatives=grouped.derivatives.fill_null(0))
    total = kept.dl30.sum().as_scalar()
    if limit:  # the first rows of the ordering are the first ranks: rank only those
        grouped = grouped.order_by([ibis.desc("downloads_30d"), key]).limit(limit)
    ranked = grouped.select(
        rank=ibis.row_number().over(order_by=[ibis.desc("downloads_30d"), key]) + 1,
        **{key: grouped[key]},
        downloads_30d=grouped.downloads_30d.cast("int64"),
        downloads_all_time=grouped.downloads_all_time.cast("int64"),
        share=ibis.ifelse(total > 0, grouped.downloads_30d / total, ibis.null("float64")),
        likes=grouped.likes.cast("int64"),
        models=grouped.models,
        derivatives=grouped.derivatives,
    )
    if selection.count == "robust":
        ranked = ranked.left_join(_removed(credited, key), key).drop(f"{key}_right")
    ranked = ranked.order_by("rank")
    if by == "model":  # labels and sizes for the rows shown only
        shown = analysis.attribution(mode).semi_join(ranked, "model_id")
        sizes = model_dimensions(analysis).select("model_id", "size")
        ranked = ranked.join(_labels(shown), "model_id").join(sizes, "model_id").order_by("rank")
    return ranked


def _selected(analysis: Analysis, mode: Mode, selection: Selection, family: str | None) -> ir.Table:
    """The credited rows a selection counts, with ``flagged`` (left out by robust counting)."""
    credited = _credited(analysis, mode)
    if family is not None:
        credited = credited.filter(credited.family == analysis.registry.get(family).name)
    scope = Selection(selection.tasks, selection.llm, selection.exclude)
    credited = scope.restrict(credited, analysis)
    if selection.count == "raw":
        return credited.mutate(flagged=ibis.literal(False), copy=ibis.literal(False))
    marks = flag_marks(analysis, selection.thresholds)
    copies = marks.filter(marks.intermediary)
    return credited.mutate(
        flagged=credited.model_id.isin(marks.model_id),
        copy=credited.model_id.isin(copies.model_id),
    )


def removed_by_robust(analysis: Analysis, mode: Mode, selection: Selection) -> list[dict[str, Any]]:
    """What ``selection``'s robust counting removes from the snapshot under ``mode``, per flag
    (``Selection.removed``)."""
    return selection.removed(_credited(analysis, mode), analysis)


def _removed(credited: ir.Table, key: str) -> ir.Table:
    """key, removed_30d (downloads robust counting left out), copies_30d (of them, those of
    intermediaries: quantized and repackaged copies)."""
    zero = ibis.literal(0, "int64")
    return credited.group_by(key).aggregate(
        removed_30d=ibis.ifelse(credited.flagged, credited.dl30, zero).sum().cast("int64"),
        copies_30d=ibis.ifelse(credited.copy, credited.dl30, zero).sum().cast("int64"),
    )


def _model_count(credited: ir.Table, by: GroupBy) -> ir.IntegerScalar:
    """Repos credited to a group: (model, family) rows are unique, so a family's models are its
    rows and a model is one; other groups may hold a model twice (split between two families of
    one vendor), so they count distinct ids."""
    if by == "family":
        return credited.count()
    if by == "model":
        return ibis.literal(1, "int64").name("models")
    return credited.model_id.nunique()


def count_derivatives(
    analysis: Analysis,
    target: str,
    *,
    min_downloads: int = 0,
    selection: Selection | None = None,
) -> ir.Table:
    """Derivatives of a family (its first-party repos) or of one model, by relation:
    relation, derivatives, publishers (distinct authors), downloads_30d. A final ``all`` row
    totals them. Only derivatives with ``downloads_30d >= min_downloads`` count, and only
    those ``selection`` keeps (its tasks; robust: unflagged)."""
    if "/" in target:
        target = analysis.find_model(target)
        closure = analysis.lineage.below
        below = closure.filter(closure.ancestor_id == target)
        pairs = below.select(key=ibis.literal(target), descendant=below.model_id).distinct()
    else:
        name = analysis.registry.get(target).name
        pairs = derivative_pairs(analysis, "family")
        pairs = pairs.filter(pairs.key == name)
    if selection is not None:
        kept = selection.keep_models(pairs.select(model_id=pairs.descendant), analysis)
        pairs = pairs.semi_join(kept, pairs.descendant == kept.model_id)
    table = _by_relation(analysis, pairs, min_downloads)
    return table.drop("key")


def derivatives_by_family(analysis: Analysis, *, min_downloads: int = 0) -> ir.Table:
    """family, relation, derivatives, publishers, downloads_30d for every family with
    derivatives (a lineage fact, the same in both modes); each family ends with an ``all``
    row. The same figures as ``count_derivatives(analysis, family)``, for all families at once."""
    table = _by_relation(analysis, derivative_pairs(analysis, "family"), min_downloads)
    return table.rename(family="key")


def _by_relation(analysis: Analysis, pairs: ir.Table, min_downloads: int) -> ir.Table:
    """Group (key, descendant) pairs by key and the descendant's relation, plus ``all``."""
    models = model_dimensions(analysis)
    rows = pairs.join(models, pairs.descendant == models.model_id)
    rows = rows.filter(rows.downloads_30d.fill_null(0) >= min_downloads).select(
        "key",
        "model_id",
        "author",
        downloads=rows.downloads_30d.fill_null(0),
        relation=ibis.coalesce(rows.base_relation, ibis.literal("unknown")),
    )
    aggregates = {
        "derivatives": rows.model_id.nunique(),
        "publishers": rows.author.nunique(),
        "downloads_30d": rows.downloads.sum(),
    }
    by_relation = rows.group_by(["key", "relation"]).aggregate(**aggregates)
    total = rows.group_by("key").aggregate(**aggregates).mutate(relation=ibis.literal("all"))
    table = by_relation.union(total.select(*by_relation.columns))
    last = ibis.ifelse(table.relation == "all", 1, 0)
    return table.order_by(["key", last, ibis.desc("derivatives"), "relation"])


def _credited(analysis: Analysis, mode: Mode) -> ir.Table:
    """One row per (model, family) share with weighted counts and family metadata."""
    credits = model_credits(analysis, mode)
    joined = credits.join(analysis.families(), "family")
    return joined.select(
        "model_id",
        "author",
        "family",
        "vendor",
        "country",
        "weight",
        "size",
        "dl30",
        "dlall",
        "likes_w",
    )


def _derivative_counts(analysis: Analysis, by: GroupBy) -> ir.Table:
    key = "model_id" if by == "model" else by
    if by == "model":  # a model's derivatives are all its descendants
        dims = model_dimensions(analysis)
        return dims.select("model_id", derivatives=dims.descendants)
    derived = derivative_pairs(analysis, by)
    counts = derived.group_by("key").aggregate(derivatives=derived.descendant.nunique())
    return counts.rename({key: "key"})


def model_families(analysis: Analysis, mode: Mode) -> ir.Table:
    """model_id, family: the families a model counts for under ``mode``, sorted, joined by ", "
    (a sorted array rather than an ordered group_concat, which Spark cannot do)."""
    return _labels(analysis.attribution(mode))


def _labels(shares: ir.Table) -> ir.Table:
    grouped = shares.group_by("model_id").aggregate(families=shares.family.collect())
    return grouped.select("model_id", family=ibis.literal(", ").join(grouped.families.sort()))


def audit_rankings(
    analysis: Analysis, mode: Mode, selections: Iterable[Selection]
) -> dict[tuple[str, Selection], list[dict[str, Any]]]:
    """The rankings by family and by vendor under each of ``selections``, each as
    ``rank_models`` would select them, from one pass over the credits: per group, the 30-day
    and all-time downloads only (what a comparison reads), a group with no model in a
    selection left out of its ranking. A vendor's figures are its families' summed (each
    credit belongs to one family, and so to one vendor)."""
    named = dict(enumerate(selections))
    rows, tests = _tested(analysis, mode, named.values())
    sums: dict[str, Any] = {}
    for i, selection in named.items():
        where = ibis.literal(True)
        if selection.exclude:
            where &= ~rows.family.isin(selection.excluded_families(analysis.registry))
        if selection.task_set:
            where &= rows[tests[selection.task_set]]
        if selection.count == "robust":
            where &= ~rows[tests[selection.thresholds]]
        sums[f"n_{i}"] = rows.count(where=where)
        sums[f"dl30_{i}"] = rows.dl30.sum(where=where).cast("int64")
        sums[f"dlall_{i}"] = rows.dlall.sum(where=where).cast("int64")
    families = rows.group_by(["family", "vendor"]).aggregate(**sums).to_pyarrow().to_pylist()
    found: dict[tuple[str, Selection], list[dict[str, Any]]] = {}
    for by in ("family", "vendor"):
        groups: dict[str, dict[str, Any]] = {}
        for row in families:  # a family is its own group; a vendor sums its families
            group = groups.setdefault(row[by], {by: row[by]})
            for column in sums:
                if row[column] is not None:
                    group[column] = group.get(column, 0) + row[column]
        for i, selection in named.items():
            found[by, selection] = [
                {
                    by: g[by],
                    "downloads_30d": g.get(f"dl30_{i}"),
                    "downloads_all_time": g.get(f"dlall_{i}"),
                }
                for g in groups.values()
                if g.get(f"n_{i}")
            ]
    return found


def _tested(
    analysis: Analysis, mode: Mode, selections: Iterable[Selection]
) -> tuple[ir.Table, dict[Any, str]]:
    """The credits under ``mode`` with a boolean column per task set (the model's task is in
    it) and per thresholds (the model is flagged under them) that ``selections`` ask about,
    and each one's column: one join per model instead of a lookup per selection."""
    rows = _credited(analysis, mode)
    task_sets = {s.task_set for s in selections if s.task_set}
    limits = {s.thresholds for s in selections if s.count == "robust"}
    columns = {key: f"test_{i}" for i, key in enumerate([*task_sets, *limits])}
    if not columns:
        return rows, columns
    signals = model_signals(analysis)
    tests = signals.select(
        tested_id=signals.model_id,
        **{columns[t]: signals.task.isin(t).fill_null(False) for t in task_sets},
    )
    for limit in limits:
        marked = flag_marks(analysis, limit).select(marked_id="model_id").distinct()
        tests = tests.left_join(marked, tests.tested_id == marked.marked_id)
        tests = tests.select(
            *[c for c in tests.columns if c != "marked_id"],
            **{columns[limit]: tests.marked_id.notnull()},
        )
    joined = rows.left_join(tests, rows.model_id == tests.tested_id)
    filled = {c: joined[c].fill_null(False) for c in columns.values()}
    return joined.select(*rows.columns, **filled), columns
