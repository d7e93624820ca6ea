"""The stored analysis of a snapshot: built once, then only read by every question.

Its stages, each stored beside the snapshot (``store.derived``) under a key of what it depends on
(``lineage`` and ``families`` built by a first question, the others when one first needs them):

- ``lineage`` — edges, closure (by model), roots, repairs — depends on the snapshot's load, the
  known renames (aliases), the depth limit and ``LINEAGE_RULES``;
- ``lookup`` — the closure again sorted by ancestor (descendant lookups), and the closure,
  roots and edges sorted by model (the lineage stage stores them unsorted: a first question
  reads them whole) — depends on the lineage stage; built by the first lookup of a model;
- ``families`` — each model's dimensions (downloads, size, first-party family) and its
  attribution under lineage mode with weights (publisher mode's is a projection of the
  dimensions): what a first ``top`` or ``compare`` reads — depends on
  the lineage stage, the family registry's content (built-in plus any ``--families`` file) and
  ``ATTRIBUTION_RULES``;
- ``pairs_family``, ``pairs_vendor``, ``pairs_country``, ``pairs_author`` — the derivative
  pairs of each kind of group — depend on the families stage and ``PAIRS_RULES``; each built
  the first time a question counts that group's derivatives;
- ``signals`` — what the flags are judged on (``flags.model_signals``) and the models flagged
  under the default thresholds — depends on the families stage and ``SIGNAL_RULES``. It is
  built the first time a question needs it (``--task``, ``--llm``, ``--count robust``,
  ``flags``, ``audit``), so a first ``top`` does not wait for it.

A changed input is a different key: the stage is rebuilt transparently, and one line (logger
``hubpulse``) says why. Bump a ``*_RULES`` number whenever the code changes what a stage holds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import ibis.expr.types as ir

from hubpulse.analysis.snapshot.dimensions import (
    DIMENSIONS,
    PAIR_GROUPS,
    compute_credits,
    compute_pairs,
    credits_key,
    dimensions_of,
    pairs_key,
    publisher_credits,
)
from hubpulse.analysis.snapshot.flags import (
    SIGNALS,
    Thresholds,
    compute_marks,
    compute_signals,
    marks_key,
)
from hubpulse.analysis.snapshot.lineage import GRAPH_COLUMNS, LOOKUPS, Lineage, resolve_lineage
from hubpulse.analysis.snapshot.snapshot import (
    FAMILIES,
    Analysis,
    analyse_snapshot,
    attribution_key,
)
from hubpulse.registry import MODES, Registry, load_registry
from hubpulse.settings import Settings
from hubpulse.store.derived import (
    Stage,
    StageSpec,
    aliases_digest,
    build_lock,
    digest,
    find_stage,
    load_stage,
    stage_rows,
)
from hubpulse.store.engines import materialise
from hubpulse.store.warehouse import ALIASES, Warehouse, open_store
from hubpulse.store.writers import LOOKUP_ROW_GROUP, Writer, parquet_writer, written_writer
from hubpulse.terms import GroupBy

LINEAGE_RULES = 1
LINEAGE_INPUTS = "the known renames or lineage rules"
FAMILY_INPUTS = "the family registry or attribution rules"
ATTRIBUTION_RULES = 5  # 3: whole-download splits, nulls kept; 4: (signals, since moved out);
# 5: publisher credits read from the dimensions, not stored
SIGNAL_RULES = 1
LOOKUP_RULES = 3  # 2: sorted by model too (the lineage stage unsorted); 3: smaller row groups
PAIRS_RULES = 1
SIGNAL_TABLES = (SIGNALS, marks_key(Thresholds()))
LINEAGE_TABLES = ("edges", "closure", "roots", "issues")
LOOKUP_TABLES = tuple(LOOKUPS)
STORED_CREDITS = credits_key("lineage")  # publisher credits are a projection of dimensions
FAMILY_TABLES = (STORED_CREDITS, DIMENSIONS, FAMILIES)
PAIR_TABLES = tuple(pairs_key(by) for by in PAIR_GROUPS)

log = logging.getLogger("hubpulse")


def load_analysis(
    settings: Settings, date: dt.date | None, warehouse: Warehouse | None = None
) -> Analysis:
    """The snapshot of ``date`` (default: newest) with its stored analysis (built if missing)."""
    store = warehouse or open_store(settings)
    return stored_analysis(
        store,
        store.resolve_date(date),
        load_registry(settings.families_file),
        max_depth=settings.max_lineage_depth,
    )


def stored_analysis(
    store: Warehouse,
    day: dt.date,
    registry: Registry,
    *,
    max_depth: int = 256,
    rebuild: bool = False,
) -> Analysis:
    """``day``'s analysis read from its stored tables, building what is missing or stale (or
    everything, with ``rebuild``); a stored table that cannot be read is built again. A
    warehouse where nothing can be written (read-only, a full disk) still answers: the analysis
    is computed in memory for this question, and a warning says why."""
    try:
        return _stored(store, day, registry, max_depth, rebuild)[0]
    except OSError as exc:
        log.warning(
            "cannot store the analysis of %s in %s (%s): computing it in memory for this question",
            day,
            store.root,
            exc.strerror or exc,
        )
        models, aliases = store.models(day), store.aliases()
        return analyse_snapshot(models, aliases, registry, day, max_depth=max_depth)


Built = list[tuple[str, Stage, tuple[str, ...], bool]]


def ensure_stored(
    store: Warehouse, day: dt.date, registry: Registry, *, max_depth: int, rebuild: bool = False
) -> tuple[Stage, Stage, list[str]]:
    """The published lineage and families stages of ``day`` for ``registry`` and the names of
    those this call built (none when they were stored, or another process built them)."""
    _, stages = _stored(store, day, registry, max_depth, rebuild)
    return stages[0][1], stages[1][1], [name for name, _, _, built in stages if built]


def _stored(
    store: Warehouse, day: dt.date, registry: Registry, max_depth: int, rebuild: bool
) -> tuple[Analysis, Built]:
    """The analysis over the stored lineage and families stages (each loaded, built when
    missing, the two under one hold of the build lock so a racer finds both published) and,
    per stage, its name, build, tables and whether this call built it."""
    started, load_id = time.perf_counter(), store.load_id(day)
    keys = stage_keys(store, registry, max_depth)
    models = store.models(day)
    held: dict[str, Lineage] = {}

    def build_lineage() -> tuple[dict[str, Writer], dict[str, Any]]:
        graph = materialise(models.select(*GRAPH_COLUMNS))  # what the graph reads, no more
        lineage = resolve_lineage(graph, store.aliases(), max_depth=max_depth)
        meta = {"snapshot_date": day, "rules": LINEAGE_RULES, "max_depth": max_depth}
        meta |= {"rounds": lineage.rounds, **_built(store)}
        return _lineage_writers(lineage), meta

    def build_families() -> tuple[dict[str, Writer], dict[str, Any]]:
        analysis = Analysis(day, models, held["graph"], registry)
        meta = {"snapshot_date": day, "rules": ATTRIBUTION_RULES, **_built(store)}
        return _family_writers(analysis), meta | {"families": [f.name for f in registry.families]}

    of = f"snapshot {day}"
    specs = (
        StageSpec(
            "lineage",
            keys["lineage"],
            LINEAGE_TABLES,
            build_lineage,
            of,
            LINEAGE_INPUTS,
            meta_types=(("rounds", int),),
        ),
        StageSpec("families", keys["families"], FAMILY_TABLES, build_families, of, FAMILY_INPUTS),
    )
    whole = not rebuild and all(find_stage(store.root, load_id, s) for s in specs)
    with contextlib.nullcontext() if whole else build_lock(store.root, load_id):
        lineage, graph_tables, lineage_built = load_stage(
            store.root, load_id, store.reader, specs[0], rebuild=rebuild
        )
        held["graph"] = _lineage(store, day, graph_tables, lineage)
        families, tables, families_built = load_stage(
            store.root, load_id, store.reader, specs[1], rebuild=rebuild
        )
    if lineage_built or families_built:
        log.info("stored analysis of %s ready in %.1f s", day, time.perf_counter() - started)
    stored = tables | {credits_key("publisher"): publisher_credits(tables[DIMENSIONS])}
    for mode in MODES:
        credits = stored[credits_key(mode)]
        stored[attribution_key(mode)] = credits.select("model_id", "family", "weight")
    analysis = Analysis(day, models, held["graph"], registry, stored)
    for spec, in_memory in _later_specs(store, analysis, families):
        later = _once(partial(_later, store, day, spec, in_memory))
        analysis.lazy.update({name: partial(_pick, later, name) for name in spec.tables})
    built: Built = [
        ("lineage", lineage, LINEAGE_TABLES, lineage_built),
        ("families", families, FAMILY_TABLES, families_built),
    ]
    return analysis, built


def load_later(analysis: Analysis) -> None:
    """Read now the stages a question would otherwise load on first use (building those that
    are missing): for a server, whose request threads share one connection, so that none of
    them registers a stage's tables while another queries it."""
    analysis.lineage.below  # noqa: B018 - loads the lookup stage
    for loader in list(analysis.lazy.values()):
        loader()


Tables = Callable[[], dict[str, ir.Table]]


def _once(make: Tables) -> Tables:
    """``make`` called by the first caller only, the others (the dashboard's request threads)
    waiting for its tables rather than loading or building the stage a second time."""
    lock, made = threading.Lock(), list[dict[str, ir.Table]]()

    def tables() -> dict[str, ir.Table]:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return tables


def _pick(tables: Callable[[], dict[str, ir.Table]], name: str) -> ir.Table:
    return tables()[name]


def stage_keys(store: Warehouse, registry: Registry, max_depth: int) -> dict[str, str]:
    """The key of each stage: a digest of everything it depends on."""
    lineage = digest(
        {
            "rules": LINEAGE_RULES,
            "max_depth": max_depth,
            "aliases": aliases_digest(store.con, ALIASES),
        }
    )
    families = digest(
        {"lineage": lineage, "registry": registry.digest(), "rules": ATTRIBUTION_RULES}
    )
    return {"lineage": lineage, "families": families}


def _later_specs(
    store: Warehouse, analysis: Analysis, families: Stage
) -> list[tuple[StageSpec, Tables]]:
    """The stages built the first time a question needs them (signals, then each group's
    pairs), each with how its tables are computed in memory when the warehouse cannot be
    written."""
    key = families.meta["key"]
    signals = _signals_spec(store, analysis, digest({"families": key, "rules": SIGNAL_RULES}))
    derived_key = digest({"families": key, "rules": PAIRS_RULES, "stage": "pairs"})
    return [(signals, partial(_signals_in_memory, analysis))] + [
        (_pairs_spec(store, analysis, by, derived_key), partial(_pairs_in_memory, analysis, by))
        for by in PAIR_GROUPS
    ]


def _lineage_writers(lineage: Lineage) -> dict[str, Writer]:
    """Unsorted (a first question reads them whole): the lookup stage sorts them."""
    order = {"issues": ["model_id", "parent_id", "kind"]}
    return {t: parquet_writer(getattr(lineage, t), order.get(t, [])) for t in LINEAGE_TABLES}


def _family_writers(analysis: Analysis) -> dict[str, Writer]:
    """Each table computed in its turn, when it is written; the credits read the dimensions
    from the file just written, not from a copy held in the engine."""
    written = partial(analysis.stored.__setitem__, DIMENSIONS)
    return {
        DIMENSIONS: written_writer(dimensions_of(analysis), ["model_id"], written),
        STORED_CREDITS: parquet_writer(
            partial(compute_credits, analysis, "lineage", cached=False), []
        ),
        FAMILIES: parquet_writer(analysis.families(), ["position"]),
    }


def _signals_spec(store: Warehouse, analysis: Analysis, key: str) -> StageSpec:
    def build() -> tuple[dict[str, Writer], dict[str, Any]]:
        built = materialise(compute_signals(analysis))
        analysis.stored[SIGNALS] = built  # the marks below read it, not this stage
        marks = partial(compute_marks, analysis, Thresholds())
        writers = {
            SIGNALS: parquet_writer(built, ["model_id"]),
            marks_key(Thresholds()): parquet_writer(marks, ["model_id"]),
        }
        meta = {"snapshot_date": analysis.snapshot_date, "rules": SIGNAL_RULES}
        return writers, meta | _built(store)

    day = analysis.snapshot_date
    of = f"snapshot {day}"
    return StageSpec("signals", key, SIGNAL_TABLES, build, of, "the flag rules", "flag signals")


def _pairs_spec(store: Warehouse, analysis: Analysis, by: GroupBy, key: str) -> StageSpec:
    def build() -> tuple[dict[str, Writer], dict[str, Any]]:
        writers = {name: parquet_writer(partial(compute_pairs, analysis, by), ["key"])}
        meta = {"snapshot_date": analysis.snapshot_date, "rules": PAIRS_RULES}
        return writers, meta | _built(store)

    of, name = f"snapshot {analysis.snapshot_date}", pairs_key(by)
    label = f"derivatives per {by}"
    return StageSpec(name, key, (name,), build, of, "the derivative rules", label)


def _pairs_in_memory(analysis: Analysis, by: GroupBy) -> dict[str, ir.Table]:
    return {pairs_key(by): materialise(compute_pairs(analysis, by))}


def _later(
    store: Warehouse, day: dt.date, spec: StageSpec, in_memory: Tables
) -> dict[str, ir.Table]:
    """A stage built on first use: read when stored, else built once and stored; computed in
    memory (``in_memory``) when the warehouse cannot be written."""
    try:
        return load_stage(store.root, store.load_id(day), store.reader, spec)[1]
    except OSError as exc:
        log.warning(
            "cannot store the %s of %s in %s (%s): computing them in memory",
            spec.called,
            day,
            store.root,
            exc.strerror or exc,
        )
        return in_memory()


def _signals_in_memory(analysis: Analysis) -> dict[str, ir.Table]:
    built = materialise(compute_signals(analysis))
    analysis.stored[SIGNALS] = built
    marks = materialise(compute_marks(analysis, Thresholds()))
    return {SIGNALS: built, marks_key(Thresholds()): marks}


def _lineage(store: Warehouse, day: dt.date, tables: dict[str, ir.Table], stage: Stage) -> Lineage:
    """The stored lineage, its tables sorted for lookups (``LOOKUP_TABLES``) built on the
    first lookup."""
    spec = _lookup_spec(store, day, stage, tables)
    unsorted = {name: tables[source] for name, (source, _) in LOOKUPS.items()}
    lookup = _once(partial(_later, store, day, spec, lambda: unsorted))
    return Lineage(
        edges=tables["edges"],
        closure=tables["closure"],
        roots=tables["roots"],
        issues=tables["issues"],
        rounds=int(stage.meta["rounds"]),
        lookups=lookup,
    )


def _lookup_spec(
    store: Warehouse, day: dt.date, lineage: Stage, tables: dict[str, ir.Table]
) -> StageSpec:
    def build() -> tuple[dict[str, Writer], dict[str, Any]]:
        writers = {
            name: parquet_writer(tables[source], order, LOOKUP_ROW_GROUP)
            for name, (source, order) in LOOKUPS.items()
        }
        return writers, {"snapshot_date": day, "rules": LOOKUP_RULES, **_built(store)}

    key = digest({"lineage": lineage.meta["key"], "rules": LOOKUP_RULES})
    of = f"snapshot {day}"
    return StageSpec("lookup", key, LOOKUP_TABLES, build, of, LINEAGE_INPUTS, "descendant lookups")


def _built(store: Warehouse) -> dict[str, Any]:
    return {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": getattr(store.reader, "name", "duckdb"),
    }


def analyse(
    settings: Settings, date: dt.date | None = None, *, rebuild: bool = False
) -> list[dict[str, Any]]:
    """Build (or, with ``rebuild``, rebuild) the stored analysis of the snapshot of ``date``
    (default: newest) and describe each stage: whether it was built now or already stored, its
    key, its tables' row counts and where it lives."""
    store = open_store(settings)
    day = store.resolve_date(date)
    registry = load_registry(settings.families_file)
    with build_lock(store.root, store.load_id(day)):  # a racer waits, then finds them all
        analysis, stages = _stored(store, day, registry, settings.max_lineage_depth, rebuild)
        tables = {t: getattr(analysis.lineage, t) for t in LINEAGE_TABLES}
        lookup = _lookup_spec(store, day, stages[0][1], tables)
        for spec, _ in [(lookup, None), *_later_specs(store, analysis, stages[1][1])]:
            stage, _, built = load_stage(
                store.root, store.load_id(day), store.reader, spec, rebuild=rebuild
            )
            stages.append((spec.name, stage, spec.tables, built))
    return [
        {
            "snapshot_date": day.isoformat(),
            "scope": f"snapshot {day.isoformat()}",
            "stage": name,
            "status": "built" if built else "stored",
            "key": stage.meta["key"],
            "built_at": stage.meta.get("built_at"),
            "rows": stage_rows(stage, tables),
            "path": str(stage.directory),
        }
        for name, stage, tables, built in stages
    ]
