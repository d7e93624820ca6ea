"""The lineage graph in memory: one snapshot's resolved lineage indexed per model, so a model page
is a few dictionary lookups (the same answer as ``hubpulse lineage``, tested) instead of engine
queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from hubpulse.analysis.snapshot import Analysis
from hubpulse.errors import ModelNotFoundError


@dataclass(frozen=True)
class Graph:
    """One snapshot's resolved lineage in memory, indexed per model, so a model page
    (``lineage_of``) is a few dictionary lookups instead of engine queries. Descendant summaries
    are aggregated for every ancestor at once, in the engine, when the graph is built."""

    known: frozenset[str]  # model ids in the snapshot
    named_parents: frozenset[str]
    up_index: pd.Index  # model ids with ancestors → ranges of ``up_ancestors``
    up_bounds: np.ndarray
    up_ancestors: np.ndarray
    parents: dict[str, list[dict[str, Any]]]  # child → its edges
    roots: dict[str, list[dict[str, Any]]]
    by_relation: dict[str, list[dict[str, Any]]]  # ancestor → descendant summary
    by_depth: dict[str, list[dict[str, Any]]]
    issues: dict[str, list[dict[str, Any]]]  # model or parent id → repairs naming it


def build_graph(analysis: Analysis) -> Graph:
    lineage, models = analysis.lineage, analysis.models
    closure = lineage.closure.order_by(["model_id", "ancestor_id"]).to_pyarrow()
    owners = closure["model_id"].to_numpy(zero_copy_only=False)
    index, first = np.unique(owners, return_index=True)
    bounds = np.append(first, len(owners))
    below = lineage.closure.join(
        models.select(
            "model_id",
            "author",
            downloads=models.downloads_30d.fill_null(0),
            relation=ibis.coalesce(models.base_relation, ibis.literal("unknown")),
        ),
        "model_id",
    )
    by_relation = below.group_by(["ancestor_id", "relation"]).aggregate(
        descendants=below.model_id.nunique(),
        publishers=below.author.nunique(),
        downloads_30d=below.downloads.sum(),
    )
    by_depth = below.group_by(["ancestor_id", "depth"]).aggregate(descendants=below.count())
    issues: dict[str, list[dict[str, Any]]] = {}
    for issue in lineage.issues.to_pyarrow().to_pylist():
        for key in {issue["model_id"], issue["parent_id"]}:
            issues.setdefault(key, []).append(issue)
    edges = lineage.edges.select("child", "parent", "relation", "parent_known")
    return Graph(
        known=frozenset(models.model_id.to_pyarrow().to_pylist()),
        named_parents=frozenset(lineage.edges.parent.to_pyarrow().to_pylist()),
        up_index=pd.Index(index.astype(object)),
        up_bounds=bounds,
        up_ancestors=closure["ancestor_id"].to_numpy(zero_copy_only=False),
        parents=_grouped(edges, "child", keep=True),
        roots=_grouped(
            lineage.roots.select("model_id", "root_id", "depth", "external"), "model_id"
        ),
        by_relation=_grouped(by_relation, "ancestor_id"),
        by_depth=_grouped(by_depth, "ancestor_id"),
        issues=issues,
    )


def _grouped(table: ir.Table, key: str, *, keep: bool = False) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pyarrow().to_pylist():
        owner = row[key] if keep else row.pop(key)
        out.setdefault(owner, []).append(row)
    return out


def lineage_of(graph: Graph, model_id: str) -> dict[str, Any]:
    """What ``describe_lineage(...).to_dict()`` returns, from the in-memory graph."""
    in_snapshot = model_id in graph.known
    if not in_snapshot and model_id not in graph.named_parents:
        raise ModelNotFoundError(
            f"model {model_id!r} is neither in the snapshot nor a parent of any model in it"
        )
    nodes = [model_id]
    if model_id in graph.up_index:
        at = graph.up_index.get_loc(model_id)
        nodes += list(graph.up_ancestors[graph.up_bounds[at] : graph.up_bounds[at + 1]])
    ancestry = sorted(
        (edge for node in nodes for edge in graph.parents.get(node, [])),
        key=lambda e: (e["child"], e["parent"]),
    )
    root_rows = sorted(graph.roots.get(model_id, []), key=lambda r: r["root_id"])
    relations = sorted(
        graph.by_relation.get(model_id, []), key=lambda r: (-r["descendants"], r["relation"])
    )
    return {
        "model_id": model_id,
        "in_snapshot": in_snapshot,
        "ancestry": ancestry,
        "roots": root_rows or [{"root_id": model_id, "depth": 0, "external": not in_snapshot}],
        "depth": max((int(r["depth"]) for r in root_rows), default=0),
        "descendants_by_relation": relations,
        "descendants_by_depth": sorted(graph.by_depth.get(model_id, []), key=lambda r: r["depth"]),
        "issues": graph.issues.get(model_id, []),
    }
