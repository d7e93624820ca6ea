"""Inference providers: which models the Hub's inference providers serve.

``/api/models?inference_provider=all&expand=inferenceProviderMapping`` lists every model some
provider serves, each with its mapping: on the list endpoint a list of
``{"provider", "providerId", "status", "task", …}``, on ``/api/models/{id}`` an object keyed by
provider (huggingface_hub's ``ModelInfo.inference_provider_mapping`` reads both). ``status`` is
``live``, ``staging`` or ``error``. A mapping says a provider offers the model, not how much it
is used.

``read_providers`` turns a crawl's JSON Lines (or an API body) into ``provider_models`` (``day``,
``model_id``, ``provider``, ``provider_id``, ``status``, ``task``); a malformed record is a reject
naming the field, and the others still load.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from hubpulse.errors import SnapshotFormatError
from hubpulse.ingest.files import (
    REJECT_SCHEMA,
    existing_file,
    file_sha256,
    open_records,
    reject_row,
)
from hubpulse.ingest.records import Reject, json_object, repo_id, text_value
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA

PROVIDER_EXPAND = ["inferenceProviderMapping", "pipeline_tag"]
PROVIDERS_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("model_id", pa.string()),
        ("provider", pa.string()),
        ("provider_id", pa.string()),
        ("status", pa.string()),
        ("task", pa.string()),
    ]
)
STATUSES = ("live", "staging", "error")
PROVIDERS_AREA = "providers"
PROVIDER_TABLES = {
    "provider_models": PROVIDERS_SCHEMA,
    "provider_rejects": REJECT_SCHEMA,
    "providers_loads": AREA_LOAD_SCHEMA,
}


def read_providers(path: Path | str, day: dt.date) -> tuple[pa.Table, pa.Table, str]:
    """(provider_models, rejects, the file's sha256) of a providers listing."""
    path = existing_file(path)
    _, records = open_records(path)
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, record in records:
        try:
            model_id, served = normalise_mapping(record)
            if model_id in seen:
                raise Reject("id", "duplicate id")
        except Reject as reject:
            rejects.append(reject_row(path, number, record, reject))
            continue
        seen.add(model_id)
        rows += [{"day": day, "model_id": model_id, **entry} for entry in served]
    if not seen:
        raise SnapshotFormatError(f"{path}: no usable model with an inference provider mapping")
    return (
        pa.Table.from_pylist(rows, PROVIDERS_SCHEMA),
        pa.Table.from_pylist(rejects, REJECT_SCHEMA),
        file_sha256(path),
    )


def normalise_mapping(record: Any) -> tuple[str, list[dict[str, Any]]]:
    """One model record → its id and one entry per provider; ``Reject`` when malformed."""
    record = json_object(record)
    model_id = repo_id(record)
    mapping = record.get("inferenceProviderMapping")
    if mapping is None:
        return model_id, []
    if isinstance(mapping, dict):  # the model_info shape: keyed by provider
        mapping = [{**v, "provider": k} if isinstance(v, dict) else v for k, v in mapping.items()]
    if not isinstance(mapping, list):
        raise Reject("inferenceProviderMapping", "inferenceProviderMapping is not a list")
    entries = []
    for entry in mapping:
        if not isinstance(entry, dict) or not text_value(entry.get("provider")):
            raise Reject("inferenceProviderMapping", f"an entry names no provider: {entry!r}"[:200])
        status = entry.get("status")
        if status not in STATUSES:
            raise Reject("inferenceProviderMapping", f"status {status!r} is none of {STATUSES}")
        entries.append(
            {
                "provider": entry["provider"],
                "provider_id": text_value(entry.get("providerId")),
                "status": status,
                "task": text_value(entry.get("task")),
            }
        )
    return model_id, entries
