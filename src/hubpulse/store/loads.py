"""The load log: one row per ingested snapshot (``loads.parquet`` beside its tables) and per
imported series (``series_loads.parquet``), so every stored row can be traced to the file, the
hash and the hubpulse version that brought it, and a re-run is recognised and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse._version import __version__
from hubpulse.ingest.connection import Connection
from hubpulse.ingest.files import ALIAS_SCHEMA, Snapshot
from hubpulse.ingest.renames import match_renames
from hubpulse.ingest.series import SERIES_LOAD_SCHEMA, SERIES_MONTHS_SCHEMA, SeriesData
from hubpulse.ingest.sources import Origin
from hubpulse.store.durable import fsync_dir, staged, write_parquet

LOAD_SCHEMA = pa.schema(
    [
        ("load_id", pa.string()),
        ("snapshot_date", pa.date32()),
        ("date_inferred", pa.bool_()),
        ("source", pa.string()),
        ("file", pa.string()),
        ("file_sha256", pa.string()),
        ("rows", pa.int64()),
        ("rejects", pa.int64()),
        ("aliases", pa.int64()),
        ("dataset", pa.string()),
        ("dataset_file", pa.string()),
        ("revision", pa.string()),
        ("licence", pa.string()),
        ("hubpulse_version", pa.string()),
        ("loaded_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class LoadResult:
    """What one ingest did: ``status`` is ``loaded``, ``replaced`` or ``unchanged``."""

    status: str
    load_id: str
    snapshot_date: dt.date
    date_inferred: bool
    source: str
    file: str
    rows: int
    rejects: int
    aliases: int


def load_result(status: str, load_id: str, snapshot: Snapshot) -> LoadResult:
    return LoadResult(
        status=status,
        load_id=load_id,
        snapshot_date=snapshot.snapshot_date,
        date_inferred=snapshot.date_inferred,
        source=snapshot.source,
        file=str(snapshot.path),
        rows=snapshot.rows.num_rows,
        rejects=snapshot.rejects.num_rows,
        aliases=snapshot.aliases.num_rows,
    )


def write_series(
    con: Any, data: SeriesData, load_id: str, staging: Path, schemas: dict[str, pa.Schema]
) -> None:
    """Every table of a series load into ``staging`` (one Parquet file each, with its load id)
    and its raw files, byte for byte, under ``raw/``."""
    empty = ibis.memtable(SERIES_MONTHS_SCHEMA.empty_table())
    tables = {
        "series": data.rows,
        "series_models": data.models,
        "coverage": data.coverage,
        "series_rejects": data.rejects,
        "series_months": data.months if data.months is not None else empty,
    }
    for name, expr in tables.items():
        expr = expr.select(*schemas[name].names).cast(schemas[name])
        expr = expr.mutate(load_id=ibis.literal(load_id))
        con.to_parquet(expr, staging / f"{name}.parquet", compression="zstd")
    for source in data.raw:
        (staging / "raw").mkdir(exist_ok=True)
        shutil.copyfile(source, staging / "raw" / source.name)


def publish_series(
    con: Any, data: SeriesData, base: Path, schemas: dict[str, pa.Schema]
) -> dict[str, object]:
    """Write a series load under ``base/.tmp-<load_id>`` and publish it by renaming the
    directory (all or nothing; the caller holds the warehouse lock); its load log row."""
    load_id = uuid.uuid4().hex[:12]
    for stale in base.glob(".tmp-*"):  # left by a killed import or removal
        shutil.rmtree(stale, ignore_errors=True)
    with staged(base / f".tmp-{load_id}") as staging:
        write_series(con, data, load_id, staging, schemas)
        row = series_load_row(con.con, data, load_id, staging)
        table = pa.Table.from_pylist([row], SERIES_LOAD_SCHEMA)
        write_parquet(staging / "series_loads.parquet", table)
        fsync_dir(staging)
    os.rename(staging, base / load_id)
    fsync_dir(base)
    return row


def unpublish_series(directory: Path) -> str:
    """Take series load ``directory`` out of view in one rename, then delete it; the file it
    was imported from ("" when its load log is unreadable)."""
    try:
        file = str(pq.read_table(directory / "series_loads.parquet")["file"][0])
    except (OSError, pa.ArrowException, IndexError):
        file = ""
    gone = directory.with_name(f".tmp-removed-{directory.name}")
    os.rename(directory, gone)  # a reader sees the load whole, or not at all
    fsync_dir(directory.parent)
    shutil.rmtree(gone, ignore_errors=True)
    return file


def series_load_row(
    con: Connection, data: SeriesData, load_id: str, staging: Path
) -> dict[str, object]:
    """The load log row, counted by DuckDB from the written files: rows are the observations
    plus the daily rows summed into model-months; days run from the first to the last of
    either (coverage for daily counts)."""
    rows, models, first, last = con.execute(
        "with obs as (select model_id, day as first, day as last, 1 as n "
        "from read_parquet(?) union all select model_id, first_row, last_row, rows "
        "from read_parquet(?) union all select model_id, first_day, last_day, 0 "
        "from read_parquet(?)) "
        "select coalesce(sum(n), 0), count(distinct model_id) filter (where n > 0), "
        "min(first), max(last) from obs",
        [str(staging / f"{name}.parquet") for name in ("series", "series_months", "coverage")],
    ).fetchone()  # type: ignore[misc]
    rejects_file = staging / "series_rejects.parquet"
    return {
        "load_id": load_id,
        "layout": data.layout,
        "file": str(data.path.resolve()),
        "file_sha256": data.file_sha256,
        "options": data.options,
        "rows": rows,
        "models": models,
        "rejects": pq.read_metadata(rejects_file).num_rows,
        "first_day": _day(first),
        "last_day": _day(last),
        **origin_columns(data.origin),
        "hubpulse_version": __version__,
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }


def origin_columns(origin: Origin | None) -> dict[str, str | None]:
    """The load log's columns naming a public dataset's file (null for one's own files)."""
    if origin is None:
        return dict.fromkeys(("dataset", "dataset_file", "revision", "licence"))
    return {
        "dataset": origin.dataset,
        "dataset_file": origin.file,
        "revision": origin.revision,
        "licence": origin.licence,
    }


def _day(value: object) -> object:
    """A day as a date (DuckDB widens a union of empty and dated columns to a timestamp)."""
    return value.date() if isinstance(value, dt.datetime) else value


def link_renames(con: Any, snapshot: Snapshot, stored: list[dt.date]) -> Snapshot:
    """``snapshot`` with the renames between it and the ``stored`` snapshots just before and
    just after it (``ingest.renames``; ``con`` views them) added to those its rows reveal."""
    day, others = snapshot.snapshot_date, [d for d in stored if d != snapshot.snapshot_date]
    near = [max((d for d in others if d < day), default=None)]
    near.append(min((d for d in others if d > day), default=None))
    before, after = (
        None if d is None else con.table("models").filter(ibis._.snapshot_date == d) for d in near
    )
    found = [snapshot.aliases]
    if before is not None or after is not None:
        # a view of the rows for this one query, dropped after (a memtable would stay
        # registered with the connection: a year of weekly dumps would pile up in memory)
        name = f"hp_current_{uuid.uuid4().hex}"
        con.con.register(
            name, snapshot.rows.select(["model_id", "created_at", "downloads_all_time"])
        )
        try:
            current = con.table(name)
            for old, new in ((before, current), (current, after)):
                if old is not None and new is not None:
                    found.append(con.to_pyarrow(match_renames(old, new)).cast(ALIAS_SCHEMA))
        finally:
            con.con.unregister(name)
    aliases = pa.concat_tables(found).group_by(["old_id", "new_id"]).aggregate([])
    order = [("old_id", "ascending"), ("new_id", "ascending")]
    return replace(snapshot, aliases=aliases.sort_by(order).cast(ALIAS_SCHEMA))


def write_load(load_dir: Path, snapshot: Snapshot) -> Path:
    """A snapshot's load (its rows, rejects and aliases, each row with the load id, and its
    load log row) written to ``load_dir``, named after the load id; not yet published."""
    load_id = load_dir.name
    load_dir.mkdir(parents=True)
    stamp = pa.repeat(pa.scalar(load_id, pa.string()), snapshot.rows.num_rows)
    write_parquet(load_dir / "models.parquet", snapshot.rows.append_column("load_id", stamp))
    reject_ids = pa.repeat(pa.scalar(load_id, pa.string()), snapshot.rejects.num_rows)
    write_parquet(
        load_dir / "rejects.parquet", snapshot.rejects.append_column("load_id", reject_ids)
    )
    write_parquet(load_dir / "aliases.parquet", snapshot.aliases)
    write_parquet(load_dir / "loads.parquet", load_row(snapshot, load_id))
    return load_dir


def load_row(snapshot: Snapshot, load_id: str) -> pa.Table:
    row = {
        "load_id": load_id,
        "snapshot_date": snapshot.snapshot_date,
        "date_inferred": snapshot.date_inferred,
        "source": snapshot.source,
        "file": str(snapshot.path.resolve()),
        "file_sha256": snapshot.file_sha256,
        "rows": snapshot.rows.num_rows,
        "rejects": snapshot.rejects.num_rows,
        "aliases": snapshot.aliases.num_rows,
        **origin_columns(snapshot.origin),
        "hubpulse_version": __version__,
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
    }
    return pa.Table.from_pylist([row], schema=LOAD_SCHEMA)


def read_load(path: Path) -> dict[str, object] | None:
    """The load log row stored at ``path`` (None when there is none)."""
    return pq.read_table(path).to_pylist()[0] if path.is_file() else None
