"""The dashboard's detail pages: a family (official models, derivatives, a lineage tree), a
model (ancestry, descendants, children) and model search, each read from a ``View``."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from hubpulse.analysis.snapshot.dimensions import model_dimensions
from hubpulse.analysis.snapshot.lineage import Run, describe_lineage
from hubpulse.web.views import View, clean_row, model_facts


def _children_held(
    view: View, model_id: str, limit: int, run: Run
) -> tuple[list[dict[str, Any]], int]:
    """``children_of`` from the closure stored by ancestor (its depth-1 rows are the kept
    edges) and the facts in memory (an edge's relation is its child's base relation)."""
    below = view.analysis.lineage.below
    found = run(below.filter((below.ancestor_id == model_id) & (below.depth == 1)))
    ids = found.column("model_id").to_pylist()
    frame = view.models
    # children are in the snapshot; the facts run most downloaded first, then by id
    rows = frame.iloc[np.sort(frame.index.get_indexer(pd.Index(ids)))]
    return [
        {
            "child": r["model_id"],
            "parent": model_id,
            "relation": r["relation"],
            "downloads_30d": r["downloads_30d"],
            "descendants": r["descendants"] or 0,
        }
        for r in (clean_row(x) for x in rows.head(limit).to_dict("records"))
    ], len(ids)


def children_of(
    view: View, model_id: str, limit: int, run: Run | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A model's direct children, most downloaded first, and how many it has (a lookup in the
    stored edges), run by ``run`` (default: under the dashboard's lock)."""
    analysis = view.analysis
    edges = analysis.lineage.edges
    below = edges.filter(edges.parent == model_id)
    dims = model_dimensions(analysis)
    facts = dims.select(child_id="model_id", dl="downloads_30d", below_count="descendants")
    joined = below.left_join(facts, below.child == facts.child_id)
    table = joined.select(
        "child",
        "parent",
        "relation",
        downloads_30d=joined.dl.fill_null(0),
        descendants=joined.below_count.fill_null(0),
    ).order_by([ibis.desc("downloads_30d"), "child"])
    if run is not None:
        return run(table.limit(limit)).to_pylist(), run(below.count().as_table())[0][0].as_py()
    with view.engine:
        total = int(below.count().to_pyarrow().as_py())
        rows = table.limit(limit).to_pyarrow().to_pylist() if total else []
    return rows, total


def _get(frame: pd.DataFrame, key: str, column: str) -> Any:
    return frame.at[key, column] if key in frame.index else None


def family_detail(view: View, name: str) -> dict[str, Any]:
    """The family page: ranking row, official models, derivatives, lineage tree, monthly."""
    family = view.analysis.registry.get(name)
    ranking = [r for r in view.report.data["families"] if r["family"] == family.name]
    official = view.official[view.official.owner == family.name]
    tree = []
    for model in official.head(10).to_dict("records"):
        kids, total = children_of(view, model["model_id"], 6)
        tree.append({**clean_row(model), "children": kids, "children_total": total})
    return {
        "family": family.name,
        "vendor": family.vendor,
        "country": family.country,
        "ticker": family.ticker,
        "orgs": [*family.orgs, *family.repos],
        "snapshot_date": view.analysis.snapshot_date.isoformat(),
        "mode": view.mode,
        "ranking": ranking[0] if ranking else None,
        "official_total": len(official),
        "official_models": [clean_row(r) for r in official.head(50).to_dict("records")],
        "derivatives": [r for r in view.report.data["derivatives"] if r["family"] == family.name],
        "tree": tree,
        "monthly": view.trends.get(family.name, []),
    }


def model_detail(view: View, model_id: str) -> dict[str, Any]:
    """The model page: facts, ancestry (every parent link up to the roots), descendants by
    relation and depth (as ``hubpulse lineage``), and the most downloaded direct children:
    lookups in the stored tables on a cursor of the page's own, each model's facts read from
    those in memory once the view holds them."""
    analysis = view.analysis
    held = "models" in view.pieces  # per-model facts in memory (built in the background)
    with view.cursor() as run:
        dims = model_dimensions(analysis)
        lineage = describe_lineage(
            analysis.lineage, dims, model_id, run=run, facts=view.facts_of if held else None
        )
        if held:
            at = view.models.index.get_indexer([model_id])
            found = view.models.iloc[at[at >= 0]]
            kids, total = _children_held(view, model_id, 25, run)
        else:
            found = model_facts(analysis, view.mode, model_id, run)
            kids, total = children_of(view, model_id, 25, run)
    facts = clean_row(found.iloc[0].to_dict()) if len(found) else None
    return {
        "snapshot_date": view.analysis.snapshot_date.isoformat(),
        "mode": view.mode,
        "model": facts,
        **lineage.to_dict(),
        "children": kids,
        "children_total": total,
    }


SEARCH_CHUNK = 8192


def search_models(view: View, q: str, limit: int) -> list[dict[str, Any]]:
    """Models whose id contains ``q`` (case-insensitive), most downloaded first."""
    needle, keys, picked = q.lower(), view.search_keys, list[int]()
    for start in range(0, len(keys), SEARCH_CHUNK):  # rows run most downloaded first, so a
        found = pc.match_substring(keys.slice(start, SEARCH_CHUNK), needle)  # common word
        rows = pc.indices_nonzero(found).to_pylist()[: limit - len(picked)]  # stops early
        picked.extend(start + i for i in rows)
        if len(picked) >= limit:
            break
    hits = view.models.iloc[picked]
    columns = ["model_id", "author", "family", "downloads_30d", "likes", "size", "descendants"]
    return [clean_row(r) for r in hits[columns].to_dict("records")]
