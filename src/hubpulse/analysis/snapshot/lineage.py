"""Lineage: parents, ancestors, roots, depth and descendants of every model in a snapshot.

Everything is computed as joins in the engine. Ibis has no recursive construct, so
``resolve_lineage`` makes one explicit choice: the ancestor closure is grown by **path
doubling** — each round joins only the newest level of (model, ancestor) pairs with every pair
known so far, so the distances covered double every round, and keeps the pairs not seen before,
materialising each round (``engines.materialise``). The number of rounds is ⌊log2⌋ + 1 of the
longest shortest-path in the graph (≤ ``max_depth``): 6 for a chain of 40, not 40.

Graph repairs, each reported in ``Lineage.issues``:

- parent ids are first resolved through the alias table (renamed repos), unless the old id is
  itself a live repo in the snapshot;
- self-references (a model naming itself as parent) are dropped;
- cycles are broken deterministically: inside a cycle an edge is kept only when the parent is
  older than the child (by ``created_at``, then id), so the oldest member becomes the cycle's root;
- parents missing from the snapshot stay in the graph as *external* roots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir

from hubpulse.errors import LineageError
from hubpulse.store.engines import materialise

_ALIAS_ROUNDS = 4  # resolves rename chains up to 2**4 = 16 hops
_FAR_FUTURE = ibis.timestamp("9999-12-31 00:00:00")


@dataclass(frozen=True)
class Lineage:
    """The resolved lineage graph of one snapshot, as engine tables.

    - ``edges``: child, parent, relation, parent_known (parent is a repo in the snapshot)
    - ``closure``: model_id, ancestor_id, depth (shortest distance, ≥ 1)
    - ``roots``: model_id, root_id, depth, external; a model without parents is its own root
      at depth 0; ``external`` marks roots missing from the snapshot (as ``resolve_lineage``
      returns it, an expression over the stored edges and closure)
    - ``issues``: model_id, parent_id, kind (self_reference | cycle_break | alias), detail
    - ``rounds``: closure iterations used
    - ``lookups``: makes the tables again sorted for lookups, so that a lookup reads a few
      row groups (``LOOKUPS``; stored apart, built on the first lookup; None: use the tables
      above, as a snapshot's first question writes them unsorted)
    """

    edges: ir.Table
    closure: ir.Table
    roots: ir.Table
    issues: ir.Table
    rounds: int
    lookups: Callable[[], dict[str, ir.Table]] | None = None

    @property
    def below(self) -> ir.Table:
        """The closure, for lookups by ``ancestor_id``."""
        return self.closure if self.lookups is None else self.lookups()["by_ancestor"]

    def by_model(self) -> Lineage:
        """This lineage with its edges, closure and roots sorted for lookups by model (by
        child, by model_id): what ``describe_lineage`` reads."""
        if self.lookups is None:
            return self
        tables = self.lookups()
        return replace(
            self,
            edges=tables["edges_by_child"],
            closure=tables["closure_by_model"],
            roots=tables["roots_by_model"],
        )


LOOKUPS = {
    "by_ancestor": ("closure", ["ancestor_id", "model_id"]),
    "closure_by_model": ("closure", ["model_id", "ancestor_id"]),
    "roots_by_model": ("roots", ["model_id", "root_id"]),
    "edges_by_child": ("edges", ["child", "parent"]),
}
"""Each lookup table: the lineage table it sorts, and its sort keys."""


GRAPH_COLUMNS = ("model_id", "base_models", "base_relation", "created_at")
"""The columns of a snapshot ``resolve_lineage`` reads."""


def resolve_lineage(models: ir.Table, aliases: ir.Table, *, max_depth: int = 256) -> Lineage:
    """Resolve the base-model graph of ``models`` (one snapshot; ``GRAPH_COLUMNS`` suffice)
    into a ``Lineage``."""
    raw = models.select(
        child=models.model_id, relation=models.base_relation, parent=models.base_models.unnest()
    )
    raw = raw.filter(raw.parent.notnull() & (raw.parent != ""))
    renamed, alias_issues = _apply_aliases(raw, models, aliases)
    self_refs = renamed.filter(renamed.child == renamed.parent)
    edges = materialise(
        renamed.filter(renamed.child != renamed.parent).distinct(on=["child", "parent"])
    )
    closure, rounds = _close(edges, max_depth)
    dropped = _cycle_breaks(edges, closure, models)
    if _count(dropped):
        edges = materialise(edges.anti_join(dropped, ["child", "parent"]))
        closure, rounds = _close(edges, max_depth)
    known = models.select(known_id=models.model_id)
    edges = materialise(
        edges.left_join(known, edges.parent == known.known_id).select(
            "child", "parent", "relation", parent_known=ibis._.known_id.notnull()
        )
    )
    issues = materialise(
        ibis.union(
            alias_issues,
            _issue(self_refs, "self_reference", ibis.literal("model lists itself as its parent")),
            _issue(dropped, "cycle_break", ibis.literal("edge to a younger parent inside a cycle")),
        )
    )
    return Lineage(
        edges=edges,
        closure=closure,
        roots=_roots(models, edges, closure),  # read once by a stored build: not stored here
        issues=issues,
        rounds=rounds,
    )


def _apply_aliases(raw: ir.Table, models: ir.Table, aliases: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Map parent ids through the (transitively closed) alias table."""
    mapping = aliases.select("old_id", "new_id").distinct(on="old_id")
    # the live repos among the (few) old ids: the snapshot's ids probe the small mapping, rather
    # than every id being hashed to drop a few hundred renames
    live = models.select(live_id=models.model_id)
    live = live.filter(live.live_id.isin(mapping.old_id))
    # materialised: each round below reads the one before twice, so an expression would repeat
    # this scan of the snapshot 2**_ALIAS_ROUNDS times
    mapping = materialise(mapping.anti_join(live, mapping.old_id == live.live_id))
    for _ in range(_ALIAS_ROUNDS):  # pointer jumping: each round doubles the chain length covered
        hop = mapping.select(hop_old=mapping.old_id, hop_new=mapping.new_id)
        mapping = mapping.left_join(hop, mapping.new_id == hop.hop_old).select(
            "old_id", new_id=ibis.coalesce(ibis._.hop_new, ibis._.new_id)
        )
    mapping = materialise(mapping.filter(mapping.old_id != mapping.new_id))
    joined = raw.left_join(mapping, raw.parent == mapping.old_id)
    renamed = joined.select("child", "relation", parent=ibis.coalesce(joined.new_id, joined.parent))
    hits = joined.filter(joined.new_id.notnull())
    issues = hits.select(
        model_id=hits.child,
        parent_id=hits.new_id,
        kind=ibis.literal("alias"),
        detail=ibis.literal("parent named by its old id ") + hits.parent,
    )
    return renamed, issues


def _close(edges: ir.Table, max_depth: int) -> tuple[ir.Table, int]:
    """Ancestor closure by path doubling (see module docstring): (model, ancestor, shortest
    distance), in ⌊log2 depth⌋ + 1 rounds.

    Level 0 is the edges (distance 1); round j joins level j-1 with every pair known so far and
    keeps the pairs not known before, at their least summed distance: level j, the pairs at
    distance (2^(j-1), 2^j]. A shortest path of such a length splits into a first part of
    ⌈d/2⌉ steps (level j-1) and a rest of at most 2^(j-1) (known), so every new pair is found
    at its shortest distance. A pair further than 2^j would have one exactly 2^j away on its
    path, so the closure is complete once a level holds no pair at distance 2^j. Each level is
    materialised on its own; no round rewrites the pairs found before it."""
    frontier = materialise(
        edges.select(model_id=edges.child, ancestor_id=edges.parent, depth=ibis.literal(1, "int64"))
    )
    levels, reach, rounds = [frontier], 1, 0
    while _deepest(frontier) == reach:
        if reach > max_depth:
            raise _too_deep(max_depth, reach)
        known = ibis.union(*levels) if len(levels) > 1 else levels[0]
        rest = known.select(step_from=known.model_id, step_to=known.ancestor_id, more=known.depth)
        step = frontier.join(rest, frontier.ancestor_id == rest.step_from).select(
            model_id=frontier.model_id, ancestor_id=rest.step_to, depth=frontier.depth + rest.more
        )
        shortest = step.group_by(["model_id", "ancestor_id"]).aggregate(depth=step.depth.min())
        frontier = materialise(shortest.anti_join(known, ["model_id", "ancestor_id"]))
        levels.append(frontier)
        reach, rounds = reach * 2, rounds + 1
    closure = ibis.union(*levels) if len(levels) > 1 else levels[0]
    deepest = _deepest(closure)
    if deepest is not None and deepest > max_depth:
        raise _too_deep(max_depth, deepest)
    return (materialise(closure) if len(levels) > 1 else frontier), rounds


def _deepest(pairs: ir.Table) -> int | None:
    value = pairs.depth.max().execute()
    return None if value is None or value != value else int(value)


def _too_deep(max_depth: int, found: int) -> LineageError:
    return LineageError(
        f"lineage is deeper than max_lineage_depth ({max_depth}): a chain of at least {found} "
        "levels; raise HUBPULSE_MAX_LINEAGE_DEPTH"
    )


def _cycle_breaks(edges: ir.Table, closure: ir.Table, models: ir.Table) -> ir.Table:
    """Edges that close a cycle and point to a younger (or same-age, larger-id) parent."""
    back = closure.select(back_from=closure.model_id, back_to=closure.ancestor_id)
    cyclic = edges.join(
        back, (edges.parent == back.back_from) & (edges.child == back.back_to)
    ).select("child", "parent", "relation")
    ages = models.select(age_id=models.model_id, age=ibis.coalesce(models.created_at, _FAR_FUTURE))
    child_age = ages.select(c_id=ages.age_id, c_age=ages.age)
    parent_age = ages.view().select(p_id="age_id", p_age="age")
    step = cyclic.join(child_age, cyclic.child == child_age.c_id).select(
        "child", "parent", "relation", "c_age"
    )
    dated = step.join(parent_age, step.parent == parent_age.p_id)
    younger_parent = (dated.p_age > dated.c_age) | (
        (dated.p_age == dated.c_age) & (dated.parent > dated.child)
    )
    return materialise(dated.filter(younger_parent).select("child", "parent", "relation"))


def _roots(models: ir.Table, edges: ir.Table, closure: ir.Table) -> ir.Table:
    has_parent = edges.select(with_parent=edges.child).distinct()
    known = models.select(known_id=models.model_id)
    ancestral = closure.anti_join(has_parent, closure.ancestor_id == has_parent.with_parent)
    ancestral = ancestral.select("model_id", root_id=ancestral.ancestor_id, depth=ancestral.depth)
    orphans = models.anti_join(has_parent, models.model_id == has_parent.with_parent)
    own = orphans.select("model_id", root_id=orphans.model_id, depth=ibis.literal(0, "int64"))
    roots = ancestral.union(own)
    marked = roots.left_join(known, roots.root_id == known.known_id)
    return marked.select("model_id", "root_id", "depth", external=marked.known_id.isnull())


def _issue(edges: ir.Table, kind: str, detail: ir.StringValue) -> ir.Table:
    return edges.select(
        model_id=edges.child, parent_id=edges.parent, kind=ibis.literal(kind), detail=detail
    )


def _count(table: ir.Table) -> int:
    return int(table.count().execute())


def model_depths(lineage: Lineage) -> ir.Table:
    """model_id → depth: the largest shortest-path distance to any of its roots."""
    return lineage.roots.group_by("model_id").aggregate(depth=lineage.roots.depth.max())
