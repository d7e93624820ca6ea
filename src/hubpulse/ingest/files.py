"""Readers that normalise any supported input into the canonical snapshot table.

The canonical snapshot table has one row per model repo at a snapshot time:

==================  ====================  =====================================================
column              type                  meaning
==================  ====================  =====================================================
snapshot_date       date                  the day the Hub was observed
model_id            string                ``org/name`` repo id
author              string                organisation or user (``org`` part of the id)
created_at          timestamp (UTC)       repo creation; null when unknown (Hub placeholder
                                          ``2022-03-02T23:29:04`` is treated as unknown)
last_modified       timestamp (UTC)       last commit
downloads_30d       int64                 the Hub's rolling 30-day ``downloads``
downloads_all_time  int64                 ``downloadsAllTime`` (null when not served)
likes               int64
trending_score      float64
pipeline_tag        string
library_name        string
tags                list<string>
params_total        int64                 ``safetensors.total``, else ``gguf.total``
is_gguf             bool                  ships GGUF weights
license             string                card ``license``, else the ``license:`` tag
base_models         list<string>          immediate parent ids, as published
base_relation       string                finetune | adapter | quantized | merge | null
lineage_source      string                baseModels | tags | card | null (where lineage came from)
==================  ====================  =====================================================

Lineage is read from ``baseModels`` first, else the ``base_model:<relation>:<id>`` tags, else
``cardData.base_model`` (a string or a list) with ``base_model_relation``. Where a card names a
parent differently from ``baseModels``/tags the pair is recorded as an alias (a renamed repo), so
stale card ids elsewhere resolve to the current id.

Layouts: the ``cfahlgren1/hub-stats`` ``models.parquet`` (``cardData``, ``gguf`` JSON strings,
``baseModels`` a struct) and Hub API bodies as JSON (an object or an array) or JSON Lines.
Malformed records are never dropped silently: they come back as rejects with file, row, field and
reason, next to the good rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hubpulse.errors import SnapshotFormatError, first_line, redact
from hubpulse.ingest.connection import Limits, connect
from hubpulse.ingest.hubstats import read_hub_stats, row_records
from hubpulse.ingest.records import Reject, Unparsed, normalise_record, text_value
from hubpulse.ingest.sources import Origin

SNAPSHOT_SCHEMA = pa.schema(
    [
        ("snapshot_date", pa.date32()),
        ("model_id", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("downloads_30d", pa.int64()),
        ("downloads_all_time", pa.int64()),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("pipeline_tag", pa.string()),
        ("library_name", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("params_total", pa.int64()),
        ("is_gguf", pa.bool_()),
        ("license", pa.string()),
        ("base_models", pa.list_(pa.string())),
        ("base_relation", pa.string()),
        ("lineage_source", pa.string()),
    ]
)


REJECT_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("model_id", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)


ALIAS_SCHEMA = pa.schema([("old_id", pa.string()), ("new_id", pa.string())])


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Snapshot:
    """One input file normalised: good rows, rejects and the aliases it revealed."""

    path: Path
    source: str
    file_sha256: str
    snapshot_date: dt.date
    date_inferred: bool
    rows: pa.Table
    rejects: pa.Table
    aliases: pa.Table
    origin: Origin | None = None


def read_snapshot(
    path: Path | str,
    snapshot_date: dt.date | None = None,
    *,
    progress: Progress | None = None,
    vectorised: bool = True,
    limits: Limits | None = None,
) -> Snapshot:
    """Read ``path`` (hub-stats Parquet, API JSON or JSONL) into the canonical table.

    ``snapshot_date`` defaults to the day of the newest ``lastModified`` among the good rows
    (for a daily dump that is the dump day); ``Snapshot.date_inferred`` says so. A hub-stats
    dump is read by ``hubstats.read_hub_stats`` (one DuckDB query) and only its irregular rows
    by ``normalise_record``; ``vectorised=False`` reads every row in Python (same result).
    DuckDB works under ``limits`` (the warehouse's).
    """
    path = existing_file(path)
    source, records = open_records(path)
    fast = read_hub_stats(path, limits) if vectorised and source == "hub-stats-parquet" else None
    if fast is not None:
        if progress is not None:
            progress(fast[0].num_rows)
        records = iter(row_records(path, fast[1], limits))
    good, rejects = _normalise(path, records, progress)
    if fast is not None:
        good = pa.concat_tables([good, fast[0].select(good.schema.names).cast(good.schema)])
    good, duplicates = _first_of_each_id(good, limits)
    rejects += [
        reject_row(path, number, record, Reject("id", f"duplicate id (first seen at row {first})"))
        for (number, record), first in zip(
            _records_at(path, source, list(duplicates), limits),
            duplicates.values(),
            strict=True,
        )
    ]
    _check_usable(path, good, rejects)
    date, inferred = _snapshot_date(path, good, snapshot_date)
    aliases = _aliases(good)
    good = good.drop_columns(["row", "alias_old"]).set_column(
        0, "snapshot_date", pa.repeat(pa.scalar(date, pa.date32()), good.num_rows)
    )
    return Snapshot(
        path=path,
        source=source,
        file_sha256=file_sha256(path),
        snapshot_date=date,
        date_inferred=inferred,
        rows=good.cast(SNAPSHOT_SCHEMA),
        rejects=pa.Table.from_pylist(sorted(rejects, key=lambda r: r["row"]), schema=REJECT_SCHEMA),
        aliases=aliases.cast(ALIAS_SCHEMA),
    )


_ROWS_SCHEMA = SNAPSHOT_SCHEMA.append(pa.field("row", pa.int64())).append(
    pa.field("alias_old", pa.string())
)


def _normalise(
    path: Path, records: Iterator[tuple[int, Any]], progress: Progress | None
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Each record through ``normalise_record``: the good rows (with their row number and the
    old id of a rename they reveal) and the rejects."""
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for number, record in records:
        try:
            row, found_aliases = normalise_record(record)
        except Reject as reject:
            rejects.append(reject_row(path, number, record, reject))
        except RecursionError:
            deep = Reject("record", "nested too deeply to read")
            rejects.append(reject_row(path, number, record, deep))
        else:
            row["row"] = number
            row["alias_old"] = None
            if found_aliases:
                ((row["alias_old"], _new),) = found_aliases
            rows.append(row)
        if progress is not None:
            progress(1)
    return pa.Table.from_pylist(rows, schema=_ROWS_SCHEMA), rejects


def _aliases(good: pa.Table) -> pa.Table:
    """old_id → new_id for the renames the rows reveal, once each, sorted."""
    found = good.filter(pc.is_valid(good["alias_old"]))
    pairs = pa.table(
        {"old_id": found["alias_old"], "new_id": pc.list_element(found["base_models"], 0)}
    )
    return (
        pairs.group_by(["old_id", "new_id"])
        .aggregate([])
        .sort_by([("old_id", "ascending"), ("new_id", "ascending")])
    )


def _first_of_each_id(
    good: pa.Table, limits: Limits | None = None
) -> tuple[pa.Table, dict[int, int]]:
    """Keep the first (lowest row) good row of each model id; the others are duplicates:
    {their row: the first row}."""
    rows = good["row"]  # in row order already unless irregular rows were read apart
    if len(rows) > 1 and not pc.all(pc.less(rows[:-1], rows[1:])).as_py():
        good = good.sort_by([("row", "ascending")])
    with connect(limits) as con:  # counts distinct ids ~5x faster than Arrow does
        con.register("ids", good.select(["model_id"]))
        distinct = con.execute("select count(distinct model_id) from ids").fetchone()
    if distinct == (good.num_rows,):
        return good, {}  # the usual case: no id twice, nothing to group
    first = good.group_by("model_id").aggregate([("row", "min")])
    joined = good.select(["model_id", "row"]).join(first, "model_id")
    later = joined.filter(pc.not_equal(joined["row"], joined["row_min"]))
    duplicates = dict(zip(later["row"].to_pylist(), later["row_min"].to_pylist(), strict=True))
    if duplicates:
        good = good.filter(pc.invert(pc.is_in(good["row"], pa.array(list(duplicates)))))
    return good, dict(sorted(duplicates.items()))


def _records_at(
    path: Path, source: str, numbers: list[int], limits: Limits | None = None
) -> list[tuple[int, Any]]:
    """The raw records of the given (sorted) record numbers."""
    if not numbers:
        return []
    if source == "hub-stats-parquet":
        return row_records(path, numbers, limits)
    wanted = set(numbers)
    return [(n, r) for n, r in open_records(path)[1] if n in wanted]


def count_records(path: Path | str) -> int:
    """Number of records in ``path`` without normalising them (for progress bars)."""
    path = existing_file(path)
    if path.suffix == ".parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SnapshotFormatError(f"{path}: not a readable Parquet file ({exc})") from exc
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    return sum(1 for _ in open_records(path)[1])


def file_sha256(path: Path) -> str:
    """Content hash of a file, the identity of a load."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_records(path: Path) -> tuple[str, Iterator[tuple[int, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "hub-stats-parquet", _parquet_records(path)
    if suffix in (".jsonl", ".ndjson"):
        return "hub-api-jsonl", _jsonl_records(path)
    if suffix == ".json":
        return "hub-api-json", _json_records(path)
    raise SnapshotFormatError(
        f"{path}: unknown input layout {suffix!r}; expected a hub-stats .parquet, "
        "or Hub API .json / .jsonl"
    )


def _parquet_records(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SnapshotFormatError(f"{path}: not a readable Parquet file ({exc})") from exc
    if "id" not in parquet.schema_arrow.names:
        raise SnapshotFormatError(f"{path}: no 'id' column, which every Hub listing has")
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=20_000):
            for record in batch.to_pylist():
                number += 1
                yield number, record
    except (pa.ArrowException, OSError) as exc:
        raise SnapshotFormatError(
            f"{path}: Parquet data unreadable after row {number} ({first_line(exc)})"
        ) from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    """Each line's JSON; a line that is not UTF-8, not JSON or nested too deeply to read is
    kept as ``Unparsed`` (a reject of that line), and the other lines still load."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, Unparsed(raw.decode("utf-8", "replace"), f"not UTF-8 text ({exc})")
                continue
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, Unparsed(line, str(exc))
            except RecursionError:
                yield number, Unparsed(line[:1000], "JSON nested too deeply to read")


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotFormatError(f"{path}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise SnapshotFormatError(f"{path}: JSON nested too deeply to read") from None
    items = body if isinstance(body, list) else [body]
    yield from enumerate(items, start=1)


def reject_row(path: Path, number: int, record: Any, reject: Reject) -> dict[str, Any]:
    if isinstance(record, Unparsed):
        raw = record.text.rstrip("\n")
        model_id = None
    else:
        try:
            raw = redact(json.dumps(record, default=str, ensure_ascii=False))
        except (RecursionError, ValueError):
            raw = redact(repr(record)[:1000])
        model_id = (
            text_value(record.get("id") or record.get("modelId"))
            if isinstance(record, dict)
            else None
        )
    return {
        "file": str(path),
        "row": number,
        "model_id": model_id,
        "field": reject.field,
        "reason": reject.reason,
        "raw": raw,
    }


def _snapshot_date(path: Path, rows: pa.Table, given: dt.date | None) -> tuple[dt.date, bool]:
    if given is not None:
        return given, False
    newest = pc.max(rows["last_modified"]).as_py() if rows.num_rows else None
    if newest is None:
        raise SnapshotFormatError(
            f"{path}: cannot infer the snapshot date (no lastModified); pass --date YYYY-MM-DD"
        )
    if newest.date() > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        raise SnapshotFormatError(
            f"{path}: the newest lastModified, {newest.date()}, is in the future, so it cannot be "
            "the snapshot's day; pass --date YYYY-MM-DD"
        )
    return newest.date(), True


def existing_file(path: Path | str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise SnapshotFormatError(
            f"{path}: is a directory; give the files in it, e.g. {path}/*.parquet"
        )
    if not path.is_file():  # a FIFO would block, a device read without end
        what = "not a regular file" if path.exists() else "no such file"
        raise SnapshotFormatError(f"{path}: {what}")
    return path


def _check_usable(path: Path, good: pa.Table, rejects: list[dict[str, Any]]) -> None:
    """A file with no usable row is no snapshot (refused, naming the commonest reasons); one
    whose rows carry no 30-day count is stored, with a warning that its figures are empty."""
    if good.num_rows == 0:
        reasons = Counter(f"{r['field']}: {r['reason']}" for r in rejects).most_common(3)
        listed = "; ".join(f"{reason} ({n:,})" for reason, n in reasons) or "the file is empty"
        raise SnapshotFormatError(f"{path}: no usable row, so no snapshot ({listed})")
    if good["downloads_30d"].null_count == good.num_rows:
        warnings.warn(
            f"{path}: no row has a 30-day download count (downloads); its 30-day figures "
            "will be empty",
            UserWarning,
            stacklevel=3,
        )


def bundled_aliases_text() -> str:
    """``data/aliases.csv``: the renames evidenced by real Hub answers, as shipped."""
    return resources.files("hubpulse").joinpath("data", "aliases.csv").read_text(encoding="utf-8")


def bundled_aliases() -> pa.Table:
    """The renames evidenced by real Hub answers, shipped in ``data/aliases.csv``."""
    text = bundled_aliases_text()
    rows = [
        r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    ]
    return pa.Table.from_pylist(
        [{"old_id": r["old_id"], "new_id": r["new_id"]} for r in rows], schema=ALIAS_SCHEMA
    )
