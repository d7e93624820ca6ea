"""A year of weekly hub-stats dumps derived from one synthetic Hub, in the layout of
``hfmlsoc/hub_weekly_snapshots`` (``models/<label>/models.parquet``), for the weekly pull's
benchmark. Counters follow the counting model: model i downloads r_i × m(t) a day from its
creation (m a seasonal factor shared by all), rounded so that each dump's all-time count is
the previous one's plus the downloads in between and its 30-day count the last 30 days' sum.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = dt.date(2025, 1, 1)
FIRST_LABEL = dt.date(2025, 1, 8)
OFFSETS = (6, 5, 6, 2, 6, 0, 6, 4)  # the dump's day within its week varies


def labels(weeks: int) -> list[dt.date]:
    return [FIRST_LABEL + dt.timedelta(weeks=k) for k in range(weeks)]


def dump_day(index: int) -> dt.date:
    return FIRST_LABEL + dt.timedelta(weeks=index, days=OFFSETS[index % len(OFFSETS)])


def _counted(rate: np.ndarray, cumulative: np.ndarray, begin: np.ndarray, end: int) -> np.ndarray:
    """Each model's downloads from its first counted day up to (not including) day ``end``."""
    stop = np.maximum(np.full(len(rate), end), begin)
    return np.floor(rate * (cumulative[stop] - cumulative[begin]))


def weekly_files(models: Path, out: Path, weeks: int = 52) -> dict[str, Path]:
    """``models/<label>/models.parquet`` → file, written once into ``out`` (cached)."""
    files = {
        f"models/{label}/models.parquet": out / str(label) / "models.parquet"
        for label in labels(weeks)
    }
    if all(path.exists() for path in files.values()):
        return files
    table = pq.read_table(models)
    days = (dump_day(weeks - 1) - START).days + 31
    seasonal = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 365)
    cumulative = np.concatenate([[0.0], np.cumsum(seasonal)])  # M[k]: days 0 … k-1
    created = pc.cast(table["createdAt"], pa.timestamp("us")).to_numpy().astype("datetime64[D]")
    start = (created - np.datetime64(START)).astype(int)
    rate = table["downloads"].to_numpy(zero_copy_only=False).astype(float) / 30
    old = start < 0
    base = np.where(old, table["downloadsAllTime"].to_numpy(zero_copy_only=False), 0)
    begin = np.clip(start, 0, days)
    modified = table["lastModified"]
    for index, (name, path) in enumerate(files.items()):
        day = (dump_day(index) - START).days
        live = start <= day
        total = _counted(rate, cumulative, begin, day + 1)
        window = total - _counted(rate, cumulative, begin, day + 1 - 30)
        stamp = pa.scalar(dt.datetime.combine(dump_day(index), dt.time(11)), pa.timestamp("us"))
        week = table.set_column(
            table.schema.get_field_index("downloadsAllTime"),
            "downloadsAllTime",
            pa.array((base + total).astype(np.int64)),
        )
        week = week.set_column(
            week.schema.get_field_index("downloads"), "downloads", pa.array(window.astype(np.int64))
        )
        week = week.set_column(
            week.schema.get_field_index("lastModified"),
            "lastModified",
            pc.min_element_wise(pc.cast(modified, pa.timestamp("us")), stamp),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        pq.write_table(week.filter(pa.array(live)), temp, compression="zstd")
        temp.rename(path)
        print(name, flush=True)
    return files
