"""The stored analysis of a snapshot: built once, then only read by every question.

Two stages, each stored beside the snapshot (``store.derived``) under a key of what it depends on:

- ``lineage`` — edges, closure (by model, and again by ancestor for descendant lookups), roots,
  repairs — depends on the snapshot's load, the known renames (aliases), the depth limit and
  ``LINEAGE_RULES``;
- ``families`` — each model's attribution under both modes (with weights), its dimensions
  (downloads, size, first-party family) and the derivative pairs of every family, vendor and
  country — depends on the lineage stage, the family registry's content (built-in plus any
  ``--families`` file) and ``ATTRIBUTION_RULES``;
- ``signals`` — what the flags are judged on (``flags.model_signals``) and the models flagged
  under the default thresholds — depends on the families stage and ``SIGNAL_RULES``. It is
  built the first time a question needs it (``--task``, ``--llm``, ``--count robust``,
  ``flags``, ``audit``), so a first ``top`` does not wait for it.

A changed input is a different key: the stage is rebuilt transparently, and one line (logger
``hubpulse``) says why. Bump a ``*_RULES`` number whenever the code changes what a stage holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from functools import cache, partial
from typing import Any

import ibis.expr.types as ir
import pyarrow.parquet as pq

from hubpulse.analysis.flags import Thresholds, compute_marks, compute_signals
from hubpulse.analysis.lineage import Lineage
from hubpulse.analysis.metrics import (
    PAIR_GROUPS,
    derivative_pairs,
    model_credits,
    model_dimensions,
)
from hubpulse.analysis.snapshot import Analysis, analyse_snapshot
from hubpulse.errors import DerivedDamagedError
from hubpulse.registry import MODES, Registry, load_registry
from hubpulse.settings import Settings
from hubpulse.store.derived import (
    Stage,
    aliases_digest,
    build_lock,
    digest,
    find_stage,
    other_builds,
    parquet_writer,
    publish_stage,
    read_stage,
)
from hubpulse.store.engines import materialise
from hubpulse.store.warehouse import ALIASES, Warehouse, open_store

LINEAGE_RULES = 1
ATTRIBUTION_RULES = 4  # 3: whole-download splits, nulls kept; 4: (signals, since moved out)
SIGNAL_RULES = 1
SIGNAL_TABLES = ("signals", "marks")
LINEAGE_TABLES = ("edges", "closure", "by_ancestor", "roots", "issues")
FAMILY_TABLES = (
    *(f"credits_{m}" for m in MODES),
    *(f"pairs_{by}" for by in PAIR_GROUPS),
    "dimensions",
    "families",
)

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
        try:
            stages = ensure_stored(store, day, registry, max_depth=max_depth, rebuild=rebuild)
            return _read(store, day, registry, *stages[:2])
        except DerivedDamagedError as exc:
            log.warning("the stored analysis is damaged (%s): building it again", exc)
            stages = ensure_stored(store, day, registry, max_depth=max_depth, rebuild=True)
            return _read(store, day, registry, *stages[:2])
    except OSError as exc:
        log.warning(
            "cannot store the analysis of %s in %s (%s): computing it in memory for this question",
            day,
            store.root,
            exc.strerror or exc,
        )
        models, aliases = store.models(day), store.aliases()
        return analyse_snapshot(models, aliases, registry, day, max_depth=max_depth)


def ensure_stored(
    store: Warehouse, day: dt.date, registry: Registry, *, max_depth: int, rebuild: bool = False
) -> tuple[Stage, Stage, list[str]]:
    """The published stages of ``day`` for ``registry`` and the names of those this call built
    (none when they were stored, or when another process built them while this one waited)."""
    keys = stage_keys(store, registry, max_depth)
    load_id = store.load_id(day)
    lineage, families = _published(store, load_id, keys, rebuild)
    if lineage is not None and families is not None:
        return lineage, families, []
    with build_lock(store.root, load_id):
        return _build(store, day, registry, keys, max_depth, rebuild=rebuild)


def _published(
    store: Warehouse, load_id: str, keys: dict[str, str], rebuild: bool
) -> tuple[Stage | None, Stage | None]:
    if rebuild:
        return None, None
    return (
        find_stage(store.root, load_id, "lineage", keys["lineage"], LINEAGE_TABLES),
        find_stage(store.root, load_id, "families", keys["families"], FAMILY_TABLES),
    )


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


def _build(
    store: Warehouse,
    day: dt.date,
    registry: Registry,
    keys: dict[str, str],
    max_depth: int,
    *,
    rebuild: bool,
) -> tuple[Stage, Stage, list[str]]:
    """Build the missing stages (the caller holds the build lock; another process may have built
    them while this one waited, so look again first)."""
    load_id = store.load_id(day)
    lineage, families = _published(store, load_id, keys, rebuild)
    started, built = time.perf_counter(), []
    models = store.models(day)
    if lineage is None:
        _announce(
            store, day, "lineage", keys["lineage"], "the known renames or lineage rules", rebuild
        )
        analysis = analyse_snapshot(models, store.aliases(), registry, day, max_depth=max_depth)
        lineage = _publish_lineage(store, load_id, keys["lineage"], analysis, max_depth, started)
        built.append("lineage")
    if families is None:
        inputs = "the family registry or attribution rules"
        _announce(store, day, "families", keys["families"], inputs, rebuild)
        read = read_stage(store.reader, lineage, list(LINEAGE_TABLES))
        analysis = Analysis(day, models, _lineage(read, lineage), registry)
        families = _publish_families(
            store, load_id, keys["families"], analysis, time.perf_counter()
        )
        built.append("families")
    if built:
        log.info("stored analysis of %s ready in %.1f s", day, time.perf_counter() - started)
    return lineage, families, built


def _announce(
    store: Warehouse, day: dt.date, stage: str, key: str, inputs: str, rebuild: bool
) -> None:
    if rebuild:
        log.info("rebuilding the %s of snapshot %s (asked for)", stage, day)
    elif other_builds(store.root, store.load_id(day), stage, key):
        log.info("%s changed since the %s of %s was stored: rebuilding it", inputs, stage, day)
    else:
        log.info("building the %s of snapshot %s (once; later questions read it)", stage, day)


def _publish_lineage(
    store: Warehouse, load_id: str, key: str, analysis: Analysis, max_depth: int, began: float
) -> Stage:
    lineage = analysis.lineage
    writers = {
        "edges": parquet_writer(lineage.edges, ["child", "parent"]),
        "closure": parquet_writer(lineage.closure, ["model_id", "ancestor_id"]),
        "by_ancestor": parquet_writer(lineage.closure, ["ancestor_id", "model_id"]),
        "roots": parquet_writer(lineage.roots, ["model_id", "root_id"]),
        "issues": parquet_writer(lineage.issues, ["model_id", "parent_id", "kind"]),
    }
    meta = {
        "stage": "lineage",
        "snapshot_date": analysis.snapshot_date,
        "rounds": lineage.rounds,
        "rules": LINEAGE_RULES,
        "max_depth": max_depth,
        **_built(store),
    }
    return publish_stage(store.root, load_id, "lineage", key, writers, meta, began)


def _publish_families(
    store: Warehouse, load_id: str, key: str, analysis: Analysis, began: float
) -> Stage:
    writers = {  # each table is computed in its turn, when it is written
        **{f"credits_{m}": parquet_writer(partial(model_credits, analysis, m), []) for m in MODES},
        **{
            f"pairs_{by}": parquet_writer(partial(derivative_pairs, analysis, by), ["key"])
            for by in PAIR_GROUPS
        },
        "dimensions": parquet_writer(model_dimensions(analysis), ["model_id"]),
        "families": parquet_writer(analysis.families(), ["position"]),
    }
    meta = {
        "stage": "families",
        "snapshot_date": analysis.snapshot_date,
        "rules": ATTRIBUTION_RULES,
        "families": [f.name for f in analysis.registry.families],
        **_built(store),
    }
    return publish_stage(store.root, load_id, "families", key, writers, meta, began)


def _read(
    store: Warehouse, day: dt.date, registry: Registry, lineage: Stage, families: Stage
) -> Analysis:
    graph = _lineage(read_stage(store.reader, lineage, list(LINEAGE_TABLES)), lineage)
    tables = read_stage(store.reader, families, list(FAMILY_TABLES))
    stored: dict[Any, ir.Table] = {
        ("dimensions",): tables["dimensions"],
        ("families",): tables["families"],
    }
    for mode in MODES:
        credits = tables[f"credits_{mode}"]
        stored[("credits", mode)] = credits
        stored[("attribution", mode)] = credits.select("model_id", "family", "weight")
    for by in PAIR_GROUPS:
        stored[("derivative_pairs", by)] = tables[f"pairs_{by}"]
    analysis = Analysis(day, store.models(day), graph, registry, stored)
    key = digest({"families": families.meta["key"], "rules": SIGNAL_RULES})
    signals = cache(partial(_signals_stage, store, day, analysis, key))
    analysis.lazy[("signals",)] = lambda: signals()["signals"]
    analysis.lazy[("flag_marks", Thresholds())] = lambda: signals()["marks"]
    return analysis


def _signals_stage(
    store: Warehouse, day: dt.date, analysis: Analysis, key: str
) -> dict[str, ir.Table]:
    """The signals stage of ``day``: read when stored, else built once and stored (the build
    lock keeps a second process waiting, then reading); computed in memory when the warehouse
    cannot be written."""
    load_id = store.load_id(day)
    stage = find_stage(store.root, load_id, "signals", key, SIGNAL_TABLES)
    if stage is None:
        try:
            with build_lock(store.root, load_id):
                stage = find_stage(store.root, load_id, "signals", key, SIGNAL_TABLES)
                if stage is None:
                    stage = _publish_signals(store, load_id, key, analysis)
        except OSError as exc:
            log.warning(
                "cannot store the flag signals of %s in %s (%s): computing them in memory",
                day,
                store.root,
                exc.strerror or exc,
            )
            built = materialise(compute_signals(analysis))
            analysis.stored[("signals",)] = built
            return {"signals": built, "marks": materialise(compute_marks(analysis, Thresholds()))}
    try:
        return read_stage(store.reader, stage, list(SIGNAL_TABLES))
    except DerivedDamagedError as exc:
        log.warning("the stored flag signals are damaged (%s): building them again", exc)
        with build_lock(store.root, load_id):
            stage = _publish_signals(store, load_id, key, analysis)
        return read_stage(store.reader, stage, list(SIGNAL_TABLES))


def _publish_signals(store: Warehouse, load_id: str, key: str, analysis: Analysis) -> Stage:
    began = time.perf_counter()
    log.info(
        "building the flag signals of snapshot %s (once; later questions read them)",
        analysis.snapshot_date,
    )
    built = materialise(compute_signals(analysis))
    analysis.stored[("signals",)] = built  # the marks below read it, not this stage
    writers = {
        "signals": parquet_writer(built, ["model_id"]),
        "marks": parquet_writer(partial(compute_marks, analysis, Thresholds()), ["model_id"]),
    }
    meta = {"stage": "signals", "snapshot_date": analysis.snapshot_date, "rules": SIGNAL_RULES}
    return publish_stage(store.root, load_id, "signals", key, writers, meta | _built(store), began)


def _lineage(tables: dict[str, ir.Table], stage: Stage) -> Lineage:
    return Lineage(
        edges=tables["edges"],
        closure=tables["closure"],
        roots=tables["roots"],
        issues=tables["issues"],
        rounds=int(stage.meta["rounds"]),
        by_ancestor=tables["by_ancestor"],
    )


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
    lineage, families, built = ensure_stored(
        store, day, registry, max_depth=settings.max_lineage_depth, rebuild=rebuild
    )
    key = digest({"families": families.meta["key"], "rules": SIGNAL_RULES})
    with build_lock(store.root, store.load_id(day)):  # a second racer waits, then reads
        had = find_stage(store.root, store.load_id(day), "signals", key, SIGNAL_TABLES)
        if had is None or rebuild:  # a forced rebuild replaces it
            analysis = _read(store, day, registry, lineage, families)
            _publish_signals(store, store.load_id(day), key, analysis)
            built.append("signals")
    signals = find_stage(store.root, store.load_id(day), "signals", key, SIGNAL_TABLES)
    stages = [
        ("lineage", lineage, LINEAGE_TABLES),
        ("families", families, FAMILY_TABLES),
        *([("signals", signals, SIGNAL_TABLES)] if signals is not None else []),
    ]
    rows = []
    for name, stage, tables in stages:
        rows.append(
            {
                "snapshot_date": day.isoformat(),
                "stage": name,
                "status": "built" if name in built else "stored",
                "key": stage.meta["key"],
                "built_at": stage.meta["built_at"],
                "rows": {t: pq.read_metadata(stage.path(t)).num_rows for t in tables},
                "path": str(stage.directory),
            }
        )
    return rows
