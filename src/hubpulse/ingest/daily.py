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

from hubpulse.errors import SeriesFormatError
from hubpulse.ingest.files import file_sha256
from hubpulse.ingest.records import MAX_COUNT
from hubpulse.ingest.series import (
    COVERAGE_SCHEMA,
    FIRST_HUB_DAY,
    SERIES_MODELS_SCHEMA,
    SERIES_SCHEMA,
    DailyColumns,
    SeriesData,
    ValueKind,
    last_possible_day,
    memtable,
    read_forecast_series,
)


def read_series(path: Path | str, layout: str, con: Any, **options: Any) -> SeriesData:
    """A series file of ``layout``: ``forecast`` or ``daily`` (options of ``read_daily_series``)."""
    if layout == "forecast":
        return read_forecast_series(path)
    if layout == "daily":
        return read_daily_series(path, con, **options)
    raise SeriesFormatError(f"{path}: unknown series layout {layout!r}; use forecast or daily")


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
    source covers (default: the first and last day in the file).

    Per-day counts are summed per model and month in one pass over the file, before names are
    joined (``months``); rows are read again only for the few that are rejected. The file
    itself is kept as the load's raw rows."""
    path = Path(path)
    columns = columns or DailyColumns()
    raw = _read_table(con, path, [columns.id, columns.day, columns.value])
    names, models = _daily_models(con, path, models_path, columns)
    if values == "cumulative":
        return _cumulative(path, raw, names, models, columns, coverage, models_path)
    if values != "daily":
        raise SeriesFormatError(f"unknown value kind {values!r}; use daily or cumulative")
    typed = _typed(raw, columns)
    valid = typed.filter(_valid(typed))
    sums = _month_sums(valid).cache()
    repeated = sums.filter(_bit_count(sums.mask) < sums.rows).select("key", "month_start")
    dupes = None
    if repeated.count().execute():  # rare: only then are those model-months read again
        rows = (
            _numbered(raw, columns)
            .filter(_valid(ibis._))
            .semi_join(repeated, ["key", "month_start"])
        )
        rows = rows.mutate(dupe=ibis.row_number().over(group_by=["key", "day"], order_by="row"))
        dupes = rows.filter(rows.dupe > 0)
        fixed = _month_sums(rows.filter(rows.dupe == 0))
        sums = sums.anti_join(repeated, ["key", "month_start"]).union(fixed).cache()
    named, lost = _named(sums, names)
    span = coverage or _span(valid)
    rejects = _daily_rejects(path, raw, columns, names, lost, dupes)
    options = {"columns": columns.model_dump(), "values": values, "models": str(models_path)}
    return SeriesData(
        path=path,
        layout="daily",
        file_sha256=file_sha256(path),
        options=json.dumps({**options, "coverage": [str(d) for d in span]}, sort_keys=True),
        rows=memtable([], SERIES_SCHEMA),
        models=models,
        coverage=_shared_coverage(span),
        rejects=rejects,
        months=_months(named),
        raw=(path,) if models_path is None else (path, Path(models_path)),
    )


@ibis.udf.scalar.builtin(name="bit_count")
def _bit_count(x: int) -> int:  # type: ignore[empty-body]
    """DuckDB's bit_count: the set bits of an integer."""


def _typed(raw: ir.Table, columns: DailyColumns) -> ir.Table:
    """key (the id as stored), day, value: cast only where the file's types differ."""
    return raw.select(**_typed_columns(raw, columns))


def _typed_columns(raw: ir.Table, columns: DailyColumns) -> dict[str, ir.Value]:
    day, value = raw[columns.day], raw[columns.value]
    return {
        "key": raw[columns.id],
        "day": day if day.type().is_date() else day.try_cast("date"),
        "value": value.cast("int64") if value.type().is_integer() else value.try_cast("int64"),
    }


def _valid(t: ir.Table) -> ir.BooleanValue:
    return _row_problem(t).isnull()


def _row_problem(t: ir.Table, columns: DailyColumns | None = None) -> ir.StringValue:
    """Why a row (key, day, value) is kept aside, null for a good one: a missing or unreadable
    cell, a negative count or one past the ceiling, a day outside the Hub's life."""
    columns = columns or DailyColumns()
    return ibis.cases(
        (t.key.isnull(), f"missing id ({columns.id})"),
        (t.day.isnull(), f"missing or unreadable day ({columns.day})"),
        (t.value.isnull(), f"missing or unreadable count ({columns.value})"),
        (t.value < 0, "negative count"),
        (t.value > MAX_COUNT, f"count past the ceiling of {MAX_COUNT:,}"),
        (t.day < FIRST_HUB_DAY, f"day before the Hub existed ({FIRST_HUB_DAY})"),
        (t.day > last_possible_day(), "day in the future"),
        else_=ibis.null("string"),
    )


def _month_sums(rows: ir.Table) -> ir.Table:
    """key, month_start, observed, rows, mask (a bit per day with a row), positive (a bit per
    day with downloads): one hash aggregation, the only pass over every row."""
    bit = ibis.literal(1, "int64") << (rows.day.day() - 1).cast("int64")
    month = ibis.date(rows.day.year(), rows.day.month(), 1)  # a DATE, as the file stores it
    return rows.group_by(key=rows.key, month_start=month).aggregate(
        # DuckDB sums BIGINT into HUGEINT, which Parquet would store as DOUBLE
        observed=rows.value.sum().cast("decimal(38, 0)").cast("int64"),
        rows=rows.value.count(),
        mask=bit.bit_or(),
        positive=ibis.ifelse(rows.value > 0, bit, 0).bit_or(),
    )


def _named(sums: ir.Table, names: ir.Table | None) -> tuple[ir.Table, ir.Table]:
    """The sums under repo names, and the keys the models table does not know."""
    sums = sums.mutate(key_text=sums.key.cast("string"))
    if names is None:
        return sums.mutate(model_id=sums.key_text), sums.filter(ibis.literal(False))
    named = sums.join(names, sums.key_text == names.name_key)
    lost = sums.anti_join(names, sums.key_text == names.name_key).select("key").distinct()
    return named, lost


def _months(named: ir.Table) -> ir.Table:
    def bit_day(mask: ir.IntegerValue) -> ir.DateValue:
        offset = mask.log2().floor().cast("int64")
        start = named.month_start
        return ibis.date(start.year(), start.month(), offset + 1)

    lowest = named.mask & (-named.mask)
    first_positive = named.positive & (-named.positive)
    return named.select(
        "model_id",
        "month_start",
        "observed",
        "rows",
        first_row=bit_day(lowest),
        last_row=bit_day(named.mask),
        first_download=ibis.ifelse(named.positive > 0, bit_day(first_positive), None),
    )


def _numbered(raw: ir.Table, columns: DailyColumns) -> ir.Table:
    """The file read again with row numbers and the checks' inputs (rejects only)."""
    t = raw.mutate(row=raw.file_row_number + 1)
    t = t.mutate(
        raw_text=t[columns.id].cast("string").fill_null("")
        + ","
        + t[columns.day].cast("string").fill_null("")
        + ","
        + t[columns.value].cast("string").fill_null("")
    )
    t = t.select("row", "raw_text", **_typed_columns(t, columns))
    return t.mutate(month_start=ibis.date(t.day.year(), t.day.month(), 1))


def _daily_rejects(
    path: Path,
    raw: ir.Table,
    columns: DailyColumns,
    names: ir.Table | None,
    lost: ir.Table,
    dupes: ir.Table | None,
) -> ir.Table:
    """Rows kept aside: unreadable or negative, an id the models table lacks, a repeat."""
    t = _numbered(raw, columns)
    bad = t.mutate(reason=_row_problem(t, columns)).filter(ibis._.reason.notnull())
    parts = [bad]
    if lost.count().execute():  # only then is the file read again for those rows
        unknown = t.filter(_valid(t)).semi_join(lost, "key")
        parts.append(unknown.mutate(reason=ibis.literal("id not found in the models table")))
    if dupes is not None:
        parts.append(dupes.mutate(reason=ibis.literal("duplicate row for this model and day")))
    out = ibis.union(*[p.select("row", "key", "raw_text", "reason") for p in parts])
    if names is not None:
        out = out.left_join(names, out.key.cast("string") == names.name_key)
        model = out.model_id
    else:
        model = out.key.cast("string")
    return out.select(
        file=ibis.literal(str(path)),
        row="row",
        model_id=model,
        field=ibis.literal("row"),
        reason="reason",
        raw="raw_text",
    )


def _shared_coverage(span: tuple[dt.date, dt.date]) -> ir.Table:
    first, last = span
    return memtable([{"model_id": None, "first_day": first, "last_day": last}], COVERAGE_SCHEMA)


def _cumulative(
    path: Path,
    raw: ir.Table,
    names: ir.Table | None,
    models: ir.Table,
    columns: DailyColumns,
    coverage: tuple[dt.date, dt.date] | None,
    models_path: Path | str | None,
) -> SeriesData:
    """A cumulative counter: per-day deltas (summed per month like daily counts) and, where a
    segment starts, the counter itself as an ``all_time`` observation."""
    table = _checked(raw, columns, names)
    valid = table.filter(table.reason.isnull())
    valid = valid.mutate(dupe=ibis.row_number().over(group_by=["key", "day"], order_by="row"))
    good = valid.filter(valid.dupe == 0).drop("dupe")
    dupes = valid.filter(valid.dupe > 0).drop("dupe")
    bad = table.filter(table.reason.notnull()).union(
        dupes.mutate(reason=ibis.literal("duplicate row for this model and day"))
    )
    span = coverage or _span(good)
    rows, cover = _counter_values(good, span)
    deltas = rows.filter(rows.kind == "daily").select(key="model_id", day="day", value="value")
    sums = _month_sums(deltas)
    options = {"columns": columns.model_dump(), "values": "cumulative", "models": str(models_path)}
    return SeriesData(
        path=path,
        layout="daily",
        file_sha256=file_sha256(path),
        options=json.dumps({**options, "coverage": [str(d) for d in span]}, sort_keys=True),
        rows=rows.filter(rows.kind != "daily"),
        models=models,
        coverage=cover,
        rejects=bad.select(
            file=ibis.literal(str(path)),
            row="row",
            model_id="model_id",
            field=ibis.literal("row"),
            reason="reason",
            raw="raw_text",
        ),
        months=_months(sums.mutate(model_id=sums.key)),
        raw=(path,) if models_path is None else (path, Path(models_path)),
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
    unknown = ibis.ifelse(table.model_id.isnull(), "id not found in the models table", None)
    return table.mutate(reason=ibis.coalesce(_row_problem(table, columns), unknown))


def _read_table(con: Any, path: Path, needed: list[str]) -> ir.Table:
    if not path.is_file():  # a FIFO would block, a device read without end
        what = "not a regular file" if path.exists() else "no such file"
        raise SeriesFormatError(f"{path}: {what}")
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


def _counter_values(good: ir.Table, span: tuple[dt.date, dt.date]) -> tuple[ir.Table, ir.Table]:
    """Rows (per-day deltas as ``daily``, segment starts as ``all_time``) and coverage of a
    cumulative counter."""
    last = span[1]
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
