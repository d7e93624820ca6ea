"""The stored history stage: every model-month estimate the warehouse's evidence allows, built
once and then read, like a snapshot's lineage and families.

``estimate_monthly_downloads`` over every month the evidence spans (with the jump marks of
``with_jumps`` and each model's newest 30-day count, the basis of coverage) is the costly part of
every history question; it depends only on the evidence (the published snapshot loads and series
loads, the known renames), the estimator's rules and three settings (``max_gap_days``,
``deconvolve``, ``spike_factor``). So it is stored under ``derived/warehouse/history-<key>-
<build>/`` with ``key`` a digest of exactly those, built by the first history question (or
``hubpulse analyse``) under the build lock, published atomically, rebuilt when an input changes and
pruned like every stage. Attribution, selection, group sums, coverage and ranks stay at question
time: they are cheap group-bys over the stored model-months.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from hubpulse.analysis.history.estimator import (
    HistoryError,
    estimate_monthly_downloads,
    month_table,
)
from hubpulse.analysis.history.evidence import evidence_months, read_evidence
from hubpulse.analysis.history.monthly import newest_counts, with_jumps
from hubpulse.store.derived import (
    Stage,
    StageSpec,
    Writer,
    aliases_digest,
    digest,
    find_stage,
    load_stage,
    parquet_writer,
)
from hubpulse.store.names import WAREHOUSE
from hubpulse.store.warehouse import ALIASES

if TYPE_CHECKING:
    from hubpulse.settings import Settings
    from hubpulse.store.warehouse import Warehouse

HISTORY_RULES = 3  # the estimator's rules: bump when estimates or bounds change
HISTORY_TABLES = ("estimates", "basis")
HISTORY_INPUTS = "the evidence (snapshots, series loads, renames) or the estimator's rules"

NO_HISTORY = (
    "no download history in the warehouse: run `hubpulse import-series PATH` or ingest "
    "snapshots first"
)

log = logging.getLogger("hubpulse")


@dataclass(frozen=True)
class StoredHistory:
    """The stored estimates (``estimates``: model-months with jump marks; ``basis``: each
    model's newest 30-day count), the first and last month they span and the stage's key
    (what a stage derived from them depends on)."""

    estimates: ir.Table
    basis: ir.Table
    span: tuple[str, str]
    key: str

    @classmethod
    def of(cls, stage: Stage, tables: dict[str, ir.Table]) -> StoredHistory:
        first, last = stage.meta["span"]
        span = (str(first), str(last))
        return cls(tables["estimates"], tables["basis"], span, str(stage.meta["key"]))


def history_key(store: Warehouse, settings: Settings) -> str:
    """A digest of everything a stored estimate depends on."""
    loads = [store.load_id(d) for d in store.snapshot_dates()]
    series = sorted(d.name for d in store.survey.series_dirs())
    return digest(
        [
            loads,
            series,
            aliases_digest(store.con, ALIASES),
            HISTORY_RULES,
            settings.max_gap_days,
            settings.deconvolve,
            settings.spike_factor,
        ]
    )


def stored_history(store: Warehouse, settings: Settings, *, rebuild: bool = False) -> StoredHistory:
    """The warehouse's stored estimates, built if missing or stale (or, with ``rebuild``,
    again)."""
    stage, tables, _ = history_stage(store, settings, rebuild=rebuild)
    return StoredHistory.of(stage, tables)


def history_stage(
    store: Warehouse, settings: Settings, *, rebuild: bool = False
) -> tuple[Stage, dict[str, ir.Table], bool]:
    """The stored history stage (built now, or found), its tables and whether it was built."""
    return load_stage(store.root, WAREHOUSE, store.reader, _spec(store, settings), rebuild=rebuild)


def history_span(store: Warehouse, settings: Settings) -> tuple[str, str] | None:
    """The first and last month of the warehouse's evidence (None: it has none): read from the
    stored history when it is built, else from the evidence itself, never building anything
    (a dashboard's first answer does not wait for the history)."""
    stage = find_stage(store.root, WAREHOUSE, _spec(store, settings))
    if stage is not None:
        first, last = stage.meta["span"]
        return str(first), str(last)
    return evidence_months(read_evidence(store))


def _spec(store: Warehouse, settings: Settings) -> StageSpec:
    return StageSpec(
        "history",
        history_key(store, settings),
        HISTORY_TABLES,
        lambda: _build(store, settings),
        "the warehouse's evidence",
        HISTORY_INPUTS,
        "monthly estimates",
        meta_types=(("span", list),),
    )


def _build(store: Warehouse, settings: Settings) -> tuple[dict[str, Writer], dict[str, Any]]:
    evidence = read_evidence(store, settle=True)
    span = evidence_months(evidence)
    if span is None:  # nothing to store: no question can be answered
        raise HistoryError(NO_HISTORY)
    meta: dict[str, Any] = {
        "span": list(span),
        "rules": HISTORY_RULES,
        "max_gap_days": settings.max_gap_days,
        "deconvolve": settings.deconvolve,
        "spike_factor": settings.spike_factor,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": getattr(store.reader, "name", "duckdb"),
    }

    def estimates() -> ir.Table:
        table = estimate_monthly_downloads(
            evidence,
            month_table(*span),
            max_gap_days=settings.max_gap_days,
            deconvolve=settings.deconvolve,
        )
        return with_jumps(table, settings.spike_factor)

    writers = {  # by month only: a month range prunes, and a sort by model too costs a fifth
        "estimates": parquet_writer(estimates, ["month"]),
        "basis": parquet_writer(newest_counts(evidence), ["model_id"]),
    }
    return writers, meta
