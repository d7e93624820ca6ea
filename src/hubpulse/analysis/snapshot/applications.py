"""Applications: the Spaces built on a model, counted per model, family, vendor, country and
author, directly or through lineage.

Definitions (``docs/applications.md`` says the same to users):

- a Space *uses* a model when it declares it (README ``models:``, or found in its code by the
  Hub): declared use, not observed traffic;
- ``publisher`` mode: a Space counts for a family when it uses one of the family's own repos
  (the registry's publisher rule); ``lineage`` mode: also when it uses a derivative of them
  (a fine-tune, quantization, adapter or merge attributed to the family through its
  base-model lineage), so a Space using a Qwen fine-tune counts for Qwen;
- ``applications`` counts distinct Spaces: a Space counts once per group however many of the
  group's models it uses, and once for each group it uses (groups overlap: their sum can
  exceed the number of Spaces); ``likes`` and ``trending`` sum those distinct Spaces';
- a used model missing from the model snapshot is attributed by the publisher rule on its
  name (its lineage is unknown); ``by model`` in lineage mode counts the Spaces using the model
  or any of its descendants;
- ``share`` is of the Spaces that declare at least one model.

The Spaces are a day's load (``store.spaces``); the models are the snapshot of ``Analysis``,
normally the newest on or before that day. Renamed model ids are followed to their new id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.families import match_publishers
from hubpulse.errors import SnapshotNotFoundError
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import GroupBy, Mode

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.settings import Settings
    from hubpulse.store.warehouse import Warehouse

APPLICATION_GROUPS: tuple[GroupBy, ...] = ("family", "model", "vendor", "country", "author")


@dataclass(frozen=True)
class SpacesDay:
    """One day's Spaces as stored: the Spaces, their model links and what the load says of
    itself (whether it lists every Space on the Hub, its source)."""

    date: dt.date
    spaces: ir.Table
    links: ir.Table
    complete: bool
    total: int
    linked: int
    sources: list[str]


@dataclass(frozen=True)
class Applications:
    """Applications per group: rank, key, applications, share, likes, trending, models used."""

    table: ir.Table
    day: SpacesDay
    snapshot_date: dt.date
    by: GroupBy
    mode: Mode

    def meta(self) -> dict[str, Any]:
        """What the figures are of, for any output (the caveats travel with the numbers)."""
        day = self.day
        return {
            "spaces_date": str(day.date),
            "models_snapshot": str(self.snapshot_date),
            "mode": self.mode,
            "spaces": day.total,
            "spaces_with_models": day.linked,
            "coverage": "every Space on the Hub"
            if day.complete
            else "a partial listing of Spaces: counts are lower bounds",
            "definition": "Spaces that declare they use the group's models "
            "(declared use, not observed traffic)",
            "sources": day.sources,
        }


def spaces_days(store: Warehouse) -> list[dt.date]:
    """The days whose Spaces are stored, oldest first."""
    from hubpulse.store.spaces import current_spaces

    loads = current_spaces(store)[2]
    days = store.execute(loads.select("snapshot_date").distinct())["snapshot_date"]
    return sorted(days.to_pylist())


def pick_day(days: list[dt.date], date: dt.date | None, what: str, how: str) -> dt.date:
    """``date`` if ``days`` holds it, the newest when None; else a clear error (``how``: the
    warehouse and the command that would store some)."""
    if not days:
        raise SnapshotNotFoundError(f"no {what} stored in {how} first")
    if date is not None and date not in days:
        held = ", ".join(str(d) for d in days)
        raise SnapshotNotFoundError(f"no {what} stored for {date} (stored: {held})")
    return days[-1] if date is None else date


def spaces_day(store: Warehouse, date: dt.date | None = None) -> SpacesDay:
    """The Spaces of ``date`` (the newest stored day when None); a clear error when none are."""
    from hubpulse.store.spaces import current_spaces

    day = pick_day(
        spaces_days(store),
        date,
        "Spaces",
        f"{store.root}: run `hubpulse spaces crawl --all` or `hubpulse spaces import FILE`",
    )
    spaces, links, loads = current_spaces(store)
    spaces = spaces.filter(spaces.snapshot_date == day)
    links = links.filter(links.snapshot_date == day)
    log = store.execute(loads.filter(loads.snapshot_date == day)).to_pylist()[0]
    counted = store.execute(
        spaces.aggregate(total=spaces.count(), linked=(spaces.models > 0).sum())
    ).to_pylist()[0]
    source = (
        f"{log['dataset']} @ {str(log['revision'])[:7]} ({log['licence']})"
        if log["dataset"]
        else Path(str(log["file"])).name
    )
    return SpacesDay(
        date=day,
        spaces=spaces,
        links=links,
        complete=bool(log["complete"]),
        total=int(counted["total"]),
        linked=int(counted["linked"] or 0),
        sources=[source],
    )


def analysis_for_spaces(store: Warehouse, settings: Settings, day: dt.date) -> Analysis:
    """The stored analysis of the newest model snapshot on or before the Spaces' ``day`` (else
    the oldest: its attribution then postdates the Spaces, which ``models_snapshot`` shows)."""
    from hubpulse.analysis.snapshot.stored import load_analysis

    dates = store.snapshot_dates()
    before = [d for d in dates if d <= day]
    chosen = before[-1] if before else (dates[0] if dates else None)
    return load_analysis(settings, chosen, store)


def used_models(links: ir.Table, aliases: ir.Table, key: str = "space_id") -> ir.Table:
    """``key`` (space_id), model_id: each link, a renamed model id followed to its new id (a
    Space that names both ids of a rename has the pair twice: every count is of distinct ids)."""
    renamed = links.left_join(aliases, links.model_id == aliases.old_id)
    used = renamed.select(key, model_id=renamed.new_id.fill_null(renamed.model_id))
    return used.view()  # a projection of a join, joined again below as a table of its own


def model_families(
    analysis: Analysis, used: ir.Table, mode: Mode, key: str = "space_id", hub: str = "hf"
) -> ir.Table:
    """``key`` (space_id), model_id, family: each used model's families under ``mode`` (a model
    the snapshot lacks by the publisher rule on its name, with ``hub``'s organisations;
    neither: unattributed). Every model of the snapshot has an attribution, so one left join
    finds both."""
    attributed = analysis.attribution(mode).select("model_id", "family")
    joined = used.left_join(attributed, "model_id").select(key, "model_id", "family")
    known = joined.filter(joined.family.notnull())
    missing = joined.filter(joined.family.isnull()).select(key, "model_id")
    ids = missing.select("model_id").distinct()
    owners = match_publishers(ids, analysis.registry, hub).select("model_id", "family")
    outside = missing.left_join(owners, "model_id").select(
        key, "model_id", family=ibis._.family.fill_null(UNATTRIBUTED)
    )
    return known.union(outside, distinct=False)


def count_applications(
    analysis: Analysis,
    day: SpacesDay,
    aliases: ir.Table,
    *,
    by: GroupBy = "family",
    mode: Mode = "lineage",
    limit: int | None = None,
) -> Applications:
    """Applications per ``by`` under ``mode`` (see the module docstring)."""
    if by not in APPLICATION_GROUPS:
        raise ValueError(f"applications group by one of {', '.join(APPLICATION_GROUPS)}")
    used = used_models(day.links, aliases)
    pairs = _group_pairs(analysis, used, by, mode)
    facts = day.spaces.select("space_id", "likes", "trending_score")
    joined = pairs.join(facts, "space_id")
    grouped = joined.group_by("key").aggregate(
        applications=joined.space_id.nunique(),
        likes=joined.likes.sum(),
        trending=joined.trending_score.sum(),
    )
    models = (
        pairs.filter(pairs.model_id.notnull())
        .group_by("key")
        .aggregate(models=ibis._.model_id.nunique())
    )
    grouped = grouped.left_join(models, "key").drop("key_right")
    order = [ibis.desc("applications"), "key"]
    if limit:
        grouped = grouped.order_by(order).limit(limit)
    linked = max(day.linked, 1)
    key = "model_id" if by == "model" else by
    table = grouped.select(
        rank=ibis.row_number().over(order_by=order) + 1,
        **{key: grouped.key},
        applications=grouped.applications.cast("int64"),
        share=grouped.applications / linked if day.linked else ibis.null("float64"),
        likes=grouped.likes.cast("int64"),
        trending=grouped.trending.round().cast("int64"),
        models=grouped.models.fill_null(0).cast("int64"),
    ).order_by("rank")
    if by == "model":  # one model each: the count of models used says nothing
        table = table.drop("models")
    return Applications(table, day, analysis.snapshot_date, by, mode)


def _group_pairs(analysis: Analysis, used: ir.Table, by: GroupBy, mode: Mode) -> ir.Table:
    """space_id, key, model_id: the groups each Space counts for (model_id: the group's model
    it uses, for the count of models used)."""
    if by == "author":
        return used.select("space_id", key=used.model_id.split("/")[0], model_id=used.model_id)
    if by == "model":
        direct = used.select("space_id", key=used.model_id, model_id=used.model_id)
        if mode == "publisher":
            return direct
        closure = analysis.lineage.closure  # a Space using a descendant uses its ancestors
        up = used.join(closure, used.model_id == closure.model_id)
        above = up.select("space_id", key=up.ancestor_id, model_id=up.ancestor_id)
        return direct.union(above, distinct=True)
    families = model_families(analysis, used, mode)
    if by == "family":
        return families.select("space_id", key=families.family, model_id=families.model_id)
    registry = analysis.families().select("family", by)
    joined = families.join(registry, "family")
    return joined.select("space_id", key=joined[by], model_id=joined.model_id)


def applications_over_time(
    analysis: Analysis,
    store: Warehouse,
    *,
    by: GroupBy = "family",
    mode: Mode = "lineage",
    keys: list[str] | None = None,
) -> ir.Table:
    """date, the group (named ``by``), applications, complete (whether that day's Spaces list
    every Space) for every
    stored Spaces day (one model snapshot's attribution throughout: the one of ``analysis``)."""
    from hubpulse.store.spaces import current_spaces

    _, links, loads = current_spaces(store)
    # a Space of one day is another than the same Space of another day: the day joins its id
    dated = links.mutate(space_id=links.snapshot_date.cast("string").concat(" ", links.space_id))
    pairs = _group_pairs(analysis, used_models(dated, store.aliases()), by, mode)
    if keys:
        pairs = pairs.filter(pairs.key.isin(keys))
    day = pairs.space_id.substr(0, 10).cast("date")
    counted = pairs.group_by(date=day, key=pairs.key).aggregate(
        applications=pairs.space_id.nunique()
    )
    complete = loads.select(date=loads.snapshot_date, complete=loads.complete)
    joined = counted.join(complete, "date")
    name = "model_id" if by == "model" else by
    return joined.select("date", joined.key.name(name), "applications", "complete").order_by(
        ["date", ibis.desc("applications"), name]
    )
