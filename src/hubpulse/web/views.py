"""Dashboard data: what the web pages and the JSON API serve, precomputed per snapshot.

Heavy aggregates are computed once per (snapshot, mode) by ``Dashboard.view`` with the same
library calls as the CLI and the report (``build_report``), then kept in memory: rankings,
monthly figures, derivatives, per-model facts (downloads, size, descendants) and the
snapshot's resolved lineage (closure, edges, roots, repairs, descendant summaries) indexed by
model, so a model page (``lineage_of``, the same answer as ``hubpulse lineage``, tested) needs
no engine query.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.analysis.families import match_publishers
from hubpulse.analysis.metrics import Analysis, model_families, parameter_count, size_bucket
from hubpulse.analysis.trends import family_trend
from hubpulse.errors import ModelNotFoundError, SnapshotNotFoundError
from hubpulse.present.report import Report, build_report, load_analysis
from hubpulse.settings import Mode, Settings
from hubpulse.store.warehouse import open_warehouse

MEMO_SIZE = 1024


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


@dataclass(frozen=True)
class View:
    """Everything a page needs for one snapshot under one mode, computed once."""

    analysis: Analysis
    mode: Mode
    report: Report
    models: pd.DataFrame  # indexed by model_id
    children: dict[str, Any]  # parent → positions in ``edges``
    edges: pd.DataFrame  # child, parent, relation, downloads_30d (desc within parent)
    official: pd.DataFrame  # owner (family), model_id, downloads_30d, ...: first-party repos
    trends: dict[str, list[dict[str, Any]]]  # family → monthly rows with growth
    graph: Graph  # the snapshot's lineage, indexed (shared by both modes)
    memo: OrderedDict[Any, Any] = field(default_factory=OrderedDict)  # rendered pieces
    memo_lock: threading.Lock = field(default_factory=threading.Lock)
    search_keys: pa.Array = field(init=False)  # lower-case model ids, for substring search

    def __post_init__(self) -> None:
        keys = pc.utf8_lower(pa.array(self.models["model_id"], pa.string()))
        object.__setattr__(self, "search_keys", keys)  # frozen: set once, here

    def remember(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` once per key, keeping the ``MEMO_SIZE`` most recently used results
        (charts, family details, comparisons, model pages)."""
        with self.memo_lock:
            if key in self.memo:
                self.memo.move_to_end(key)
                return self.memo[key]
        value = make()
        with self.memo_lock:
            self.memo[key] = value
            while len(self.memo) > MEMO_SIZE:
                self.memo.popitem(last=False)
        return value


class Dashboard:
    """The warehouse's precomputed views, built lazily per (snapshot, mode) and kept."""

    def __init__(self, settings: Settings, *, months: int = 24) -> None:
        self.settings = settings
        self.store = open_warehouse(settings.warehouse)
        self.dates = self.store.snapshot_dates()
        if not self.dates:
            raise SnapshotNotFoundError(
                f"no snapshots in {settings.warehouse}: run `hubpulse ingest` or `hubpulse demo`"
            )
        self.months = months
        self._lock = threading.RLock()
        self._analyses: dict[dt.date, Analysis] = {}
        self._graphs: dict[dt.date, Graph] = {}
        self._views: dict[tuple[dt.date, Mode], View] = {}

    def date(self, date: dt.date | None) -> dt.date:
        if date is None:
            return self.dates[-1]
        if date not in self.dates:
            known = ", ".join(d.isoformat() for d in self.dates)
            raise SnapshotNotFoundError(f"no snapshot dated {date}; stored: {known}")
        return date

    def view(self, date: dt.date | None = None, mode: Mode | None = None) -> View:
        key = (self.date(date), mode or self.settings.mode)
        with self._lock:
            if key not in self._views:
                self._views[key] = self._build(*key)
            return self._views[key]

    def locked(self) -> threading.RLock:
        """Hold while running engine queries (one DuckDB connection)."""
        return self._lock

    def _build(self, date: dt.date, mode: Mode) -> View:
        if date not in self._analyses:
            self._analyses[date] = load_analysis(self.settings, date, self.store)
        analysis = self._analyses[date]
        settings = self.settings.model_copy(update={"mode": mode})
        report = build_report(
            settings, date=date, months=self.months, warehouse=self.store, analysis=analysis
        )
        models = _model_facts(analysis, mode)
        edges = _edges(analysis)
        owners = match_publishers(analysis.models.select("model_id"), analysis.registry)
        owners = owners.select("model_id", owner="family").to_pyarrow().to_pandas()
        official = owners.merge(models.reset_index(drop=True), on="model_id")
        official = official.sort_values(["downloads_30d", "model_id"], ascending=[False, True])
        children = edges.groupby("parent", sort=False).indices
        trends: dict[str, list[dict[str, Any]]] = {}
        if report.data["monthly"]:
            monthly = ibis.memtable(pd.DataFrame(report.data["monthly"]))
            names = sorted({r["family"] for r in report.data["monthly"]})
            for row in family_trend(monthly, names).to_pyarrow().to_pylist():
                trends.setdefault(row["family"], []).append(_clean(row))
        if date not in self._graphs:
            self._graphs[date] = build_graph(analysis)
        return View(
            analysis, mode, report, models, children, edges, official, trends, self._graphs[date]
        )


def _model_facts(analysis: Analysis, mode: Mode) -> pd.DataFrame:
    models = analysis.models
    families = model_families(analysis, mode)
    closure = analysis.lineage.closure
    counts = closure.group_by(model_id=closure.ancestor_id).aggregate(descendants=closure.count())
    facts = models.select(
        "model_id",
        "author",
        "created_at",
        "pipeline_tag",
        "library_name",
        downloads_30d=models.downloads_30d.fill_null(0),
        downloads_all_time=models.downloads_all_time,
        likes=models.likes.fill_null(0),
        params=parameter_count(models),
        size=size_bucket(parameter_count(models)),
        relation=models.base_relation,
    )
    facts = facts.left_join(families, "model_id").drop("model_id_right")
    facts = facts.left_join(counts, "model_id").drop("model_id_right")
    frame = facts.mutate(descendants=facts.descendants.fill_null(0)).to_pyarrow().to_pandas()
    return frame.sort_values(["downloads_30d", "model_id"], ascending=[False, True]).set_index(
        "model_id", drop=False
    )


def _edges(analysis: Analysis) -> pd.DataFrame:
    edges = analysis.lineage.edges
    dl = analysis.models.select(child_id="model_id", downloads_30d="downloads_30d")
    joined = edges.left_join(dl, edges.child == dl.child_id)
    table = joined.select(
        "child", "parent", "relation", downloads_30d=joined.downloads_30d.fill_null(0)
    ).order_by(["parent", ibis.desc("downloads_30d"), "child"])
    return table.to_pyarrow().to_pandas()


def children_of(view: View, model_id: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """A model's direct children, most downloaded first, and how many it has."""
    positions = view.children.get(model_id)
    if positions is None:
        return [], 0
    rows = [_clean(r) for r in view.edges.iloc[positions[:limit]].to_dict("records")]
    for row in rows:
        row["descendants"] = int(_get(view.models, row["child"], "descendants") or 0)
    return rows, len(positions)


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
        tree.append({**_clean(model), "children": kids, "children_total": total})
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
        "official_models": [_clean(r) for r in official.head(50).to_dict("records")],
        "derivatives": [r for r in view.report.data["derivatives"] if r["family"] == family.name],
        "tree": tree,
        "monthly": view.trends.get(family.name, []),
    }


def model_detail(view: View, model_id: str) -> dict[str, Any]:
    """The model page: facts, ancestry (every parent link up to the roots), descendants by
    relation and depth (as ``hubpulse lineage``), and the most downloaded direct children."""
    lineage = lineage_of(view.graph, model_id)
    facts = _clean(view.models.loc[model_id].to_dict()) if model_id in view.models.index else None
    kids, total = children_of(view, model_id, 25)
    return {
        "snapshot_date": view.analysis.snapshot_date.isoformat(),
        "mode": view.mode,
        "model": facts,
        **lineage,
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
    return [_clean(r) for r in hits[columns].to_dict("records")]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """pandas values → JSON values (NaN/NaT → None, timestamps → ISO text, numpy → Python)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
            out[key] = None
        elif isinstance(value, dt.datetime | dt.date):
            out[key] = value.isoformat()
        elif hasattr(value, "item"):
            out[key] = value.item()
        else:
            out[key] = value
    return out
