"""Durable writes: a Parquet file or a directory is on disk (fsynced) before anything points to
it, so a killed process never leaves a published snapshot half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.ingest.connection import as_os_error


def write_parquet(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd")
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged(staging: Path) -> Iterator[Path]:
    """``staging`` made, to write into before it is published by a rename; when writing fails it
    is removed (nothing half written stays, not even in ``.tmp``), and an engine's failure to
    write (a full disk) is raised as the ``OSError`` it is."""
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        failed = as_os_error(exc)
        if failed is not None and failed is not exc:  # the engine's "No space left on device"
            raise failed from exc
        raise
