"""Records: one Hub model record (an API body, or a hub-stats row read in Python) → one canonical
snapshot row, or a ``Reject`` naming the field and the reason.

This is the reference reading of a record; ``hubpulse.ingest.hubstats`` computes the same rows
for regular hub-stats rows in one DuckDB query and sends irregular ones here. Lineage is read
from ``baseModels`` first, else the ``base_model:<relation>:<id>`` tags, else
``cardData.base_model`` with ``base_model_relation``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Unparsed:
    """A line or document that is not JSON, kept with its error so it can become a reject."""

    text: str
    error: str


RELATIONS = ("finetune", "adapter", "quantized", "merge")
# Ceilings: far above anything real (the whole Hub serves ~10^10 downloads a month; the largest
# models have ~2*10^12 parameters), low enough that sums of millions of them stay exact.
MAX_COUNT = 10**12  # downloads, all-time downloads, likes
MAX_PARAMETERS = 10**15


PLACEHOLDER_CREATED_AT = dt.datetime(2022, 3, 2, 23, 29, 4)


class Reject(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def json_object(record: Any) -> dict[str, Any]:
    """``record`` as the JSON object it must be; ``Reject`` for an unparseable line or any other
    JSON value."""
    if isinstance(record, Unparsed):
        raise Reject("line", f"unparseable JSON: {record.error}")
    if not isinstance(record, dict):
        raise Reject("record", f"expected a JSON object, got {type(record).__name__}")
    return record


def normalise_record(record: Any) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """One raw Hub record (hub-stats row or API body) → canonical row and aliases found.

    Raises ``Reject`` naming the field when the record is malformed.
    """
    record = json_object(record)
    model_id = repo_id(record)
    card = _json_object(record.get("cardData"), "cardData")
    gguf = _json_object(record.get("gguf"), "gguf")
    tags = _tags(record.get("tags"))
    parents, relation, origin, aliases = _lineage(record, tags, card, gguf)
    row = {
        "snapshot_date": None,
        "model_id": model_id,
        "author": text_value(record.get("author"))
        or (model_id.split("/")[0] if "/" in model_id else None),
        "created_at": timestamp_value(record.get("createdAt"), "createdAt", placeholder=True),
        "last_modified": timestamp_value(record.get("lastModified"), "lastModified"),
        "downloads_30d": count_value(record.get("downloads"), "downloads"),
        "downloads_all_time": count_value(record.get("downloadsAllTime"), "downloadsAllTime"),
        "likes": count_value(record.get("likes"), "likes"),
        "trending_score": number_value(record.get("trendingScore"), "trendingScore"),
        "pipeline_tag": text_value(record.get("pipeline_tag")),
        "library_name": text_value(record.get("library_name")),
        "tags": tags,
        "params_total": _params_total(record.get("safetensors"), gguf),
        "is_gguf": bool(gguf) or "gguf" in tags,
        "license": _license(card, tags),
        "base_models": parents,
        "base_relation": relation,
        "lineage_source": origin,
    }
    return row, aliases


def repo_id(record: dict[str, Any]) -> str:
    value = record.get("id") or record.get("modelId")
    if not isinstance(value, str) or not value.strip():
        raise Reject("id", "missing model id")
    if any(ch.isspace() for ch in value) or value.startswith("/") or value.endswith("/"):
        raise Reject("id", f"malformed model id {value!r}")
    return value


def text_value(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _json_object(value: Any, field: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Reject(field, f"unparseable {field} JSON: {exc}") from exc
        except RecursionError:
            raise Reject(field, f"{field} JSON is nested too deeply to read") from None
        if parsed is None:
            return {}
        if isinstance(parsed, dict):
            return parsed
    raise Reject(field, f"{field} is not a JSON object")


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple) and all(isinstance(tag, str) for tag in value):
        return list(value)
    raise Reject("tags", "tags is not a list of strings")


def timestamp_value(value: Any, field: str, *, placeholder: bool = False) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise Reject(field, f"bad timestamp in {field}: {value!r}") from exc
    else:
        raise Reject(field, f"bad timestamp in {field}: {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    if not dt.datetime(2000, 1, 1) <= stamp <= dt.datetime(2100, 1, 1):
        raise Reject(field, f"bad timestamp in {field}: {value!r} is out of range")
    if placeholder and stamp.replace(microsecond=0) == PLACEHOLDER_CREATED_AT:
        return None
    return stamp


def count_value(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Reject(field, f"{field} is not a number: {value!r}")
    if not math.isfinite(value) or value < 0 or int(value) != value:
        raise Reject(field, f"{field} must be a non-negative integer, got {value!r}")
    if value > MAX_COUNT:
        raise Reject(field, f"{field} {value!r} is past the ceiling of {MAX_COUNT:,} for a count")
    return int(value)


def number_value(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Reject(field, f"{field} is not a number: {value!r}")
    if not math.isfinite(value):
        raise Reject(field, f"{field} must be a finite number, got {value!r}")
    return float(value)


def _params_total(safetensors: Any, gguf: dict[str, Any]) -> int | None:
    if isinstance(safetensors, dict) and isinstance(safetensors.get("total"), int):
        return _parameters(safetensors["total"], "safetensors")
    total = gguf.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        return _parameters(total, "gguf")
    return None


def _parameters(total: int, field: str) -> int:
    if not 0 <= total <= MAX_PARAMETERS:
        raise Reject(
            field, f"{field}.total {total!r} is not a parameter count (0 to {MAX_PARAMETERS:,})"
        )
    return total


def _license(card: dict[str, Any], tags: list[str]) -> str | None:
    value = card.get("license")
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str) and value:
        return value
    return next((tag.split(":", 1)[1] for tag in tags if tag.startswith("license:")), None)


def _lineage(
    record: dict[str, Any], tags: list[str], card: dict[str, Any], gguf: dict[str, Any]
) -> tuple[list[str], str | None, str | None, set[tuple[str, str]]]:
    card_parents = _card_parents(card)
    parents, relation, origin = _api_parents(record.get("baseModels"))
    if not parents:
        parents, relation = _tag_parents(tags)
        origin = "tags" if parents else None
    if not parents and card_parents:
        parents, origin = card_parents, "card"
        relation = _card_relation(card, parents, tags, gguf, record.get("library_name"))
    aliases: set[tuple[str, str]] = set()
    single = origin in ("baseModels", "tags") and len(card_parents) == len(parents) == 1
    if single and card_parents[0] != parents[0]:
        aliases.add((card_parents[0], parents[0]))
    return parents, relation, origin, aliases


def _api_parents(value: Any) -> tuple[list[str], str | None, str | None]:
    if not isinstance(value, dict):
        return [], None, None
    models = value.get("models") or []
    ids = _unique(m.get("id") for m in models if isinstance(m, dict))
    if not ids:
        return [], None, None
    relation = value.get("relation") if value.get("relation") in RELATIONS else None
    return ids, relation, "baseModels"


def _tag_parents(tags: list[str]) -> tuple[list[str], str | None]:
    typed: list[tuple[str, str]] = []
    plain: list[str] = []
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:") :]
        head, _, tail = rest.partition(":")
        if head in RELATIONS and tail:
            typed.append((head, tail))
        elif rest:
            plain.append(rest)
    if typed:
        relations = [rel for rel, _ in typed]
        return _unique(parent for _, parent in typed), max(set(relations), key=relations.count)
    return _unique(plain), ("merge" if len(set(plain)) > 1 else None)


def _card_parents(card: dict[str, Any]) -> list[str]:
    value = card.get("base_model")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return _unique(item.strip() for item in value if isinstance(item, str) and item.strip())


def _card_relation(
    card: dict[str, Any],
    parents: list[str],
    tags: list[str],
    gguf: dict[str, Any],
    library: Any,
) -> str:
    declared = card.get("base_model_relation")
    if declared in RELATIONS:
        return str(declared)
    if len(parents) > 1:
        return "merge"
    if gguf or "gguf" in tags:
        return "quantized"
    if library == "peft" or "lora" in tags:
        return "adapter"
    return "finetune"


def _unique(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return out
