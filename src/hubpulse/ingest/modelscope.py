"""ModelScope: a second hub, where Chinese models are published and downloaded beside (or
instead of) Hugging Face.

The listing is read with the official client, ``modelscope-hub`` (an optional extra:
``pip install 'hubpulse[modelscope]'``): ``HubApi().openapi.list_models(owner=…,
sort="downloads", page_number=…, page_size=…)``, which is ``GET {endpoint}/openapi/v1/models``
answering ``{"success": true, "data": {"models": [{"id": "owner/name", "downloads": …,
"likes": …, "created_at": …, "last_modified": …, "license": …}, …], "total_count": N, …}}``.
The raw items are read rather than ``list_repos``'s ``RepoInfo``, which turns a missing count
into 0: a missing count stays no data. A query returns at most 3,000 models (page_number ×
page_size ≤ 3000), so a crawl is split by owner, and an owner with more is named as truncated.

ModelScope does not document the window of its ``downloads``; it looks lifetime, so hubpulse
treats it as all-time and never adds it to a 30-day figure.

A crawl is checkpointed after every page (``state.json``: the owner and page reached; pages in
``pages/``), so ``--resume`` continues it after any interruption.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from hubpulse.errors import HubpulseError, SnapshotFormatError, redact
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
    repo_id,
    text_value,
    timestamp_value,
)
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA

MODELSCOPE_AREA = "modelscope"
QUERY_CAP = 3000  # the most models one listing query returns
MODELSCOPE_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("model_id", pa.string()),
        ("owner", pa.string()),
        ("downloads", pa.int64()),  # as served; treated as all-time
        ("likes", pa.int64()),
        ("created_at", pa.timestamp("us")),
        ("last_modified", pa.timestamp("us")),
        ("license", pa.string()),
    ]
)
MODELSCOPE_TABLES = {
    "modelscope_models": MODELSCOPE_SCHEMA,
    "modelscope_rejects": REJECT_SCHEMA,
    "modelscope_loads": AREA_LOAD_SCHEMA,
}


class ModelScopeError(HubpulseError):
    """ModelScope refused, failed, or its client is not installed."""


def client(endpoint: str | None = None) -> Any:
    """The official client's ``HubApi`` (``endpoint``: another ModelScope, e.g. a stand-in)."""
    try:
        from modelscope_hub import HubApi  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ModelScopeError(
            "ModelScope needs its client: pip install 'hubpulse[modelscope]'"
        ) from None
    return HubApi(endpoint=endpoint)


def crawl_modelscope(
    owners: list[str], state_dir: Path, *, endpoint: str | None = None, page_size: int = 100
) -> tuple[Path, list[str]]:
    """Run (or continue) the crawl of ``owners``' models checkpointed in ``state_dir``; the
    assembled JSON Lines file and the owners whose listing the 3,000-model cap cut short."""
    state_path = state_dir / "state.json"
    if state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
    else:
        state = {
            "owners": owners,
            "owner": 0,
            "page": 1,
            "pages": 0,
            "truncated": [],
            "page_size": page_size,
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
        }
        _save(state_dir, state)
    api = client(endpoint)
    while state["owner"] < len(state["owners"]):
        owner, page, size = state["owners"][state["owner"]], state["page"], state["page_size"]
        items, total = _page(api, owner, page, size)
        _write(state_dir / "pages" / f"{state['pages']:06d}.jsonl", items)
        state["pages"] += 1
        if page * size >= min(total, QUERY_CAP) or not items:
            if total > QUERY_CAP:
                state["truncated"].append(owner)
            state["owner"], state["page"] = state["owner"] + 1, 1
        else:
            state["page"] = page + 1
        _save(state_dir, state)
    lines = []
    for number in range(state["pages"]):
        lines += (state_dir / "pages" / f"{number:06d}.jsonl").read_text().splitlines(True)
    path = state_dir / f"modelscope_{state['date']}.jsonl"
    _write_text(path, "".join(lines))
    return path, list(state["truncated"])


def _page(api: Any, owner: str, page: int, size: int) -> tuple[list[Any], int]:
    from modelscope_hub.errors import HubError as ClientError  # type: ignore[import-not-found,unused-ignore]

    try:
        payload = api.openapi.list_models(
            owner=owner, sort="downloads", page_number=page, page_size=size
        )
    except ClientError as exc:
        raise ModelScopeError(
            redact(
                f"ModelScope listing of {owner!r} page {page} failed: {exc}; "
                "`hubpulse modelscope crawl --resume` continues from there"
            )
        ) from None
    items = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ModelScopeError(
            f"ModelScope listing of {owner!r} page {page}: no 'models' list in the answer"
        )
    total = payload.get("total_count")
    return items, int(total) if isinstance(total, int) else len(items)


def read_modelscope(path: Path | str, day: dt.date) -> tuple[pa.Table, pa.Table, str]:
    """(modelscope_models, rejects, the file's sha256) of a crawl's JSON Lines (or API JSON)."""
    path = existing_file(path)
    rows, rejects, seen = [], [], set()
    for number, record in open_records(path)[1]:
        try:
            row = normalise_modelscope(record)
            if row["model_id"] in seen:
                raise Reject("id", "duplicate id")
        except Reject as reject:
            rejects.append(reject_row(path, number, record, reject))
            continue
        seen.add(row["model_id"])
        rows.append({"day": day, **row})
    if not rows:
        raise SnapshotFormatError(f"{path}: no usable ModelScope model")
    return (
        pa.Table.from_pylist(rows, MODELSCOPE_SCHEMA),
        pa.Table.from_pylist(rejects, REJECT_SCHEMA),
        file_sha256(path),
    )


def normalise_modelscope(record: Any) -> dict[str, Any]:
    record = json_object(record)
    model_id = repo_id(record)
    if "/" not in model_id:
        raise Reject("id", f"{model_id!r} is no owner/name id")
    return {
        "model_id": model_id,
        "owner": model_id.split("/")[0],
        "downloads": count_value(record.get("downloads"), "downloads"),
        "likes": count_value(record.get("likes"), "likes"),
        "created_at": timestamp_value(_stamp(record.get("created_at")), "created_at"),
        "last_modified": timestamp_value(_stamp(record.get("last_modified")), "last_modified"),
        "license": text_value(record.get("license")),
    }


def _stamp(value: Any) -> Any:
    """An epoch (seconds or milliseconds, as ModelScope may serve) as an ISO string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e12 else value
        return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()
    return value


def _write(path: Path, items: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, "".join(json.dumps(item, sort_keys=True) + "\n" for item in items))


def _save(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    _write_text(state_dir / "state.json", json.dumps(state, indent=1))


def _write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(redact(text), encoding="utf-8")
    os.replace(temp, path)
