"""The model page's lookups as SQL prepared once per view: each a statement over the stored
lineage tables (sorted by the key it is looked up by) with the model id bound as a parameter,
run on the page's own DuckDB cursor. An Ibis expression built and compiled per lookup costs
more than the lookup itself; these give ``describe_lineage`` the same rows as its
``TableLookups`` (tested), so the page and ``hubpulse lineage`` tell the same lineage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from hubpulse.analysis.snapshot.lineage import Lineage


@dataclass(frozen=True)
class Statements:
    """The lookup statements over one stored lineage (``Lineage.by_model``)."""

    below: str
    above: str
    edges: str
    roots: str
    issues: str

    @classmethod
    def of(cls, lineage: Lineage) -> Statements | None:
        """The statements over ``lineage``'s stored tables (None when they are not stored, as
        when the warehouse could not be written: the page then queries the tables)."""
        if lineage.lookups is None:
            return None
        tables = lineage.by_model()
        names = {
            "below": tables.below.get_name(),
            "closure": tables.closure.get_name(),
            "edges": tables.edges.get_name(),
            "roots": tables.roots.get_name(),
            "issues": tables.issues.get_name(),
        }
        return cls(
            below=f'select model_id, depth from "{names["below"]}" where ancestor_id = $1',
            above=f'select ancestor_id from "{names["closure"]}" where model_id = $1',
            edges=f'select child, parent, relation, parent_known from "{names["edges"]}" '
            "where child in ({ids}) order by child, parent",
            roots=f'select root_id, depth, external from "{names["roots"]}" '
            "where model_id = $1 order by root_id",
            issues=f'select * from "{names["issues"]}" where model_id = $1 or parent_id = $1',
        )


@dataclass
class SqlLookups:
    """``lineage_report.Lookups`` on a DuckDB cursor, whether a model is in the snapshot told
    by ``present`` (the dashboard's facts in memory); each model's descendants are kept for
    the page's list of children."""

    statements: Statements
    cursor: Any
    present: Callable[[str], bool]
    found: dict[str, pa.Table] = field(default_factory=dict)

    def _rows(self, sql: str, *values: str) -> pa.Table:
        return self.cursor.execute(sql, list(values)).to_arrow_table()

    def below(self, model_id: str) -> pa.Table:
        if model_id not in self.found:
            self.found[model_id] = self._rows(self.statements.below, model_id)
        return self.found[model_id]

    def above(self, model_id: str) -> list[str]:
        return self._rows(self.statements.above, model_id).column(0).to_pylist()

    def ancestry(self, ids: list[str]) -> list[dict[str, object]]:
        marks = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
        return self._rows(self.statements.edges.format(ids=marks), *ids).to_pylist()

    def roots(self, model_id: str) -> list[dict[str, Any]]:
        return self._rows(self.statements.roots, model_id).to_pylist()

    def issues(self, model_id: str) -> list[dict[str, object]]:
        return self._rows(self.statements.issues, model_id).to_pylist()
