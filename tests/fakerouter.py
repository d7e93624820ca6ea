"""A stand-in for OpenRouter's data API on 127.0.0.1, speaking its documented wire format:

- ``GET /api/v1/datasets/rankings-daily?start_date=&end_date=`` with ``Authorization: Bearer
  KEY`` (401 ``{"error": {"code": 401, "message": …}}`` without a valid key);
- per UTC day the top 50 models by ``total_tokens`` (a decimal string), sorted by tokens then
  name, plus one ``other`` row summing the rest, last within its day; ``meta`` with ``as_of``,
  ``start_date``, ``end_date`` (the resolved window: 30 days before the end by default, clamped
  to 2025-01-01; an end before it is a 400) and ``version``;
- injected 429s with ``Retry-After`` (its documented limits are 30 requests a minute per key).

The truth is a dict ``{date: {permaslug: tokens}}``; the server ranks it as OpenRouter does.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakehub import send_json, serving

FLOOR = dt.date(2025, 1, 1)
KEY = "sk-or-v1-test0123456789abcdef"


@dataclass
class FakeRouter:
    truth: dict[dt.date, dict[str, int]]
    key: str = KEY
    as_of: str = "2026-01-02T02:00:00Z"
    limited: set[int] = field(default_factory=set)  # request numbers answered with a 429
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def answer(self, start: dt.date, end: dt.date) -> dict[str, Any]:
        rows = []
        day = start
        while day <= end:
            counts = self.truth.get(day, {})
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            for slug, tokens in ranked[:50]:
                rows.append(
                    {"date": str(day), "model_permaslug": slug, "total_tokens": str(tokens)}
                )
            rest = sum(t for _, t in ranked[50:])
            if rest:
                rows.append(
                    {"date": str(day), "model_permaslug": "other", "total_tokens": str(rest)}
                )
            day += dt.timedelta(days=1)
        meta = {
            "as_of": self.as_of,
            "start_date": str(start),
            "end_date": str(end),
            "version": "v1",
        }
        return {"data": rows, "meta": meta}


class _Handler(BaseHTTPRequestHandler):
    router: FakeRouter
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.router
        with self.lock:
            fake.requests.append((self.path, dict(self.headers)))
            number = len(fake.requests)
        parts = urlsplit(self.path)
        if parts.path != "/api/v1/datasets/rankings-daily":
            return self._json(404, {"error": {"code": 404, "message": "Not Found"}})
        if self.headers.get("Authorization") != f"Bearer {fake.key}":
            refused = {"error": {"code": 401, "message": "No auth credentials found"}}
            return self._json(401, refused)
        if number in fake.limited:
            return self._json(
                429,
                {"error": {"code": 429, "message": "Rate limit exceeded"}},
                {"Retry-After": "0"},
            )
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            end = (
                dt.date.fromisoformat(query["end_date"]) if "end_date" in query else max(fake.truth)
            )
            start = (
                dt.date.fromisoformat(query["start_date"])
                if "start_date" in query
                else end - dt.timedelta(days=30)
            )
        except ValueError:
            return self._json(400, {"error": {"code": 400, "message": "invalid date"}})
        if end < FLOOR:
            return self._json(
                400, {"error": {"code": 400, "message": "end_date before 2025-01-01"}}
            )
        self._json(200, fake.answer(max(start, FLOOR), end))

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, body, headers)


@contextmanager
def serve_router(fake: FakeRouter) -> Iterator[FakeRouter]:
    with serving(type("Handler", (_Handler,), {"router": fake})) as url:
        fake.url = url
        yield fake
