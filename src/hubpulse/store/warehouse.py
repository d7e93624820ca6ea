"""The warehouse: Parquet partitions per snapshot plus a DuckDB catalog of views.

This is the only module that knows the file layout and the table names::

    <root>/loads/<load_id>/models.parquet    canonical rows (files.SNAPSHOT_SCHEMA + load_id)
    <root>/loads/<load_id>/rejects.parquet   malformed records: file, row, field, reason, raw
    <root>/loads/<load_id>/aliases.parquet   renames revealed by the snapshot (old_id → new_id)
    <root>/loads/<load_id>/loads.parquet     the load log row of this snapshot
    <root>/snapshots/date=YYYY-MM-DD         symlink to the load that holds that date
    <root>/series/<load_id>/*.parquet        one imported download series (ingest.series tables
                                             + series_loads, its load log row; daily counts
                                             as series_months sums, the file under raw/)
    <root>/{spaces,router,…}/<load_id>/      Spaces, router tokens, … prices (ingest.areas)
    <root>/crawls/<crawl_id>/                crawl checkpoints: state.json, pages/, the snapshot
    <root>/hub/                              huggingface_hub download cache of pulled dumps
    <root>/derived/<load_id>/                what a snapshot implies, built once (``derived``)
    <root>/catalog.duckdb                    views over the above, for any DuckDB client

A load is written in full under ``loads/`` (invisible), then published by atomically replacing the
``snapshots/date=…`` symlink, so a killed ingest leaves nothing half-written in view and a
replaced snapshot is swapped in one step; unreferenced load directories are swept on the next
ingest. Ingesting the same file again is a no-op (the load is identified by the file's SHA-256);
a different file for a stored date is refused unless ``replace=True``. Analytics run on an
in-memory DuckDB connection (or a Spark session, see ``engines``) whose views read the Parquet
files, so readers never lock the catalog file.

A series or Spaces import is written under ``<area>/.tmp-<load_id>`` and published by renaming
the directory: all or nothing too; the same file (and options) again is a no-op."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace as replace_fields
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from hubpulse.errors import SeriesNotFoundError, SnapshotConflictError, SnapshotNotFoundError
from hubpulse.ingest.areas import SIGNAL_TABLES
from hubpulse.ingest.connection import Limits
from hubpulse.ingest.daily import read_series
from hubpulse.ingest.files import (
    REJECT_SCHEMA,
    SNAPSHOT_SCHEMA,
    Progress,
    Snapshot,
    bundled_aliases,
    read_snapshot,
)
from hubpulse.ingest.series import (
    COVERAGE_SCHEMA,
    SERIES_LOAD_SCHEMA,
    SERIES_MODELS_SCHEMA,
    SERIES_MONTHS_SCHEMA,
    SERIES_SCHEMA,
    SeriesData,
    SeriesLoad,
    series_result,
)
from hubpulse.ingest.sources import Origin
from hubpulse.settings import Settings
from hubpulse.store.catalog import write_catalog
from hubpulse.store.derived import DERIVED, remove_unpinned, sweep_leftovers
from hubpulse.store.derived import sweep as sweep_derived
from hubpulse.store.durable import fsync_dir
from hubpulse.store.engines import connect_duckdb, connect_spark, duckdb_limits, register_views
from hubpulse.store.health import DamagedWarehouseWarning, published_problem
from hubpulse.store.layout import Survey, published, strays, version
from hubpulse.store.loads import (
    LoadResult,
    link_renames,
    load_result,
    publish_series,
    read_load,
    unpublish_series,
    write_load,
)
from hubpulse.store.names import WAREHOUSE
from hubpulse.store.pins import release
from hubpulse.terms import Engine

# Table (view) names.
MODELS = "models"
REJECTS = "rejects"
ALIASES = "aliases"
LOADS = "loads"
TABLES = (MODELS, REJECTS, ALIASES, LOADS)
DEMO_WAREHOUSE = ".hubpulse-demo"  # where `make demo` builds the demo warehouse (Makefile)
SERIES = "series"
SERIES_MODELS = "series_models"
COVERAGE = "coverage"
SERIES_REJECTS = "series_rejects"
SERIES_LOADS = "series_loads"
SERIES_MONTHS = "series_months"
CATALOG_FILE = "catalog.duckdb"
SERIES_TABLES = {
    SERIES: SERIES_SCHEMA,
    SERIES_MODELS: SERIES_MODELS_SCHEMA,
    COVERAGE: COVERAGE_SCHEMA,
    SERIES_REJECTS: REJECT_SCHEMA,
    SERIES_LOADS: SERIES_LOAD_SCHEMA,
    SERIES_MONTHS: SERIES_MONTHS_SCHEMA,
}
AREA_TABLES = {SERIES: SERIES_TABLES, **SIGNAL_TABLES}


class Warehouse:
    """A warehouse directory and an Ibis connection whose tables are views over it."""

    def __init__(
        self,
        root: Path | str,
        engine: BaseBackend | None = None,
        *,
        limits: Limits | None = None,
        default: bool = True,
    ) -> None:
        self.root = Path(root).expanduser()
        # writes, and reads unless another engine is given; past the memory limit DuckDB spills
        # to <root>/.spill. A memtable-only expression runs here too (``default``: not for a
        # connection a background thread uses, as a connection runs one query at a time).
        given = limits or Limits()
        self.limits = replace_fields(given, spill=given.spill or self.root / ".spill")
        self.con = connect_duckdb(self.limits)
        if default:
            ibis.set_backend(self.con)
        self.reader = engine or self.con
        self.survey = Survey(self.root)
        self.refresh_views()
        for message in self.survey.left_out():
            warnings.warn(message, DamagedWarehouseWarning, stacklevel=2)

    def _empty(self) -> str:
        """Why nothing can be answered, pointing to the demo warehouse when there is one."""
        message = f"warehouse {self.root} holds no snapshot yet: run `hubpulse ingest PATH` first"
        demo = Path(DEMO_WAREHOUSE)
        if demo.resolve() != self.root.resolve() and (demo / "snapshots").is_dir():
            message += f", or ask the demo warehouse `make demo` built: -w {DEMO_WAREHOUSE}"
        return message

    def table(self, name: str) -> ir.Table:
        """All snapshots of table ``name`` (one of ``TABLES``)."""
        if name not in self.reader.list_tables():
            raise SnapshotNotFoundError(self._empty())
        return self.reader.table(name)

    def snapshot_dates(self) -> list[dt.date]:
        """Stored snapshot dates, oldest first."""
        return sorted(dt.date.fromisoformat(p.name[5:]) for p in self.partitions())  # date=…

    def version(self) -> tuple[str, ...]:
        """What is published (``layout.version``); reads no file."""
        return version(self.root)

    def damaged(self) -> list[tuple[dt.date, str]]:
        """Published snapshots that cannot be read, with what is wrong, oldest first."""
        return self.survey.damaged()

    def damaged_series(self) -> list[tuple[str, str]]:
        """Unreadable series loads and what is wrong: left out of every view, never read."""
        return self.survey.damaged_series()

    def resolve_date(self, date: dt.date | None) -> dt.date:
        """``date`` if stored, the newest stored date when ``None``; else a clear error."""
        dates = self.snapshot_dates()
        if not dates:
            raise SnapshotNotFoundError(self._empty())
        if date is None:
            return dates[-1]
        damaged = dict(self.damaged())
        if date in damaged:
            raise SnapshotNotFoundError(
                f"snapshot {date} in {self.root} is damaged: {damaged[date]}; "
                f"ingest its file again with --date {date} --replace"
            )
        if date not in dates:
            stored = ", ".join(str(d) for d in dates)
            raise SnapshotNotFoundError(
                f"no snapshot for {date} in {self.root} (stored: {stored}); "
                "run `hubpulse ingest PATH --date ...` first"
            )
        return date

    def models(self, date: dt.date | None = None) -> ir.Table:
        """Canonical rows of one snapshot (the newest when ``date`` is None)."""
        date = self.resolve_date(date)
        return self.table(MODELS).filter(ibis._.snapshot_date == date)

    def all_models(self) -> ir.Table:
        """Canonical rows of every stored snapshot (empty when there is none yet)."""
        if MODELS in self.reader.list_tables():
            return self.reader.table(MODELS)
        schema = SNAPSHOT_SCHEMA.append(pa.field("load_id", pa.string()))
        return ibis.memtable(schema.empty_table())

    def aliases(self) -> ir.Table:
        """Every known rename (old_id → new_id): observed in snapshots plus the bundled list."""
        bundled = ibis.memtable(bundled_aliases())
        if ALIASES not in self.reader.list_tables():
            return bundled
        observed = self.reader.table(ALIASES).select("old_id", "new_id")
        return observed.union(bundled, distinct=True)

    def load_id(self, date: dt.date) -> str:
        """The load of ``date`` this warehouse's views read (even after a --replace)."""
        link = self._partition_dir(date)
        target = self.survey.targets.get(link)
        return target.name if target is not None else Path(os.readlink(link)).name

    def series_table(self, name: str) -> ir.Table:
        """All loads of table ``name`` of an area (``AREA_TABLES``); empty when there are none."""
        if name in self.reader.list_tables():
            return self.reader.table(name)
        schema = {k: v for tables in AREA_TABLES.values() for k, v in tables.items()}[name]
        if "load_id" not in schema.names:
            schema = schema.append(pa.field("load_id", pa.string()))
        return ibis.memtable(schema.empty_table())

    def work_dir(self, name: str) -> Path:
        """``<root>/<name>``: crawl checkpoints (``crawls``) and downloaded dumps (``hub``)."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def execute(self, expr: ir.Expr) -> pa.Table:
        """Run an Ibis expression on this warehouse's engine and return Arrow."""
        return self.reader.to_pyarrow(expr)

    def ingest(
        self,
        path: Path | str,
        snapshot_date: dt.date | None = None,
        *,
        replace: bool = False,
        progress: Progress | None = None,
        origin: Origin | None = None,
    ) -> LoadResult:
        """Normalise ``path`` and store it as one snapshot, atomically and idempotently
        (``origin``: the public dataset's file it is, kept in the load log)."""
        snapshot = read_snapshot(path, snapshot_date, progress=progress, limits=self.limits)
        snapshot = replace_fields(snapshot, origin=origin)
        with self.lock():
            return self._store(snapshot, replace=replace)

    def import_series(
        self,
        path: Path | str,
        *,
        layout: str = "forecast",
        origin: Origin | None = None,
        **options: Any,
    ) -> SeriesLoad:
        """Normalise a series file (``ingest.daily.read_series``) and store it as one series
        load, atomically and idempotently."""
        self.root.mkdir(parents=True, exist_ok=True)  # DuckDB may spill into it while reading
        data = read_series(path, layout, self.con, **options)
        with self.lock():
            return self._store_series(replace_fields(data, origin=origin))

    def _store_series(self, data: SeriesData) -> SeriesLoad:
        for row in self._series_loads():
            if (row["file_sha256"], row["options"]) == (data.file_sha256, data.options):
                return series_result("unchanged", row)
        row = publish_series(self.con, data, self.root / SERIES, SERIES_TABLES)
        self.refresh_views()
        self.refresh_catalog()
        return series_result("loaded", row)

    def remove_series(self, load_id: str) -> str:
        """Remove series load ``load_id`` (damaged or not); the file it came from (or "")."""
        directory = self.root / SERIES / load_id
        if load_id.startswith(".") or "/" in load_id or not directory.is_dir():
            held = ", ".join(d.name for d in self.survey.series_health) or "none"
            raise SeriesNotFoundError(f"no series load {load_id!r} in {self.root} (loads: {held})")
        with self.lock():
            file = unpublish_series(directory)
            self.refresh_views()
            self.refresh_catalog()
        return file

    def _series_loads(self) -> list[dict[str, object]]:
        return [
            pq.read_table(d / f"{SERIES_LOADS}.parquet").to_pylist()[0]
            for d in self.survey.series_dirs()
        ]

    def _store(self, snapshot: Snapshot, *, replace: bool) -> LoadResult:
        final = self._partition_dir(snapshot.snapshot_date)
        problem = published_problem(final, self.root) if final.is_symlink() else None
        if problem is not None and not replace:
            raise SnapshotConflictError(
                f"snapshot {snapshot.snapshot_date} is damaged ({problem}); pass --replace to "
                f"store {snapshot.path} in its place"
            )
        existing = None if problem else read_load(final / f"{LOADS}.parquet")
        if existing is not None and existing["file_sha256"] == snapshot.file_sha256:
            return load_result("unchanged", str(existing["load_id"]), snapshot)
        if existing is not None and not replace:
            raise SnapshotConflictError(
                f"snapshot {snapshot.snapshot_date} already holds {existing['file']} "
                f"(load {existing['load_id']}); pass --replace to swap in {snapshot.path}"
            )
        load_id = uuid.uuid4().hex[:12]
        snapshot = link_renames(self.con, snapshot, self.snapshot_dates())
        self._publish(write_load(self.root / "loads" / load_id, snapshot), final)
        self.refresh_catalog()
        return load_result("replaced" if existing else "loaded", load_id, snapshot)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time: a second concurrent ingest waits for the first. Whoever takes
        it first sweeps what killed writers left (unpublished loads, ``.tmp-*``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._sweep_loads()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def refresh_catalog(self) -> None:
        """Rewrite ``catalog.duckdb`` (see ``store.catalog.write_catalog``)."""
        write_catalog(self.root / CATALOG_FILE, self._views(), self.limits)

    def _publish(self, load_dir: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        fsync_dir(load_dir)
        link = final.with_name(f".{load_dir.name}.link")
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..") / "loads" / load_dir.name, target_is_directory=True)
        os.replace(link, final)
        fsync_dir(final.parent)
        self.refresh_views()  # this warehouse now reads the new load, and lets the old go
        self._sweep_loads()

    def _sweep_loads(self) -> None:
        """Remove load directories no snapshot points to (replaced or from killed ingests) with
        their derived tables, unless a reader still reads them (``pins``: they go at a later
        sweep); what a published link points to stays, damaged or not. Then what killed
        writers left: ``.tmp-*`` series imports and derived builds no one is building."""
        live = {p.resolve() for p in published(self.root)}
        loads = self.root / "loads"
        for load_dir in loads.iterdir() if loads.is_dir() else []:
            if load_dir.resolve() not in live:
                derived = self.root / DERIVED / load_dir.name
                remove_unpinned(load_dir / f"{LOADS}.parquet", load_dir, derived)
        kept = {d.name for d in loads.iterdir()} if loads.is_dir() else set()
        kept.add(WAREHOUSE)  # the warehouse's own stages are keyed by its loads, not swept
        sweep_derived(self.root, kept)
        for stale in (s for area in AREA_TABLES for s in (self.root / area).glob(".tmp-*")):
            shutil.rmtree(stale, ignore_errors=True)
        sweep_leftovers(self.root)

    def _partition_dir(self, date: dt.date) -> Path:
        return self.root / "snapshots" / f"date={date.isoformat()}"

    def partitions(self) -> list[Path]:
        """The published snapshots that can be read (as of the last change)."""
        return self.survey.partitions()

    def strays(self) -> list[str]:
        """Entries of ``snapshots/`` that are no snapshot, never read (``check`` names them)."""
        return strays(self.root)

    def release(self) -> None:
        """Let go of what this warehouse reads (its pins), for a reader that reopens."""
        self.survey.release()
        release(self.reader)

    def _views(self) -> list[tuple[str, list[str]]]:
        return self.survey.views(TABLES, AREA_TABLES)

    def refresh_views(self) -> None:
        """Survey what is published (pinning the loads read), then view the pinned files."""
        self.survey.refresh()
        views = self._views()
        register_views(self.con, views)
        if self.reader is not self.con:
            register_views(self.reader, views)


def open_warehouse(
    root: Path | str,
    engine: Engine = "duckdb",
    *,
    spark_master: str = "local[*]",
    spark_conf: dict[str, str] | None = None,
    limits: Limits | None = None,
) -> Warehouse:
    """The warehouse at ``root`` (started if new), read by ``engine``; DuckDB under ``limits``."""
    spark = connect_spark(spark_master, spark_conf) if engine == "spark" else None
    return Warehouse(root, spark, limits=limits)


def open_store(settings: Settings, *, engine: Engine | None = None) -> Warehouse:
    """The settings' warehouse under their DuckDB limits, read by ``engine`` (default: theirs)."""
    return open_warehouse(
        settings.warehouse,
        engine or settings.engine,
        spark_master=settings.spark_master,
        spark_conf=settings.spark_conf,
        limits=duckdb_limits(settings),
    )
