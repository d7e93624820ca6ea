"""Evidence: every download observation in the warehouse, under current repo ids.

Snapshots contribute their 30-day and all-time counts on their day; imported series their daily,
30-day or all-time values; renamed repos are merged under their current id through the alias
table. ``estimator`` turns this evidence into monthly estimates with bounds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir

from hubpulse.store.engines import materialise
from hubpulse.store.warehouse import (
    COVERAGE,
    SERIES,
    SERIES_LOADS,
    SERIES_MODELS,
    SERIES_MONTHS,
    Warehouse,
)


@dataclass(frozen=True)
class Evidence:
    """Everything observed about download counts, under current repo ids.

    - ``observations``: model_id, day, kind (daily | rolling30 | all_time), value
    - ``created``: model_id, created (date of repo creation, where known)
    - ``coverage``: model_id (null = all models), first_day, last_day of daily sources
    - ``daily``: model_id, month_start, observed, last_row: daily counts summed per model and
      month at import (a year of the Hub's daily rows as ~30M sums); daily counts may also come
      as ``daily`` observations, which the estimator sums the same way
    - ``names``: key, name where model ids are integer keys (``read_evidence``), else None
    - ``repeats``: where this is a slice of the models, the whole evidence's tally of unchanged
      30-day counts per day (``deconvolve.repeat_tally``), else None
    """

    observations: ir.Table
    created: ir.Table
    coverage: ir.Table
    daily: ir.Table | None = None
    names: ir.Table | None = None
    repeats: ir.Table | None = None


def collect_evidence(
    snapshots: ir.Table,
    series: ir.Table,
    series_models: ir.Table,
    coverage: ir.Table,
    series_loads: ir.Table,
    aliases: ir.Table,
    series_months: ir.Table | None = None,
    *,
    settle: bool = False,
) -> Evidence:
    """Observations from every snapshot and every imported series, under current repo ids.

    Where several sources observed the same model, day and kind, a snapshot wins over a
    series, and a later series import over an earlier one; daily sums of one model and month
    from several imports, likewise the later import. A download proves the repo existed: the
    first day with one caps its creation date. ``settle``: the daily sums are computed once
    and stored in the engine (the creation dates and every method read them; at Hub scale each
    reading would otherwise re-resolve ~30M sums)."""
    snap = snapshots.select(
        "model_id",
        day=snapshots.snapshot_date,
        rolling30=snapshots.downloads_30d,
        all_time=snapshots.downloads_all_time,
    )
    from_snapshots = ibis.union(
        *[
            snap.filter(snap[kind].notnull()).select(
                "model_id", "day", kind=ibis.literal(kind), value=snap[kind]
            )
            for kind in ("rolling30", "all_time")
        ]
    )
    order = series_loads.select(
        "load_id", rank=ibis.row_number().over(order_by=ibis.desc("loaded_at")) + 1
    )
    ranked = series.join(order, "load_id").select("model_id", "day", "kind", "value", "rank")
    names = _current_names(snapshots, aliases)
    observations = _observations(from_snapshots, ranked, names)
    months = _daily_months(series_months, order, names)
    if settle and months is not None:
        months = materialise(months)
    cover = coverage.select("model_id", "first_day", "last_day")
    cover_named = _rename(cover.filter(cover.model_id.notnull()), names).drop("renamed")
    return Evidence(
        observations=observations.select("model_id", "day", "kind", "value"),
        created=_created(snapshots, series_models, names, months),
        coverage=cover_named.union(cover.filter(cover.model_id.isnull())),
        daily=None if months is None else months.drop("first_download"),
    )


def _observations(snapshots: ir.Table, series: ir.Table, names: ir.Table) -> ir.Table:
    """One value per model, day and kind: a snapshot's, else the best ranked series', under
    the current id (the row observed under it wins over a renamed one).

    A snapshot holds one row per model and day, so the rows of models untouched by renames
    pass as they are and a series row on their key is dropped; only the rest is resolved, by
    a hash aggregation (a year of weekly dumps at 1M models: 100M rows that need none)."""
    touched = names.select(id="old_id").union(names.select(id="new_id"))
    alone = ~snapshots.model_id.isin(touched.id)
    passing = snapshots.filter(alone)
    keys = ["model_id", "day", "kind"]
    rest = snapshots.filter(~alone).mutate(rank=ibis.literal(0, "int64"))
    rest = _rename(rest.union(series.anti_join(passing, keys)), names)
    preference = rest["rank"] * 2 + rest.renamed.cast("int64")
    resolved = rest.group_by(keys).aggregate(value=rest.value.argmin(preference))
    return passing.union(resolved)


def _created(
    snapshots: ir.Table, series_models: ir.Table, names: ir.Table, months: ir.Table | None
) -> ir.Table:
    """model_id, created: the earliest creation date any source states; a known one after
    the model's first download is too late and becomes that day."""
    born = ibis.union(
        snapshots.select("model_id", created=snapshots.created_at.date()),
        series_models.select("model_id", created=series_models.created_at.date()),
    )
    born = _rename(born.filter(born.created.notnull()), names)
    created = born.group_by("model_id").aggregate(created=born.created.min())
    if months is None:
        return created
    first = months.group_by(f_id="model_id").aggregate(first=months.first_download.min())
    return created.left_join(first, created.model_id == first.f_id).select(
        "model_id", created=ibis.least(created.created, first["first"].cast("date"))
    )


def _daily_months(
    series_months: ir.Table | None, order: ir.Table, names: ir.Table
) -> ir.Table | None:
    """One daily sum per current model id and month: the latest import's. A sum that no
    other import and no rename can meet (one import, a model untouched by renames) is already
    the only one and passes through; only the rest is resolved (at Hub scale, a hash
    aggregation of ~30M sums saved)."""
    if series_months is None:
        return None
    imports = series_months.load_id.nunique().as_scalar()
    touched = names.select(id="old_id").union(names.select(id="new_id"))
    alone = (imports <= 1) & ~series_months.model_id.isin(touched.id)
    columns = ("model_id", "month_start", "observed", "last_row", "first_download")
    single = series_months.filter(alone).select(*columns)
    ranked = series_months.filter(~alone).join(order, "load_id")
    ranked = _rename(ranked.select(*columns, "rank"), names)
    preference = ranked["rank"] * 2 + ranked.renamed.cast("int64")
    resolved = ranked.group_by(["model_id", "month_start"]).aggregate(
        observed=ranked.observed.argmin(preference),
        last_row=ranked.last_row.max(),
        first_download=ranked.first_download.min(),
    )
    return single.union(resolved)


def _current_names(snapshots: ir.Table, aliases: ir.Table) -> ir.Table:
    """old_id → new_id for renamed repos, skipping old ids that the newest snapshot still
    lists as repos of their own; chains are followed four hops."""
    newest = snapshots.filter(snapshots.snapshot_date == snapshots.snapshot_date.max().as_scalar())
    live = newest.select(live_id="model_id")
    mapping = aliases.select("old_id", "new_id").distinct(on="old_id")
    mapping = mapping.anti_join(live, mapping.old_id == live.live_id)
    for _ in range(2):  # pointer jumping: 2 rounds cover chains of 4 renames
        hop = mapping.select(hop_old="old_id", hop_new="new_id")
        mapping = mapping.left_join(hop, mapping.new_id == hop.hop_old).select(
            "old_id", new_id=ibis.coalesce(ibis._.hop_new, ibis._.new_id)
        )
    return mapping.filter(mapping.old_id != mapping.new_id)


def _rename(table: ir.Table, names: ir.Table) -> ir.Table:
    joined = table.left_join(names, table.model_id == names.old_id)
    others = [c for c in table.columns if c != "model_id"]
    current = ibis.coalesce(joined.new_id, joined.model_id).name("model_id")
    return joined.select(current, *others, renamed=joined.new_id.notnull())


def decode(table: ir.Table, names: ir.Table | None) -> ir.Table:
    """``table`` (keyed by ``model_id``) under the models' names again (``names`` None: it
    already is)."""
    if names is None:
        return table
    joined = table.join(names, table.model_id == names.key)
    rest = [c for c in table.columns if c != "model_id"]
    return joined.select(joined.name.name("model_id"), *rest)


def observed_days(evidence: Evidence) -> ir.Table:
    """day: every observation's day and the last day of every month's daily rows."""
    days = evidence.observations.select(day=evidence.observations.day.cast("date"))
    if evidence.daily is not None:
        last = evidence.daily.last_row.cast("date")
        days = days.union(evidence.daily.select(day=last), distinct=False)
    return days


def evidence_days(evidence: Evidence) -> tuple[dt.date, dt.date] | None:
    """The first and last day holding any observation (None when there is none)."""
    obs = observed_days(evidence)
    span = obs.aggregate(first=obs.day.min(), last=obs.day.max()).to_pyarrow().to_pylist()[0]
    return None if span["first"] is None else (span["first"], span["last"])


def evidence_months(evidence: Evidence) -> tuple[str, str] | None:
    """The first and last month holding any observation (None when there is none)."""
    days = evidence_days(evidence)
    return None if days is None else (days[0].strftime("%Y-%m"), days[1].strftime("%Y-%m"))


def evidence_slice(evidence: Evidence, part: int, parts: int) -> Evidence:
    """The evidence of one of ``parts`` disjoint slices of the models (by a hash of their
    id), for an estimate built a slice at a time; sources shared by all models stay in each."""

    def of(table: ir.Table) -> ir.Table:
        return table.filter((table.model_id.hash() % parts).abs() == part)

    cover = evidence.coverage
    return replace(
        evidence,
        observations=of(evidence.observations),
        created=of(evidence.created),
        coverage=of(cover.filter(cover.model_id.notnull())).union(
            cover.filter(cover.model_id.isnull())
        ),
        daily=None if evidence.daily is None else of(evidence.daily),
    )


def read_evidence(warehouse: Warehouse, *, settle: bool = False, keyed: bool = False) -> Evidence:
    """Every download observation in the warehouse (see ``collect_evidence``); ``keyed``: under
    integer keys (``names``) where the models' names hash without a collision."""
    tables = {
        "snapshots": warehouse.all_models(),
        "series": warehouse.series_table(SERIES),
        "series_models": warehouse.series_table(SERIES_MODELS),
        "coverage": warehouse.series_table(COVERAGE),
        "series_loads": warehouse.series_table(SERIES_LOADS),
        "aliases": warehouse.aliases(),
        "series_months": warehouse.series_table(SERIES_MONTHS),
    }
    named = _names(tables) if keyed else None
    if named is not None:
        tables = {name: _keyed(table, named[1]) for name, table in tables.items()}
    evidence = collect_evidence(**tables, settle=settle)  # type: ignore[arg-type]
    return replace(evidence, names=None if named is None else named[0])


_IDS = ("model_id", "old_id", "new_id")


def _names(tables: dict[str, ir.Table]) -> tuple[ir.Table, str] | None:
    """key, name: every model name the evidence holds with its hash, stored, and the salt
    that hash was taken with; None when every salt tried leaves two names sharing a hash (the
    evidence is then read under the names themselves).

    Every step of the estimator sorts, windows and joins by model: on integers DuckDB does so
    in a fraction of the memory and time repo names take (a year of weekly dumps at 1M models
    is ~100M observations), and a hash, unlike a number given by a join, costs nothing to
    attach to each of them. DuckDB's string hash is not collision-free on names this alike
    ("user30782/model306857" and "user30712/model606857" share one), hence the salts."""
    ids = [t.select(name=t[c]) for t in tables.values() for c in _IDS if c in t.columns]
    names = ibis.union(*ids).distinct()
    names = materialise(names.filter(names.name.notnull()))
    for salt in _SALTS:
        keyed = names.mutate(key=_salted(names.name, salt).hash())
        counts = keyed.aggregate(keys=keyed.key.nunique(), names=keyed.count()).to_pyarrow()
        if counts["keys"][0] == counts["names"][0]:
            return materialise(keyed), salt
    return None


_SALTS = ("", "#1", "#2", "#3")


def _salted(name: ir.StringValue, salt: str) -> ir.StringValue:
    return name + salt if salt else name


def _keyed(table: ir.Table, salt: str) -> ir.Table:
    """``table`` with each model name column replaced by the salted name's hash (null stays
    null)."""
    return table.mutate(
        **{
            c: ibis.ifelse(table[c].isnull(), ibis.null("int64"), _salted(table[c], salt).hash())
            for c in _IDS
            if c in table.columns
        }
    )
