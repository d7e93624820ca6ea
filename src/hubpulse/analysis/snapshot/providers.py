"""Inference providers per family, vendor, country, model and author: which of a group's models
the Hub's inference providers serve, and how many providers.

Definitions (``docs/inference.md`` says the same to users):

- a provider *serves* a model when the Hub's ``inferenceProviderMapping`` lists it with the
  chosen status (``live`` by default; ``staging`` and ``error`` on request): an offer, not use;
- ``models`` counts the group's distinct models served, ``providers`` the distinct providers
  serving any of them, ``offers`` the distinct (model, provider) pairs;
- a model belongs to its groups as in ``applications``: under ``mode``, with a model the snapshot
  lacks attributed by the publisher rule on its name.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.applications import model_families, pick_day, used_models
from hubpulse.terms import GroupBy, Mode

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.store.warehouse import Warehouse

PROVIDER_GROUPS: tuple[GroupBy, ...] = ("family", "model", "vendor", "country", "author")


def providers_day(store: Warehouse, date: dt.date | None = None) -> tuple[ir.Table, dict]:
    """The provider rows of ``date`` (default: the newest stored day) and its load log row."""
    from hubpulse.store.providers import current_providers

    rows, loads = current_providers(store)
    days = sorted(store.execute(loads.select("first_day"))["first_day"].to_pylist())
    how = f"{store.root}: run `hubpulse providers crawl` or `hubpulse providers import FILE`"
    day = pick_day(days, date, "inference providers", how)
    log = store.execute(loads.filter(loads.first_day == day)).to_pylist()[0]
    return rows.filter(rows.day == day), log


def count_served(
    analysis: Analysis,
    rows: ir.Table,
    aliases: ir.Table,
    *,
    by: GroupBy = "family",
    mode: Mode = "lineage",
    statuses: tuple[str, ...] = ("live",),
) -> ir.Table:
    """rank, the group, models, providers, offers (see the module docstring), most models
    first."""
    kept = rows.filter(rows.status.isin(statuses))
    used = used_models(kept.select("provider", "model_id"), aliases, key="provider")
    if by == "model":
        pairs = used.select("provider", "model_id", key=used.model_id)
    elif by == "author":
        pairs = used.select("provider", "model_id", key=used.model_id.split("/")[0])
    else:
        families = model_families(analysis, used, mode, key="provider")
        if by != "family":
            registry = analysis.families().select("family", by)
            families = families.join(registry, "family").mutate(family=ibis._[by])
        pairs = families.select("provider", "model_id", key=families.family)
    grouped = pairs.group_by("key").aggregate(
        models=pairs.model_id.nunique(),
        providers=pairs.provider.nunique(),
        offers=(pairs.model_id.concat("\t", pairs.provider)).nunique(),
    )
    order = [ibis.desc("models"), ibis.desc("offers"), "key"]
    name = "model_id" if by == "model" else by
    return grouped.select(
        rank=ibis.row_number().over(order_by=order) + 1,
        **{name: grouped.key},
        models=grouped.models,
        providers=grouped.providers,
        offers=grouped.offers,
    ).order_by("rank")
