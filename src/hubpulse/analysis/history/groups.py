"""The stored groups stage: what the stored history implies under one attribution mode — each
model's shares in families (``shares``) and the per group-month sums of the registry's groups
(``family``, ``vendor``, ``country``: ``monthly.group_sums`` over every month) — built once, so
that a monthly question over the whole warehouse reads a few rows per group-month instead of
crediting every model-month again (at Hub scale, 42M model-months and 3.5M attributions).

It depends on the stored history (its key), the family registry's content, the mode and, in
lineage mode, the newest snapshot's stored analysis (its load and families stage key); a changed
input is a new key, built by the first question that needs it or by ``hubpulse analyse``, stored
under ``derived/warehouse/groups_<mode>-<key>-<build>/`` and pruned like every stage. A question
with a selection (``--task``, ``--llm``, ``--count robust``) or by author or model still credits
the model-months itself, reading the stored shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.monthly import (
    credited_estimates,
    finish_sums,
    group_sums,
    partial_sums,
    roll_up,
)
from hubpulse.analysis.history.stored import (
    HISTORY_TABLES,
    StoredHistory,
    history_stage,
)
from hubpulse.analysis.snapshot.families import assign_publishers
from hubpulse.analysis.snapshot.stored import analyse, load_analysis, stage_keys
from hubpulse.registry import MODES, Registry, load_registry
from hubpulse.store.derived import Stage, StageSpec, digest, load_stage, stage_rows
from hubpulse.store.engines import materialise
from hubpulse.store.names import WAREHOUSE
from hubpulse.store.warehouse import open_store
from hubpulse.store.writers import Writer, parquet_writer
from hubpulse.terms import Mode, TrendBy

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.settings import Settings
    from hubpulse.store.warehouse import Warehouse

GROUP_RULES = 2  # bump when what the stage holds changes
REGISTRY_GROUPS: tuple[TrendBy, ...] = ("family", "vendor", "country")
GROUP_TABLES = ("shares", *REGISTRY_GROUPS)
GROUP_INPUTS = "the stored history, the family registry or the newest snapshot's lineage"


@dataclass(frozen=True)
class StoredGroups:
    """Each model's shares (model_id, family, weight) and the stored ``group_sums`` of each of
    the registry's groups, every month the history spans."""

    shares: ir.Table
    sums: dict[str, ir.Table]
    stage: Stage  # the build read, and whether this call built it
    built: bool


def attribute_history(
    model_ids: ir.Table, registry: Registry, mode: Mode, analysis: Analysis | None
) -> ir.Table:
    """model_id, family, weight for every model with history.

    Lineage mode takes each model's roots from ``analysis`` (the snapshot whose graph is used);
    a model that snapshot does not hold counts for its own publisher's family."""
    ids = model_ids.select("model_id").distinct()
    if mode == "publisher" or analysis is None:
        return assign_publishers(ids, registry)
    graph = analysis.models.select("model_id")
    known = analysis.attribution("lineage").semi_join(ids, "model_id")
    rest = ids.filter(~ids.model_id.isin(graph.model_id))
    return known.union(assign_publishers(rest, registry))


def stored_groups(
    store: Warehouse,
    settings: Settings,
    history: StoredHistory,
    registry: Registry,
    mode: Mode,
    analysis: Analysis | None,
    *,
    rebuild: bool = False,
) -> StoredGroups:
    """The stored groups of ``history`` under ``mode`` (``analysis``: the newest snapshot's,
    whose graph lineage mode uses; None: every model counts for its publisher), built if
    missing or stale."""
    graph = None
    if mode == "lineage" and analysis is not None:
        keys = stage_keys(store, registry, settings.max_lineage_depth)
        graph = [store.load_id(analysis.snapshot_date), keys["families"]]
    key = digest([history.key, registry.digest(), mode, graph, GROUP_RULES])

    def build() -> tuple[dict[str, Writer], dict[str, Any]]:
        # every model has a row in every month (the estimator's grid): the newest month's
        # file names them all, where the whole would be a distinct over every model-month
        newest = history.estimates.filter(history.estimates.month == history.span[1])
        ids = newest.select("model_id")
        shares = materialise(attribute_history(ids, registry, mode, analysis))
        writers = {"shares": parquet_writer(shares, ["model_id"])}
        held: list[ir.Table] = []

        def families() -> ir.Table:  # one pass over the model-months, read by every group
            if not held:
                credited = credited_estimates(history.estimates, shares, registry, history.basis)
                held.append(materialise(partial_sums(credited, ["month", "family"])))
            return held[0]

        for by in REGISTRY_GROUPS:
            sums = partial(_sums, history, shares, registry, by, families)
            writers[by] = parquet_writer(sums, ["month", by])
        meta = {
            "mode": mode,
            "span": list(history.span),
            "rules": GROUP_RULES,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "engine": getattr(store.reader, "name", "duckdb"),
        }
        return writers, meta

    spec = StageSpec(
        f"groups_{mode}",
        key,
        GROUP_TABLES,
        build,
        "the warehouse's history",
        GROUP_INPUTS,
        f"monthly sums by group ({mode} mode)",
    )
    stage, tables, built = load_stage(store.root, WAREHOUSE, store.reader, spec, rebuild=rebuild)
    sums: dict[str, ir.Table] = {by: tables[by] for by in REGISTRY_GROUPS}
    return StoredGroups(tables["shares"], sums, stage, built)


def _sums(
    history: StoredHistory,
    shares: ir.Table,
    registry: Registry,
    by: TrendBy,
    families: Callable[[], ir.Table],
) -> ir.Table:
    """The stored ``group_sums`` of ``by``: the families' partial sums (``families()``), added
    up by vendor or country where that is exact (``_split``), else a pass of its own."""
    if by == "family":
        return finish_sums(families())
    if _split(shares, registry, by):
        return group_sums(history.estimates, shares, registry, by, history.basis)
    return finish_sums(roll_up(families(), registry.table().select("family", by), by))


def _split(shares: ir.Table, registry: Registry, by: TrendBy) -> bool:
    """Whether a model counts in two families of one ``by`` group (lineage mode may split a
    model between families; the group counts it once)."""
    keyed = shares.join(registry.table().select("family", by), "family")
    twice = keyed.group_by(["model_id", by]).aggregate(n=keyed.count()).filter(ibis._.n > 1)
    return bool(twice.count().to_pyarrow().as_py())


def analyse_warehouse(
    settings: Settings, date: dt.date | None = None, *, rebuild: bool = False
) -> list[dict[str, Any]]:
    """``analyse`` the snapshot of ``date`` (default: newest), then build (or find) the
    warehouse's stored history and its groups under both modes, so that no question afterwards
    builds anything; one row per stage as ``analyse`` describes them, a warehouse stage's
    ``scope`` being the months it spans."""
    rows = analyse(settings, date, rebuild=rebuild)
    store = open_store(settings)
    stage, tables, built = history_stage(store, settings, rebuild=rebuild)
    history = StoredHistory.of(stage, tables)
    rows.append(_row(stage, built, HISTORY_TABLES))
    registry = load_registry(settings.families_file)
    newest = load_analysis(settings, None, store) if store.snapshot_dates() else None
    for mode in MODES:
        made = stored_groups(store, settings, history, registry, mode, newest, rebuild=rebuild)
        rows.append(_row(made.stage, made.built, GROUP_TABLES))
    return rows


def _row(stage: Stage, built: bool, tables: tuple[str, ...]) -> dict[str, Any]:
    first, last = stage.meta["span"]
    return {
        "snapshot_date": None,
        "scope": f"months {first} … {last}",
        "stage": stage.meta["stage"],
        "status": "built" if built else "stored",
        "key": stage.meta["key"],
        "built_at": stage.meta.get("built_at"),
        "rows": stage_rows(stage, tables),
        "path": str(stage.directory),
    }
