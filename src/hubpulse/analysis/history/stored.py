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
import shutil
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.analysis.history.deconvolve import near, repeat_tally, stale_candidates
from hubpulse.analysis.history.estimator import (
    HistoryError,
    estimate_monthly_downloads,
    month_table,
)
from hubpulse.analysis.history.evidence import (
    Evidence,
    decode,
    evidence_days,
    evidence_months,
    evidence_slice,
    read_evidence,
)
from hubpulse.analysis.history.monthly import newest_counts, with_jumps
from hubpulse.store.derived import (
    Stage,
    StageSpec,
    aliases_digest,
    digest,
    find_stage,
    load_stage,
)
from hubpulse.store.engines import is_spark, materialise
from hubpulse.store.names import WAREHOUSE
from hubpulse.store.warehouse import ALIASES
from hubpulse.store.writers import Writer, parquet_writer, partitioned_writer

if TYPE_CHECKING:
    from pathlib import Path

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


SLICE_ROWS = 12_000_000  # observations the estimator takes at once (~2 GB of its working set)


def _slices(evidence: Evidence) -> int:
    """Slices of the models to estimate one at a time, so that each one's working set stays
    within DuckDB's memory limit instead of spilling (a year of weekly dumps at 1M models is
    ~100M observations); one on Spark, which partitions the work itself."""
    if is_spark(evidence.observations._find_backend(use_default=True)):
        return 1
    rows = int(evidence.observations.count().to_pyarrow().as_py())
    return max(1, -(-rows // SLICE_ROWS))


def _with_tally(evidence: Evidence, parts: int) -> Evidence:
    """``evidence`` with the whole evidence's tally of unchanged 30-day counts on the days that
    could be stale (a slice's own would judge a day by its models alone), stored: from the
    counts near those days, at once where they are few, else a slice at a time."""
    days = materialise(stale_candidates(evidence))
    close = near(evidence, days)
    if int(close.observations.count().to_pyarrow().as_py()) <= SLICE_ROWS:
        return replace(evidence, repeats=materialise(repeat_tally(close, days)))
    tallies = [  # each slice computed on its own: together they would not fit the memory
        repeat_tally(evidence_slice(close, part, parts), days).to_pyarrow() for part in range(parts)
    ]
    both = ibis.memtable(pa.concat_tables(tallies))
    # not stored: an in-memory table alone would run on Ibis's default connection
    summed = both.group_by("day").aggregate(pairs=both.pairs.sum(), repeats=both.repeats.sum())
    return replace(evidence, repeats=summed)


def _build(store: Warehouse, settings: Settings) -> tuple[dict[str, Writer], dict[str, Any]]:
    evidence = read_evidence(store, settle=True, keyed=True)
    days = evidence_days(evidence)
    if days is None:  # nothing to store: no question can be answered
        raise HistoryError(NO_HISTORY)
    span = (f"{days[0]:%Y-%m}", f"{days[1]:%Y-%m}")
    meta: dict[str, Any] = {
        "span": list(span),
        "rules": HISTORY_RULES,
        "max_gap_days": settings.max_gap_days,
        "deconvolve": settings.deconvolve,
        "spike_factor": settings.spike_factor,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "engine": getattr(store.reader, "name", "duckdb"),
    }
    held: list[Evidence] = []

    def settled(staging: Path) -> Evidence:
        if not held:
            held.append(_spilled(evidence, staging / SCRATCH))
        return held[0]

    def write_estimates(path: Path) -> None:
        whole = settled(path.parent)
        parts = meta["slices"] = _slices(whole)  # recorded: the meta is written last
        whole = _with_tally(whole, parts) if parts > 1 else whole

        def estimates(part: int) -> ir.Table:
            table = estimate_monthly_downloads(
                evidence_slice(whole, part, parts) if parts > 1 else whole,
                month_table(*span),
                max_gap_days=settings.max_gap_days,
                deconvolve=settings.deconvolve,
                keyed=True,
                newest=days[1],
                settle=True,
            )
            return with_jumps(table, settings.spike_factor)

        # a file per month (and slice): a month range reads its months' files alone
        partitioned_writer(estimates, parts, "month")(path)

    def write_basis(path: Path) -> None:
        whole = settled(path.parent)
        parquet_writer(decode(newest_counts(whole), whole.names), ["model_id"])(path)
        shutil.rmtree(path.parent / SCRATCH, ignore_errors=True)

    return {"estimates": write_estimates, "basis": write_basis}, meta


SCRATCH = ".evidence"  # in the stage's staging directory: removed with it if the build fails


def _spilled(evidence: Evidence, directory: Path) -> Evidence:
    """On DuckDB, the observations and creation dates written once as Parquet under integer
    keys and read back: each slice and method then scans them, not the snapshots again (a year
    of weekly dumps at 1M models: ~100M observations, each scan re-hashing every name)."""
    observations = evidence.observations
    backend = observations._find_backend(use_default=True)
    if is_spark(backend):
        return evidence
    directory.mkdir()
    tables = {"observations": observations, "created": evidence.created}
    for name, table in tables.items():
        table.to_parquet(directory / f"{name}.parquet")
    read = {name: backend.read_parquet(directory / f"{name}.parquet") for name in tables}
    return replace(evidence, **read)
