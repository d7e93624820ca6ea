"""Router tokens: OpenRouter's public rankings, the top 50 models per day by tokens.

``GET https://openrouter.ai/api/v1/datasets/rankings-daily?start_date=…&end_date=…`` (any
OpenRouter API key as ``Authorization: Bearer``; 30 requests a minute, 500 a day) answers::

    {"data": [{"date": "2026-05-11", "model_permaslug": "qwen/qwen3-235b-a22b-04-28",
               "total_tokens": "12345678"}, …],
     "meta": {"as_of": "2026-05-12T02:00:00Z", "start_date": "2026-04-12",
              "end_date": "2026-05-11", "version": "v1"}}

Per UTC day, up to 50 model rows (``prompt_tokens + completion_tokens``, a decimal string) and
one ``other`` row summing every model outside the top 50. The data is CC BY 4.0; whatever shows
it cites "Source: OpenRouter (openrouter.ai/rankings), as of {as_of}". Tokens come from each
provider's own tokenizer, so tokens of different models are not directly comparable.

``read_rankings`` turns one saved response into the ``router_tokens`` table (``day``,
``permaslug``, ``tokens``, ``as_of``); malformed rows are rejects with the field and reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from hubpulse.errors import SnapshotFormatError
from hubpulse.ingest.files import existing_file, file_sha256
from hubpulse.ingest.records import MAX_COUNT
from hubpulse.ingest.sources import AREA_LOAD_SCHEMA

ROUTER = "openrouter"
ROUTER_LICENCE = "CC-BY-4.0"
OTHER = "other"  # the reserved permaslug of the row summing the models outside the top 50
TOKENS_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("permaslug", pa.string()),
        ("tokens", pa.int64()),
        ("as_of", pa.timestamp("us")),
    ]
)
ROUTER_REJECT_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("row", pa.int64()),
        ("permaslug", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)
ROUTER_AREA = "router"
ROUTER_TABLES = {
    "router_tokens": TOKENS_SCHEMA,
    "router_rejects": ROUTER_REJECT_SCHEMA,
    "router_loads": AREA_LOAD_SCHEMA,
}
_DECIMAL = re.compile(r"\d{1,19}")


def cite(as_of: dt.datetime | str) -> str:
    """The attribution OpenRouter asks for, with the time the figures are as of."""
    stamp = as_of.isoformat(timespec="seconds") if isinstance(as_of, dt.datetime) else as_of
    return f"Source: OpenRouter (openrouter.ai/rankings), as of {stamp}Z, CC BY 4.0"


def read_rankings(path: Path | str) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """One saved rankings-daily response → (tokens, rejects, meta with ``first_day``,
    ``last_day``, ``as_of`` and the file's ``sha256``)."""
    path = existing_file(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotFormatError(f"{path}: not a rankings-daily JSON response ({exc})") from None
    meta = body.get("meta") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or not isinstance(data, list):
        raise SnapshotFormatError(
            f"{path}: not a rankings-daily response (expected an object with 'data' and 'meta')"
        )
    as_of = _stamp(path, meta.get("as_of"), "meta.as_of")
    first = _day_of(path, meta.get("start_date"), "meta.start_date")
    last = _day_of(path, meta.get("end_date"), "meta.end_date")
    rows, rejects = [], []
    for number, item in enumerate(data, start=1):
        try:
            rows.append(_row(item, first, last) | {"as_of": as_of})
        except ValueError as exc:
            field, reason = exc.args
            slug = item.get("model_permaslug") if isinstance(item, dict) else None
            rejects.append(
                {
                    "file": str(path),
                    "row": number,
                    "permaslug": slug if isinstance(slug, str) else None,
                    "field": field,
                    "reason": reason,
                    "raw": json.dumps(item, default=str)[:1000],
                }
            )
    found = {"first_day": first, "last_day": last, "as_of": as_of, "sha256": file_sha256(path)}
    return (
        pa.Table.from_pylist(rows, TOKENS_SCHEMA),
        pa.Table.from_pylist(rejects, ROUTER_REJECT_SCHEMA),
        found,
    )


def _row(item: Any, first: dt.date, last: dt.date) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("row", f"expected an object, got {type(item).__name__}")
    slug = item.get("model_permaslug")
    if not isinstance(slug, str) or not slug.strip():
        raise ValueError("model_permaslug", "missing model_permaslug")
    try:
        day = dt.date.fromisoformat(str(item.get("date")))
    except ValueError:
        raise ValueError("date", f"bad date {item.get('date')!r}") from None
    if not first <= day <= last:
        raise ValueError("date", f"{day} is outside the response's window {first} … {last}")
    tokens = item.get("total_tokens")
    text = str(tokens) if isinstance(tokens, str | int) and not isinstance(tokens, bool) else ""
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_COUNT * 1000:
        raise ValueError("total_tokens", f"total_tokens {tokens!r} is not a token count")
    return {"day": day, "permaslug": slug, "tokens": int(text)}


def _day_of(path: Path, value: Any, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SnapshotFormatError(f"{path}: {field} {value!r} is not a date") from None


def _stamp(path: Path, value: Any, field: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotFormatError(f"{path}: {field} {value!r} is not a timestamp") from None
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
