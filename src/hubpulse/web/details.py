"""The dashboard's detail pages: a family (official models, derivatives, a lineage tree), a
model (ancestry, descendants, children) and model search, each read from a ``View``."""

from __future__ import annotations

import functools
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.analysis.snapshot.dimensions import model_dimensions
from hubpulse.analysis.snapshot.lineage_report import Run, describe_lineage
from hubpulse.web.lookups import SqlLookups
from hubpulse.web.views import View, clean_row, model_facts


def children_of(
    view: View, model_id: str, limit: int, run: Run, found: pa.Table | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A model's direct children, most downloaded first, and how many it has: the depth-1 rows
    of the closure stored by ancestor (the kept edges; an edge's relation is its child's base
    relation; or of ``found``, its descendants already looked up), each child's facts read
    from those in memory once the view holds them, else looked up in the stored dimensions."""
    below = view.analysis.lineage.below
    kids = below.filter((below.ancestor_id == model_id) & (below.depth == 1)).select("model_id")
    if "models" in view.pieces:
        if found is not None:
            ids = found.filter(pc.equal(found["depth"], 1)).column("model_id").to_pylist()
        else:
            ids = run(kids).column("model_id").to_pylist()
        frame = view.models  # most downloaded first, then by id; children are in the snapshot
        at = frame.index.get_indexer(pd.Index(ids))
        at = np.sort(at[at >= 0])[:limit]
        columns = ("model_id", "relation", "downloads_30d", "descendants")
        values = {c: frame[c].array.take(at).to_numpy() for c in columns}  # a few rows
        total, top = len(ids), [{c: values[c][i] for c in columns} for i in range(len(at))]
    else:
        dims = model_dimensions(view.analysis)
        found = dims.semi_join(kids, "model_id").select(
            "model_id", "downloads_30d", "descendants", relation="base_relation"
        )
        ordered = found.order_by([ibis.desc(found.downloads_30d.fill_null(0)), "model_id"])
        total = run(kids.count().as_table())[0][0].as_py()
        top = run(ordered.limit(limit)).to_pylist()
    return _children(model_id, top), total


def _children(model_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "child": r["model_id"],
            "parent": model_id,
            "relation": r["relation"],
            "downloads_30d": r["downloads_30d"] or 0,
            "descendants": r["descendants"] or 0,
        }
        for r in (clean_row(x) for x in rows)
    ]


def family_detail(view: View, name: str) -> dict[str, Any]:
    """The family page: ranking row, official models, derivatives, lineage tree, monthly."""
    family = view.analysis.registry.get(name)
    ranking = [r for r in view.report.data["families"] if r["family"] == family.name]
    official = view.official[view.official.owner == family.name]
    tree = []
    with view.cursor() as run:
        for model in official.head(10).to_dict("records"):
            kids, total = children_of(view, model["model_id"], 6, run)
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
    with view.raw_cursor() as con:
        engine = functools.cache(lambda: ibis.duckdb.from_connection(con))  # only if needed

        def run(table: ir.Table) -> pa.Table:
            return engine().to_pyarrow(table)

        if not (held and model_id in view.models.index):  # else: as spelt, case aside
            model_id = analysis.find_model(model_id, run)
        lookups = None
        if held and view.statements is not None:  # prepared lookups, no expression built
            lookups = SqlLookups(view.statements, con, view.models.index.__contains__)
        lineage = describe_lineage(
            analysis.lineage,
            model_dimensions(analysis),
            model_id,
            run=run,
            facts=view.facts_of if held else None,
            lookups=lookups,
        )
        if held:
            at = view.models.index.get_indexer([model_id])
            found = view.models.iloc[at[at >= 0]]
        else:
            found = model_facts(analysis, view.mode, model_id, run)
        below = lookups.below(model_id) if lookups is not None else None
        kids, total = children_of(view, model_id, 25, run, below)
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
