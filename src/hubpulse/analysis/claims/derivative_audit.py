"""Derivative-count claims ("SUBJECT has 100,000+ derivatives") under every definition:
grouping (family, vendor) × depth (direct: a child of a first-party repo; transitive: any
descendant) × quantized copies (with, without) × download floor (none, ``floor``), each with
its count by relation (``audit`` for the other claims)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.claims.audit import (
    GROUPINGS,
    PARTIAL_NOTE,
    Audit,
    count_verdict,
    empty_row,
    known_group,
    subject_in,
)
from hubpulse.analysis.snapshot.dimensions import derivative_pairs, first_party, model_dimensions
from hubpulse.analysis.snapshot.flags import model_signals

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis


def audit_derivatives(analysis: Analysis, subject: str, threshold: int, floor: int = 10) -> Audit:
    """The claim "``subject`` has ``threshold``+ derivatives" under 16 definitions: grouping ×
    depth (direct, transitive) × quantized copies (with, without) × floor (0, ``floor``
    30-day downloads), each with its count by relation. Derivatives are a lineage fact: the
    same under both attribution modes."""
    registry = analysis.registry
    subject = known_group(registry, subject)
    dims = model_dimensions(analysis)
    signals = model_signals(analysis).select("model_id", "copy_format")
    facts = dims.join(signals, "model_id").select(
        "model_id",
        dl30=dims.downloads_30d.fill_null(0),
        relation=ibis.coalesce(dims.base_relation, ibis.literal("unknown")),
        copy=(dims.base_relation == "quantized").fill_null(False) | signals.copy_format.notnull(),
    )
    rows, counted = [], {}
    for by, depth, quantized, low in itertools.product(
        GROUPINGS, ("direct", "transitive"), ("with", "without"), (0, floor)
    ):
        label = f"{by}/{depth}/{'all' if quantized == 'with' else 'no-quantized'}/≥{low}"
        name = subject_in(registry, subject, by)
        row: dict[str, Any] = {
            "definition": label,
            "by": by,
            "depth": depth,
            "quantized": quantized,
            "floor": low,
            "subject": name,
        }
        if name is None:
            rows.append(row | empty_row("not applicable", f"no single family of {subject}"))
            continue
        if (by, depth) not in counted:  # one query per grouping and depth, four counts each
            counted[(by, depth)] = _counts(analysis, facts, by, name, depth, floor)
        column = f"{quantized}_{low}"
        by_relation = {r["relation"]: r[column] for r in counted[(by, depth)] if r[column]}
        rows.append(row | _counted(name, label, by_relation, threshold, analysis.partial))
    claim = f"{subject} has {threshold:,}+ derivatives"
    return Audit(
        claim,
        "derivatives",
        f"snapshot {analysis.snapshot_date}",
        rows,
        [
            "definition = grouping/depth/quantized copies/30-day download floor",
            "a derivative is a repo below a first-party repo of the group that is not "
            "first-party itself; direct: a child of one; quantized: relation 'quantized' or an "
            "intermediary copy (`hubpulse flags`)",
            *([PARTIAL_NOTE] if analysis.partial else []),
        ],
    )


def _counted(
    name: str, label: str, by_relation: dict[str, int], threshold: int, partial: bool
) -> dict[str, Any]:
    """An audit row's figures and verdict for a derivative count (``by_relation`` summed)."""
    total = sum(by_relation.values())
    verdict = count_verdict(total, threshold, partial)
    held = f" (the extract holds {total:,}: a lower bound)" if verdict == "cannot refute" else ""
    return (
        empty_row(verdict, f"{name}: {total:,} derivatives ({label}) vs {threshold:,}{held}")
        | {"value": total, "lower": total, "upper": total, "combined": threshold}
        | {"ratio": total / threshold, "by_relation": by_relation}
    )


def _counts(
    analysis: Analysis, facts: ir.Table, by: str, name: str, depth: str, floor: int
) -> list[dict[str, Any]]:
    """Per relation, the derivatives of ``name`` with and without quantized copies, with no
    floor and with ``floor`` (columns with_0, with_F, without_0, without_F)."""
    pairs = _pairs(analysis, by, name, depth)
    hit = pairs.join(facts, pairs.descendant == facts.model_id)
    kept = ~hit.copy
    counts = hit.group_by("relation").aggregate(
        **{
            "with_0": hit.model_id.nunique(),
            f"with_{floor}": hit.model_id.nunique(where=hit.dl30 >= floor),
            "without_0": hit.model_id.nunique(where=kept),
            f"without_{floor}": hit.model_id.nunique(where=kept & (hit.dl30 >= floor)),
        }
    )
    return counts.to_pyarrow().to_pylist()


def _pairs(analysis: Analysis, by: str, name: str, depth: str) -> Any:
    """descendant: the derivatives of group ``name`` — any depth, or children only."""
    pairs = derivative_pairs(analysis, by)  # type: ignore[arg-type]
    pairs = pairs.filter(pairs.key == name)
    if depth == "transitive":
        return pairs.select("descendant")
    own = first_party(analysis, by)  # type: ignore[arg-type]
    own = own.filter(own.key == name)
    edges = analysis.lineage.edges
    children = edges.semi_join(own, edges.parent == own.model_id).select(descendant=edges.child)
    return children.distinct().semi_join(pairs, "descendant")
