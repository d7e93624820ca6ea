"""How a stage's tables are written (``derived.StageSpec``'s writers): each a function of the
path the table goes to, computing its table only when its turn comes.

A table is one Parquet file (``parquet_writer``), sorted so that a lookup by its first key
prunes row groups, or a directory of files (``partitioned_writer``), one per slice and value
of a column, for a table too large to sort within the memory limit; ``derived.Stage.files``
reads either.
"""

from __future__ import annotations

import gc
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import ibis.expr.types as ir
import pyarrow.parquet as pq

from hubpulse.store.durable import fsync_dir
from hubpulse.store.engines import is_spark, register_views

Writer = Callable[[Path], None]
ROW_GROUP = 65_536  # small row groups: a lookup by a sorted key reads one or two of them
LOOKUP_ROW_GROUP = 16_384  # tables read only by lookups: a third of the time per lookup


def parquet_writer(
    expr: ir.Table | Callable[[], ir.Table], order: list[str], row_group: int = ROW_GROUP
) -> Writer:
    """A writer of ``expr`` (or of what ``expr()`` makes, when writing: nothing is computed
    before its turn) sorted by ``order`` (so lookups by the first key prune row groups) in
    groups of ``row_group`` rows, streamed by DuckDB or collected from Spark."""

    def write(path: Path) -> None:
        table = expr if isinstance(expr, ir.Table) else expr()
        ordered = table.order_by(order) if order else table
        backend = ordered._find_backend(use_default=True)
        if is_spark(backend):
            pq.write_table(ordered.to_pyarrow(), path, row_group_size=row_group)
        else:
            ordered.to_parquet(path, row_group_size=row_group)

    return write


def written_writer(expr: ir.Table, order: list[str], then: Callable[[ir.Table], None]) -> Writer:
    """A ``parquet_writer`` of ``expr`` that hands ``then`` the file it wrote, as a table of
    ``expr``'s engine: the tables written after it in the same build read it, rather than
    computing ``expr`` again or holding it in memory."""

    def write(path: Path) -> None:
        parquet_writer(expr, order)(path)
        backend = expr._find_backend(use_default=True)
        name = re.sub(r"[^0-9A-Za-z_]", "_", f"hp_{path.parent.name}_{path.stem}")
        register_views(backend, [(name, [str(path.absolute())])])
        then(backend.table(name))

    return write


def partitioned_writer(make: Callable[[int], ir.Table], parts: int, column: str) -> Writer:
    """A writer of the union of ``make(0)`` … ``make(parts - 1)`` (disjoint slices of one
    table) as a directory of files, ``<value>-<slice>.parquet`` for each value of ``column``
    in each slice, every slice computed in its turn: a build whose whole would not fit the
    memory limit runs a slice at a time, and a question about one value (a month) reads only
    that value's files (each file's statistics name its one value), with nothing sorted —
    DuckDB partitions the rows as it writes them, where sorting a year of the Hub's
    model-months by month spilled to disk for longer than computing them. On Spark: a file
    per slice, sorted by ``column``."""

    def write(path: Path) -> None:
        path.mkdir()
        schema = None
        for part in range(parts):
            table = make(part)
            schema = table.schema()
            if is_spark(table._find_backend(use_default=True)):
                parquet_writer(table, [column])(path / f"{part:04d}.parquet")
                continue
            scratch = path.with_name(f".{path.name}-{part}")
            options = {"partition_by": column, "write_partition_columns": True}
            table.to_parquet(scratch, row_group_size=ROW_GROUP, **options)
            for n, piece in enumerate(sorted(scratch.rglob("*.parquet"))):
                value = re.sub(r"[^0-9A-Za-z_.-]", "_", piece.parent.name.partition("=")[2])
                piece.rename(path / f"{value}-{part:04d}-{n:04d}.parquet")
            shutil.rmtree(scratch)
            gc.collect()  # what the slice stored in the engine is dropped with its tables
        if schema is not None and not any(path.glob("*.parquet")):  # no rows: the columns
            pq.write_table(schema.to_pyarrow().empty_table(), path / "empty.parquet")
        fsync_dir(path)

    return write
