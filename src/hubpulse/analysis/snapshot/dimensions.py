"""Per-model dimensions, credits and derivative pairs of one snapshot: the tables questions
group by, computed once per snapshot and stored with its analysis (``stored``).

- ``model_dimensions``: each model's counts, declared relation, parameters and size class, the
  family whose rule claims it (``publisher``) and how many models descend from it;
- ``model_credits``: each (model, family) share under a mode with its weighted counts, a model
  split between n families giving each ⌊v/n⌋ whole downloads and the remainder one each to its
  first families by name, so family totals add up to the per-model sum exactly;
- ``derivative_pairs``: each model below a first-party repo of a group that is not first-party
  to that group itself.

Each table is cached on the ``Analysis`` under a name owned here (``DIMENSIONS``,
``credits_key``, ``pairs_key``), the same name the stored stage gives its file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.families import match_publishers
from hubpulse.analysis.snapshot.sizes import parameter_count, size_bucket
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import GroupBy, Mode

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis

PAIR_GROUPS: tuple[GroupBy, ...] = ("family", "vendor", "country", "author")
"""Groups whose derivative pairs are stored with the analysis (``stored``); a model's derivatives
are its descendants (``model_dimensions``)."""

DIMENSIONS = "dimensions"


def credits_key(mode: Mode) -> str:
    """The name of the credits table of ``mode`` (cached and stored under it)."""
    return f"credits_{mode}"


def pairs_key(by: GroupBy) -> str:
    """The name of the derivative pairs table of ``by`` (cached and stored under it)."""
    return f"pairs_{by}"


def exact(value: ir.NumericValue) -> ir.DecimalValue:
    """``value`` as a fixed-point decimal (12 places), so that weighted sums are exact and the
    same on every run: float sums depend on the engine's (parallel) summation order, and a
    share such as 1/3 could round a total to a different integer from one run to the next."""
    return value.cast(idt.Decimal(38, 12))


def model_credits(analysis: Analysis, mode: Mode) -> ir.Table:
    """model_id, family, weight, author, size and the weighted counts (dl30, dlall, likes_w,
    exact decimals) of every (model, family) share under ``mode`` (stored)."""
    return analysis.once(credits_key(mode), lambda: compute_credits(analysis, mode))


def compute_credits(analysis: Analysis, mode: Mode, *, cached: bool = True) -> ir.Table:
    """``model_credits`` computed (the stored stage writes it straight from this expression,
    ``cached=False``: its attribution computed in the same query, not stored first)."""
    dims = model_dimensions(analysis)
    if mode == "publisher":
        return publisher_credits(dims)
    shares = analysis.attribution(mode) if cached else analysis.attribute(mode)
    joined = dims.join(shares, "model_id")
    # most models have one family: only the split ones need the windows below
    split = joined.filter(joined.weight < 1.0)
    # a model split between n families (weight 1/n) gives each ⌊v/n⌋ whole downloads and the
    # v mod n left over one each to its first families by name: the parts add up to v exactly
    n = split.family.count().over(ibis.window(group_by=split.model_id))
    place = ibis.row_number().over(ibis.window(group_by=split.model_id, order_by=split.family))

    def part(value: ir.IntegerValue) -> ir.IntegerValue:
        return value // n + ibis.ifelse(place < value % n, 1, 0)

    parts = split.select(
        *CREDIT_KEYS,
        dl30=part(split.downloads_30d),
        dlall=part(split.downloads_all_time),
        likes_w=part(split.likes),
    )
    return _whole(joined.filter(joined.weight == 1.0)).union(parts, distinct=False)


CREDIT_KEYS = ("model_id", "family", "weight", "author", "size")


def publisher_credits(dims: ir.Table) -> ir.Table:
    """The credits under publisher mode: each model whole for the family its dimensions name
    (``dims``, ``model_dimensions``): a projection of the dimensions, so never stored apart."""
    family = dims.publisher.fill_null(UNATTRIBUTED)
    return _whole(dims.mutate(family=family, weight=ibis.literal(1.0)))


def _whole(joined: ir.Table) -> ir.Table:
    """The credits of models counted whole for one family."""
    return joined.select(
        *CREDIT_KEYS,
        dl30=joined.downloads_30d,
        dlall=joined.downloads_all_time,
        likes_w=joined.likes,
    )


def model_dimensions(analysis: Analysis) -> ir.Table:
    """model_id, author, downloads_30d, downloads_all_time, likes, base_relation, params, size,
    publisher (the family whose rule claims the repo; null when none), descendants (models in
    the snapshot below it, any depth): the per-model facts
    questions group by, computed once per snapshot and stored (``stored``)."""
    return analysis.once(DIMENSIONS, lambda: dimensions_of(analysis))


def dimensions_of(analysis: Analysis) -> ir.Table:
    """``model_dimensions`` as an expression (the stored stage writes it from this)."""
    models = analysis.models
    owners = match_publishers(models.select("model_id"), analysis.registry)
    params = parameter_count(models)
    facts = models.select(
        "model_id",
        "author",
        "downloads_30d",
        "downloads_all_time",
        "likes",
        "base_relation",
        params=params,
        size=size_bucket(params),
    )
    closure = analysis.lineage.closure  # a count per ancestor: no lookup
    below = closure.group_by(model_id=closure.ancestor_id).aggregate(descendants=closure.count())
    joined = facts.left_join(owners, "model_id").left_join(below, "model_id")
    return joined.select(
        *facts.columns, publisher=joined.family, descendants=joined.descendants.fill_null(0)
    )


def publishers(analysis: Analysis) -> ir.Table:
    """model_id → family of the snapshot's first-party models (from their dimensions)."""
    dims = model_dimensions(analysis)
    return dims.filter(dims.publisher.notnull()).select("model_id", family=dims.publisher)


def first_party(analysis: Analysis, by: GroupBy) -> ir.Table:
    """model_id → key of the group that publishes it (publisher rule), for every node of the
    graph: the snapshot's models and the external parents they name."""
    edges = analysis.lineage.edges
    parents = edges.select(model_id=edges.parent)
    if by in ("model", "author"):
        nodes = analysis.models.select("model_id").union(parents, distinct=True)
        key = nodes.model_id if by == "model" else nodes.model_id.split("/")[0]
        return nodes.select("model_id", key=key)
    # the snapshot's models carry their publisher in their dimensions: only the external
    # parents are matched against the registry here
    external = edges.filter(~edges.parent_known).select(model_id=edges.parent).distinct()
    owners = publishers(analysis).union(
        match_publishers(external, analysis.registry), distinct=False
    )
    families = analysis.families()
    joined = owners.join(families, "family")
    return joined.select("model_id", key=joined[by])


def derivative_pairs(analysis: Analysis, by: GroupBy) -> ir.Table:
    """descendant, key: each model that descends from a first-party repo of group ``key`` and is
    not first-party to that group itself (computed once per group)."""
    return analysis.once(pairs_key(by), lambda: compute_pairs(analysis, by))


def compute_pairs(analysis: Analysis, by: GroupBy) -> ir.Table:
    """``derivative_pairs`` computed (the stored ``pairs`` stage is built from it)."""
    own = first_party(analysis, by)
    closure = analysis.lineage.closure
    pairs = closure.join(own, closure.ancestor_id == own.model_id).select(
        descendant=closure.model_id, key=own.key
    )
    own_pairs = own.select(descendant=own.model_id, key=own.key)
    return pairs.anti_join(own_pairs, ["descendant", "key"]).distinct()
