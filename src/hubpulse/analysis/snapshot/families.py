"""Families: the attribution of every model to the registry's families (``hubpulse.registry``).

Attribution modes (always stated in output):

- ``publisher``: a model counts for the family its own repo matches (first-party repos only);
- ``lineage``: a model counts for the families of its root ancestors, so third-party fine-tunes,
  adapters, quantizations and merges count too. A model whose roots belong to several families
  (a cross-family merge) is split evenly between those families; roots that match no family
  count as the ``(unattributed)`` share.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.lineage import Lineage
from hubpulse.registry import UNATTRIBUTED, Registry
from hubpulse.settings import Mode


def assign_families(
    models: ir.Table,
    registry: Registry,
    lineage: Lineage,
    mode: Mode,
    owners: ir.Table | None = None,
) -> ir.Table:
    """model_id, family, weight: each model's share per family under ``mode``.

    Weights of one model sum to 1; unattributed models get the family ``(unattributed)``.
    ``owners`` (model_id → family of the snapshot's first-party models, as their dimensions
    hold it) spares matching every root against the registry: only external roots are.
    """
    if mode == "publisher":
        return assign_publishers(models.select("model_id"), registry)
    if mode != "lineage":
        raise ValueError(f"unknown attribution mode {mode!r}; use publisher or lineage")
    roots = lineage.roots
    if owners is None:
        owners = match_publishers(roots.select(model_id=roots.root_id).distinct(), registry)
    else:
        external = roots.filter(roots.external).select(model_id=roots.root_id).distinct()
        owners = owners.union(match_publishers(external, registry), distinct=False)
    # families as their registry position (small integers aggregate fast); unattributed last
    places = registry.table().select("family", "position")
    owned = owners.join(places, "family").select(root_id="model_id", place="position")
    joined = roots.select("model_id", "root_id").left_join(owned, "root_id")
    tagged = joined.select("model_id", place=joined.place.fill_null(len(registry.families)))
    # most models' roots are of one family: those need no per-family count
    ends = tagged.group_by("model_id").aggregate(first=tagged.place.min(), last=tagged.place.max())
    whole = ends.filter(ends["first"] == ends["last"])
    whole = whole.join(places, whole["first"] == places.position)
    whole = whole.select("model_id", "family", weight=ibis.literal(1.0))
    mixed = ends.filter(ends["first"] != ends["last"]).select("model_id")
    per_family = tagged.semi_join(mixed, "model_id").distinct()
    share = per_family.group_by("model_id").aggregate(n_families=ibis._.count())
    weighted = per_family.join(share, "model_id").join(places, ibis._.place == places.position)
    split = weighted.select("model_id", "family", weight=1.0 / weighted.n_families)
    return whole.union(split, distinct=False)


def assign_publishers(ids: ir.Table, registry: Registry) -> ir.Table:
    """model_id, family, weight (1.0) under publisher mode for the ids in ``ids``."""
    owners = match_publishers(ids, registry)
    joined = ids.select("model_id").left_join(owners, "model_id")
    return joined.select(
        "model_id",
        family=ibis.coalesce(joined.family, ibis.literal(UNATTRIBUTED)),
        weight=ibis.literal(1.0),
    )


def match_publishers(ids: ir.Table, registry: Registry, hub: str = "hf") -> ir.Table:
    """model_id → family for the ids in ``ids`` that a registry rule claims (first-party on
    ``hub``)."""
    split = ids.select(
        "model_id",
        org=ids.model_id.split("/")[0].lower(),
        name=ids.model_id.split("/")[1].lower(),
    )
    rules = registry.rules(hub)
    candidates = split.join(rules, split.org == rules.rule_org)
    by_like = candidates.name.like(candidates.rule_like)
    by_regex = candidates.name.re_search(candidates.rule_regex)
    hits = candidates.filter(
        candidates.rule_regex.isnull()
        | ibis.ifelse(candidates.rule_like.notnull(), by_like, by_regex)
    )
    best = ibis.row_number().over(group_by="model_id", order_by=["priority", "position"])
    ranked = hits.select("model_id", family=hits.rule_family, rank=best)
    return ranked.filter(ranked["rank"] == 0).select("model_id", "family")
