"""Daily series: a sparse per-repo per-day downloads table (the ``daily`` layout of
``hubpulse import-series``, in the shape of ``harvardMadsys/hf-hub-characterization``
``downloads.parquet``), read and checked in the engine; see ``hubpulse.ingest.series`` for the
tables it returns.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.errors import SeriesFormatError
from hubpulse.ingest.files import file_sha256
from hubpulse.ingest.series import (
    COVERAGE_SCHEMA,
    SERIES_MODELS_SCHEMA,
    DailyColumns,
    SeriesData,
    ValueKind,
    memtable,
)


def read_daily_series(
    path: Path | str,
    con: Any,
    *,
    models_path: Path | str | None = None,
    columns: DailyColumns | None = None,
    values: ValueKind = "daily",
    coverage: tuple[dt.date, dt.date] | None = None,
) -> SeriesData:
    """Read a sparse per-repo per-day downloads table with the Ibis backend ``con``.

    ``models_path`` maps the id column to repo names (join on the immutable id, never on the
    name); without it the id column holds repo names. ``coverage`` is the first and last day the
    source covers (default: the first and last day in the file)."""
    path = Path(path)
    columns = columns or DailyColumns()
    raw = _read_table(con, path, [columns.id, columns.day, columns.value])
    names, models = _daily_models(con, path, models_path, columns)
    table = _checked(raw, columns, names)
    valid = table.filter(table.reason.isnull())
    valid = valid.mutate(dupe=ibis.row_number().over(group_by=["key", "day"], order_by="row"))
    good = valid.filter(valid.dupe == 0).drop("dupe")
    dupes = valid.filter(valid.dupe > 0).drop("dupe")
    bad = table.filter(table.reason.notnull()).union(
        dupes.mutate(reason=ibis.literal("duplicate row for this model and day"))
    )
    span = coverage or _span(good)
    rows, cover = _daily_values(good, values, span)
    rejects = bad.select(
        file=ibis.literal(str(path)),
        row="row",
        model_id="model_id",
        field=ibis.literal("row"),
        reason="reason",
        raw="raw_text",
    )
    options = {"columns": columns.model_dump(), "values": values, "models": str(models_path)}
    return SeriesData(
        path=path,
        layout="daily",
        file_sha256=file_sha256(path),
        options=json.dumps({**options, "coverage": [str(d) for d in span]}, sort_keys=True),
        rows=rows,
        models=models,
        coverage=cover,
        rejects=rejects,
    )


def _checked(raw: ir.Table, columns: DailyColumns, names: ir.Table | None) -> ir.Table:
    """row, key, day, value, raw_text, model_id and ``reason`` (null for a good row)."""
    table = raw.select(
        row=raw.file_row_number + 1,
        key=raw[columns.id].cast("string"),
        day=raw[columns.day].try_cast("date"),
        value=raw[columns.value].try_cast("int64"),
        raw_text=raw[columns.id].cast("string").fill_null("")
        + ","
        + raw[columns.day].cast("string").fill_null("")
        + ","
        + raw[columns.value].cast("string").fill_null(""),
    )
    if names is not None:
        table = table.left_join(names, table.key == names.name_key).drop("name_key")
    else:
        table = table.mutate(model_id=table.key)
    reason = ibis.cases(
        (table.key.isnull(), f"missing id ({columns.id})"),
        (table.model_id.isnull(), "id not found in the models table"),
        (table.day.isnull(), f"missing or unreadable day ({columns.day})"),
        (table.value.isnull(), f"missing or unreadable count ({columns.value})"),
        (table.value < 0, "negative count"),
        else_=ibis.null("string"),
    )
    return table.mutate(reason=reason)


def _read_table(con: Any, path: Path, needed: list[str]) -> ir.Table:
    if not path.is_file():
        raise SeriesFormatError(f"{path}: no such file")
    try:
        table = con.read_parquet(path, file_row_number=True)
    except Exception as exc:  # the engine's own error types are not part of our API
        raise SeriesFormatError(f"{path}: cannot read as Parquet ({exc})") from exc
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise SeriesFormatError(
            f"{path}: no column {', '.join(missing)} "
            f"(columns: {', '.join(c for c in table.columns if c != 'file_row_number')}); "
            "map them with --column role=name"
        )
    return table


def _daily_models(
    con: Any, path: Path, models_path: Path | str | None, columns: DailyColumns
) -> tuple[ir.Table | None, ir.Table]:
    if models_path is None:
        return None, memtable([], SERIES_MODELS_SCHEMA)
    needed = [columns.models_id, columns.models_name]
    if columns.models_created:
        needed.append(columns.models_created)
    table = _read_table(con, Path(models_path), needed)
    names = table.select(
        name_key=table[columns.models_id].cast("string"),
        model_id=table[columns.models_name].cast("string"),
    ).distinct(on="name_key")
    created = (
        table[columns.models_created].cast("timestamp")
        if columns.models_created
        else ibis.null("timestamp")
    )
    models = table.select(model_id=table[columns.models_name].cast("string"), created_at=created)
    return names, models.distinct(on="model_id")


def _span(good: ir.Table) -> tuple[dt.date, dt.date]:
    bounds = good.aggregate(first=good.day.min(), last=good.day.max()).to_pyarrow().to_pylist()[0]
    if bounds["first"] is None:
        raise SeriesFormatError("no valid rows: nothing to import (see the rejects)")
    return bounds["first"], bounds["last"]


def _daily_values(
    good: ir.Table, values: ValueKind, span: tuple[dt.date, dt.date]
) -> tuple[ir.Table, ir.Table]:
    """Rows and coverage for per-day counts or a cumulative counter."""
    first, last = span
    if values == "daily":
        rows = good.select("model_id", "day", kind=ibis.literal("daily"), value="value")
        cover = ibis.memtable(
            pa.Table.from_pylist(
                [{"model_id": None, "first_day": first, "last_day": last}], schema=COVERAGE_SCHEMA
            )
        )
        return rows, cover
    if values != "cumulative":
        raise SeriesFormatError(f"unknown value kind {values!r}; use daily or cumulative")
    window = ibis.window(group_by="model_id", order_by="day")
    marked = good.mutate(previous=good.value.lag().over(window))
    marked = marked.mutate(starts=marked.previous.isnull() | (marked.value < marked.previous))
    marked = marked.mutate(segment=marked.starts.cast("int64").cumsum().over(window))
    deltas = marked.filter(~marked.starts).select(
        "model_id", "day", kind=ibis.literal("daily"), value=marked.value - marked.previous
    )
    anchors = marked.filter(marked.starts).select(
        "model_id", "day", kind=ibis.literal("all_time"), value="value"
    )
    starts = marked.filter(marked.starts)
    ends = starts.mutate(
        last_day=(starts.day.lead().over(ibis.window(group_by="model_id", order_by="day"))).cast(
            "date"
        )
    )
    cover = ends.select(
        "model_id",
        first_day=(ends.day + ibis.interval(days=1)).cast("date"),
        last_day=ibis.coalesce(
            (ends.last_day - ibis.interval(days=1)).cast("date"), ibis.literal(last)
        ),
    )
    return deltas.union(anchors), cover.filter(cover.first_day <= cover.last_day)
