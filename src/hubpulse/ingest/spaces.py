"""Spaces: the Hub's applications, each with the models it declares it uses.

A Space names its models in its README (``models:``) or the Hub finds them in its code; the Hub
serves them as ``models`` of a Space (``/api/spaces?expand=models``, huggingface_hub's
``SpaceInfo.models``). A link means *declared use*: the Space says it loads the model. It is not
observed traffic, and a Space that loads a model without saying so is not linked.

Two tables come out of one input (a crawl's JSON Lines, an API JSON body, or a Parquet file with
the API's column names such as the weekly snapshots' ``spaces`` partition):

==================  ====================  =====================================================
``spaces``          type                  meaning
==================  ====================  =====================================================
snapshot_date       date                  the day the Hub was observed
space_id            string                ``owner/name``
author              string                owner (``owner`` part of the id when not served)
created_at          timestamp (UTC)       creation; null when unknown
last_modified       timestamp (UTC)       last commit
likes               int64
trending_score      float64
sdk                 string                gradio | streamlit | docker | static | null
models              int64                 how many distinct models it declares
==================  ====================  =====================================================

``space_models`` holds one row per (snapshot_date, space_id, model_id) link. A record that is
malformed (no id, ``models`` not a list of ids, a bad count or timestamp) is a reject naming the
field; the other records still load. A Space served without ``models`` declares none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.errors import SnapshotFormatError
from hubpulse.ingest.files import (
    REJECT_SCHEMA,
    existing_file,
    file_sha256,
    open_records,
    reject_row,
)
from hubpulse.ingest.records import (
    Reject,
    count_value,
    json_object,
    number_value,
    repo_id,
    text_value,
    timestamp_value,
)
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA, Origin

SPACE_EXPAND = ["author", "createdAt", "lastModified", "likes", "trendingScore", "sdk", "models"]
"""What a Spaces crawl asks the Hub for (``ExpandSpaceProperty_T`` names)."""

SPACES_SCHEMA = pa.schema(
    [
        ("snapshot_date", pa.date32()),
        ("space_id", pa.string()),
        ("author", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("likes", pa.int64()),
        ("trending_score", pa.float64()),
        ("sdk", pa.string()),
        ("models", pa.int64()),
    ]
)
SPACE_LINKS_SCHEMA = pa.schema(
    [("snapshot_date", pa.date32()), ("space_id", pa.string()), ("model_id", pa.string())]
)
SPACE_REJECT_SCHEMA = pa.schema(
    [(f.name if f.name != "model_id" else "space_id", f.type) for f in REJECT_SCHEMA]
)

SPACES_AREA = "spaces"
SPACE_TABLES: dict[str, pa.Schema] = {
    "spaces": SPACES_SCHEMA,
    "space_models": SPACE_LINKS_SCHEMA,
    "space_rejects": SPACE_REJECT_SCHEMA,
    "spaces_loads": AREA_LOAD_SCHEMA,
}


@dataclass(frozen=True)
class SpacesData:
    """One Spaces input normalised: the Spaces, their model links and the rejects.

    ``complete`` says whether the input lists every Space on the Hub (a crawl with ``--all`` or
    a full dump): only then can a count refute "at least N"; otherwise it is a lower bound."""

    path: Path
    file_sha256: str
    snapshot_date: dt.date
    date_inferred: bool
    complete: bool
    spaces: pa.Table
    links: pa.Table
    rejects: pa.Table
    origin: Origin | None = None


def read_spaces(
    path: Path | str, snapshot_date: dt.date | None = None, *, complete: bool = False
) -> SpacesData:
    """Read a Spaces file (see the module docstring). ``snapshot_date`` defaults to the day of
    the newest ``lastModified``."""
    path = existing_file(path)
    _, records = open_records(path)
    spaces: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for number, record in records:
        try:
            row, models = normalise_space(record)
            if row["space_id"] in first:
                raise Reject("id", f"duplicate id (first seen at row {first[row['space_id']]})")
        except Reject as reject:
            rejects.append(_space_reject(path, number, record, reject))
            continue
        first[row["space_id"]] = number
        spaces.append(row)
        links += [{"space_id": row["space_id"], "model_id": m} for m in models]
    if not spaces:
        reasons = Counter(f"{r['field']}: {r['reason']}" for r in rejects).most_common(3)
        listed = "; ".join(f"{reason} ({n:,})" for reason, n in reasons) or "the file is empty"
        raise SnapshotFormatError(f"{path}: no usable Space ({listed})")
    table = pa.Table.from_pylist(spaces, schema=SPACES_SCHEMA.remove(0))
    date, inferred = _date(path, table, snapshot_date)
    return SpacesData(
        path=path,
        file_sha256=file_sha256(path),
        snapshot_date=date,
        date_inferred=inferred,
        complete=complete,
        spaces=_dated(table, date, SPACES_SCHEMA),
        links=_dated(pa.Table.from_pylist(links, SPACE_LINKS_SCHEMA.remove(0)), date, None),
        rejects=pa.Table.from_pylist(rejects, schema=SPACE_REJECT_SCHEMA),
    )


def normalise_space(record: Any) -> tuple[dict[str, Any], list[str]]:
    """One raw Space record → its row and the distinct model ids it declares (first-seen
    order); ``Reject`` naming the field when the record is malformed."""
    record = json_object(record)
    try:
        space_id = repo_id(record)
    except Reject as reject:
        raise Reject("id", reject.reason.replace("model id", "Space id")) from None
    models = _models(record.get("models"))
    row = {
        "space_id": space_id,
        "author": text_value(record.get("author")) or space_id.split("/")[0],
        "created_at": timestamp_value(record.get("createdAt"), "createdAt", placeholder=True),
        "last_modified": timestamp_value(record.get("lastModified"), "lastModified"),
        "likes": count_value(record.get("likes"), "likes"),
        "trending_score": number_value(record.get("trendingScore"), "trendingScore"),
        "sdk": text_value(record.get("sdk")),
        "models": len(models),
    }
    return row, models


def _models(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise Reject("models", f"models is not a list of model ids: {value!r}"[:200])
    for item in value:
        if (
            not isinstance(item, str)
            or "/" not in item.strip("/")
            or any(c.isspace() for c in item)
        ):
            raise Reject("models", f"models holds {item!r}, which is no model id"[:200])
    return list(dict.fromkeys(value))


def _space_reject(path: Path, number: int, record: Any, reject: Reject) -> dict[str, Any]:
    row = reject_row(path, number, record, reject)
    row["space_id"] = row.pop("model_id")
    return row


def _date(path: Path, table: pa.Table, given: dt.date | None) -> tuple[dt.date, bool]:
    if given is not None:
        return given, False
    newest = pc.max(table["last_modified"]).as_py()
    if newest is None:
        raise SnapshotFormatError(
            f"{path}: cannot infer the day of these Spaces (no lastModified); pass --date"
        )
    return newest.date(), True


def _dated(table: pa.Table, date: dt.date, schema: pa.Schema | None) -> pa.Table:
    column = pa.repeat(pa.scalar(date, pa.date32()), table.num_rows)
    dated = table.add_column(0, "snapshot_date", column)
    return dated.cast(schema) if schema is not None else dated
