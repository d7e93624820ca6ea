"""Series: readers that normalise download time series into the canonical series table.

Snapshots tell what the Hub counted on one day; a series tells it for many days. Every reader
returns the same four tables (``SeriesData``):

``rows`` — one observation per model, day and kind:

==========  ==========  ===================================================================
column      type        meaning
==========  ==========  ===================================================================
model_id    string      ``org/name`` repo id (as named by the source; renames are resolved
                        later through the alias table)
day         date        the day observed
kind        string      ``daily``: downloads on that day; ``rolling30``: the Hub's 30-day
                        count seen that day (days ``day-29 … day``); ``all_time``: the
                        cumulative counter at the end of that day
value       int64       the count
==========  ==========  ===================================================================

``models`` — model_id, created_at (repo creation, where the source states it).
``coverage`` — model_id (null = every model of the load), first_day, last_day: the days on which
a ``daily`` source would have a row for any download, so a covered day without a row is a day
with no downloads.
``rejects`` — file, row, model_id, field, reason, raw: observations kept aside, never dropped.
``months`` — daily counts summed per model and calendar month at import (``daily`` layout):
model_id, month_start, observed (the sum), rows, first_row and last_row (the first and last
day with a row), first_download (the first day with a positive count). A year of the Hub is
175M daily rows but only ~30M model-months, and every question reads these, never the rows.
``raw`` — files kept byte for byte as the load's raw rows (the ``daily`` layout's input).

Two layouts are read:

- ``forecast``: the CSVs of *Forecasting Open-Weight AI Model Growth on Hugging Face*
  (``model``, one column per day, ``created_at``). A value is the running sum of the daily
  30-day count, so ``V(t) - V(t-1)`` is the 30-day count on day t (kind ``rolling30``). Leading
  zeros mean "not tracked yet" and are skipped; a decrease is rejected with its cell.
- ``daily``: a sparse per-repo per-day table in the shape of
  ``harvardMadsys/hf-hub-characterization`` ``downloads.parquet`` (a row only on days the counter
  moved), optionally keyed by an immutable hub id that a models table maps to repo names. Column
  names are not confirmed upstream, so the mapping is explicit (``DailyColumns``). Values are
  either per-day counts or a cumulative counter; a cumulative counter becomes per-day deltas, and
  each model's first row (or a row where the counter went down) starts a new segment whose day is
  recorded as an ``all_time`` observation instead of a delta.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from hubpulse.errors import SeriesFormatError
from hubpulse.ingest.files import REJECT_SCHEMA, file_sha256
from hubpulse.ingest.records import MAX_COUNT
from hubpulse.ingest.sources import Origin

# The Hub's downloads begin after this day (Hugging Face was founded in 2016).
FIRST_HUB_DAY = dt.date(2016, 1, 1)
# A forecast running sum adds a 30-day count (≤ MAX_COUNT) each day: a thousand days of the
# ceiling, far past anything real, low enough that sums of millions stay exact.
MAX_RUNNING_SUM = 1000 * MAX_COUNT

Layout = Literal["forecast", "daily"]


ValueKind = Literal["daily", "cumulative"]


SERIES_SCHEMA = pa.schema(
    [("model_id", pa.string()), ("day", pa.date32()), ("kind", pa.string()), ("value", pa.int64())]
)


SERIES_MODELS_SCHEMA = pa.schema([("model_id", pa.string()), ("created_at", pa.timestamp("us"))])


COVERAGE_SCHEMA = pa.schema(
    [("model_id", pa.string()), ("first_day", pa.date32()), ("last_day", pa.date32())]
)


SERIES_MONTHS_SCHEMA = pa.schema(
    [
        ("model_id", pa.string()),
        ("month_start", pa.date32()),
        ("observed", pa.int64()),
        ("rows", pa.int64()),
        ("first_row", pa.date32()),
        ("last_row", pa.date32()),
        ("first_download", pa.date32()),
    ]
)


SERIES_LOAD_SCHEMA = pa.schema(
    [
        ("load_id", pa.string()),
        ("layout", pa.string()),
        ("file", pa.string()),
        ("file_sha256", pa.string()),
        ("options", pa.string()),
        ("rows", pa.int64()),
        ("models", pa.int64()),
        ("rejects", pa.int64()),
        ("first_day", pa.date32()),
        ("last_day", pa.date32()),
        ("dataset", pa.string()),
        ("dataset_file", pa.string()),
        ("revision", pa.string()),
        ("licence", pa.string()),
        ("hubpulse_version", pa.string()),
        ("loaded_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class SeriesLoad:
    """What one series import did: ``status`` is ``loaded`` or ``unchanged``."""

    status: str
    load_id: str
    layout: str
    file: str
    rows: int
    models: int
    rejects: int
    first_day: dt.date | None
    last_day: dt.date | None


class DailyColumns(BaseModel):
    """Column mapping of a ``daily`` layout: downloads table, then the optional models table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = "hub_id"
    day: str = "date"
    value: str = "downloads"
    models_id: str = "hub_id"
    models_name: str = "id"
    models_created: str | None = None

    @classmethod
    def from_pairs(cls, pairs: list[str]) -> DailyColumns:
        """From ``role=name`` strings, e.g. ``["id=repo", "value=n"]``."""
        mapping = {}
        for pair in pairs:
            role, sep, name = pair.partition("=")
            if not sep or not name.strip() or role.strip() not in cls.model_fields:
                roles = ", ".join(cls.model_fields)
                raise SeriesFormatError(f"column mapping {pair!r} is not role=name ({roles})")
            mapping[role.strip()] = name.strip()
        return cls(**mapping)


def parse_coverage(text: str | None) -> tuple[dt.date, dt.date] | None:
    """``FIRST:LAST`` (ISO days) → the two days; None stays None."""
    if text is None:
        return None
    try:
        first, last = (dt.date.fromisoformat(part) for part in text.split(":"))
    except ValueError:
        raise SeriesFormatError(f"coverage {text!r} is not FIRST:LAST (YYYY-MM-DD)") from None
    if last < first:
        raise SeriesFormatError(f"coverage {text!r} ends before it starts")
    problem = day_problem(first) or day_problem(last)
    if problem:
        raise SeriesFormatError(f"coverage {text!r}: {problem}")
    return first, last


@dataclass(frozen=True)
class SeriesData:
    """One series input normalised (see the module docstring for the tables)."""

    path: Path
    layout: Layout
    file_sha256: str
    options: str
    rows: ir.Table
    models: ir.Table
    coverage: ir.Table
    rejects: ir.Table
    months: ir.Table | None = None
    raw: tuple[Path, ...] = ()
    origin: Origin | None = None


def read_forecast_series(path: Path | str) -> SeriesData:
    """Read one ForecastHuggingFaceModels ``download/<Org>.csv`` file."""
    path = Path(path)
    header, lines = _csv_lines(path)
    days = _forecast_days(path, header)
    rows: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, cells in lines:
        if len(cells) != len(header):
            rejects.append(_reject(path, number, None, "row", "wrong number of cells", cells))
            continue
        model_id = cells[0].strip()
        if "/" not in model_id:
            rejects.append(_reject(path, number, model_id, "model", "not an org/name id", cells))
            continue
        if model_id in seen:
            reason = f"a second line for this model (the first is row {seen[model_id]})"
            rejects.append(_reject(path, number, model_id, "model", reason, cells))
            continue
        seen[model_id] = number
        created = _created(cells[-1])
        if cells[-1].strip() and created is None:
            rejects.append(_reject(path, number, model_id, "created_at", "not a timestamp", cells))
        models.append({"model_id": model_id, "created_at": created})
        rows += _forecast_rows(path, number, model_id, header, days, cells[1:-1], rejects)
    return SeriesData(
        path=path,
        layout="forecast",
        file_sha256=file_sha256(path),
        options="{}",
        rows=memtable(rows, SERIES_SCHEMA),
        models=memtable(models, SERIES_MODELS_SCHEMA),
        coverage=memtable([], COVERAGE_SCHEMA),
        rejects=memtable(rejects, REJECT_SCHEMA),
    )


def series_result(status: str, row: dict[str, object]) -> SeriesLoad:
    """A ``SeriesLoad`` from a series load-log row."""
    return SeriesLoad(
        status=status,
        load_id=str(row["load_id"]),
        layout=str(row["layout"]),
        file=str(row["file"]),
        rows=int(row["rows"]),  # type: ignore[call-overload]
        models=int(row["models"]),  # type: ignore[call-overload]
        rejects=int(row["rejects"]),  # type: ignore[call-overload]
        first_day=row["first_day"],  # type: ignore[arg-type]
        last_day=row["last_day"],  # type: ignore[arg-type]
    )


def _csv_lines(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.is_file():  # a FIFO would block, a device read without end
        what = "a directory" if path.is_dir() else "not a regular file"
        raise SeriesFormatError(f"{path}: {what}; give a series CSV file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            lines = [(reader.line_num, cells) for cells in reader if cells]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SeriesFormatError(f"{path}: cannot read as CSV ({exc})") from exc
    if not header:
        raise SeriesFormatError(f"{path}: empty file, expected a forecast series CSV")
    return header, lines


def _forecast_days(path: Path, header: list[str]) -> list[dt.date]:
    if len(header) < 3 or header[0] != "model" or header[-1] != "created_at":
        raise SeriesFormatError(
            f"{path}: not a forecast series CSV: expected columns model, <days...>, created_at; "
            f"got {', '.join(header[:3])} … {header[-1]}"
        )
    try:
        return [dt.date.fromisoformat(cell[:10]) for cell in header[1:-1]]
    except ValueError as exc:
        message = f"{path}: header has a day column that is not a date ({exc})"
        raise SeriesFormatError(message) from exc


def _forecast_rows(
    path: Path,
    number: int,
    model_id: str,
    header: list[str],
    days: list[dt.date],
    cells: list[str],
    rejects: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Day-over-day differences of the running sum: the 30-day count of each tracked day. A
    cell that cannot be a running sum (not a number, negative, past the ceiling, on a day
    outside the Hub's life, or below the day before) is a reject, and the next day has no
    difference, since its previous value is unknown."""
    rows: list[dict[str, Any]] = []
    previous: float | None = None
    for position, (day, cell) in enumerate(zip(days, cells, strict=True)):
        value = _number(cell)
        field = header[position + 1]
        reason = _forecast_problem(cell, value, previous, day)
        if reason is not None or value is None:
            if reason is not None:
                rejects.append(_reject(path, number, model_id, field, reason, cell))
            previous = None
            continue
        consecutive = position > 0 and days[position - 1] == day - dt.timedelta(days=1)
        if previous is not None and consecutive and value > 0:
            rows.append(
                {
                    "model_id": model_id,
                    "day": day,
                    "kind": "rolling30",
                    "value": round(value - previous),
                }
            )
        previous = value
    return rows


def _forecast_problem(
    cell: str, value: float | None, previous: float | None, day: dt.date
) -> str | None:
    """Why a forecast cell is a reject (None: it is good, or empty)."""
    if value is None:
        return "not a number" if cell.strip() else None
    if value < 0:
        return "negative running sum"
    if value > MAX_RUNNING_SUM:
        return f"running sum past the ceiling of {MAX_RUNNING_SUM:,}"
    if previous is not None and value < previous:
        return f"running sum decreased from {previous:.0f}"
    if previous is not None and value - previous > MAX_COUNT:
        return f"30-day count {value - previous:.0f} past the ceiling of {MAX_COUNT:,}"
    return day_problem(day)


def day_problem(day: dt.date) -> str | None:
    """Why ``day`` cannot be a day of Hub downloads (None when it can)."""
    if day < FIRST_HUB_DAY:
        return f"day {day} is before the Hub existed ({FIRST_HUB_DAY})"
    if day > last_possible_day():
        return f"day {day} is in the future"
    return None


def last_possible_day() -> dt.date:
    """Today in the timezone furthest ahead (a day of downloads cannot be later)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _created(cell: str) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(cell.strip())
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


def _reject(
    path: Path, number: int, model_id: str | None, field: str, reason: str, raw: Any
) -> dict[str, Any]:
    text = raw if isinstance(raw, str) else ",".join(raw)
    return {
        "file": str(path),
        "row": number,
        "model_id": model_id,
        "field": field,
        "reason": reason,
        "raw": text[:2000],
    }


def memtable(rows: list[dict[str, Any]], schema: pa.Schema) -> ir.Table:
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))
