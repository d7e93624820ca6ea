"""What ``hubpulse lineage MODEL`` shows of one model: its ancestry up to the roots, its roots
and depth, and a summary of its descendants, assembled from lookups by the model's id
(``Lookups``): queries of the stored lineage tables on any engine (``TableLookups``), or the
dashboard's own (``web.lookups``), so that both give the same report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.analysis.snapshot.lineage import Lineage


@dataclass(frozen=True)
class LineageReport:
    """What ``hubpulse lineage MODEL_ID`` shows, as plain Python values."""

    model_id: str
    in_snapshot: bool
    ancestry: list[dict[str, object]]
    roots: list[dict[str, object]]
    depth: int
    descendants_by_relation: list[dict[str, object]]
    descendants_by_depth: list[dict[str, object]]
    issues: list[dict[str, object]]

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


Run = Callable[[ir.Table], pa.Table]
"""Runs a query: by default on the tables' own backend (the dashboard passes its own cursor)."""

Facts = Callable[[list[str]], pa.Table]
"""model_id, author, downloads_30d, base_relation of the given models in the snapshot."""


class Lookups(Protocol):
    """The lookups by one model id that ``describe_lineage`` assembles its report from."""

    def present(self, model_id: str) -> bool:
        """Whether the snapshot holds the model."""

    def below(self, model_id: str) -> pa.Table:
        """model_id, depth of every descendant."""

    def above(self, model_id: str) -> list[str]:
        """The ids of every ancestor."""

    def ancestry(self, ids: list[str]) -> list[dict[str, object]]:
        """child, parent, relation, parent_known of the edges of ``ids``, by child and parent."""

    def roots(self, model_id: str) -> list[dict[str, Any]]:
        """root_id, depth, external of the model's roots, by root_id."""

    def issues(self, model_id: str) -> list[dict[str, object]]:
        """The repairs made to edges from or to the model."""


@dataclass(frozen=True)
class TableLookups:
    """``Lookups`` as queries of the lineage's tables (each a lookup by a key its table is
    sorted by), run by ``run``, on any engine. ``models`` needs model_id, author,
    downloads_30d and base_relation (the snapshot's rows, or its stored dimensions)."""

    lineage: Lineage
    models: ir.Table
    run: Run

    def present(self, model_id: str) -> bool:
        models = self.models
        found = models.filter(models.model_id == model_id).select("model_id").limit(1)
        return bool(self.run(found).num_rows)

    def below(self, model_id: str) -> pa.Table:
        below = self.lineage.below
        return self.run(below.filter(below.ancestor_id == model_id).select("model_id", "depth"))

    def above(self, model_id: str) -> list[str]:
        closure = self.lineage.closure
        found = self.run(closure.filter(closure.model_id == model_id).select("ancestor_id"))
        return found.column(0).to_pylist()

    def ancestry(self, ids: list[str]) -> list[dict[str, object]]:
        edges = self.lineage.edges
        found = edges.filter(edges.child.isin(ids)).order_by(["child", "parent"])
        return self.run(found.select("child", "parent", "relation", "parent_known")).to_pylist()

    def roots(self, model_id: str) -> list[dict[str, Any]]:
        roots = self.lineage.roots
        found = roots.filter(roots.model_id == model_id).order_by("root_id")
        return self.run(found.select("root_id", "depth", "external")).to_pylist()

    def issues(self, model_id: str) -> list[dict[str, object]]:
        issues = self.lineage.issues
        return self.run(
            issues.filter((issues.model_id == model_id) | (issues.parent_id == model_id))
        ).to_pylist()

    def descendant_facts(self, model_id: str) -> pa.Table:
        """model_id, author, downloads_30d, base_relation of the model's descendants."""
        below = self.lineage.below
        ids = below.filter(below.ancestor_id == model_id).select("model_id")
        columns = ["model_id", "author", "downloads_30d", "base_relation"]
        return self.run(self.models.semi_join(ids, "model_id").select(columns))


def describe_lineage(
    lineage: Lineage,
    models: ir.Table,
    model_id: str,
    *,
    run: Run | None = None,
    facts: Facts | None = None,
    lookups: Lookups | None = None,
) -> LineageReport:
    """Ancestry (every parent link up to the roots), roots, depth and a descendant summary,
    from ``lookups`` (default: ``TableLookups`` of ``lineage`` and ``models`` run by ``run``).
    ``facts`` (the dashboard's facts in memory) replaces the lookup of the descendants' facts
    in ``models``."""
    from hubpulse.errors import ModelNotFoundError

    tables = TableLookups(lineage.by_model(), models, run or _run)
    lookups = lookups or tables
    in_snapshot = lookups.present(model_id)
    found = lookups.below(model_id)
    if not in_snapshot and not found.num_rows:
        raise ModelNotFoundError(
            f"model {model_id!r} is neither in the snapshot nor a parent of any model in it"
        )
    ids = found.column("model_id").to_pylist()
    known = tables.descendant_facts(model_id) if facts is None else facts(ids)
    root_rows = lookups.roots(model_id)
    by_relation, by_depth = _summary(found, known)
    return LineageReport(
        model_id=model_id,
        in_snapshot=in_snapshot,
        ancestry=lookups.ancestry([model_id, *lookups.above(model_id)]),
        roots=root_rows or [{"root_id": model_id, "depth": 0, "external": not in_snapshot}],
        depth=max((int(r["depth"]) for r in root_rows), default=0),
        descendants_by_relation=by_relation,
        descendants_by_depth=by_depth,
        issues=lookups.issues(model_id),
    )


def _summary(
    below: pa.Table, facts: pa.Table
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Descendants by relation (models, publishers, 30-day downloads) and by depth: of the
    descendants (model_id, depth) that are in the snapshot (``facts``)."""

    def keyed(table: pa.Table) -> pa.Table:  # one key type on both sides of the join
        at = table.schema.get_field_index("model_id")
        return table.set_column(at, "model_id", pc.cast(table["model_id"], pa.large_string()))

    rows = keyed(below).join(keyed(facts), "model_id", join_type="inner")
    rows = rows.set_column(
        rows.schema.get_field_index("base_relation"),
        "relation",
        pc.coalesce(rows.column("base_relation"), pa.scalar("unknown")),
    ).set_column(
        rows.schema.get_field_index("downloads_30d"),
        "downloads_30d",
        pc.fill_null(rows.column("downloads_30d"), 0),
    )
    by_relation = rows.group_by("relation").aggregate(
        [
            ("model_id", "count_distinct"),
            ("author", "count_distinct"),
            ("downloads_30d", "sum"),
        ]
    )
    by_relation = _named(
        by_relation,
        relation="relation",
        descendants="model_id_count_distinct",
        publishers="author_count_distinct",
        downloads_30d="downloads_30d_sum",
    ).sort_by([("descendants", "descending"), ("relation", "ascending")])
    by_depth = rows.group_by("depth").aggregate([("model_id", "count_distinct")])
    by_depth = _named(by_depth, depth="depth", descendants="model_id_count_distinct")
    return by_relation.to_pylist(), by_depth.sort_by("depth").to_pylist()


def _named(table: pa.Table, **columns: str) -> pa.Table:
    """``table``'s columns picked by name and renamed (name=source), in this order."""
    return pa.table({name: table[source] for name, source in columns.items()})


def _run(table: ir.Table) -> pa.Table:
    return table.to_pyarrow()
