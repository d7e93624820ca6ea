"""What the warehouse holds, for people: the snapshot and series load logs, the records kept
aside as rejects, and the check that everything published can be read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.errors import first_line
from hubpulse.ingest.files import REJECT_SCHEMA
from hubpulse.ingest.series import SERIES_LOAD_SCHEMA
from hubpulse.store.derived import DERIVED
from hubpulse.store.health import count_problem
from hubpulse.store.loads import LOAD_SCHEMA
from hubpulse.store.repair import build_problem
from hubpulse.store.warehouse import (
    LOADS,
    REJECTS,
    SERIES_LOADS,
    SERIES_REJECTS,
    Warehouse,
)


def list_snapshots(warehouse: Warehouse) -> pa.Table:
    """The load log: one row per stored snapshot, oldest first."""
    if not warehouse.snapshot_dates():
        return LOAD_SCHEMA.empty_table()
    loads = conform(warehouse.table(LOADS), LOAD_SCHEMA).order_by("snapshot_date")
    return warehouse.execute(loads)


def conform(table: ir.Table, schema: pa.Schema) -> ir.Table:
    """``table`` with ``schema``'s columns in order; a column its files predate (the load log's
    dataset, revision and licence, added after the first releases) reads as null."""
    return table.select(
        *(
            table[f.name] if f.name in table.columns else ibis.null(ibis.dtype(f.type)).name(f.name)
            for f in schema
        )
    )


def list_rejects(warehouse: Warehouse, date: dt.date | None = None) -> pa.Table:
    """Malformed records kept aside at ingest, with file, row, field and reason."""
    date = warehouse.resolve_date(date)
    rejects = warehouse.table(REJECTS)
    loads = warehouse.table(LOADS).filter(ibis._.snapshot_date == date).select("load_id")
    kept = rejects.semi_join(loads, "load_id").order_by(["file", "row"])
    return warehouse.execute(kept.select("file", "row", "model_id", "field", "reason", "raw"))


def list_series(warehouse: Warehouse) -> pa.Table:
    """The series load log: one row per imported series file, oldest first."""
    loads = conform(warehouse.series_table(SERIES_LOADS), SERIES_LOAD_SCHEMA)
    return warehouse.execute(loads.order_by("loaded_at"))


def list_spaces(warehouse: Warehouse) -> pa.Table:
    """The Spaces load log: the load read for each stored day (``store.spaces``), oldest first."""
    from hubpulse.store.spaces import current_spaces

    _, links, loads = current_spaces(warehouse)
    counted = links.group_by("load_id").aggregate(links=links.count())
    joined = loads.left_join(counted, "load_id")
    listed = joined.select(
        "snapshot_date",
        "load_id",
        "file",
        "complete",
        spaces=joined.rows,
        links=joined.links.fill_null(0),
        rejects=joined.rejects,
        dataset=joined.dataset,
        revision=joined.revision,
        licence=joined.licence,
        loaded_at=joined.loaded_at,
    )
    return warehouse.execute(listed.order_by("snapshot_date"))


def list_spaces_rejects(warehouse: Warehouse) -> pa.Table:
    """Spaces records kept aside at import, with file, row, field and reason."""
    from hubpulse.ingest.spaces import SPACE_REJECT_SCHEMA
    from hubpulse.store.spaces import current_spaces

    current = current_spaces(warehouse)[2].select("load_id")
    rejects = warehouse.series_table("space_rejects").semi_join(current, "load_id")
    ordered = rejects.order_by(["file", "row"])
    return warehouse.execute(ordered.select(*SPACE_REJECT_SCHEMA.names))


def list_series_rejects(warehouse: Warehouse) -> pa.Table:
    """Series observations kept aside at import, with file, row, field and reason."""
    rejects = warehouse.series_table(SERIES_REJECTS).order_by(["file", "row"])
    return warehouse.execute(rejects.select(*REJECT_SCHEMA.names))


@dataclass(frozen=True)
class WarehouseCheck:
    """What ``hubpulse check`` found: how much it read, and every problem in one line each."""

    snapshots: int
    series: int
    problems: list[str]


def check_warehouse(warehouse: Warehouse) -> WarehouseCheck:
    """Verify every published snapshot (its files readable Parquet, their row counts as the load
    log recorded) and every imported series (its files readable)."""
    root, damaged = warehouse.root, warehouse.damaged()
    problems = [f"snapshot {date}: {problem}" for date, problem in damaged]
    healthy = warehouse.partitions()
    for link in healthy:
        logged = pq.read_table(link / f"{LOADS}.parquet").to_pylist()[0]
        problem = count_problem(link.resolve(), root, logged)
        if problem is not None:
            problems.append(f"snapshot {link.name[5:]}: {problem}")
    problems += [
        f"snapshots/{name}: not a snapshot (a link must be named date=YYYY-MM-DD); never read"
        for name in warehouse.strays()
    ]
    problems += [
        f"stored analysis {build.parent.name}/{build.name}: {problem} (the next question builds "
        "it again)"
        for build, problem in derived_problems(warehouse)
    ]
    problems += content_problems(warehouse)
    broken = warehouse.damaged_series()
    problems += [f"series {load_id}: {problem}" for load_id, problem in broken]
    series = len(broken) + list_series(warehouse).num_rows
    return WarehouseCheck(len(healthy) + len(damaged), series, problems)


def derived_problems(warehouse: Warehouse) -> list[tuple[Path, str]]:
    """Every published build of the readable snapshots' derived tables that is damaged."""
    found = []
    for link in warehouse.partitions():
        base = warehouse.root / DERIVED / link.resolve().name
        for build in sorted(base.glob("[!.]*-*")) if base.is_dir() else []:
            problem = build_problem(build)
            if problem is not None:
                found.append((build, problem))
    return found


def content_problems(warehouse: Warehouse) -> list[str]:
    """Tables of the readable snapshots and series loads whose pages fail to read in full
    (their footers read, so nothing else finds them)."""
    files = [(f"snapshot {p.name[5:]}", p.resolve()) for p in warehouse.partitions()]
    files += [(f"series {d.name}", d) for d in warehouse.survey.series_dirs()]
    found = []
    for what, directory in files:
        for table in sorted(directory.glob("*.parquet")):
            try:
                pq.read_table(table)
            except (OSError, pa.ArrowException) as exc:
                found.append(f"{what}: {table.name} cannot be read ({first_line(exc)})")
    return found


FULL_HUB_MODELS = 500_000
"""Fewer models than this in a snapshot mark it a partial extract: the Hub has listed more than a
million public models since 2024, so a smaller snapshot cannot be the whole Hub, and its shares
and ranks are of the extract only."""


@dataclass(frozen=True)
class Holdings:
    """What the warehouse holds, for every surface to state: its snapshots (date, source, file,
    models), its imported series (layout, file, models, days) and whether a snapshot is a
    partial extract."""

    snapshots: list[dict[str, object]]
    series: list[dict[str, object]]

    def snapshot(self, date: dt.date) -> dict[str, object] | None:
        return next((s for s in self.snapshots if s["snapshot_date"] == date), None)

    def to_dict(self) -> dict[str, object]:
        return {"snapshots": self.snapshots, "series": self.series}


def partial_extract_warning(models: int) -> str | None:
    """The warning a snapshot of ``models`` models carries when it cannot be the whole Hub."""
    if models >= FULL_HUB_MODELS:
        return None
    return (
        f"partial extract: this snapshot holds {models:,} models, not the whole Hub (which "
        f"lists well over {FULL_HUB_MODELS:,}); its totals, shares and ranks are of the "
        "extract only"
    )


def describe_holdings(warehouse: Warehouse) -> Holdings:
    """Every snapshot and series the warehouse holds, with partial extracts marked."""
    snapshots = []
    for row in list_snapshots(warehouse).to_pylist():
        warning = partial_extract_warning(int(row["rows"]))
        snapshots.append(
            {
                "snapshot_date": row["snapshot_date"],
                "source": row["source"],
                "file": Path(str(row["file"])).name,
                "models": row["rows"],
                "partial_extract": warning is not None,
                "warning": warning,
            }
        )
    series = [
        {
            "layout": row["layout"],
            "file": Path(str(row["file"])).name,
            "models": row["models"],
            "first_day": row["first_day"],
            "last_day": row["last_day"],
        }
        for row in list_series(warehouse).to_pylist()
    ]
    return Holdings(snapshots, series)
