"""A stand-in ModelScope on 127.0.0.1 speaking the OpenAPI surface the official client
(``modelscope-hub``) reads: ``GET /openapi/v1/models?owner=&sort=downloads&page_number=&page_size=``
answering ``{"success": true, "data": {"models": [...], "total_count": N, "page_number": P,
"page_size": S}, "request_id": …}``, refusing page_number × page_size > 3000 with a 400
``InputParameterError`` as the Hub does, and 429 with ``Retry-After`` on request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakehub import send_json, serving


@dataclass
class FakeModelScope:
    models: list[dict[str, Any]]
    limited: set[int] = field(default_factory=set)  # request numbers answered with a 429
    requests: list[str] = field(default_factory=list)
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    hub: FakeModelScope
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.hub
        with self.lock:
            fake.requests.append(self.path)
            number = len(fake.requests)
        parts = urlsplit(self.path)
        if parts.path != "/openapi/v1/models":
            return self._json(404, {"success": False, "code": "ResourceNotFound", "message": "no"})
        if number in fake.limited:
            body = {"success": False, "code": "RateLimitExceed", "message": "slow down"}
            return self._json(429, body, {"Retry-After": "0"})
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        page, size = int(query.get("page_number", 1)), int(query.get("page_size", 10))
        if page * size > 3000:
            body = {"success": False, "code": "InputParameterError", "message": "too deep"}
            return self._json(400, body)
        rows = [m for m in fake.models if m["id"].split("/")[0] == query.get("owner", "")]
        rows.sort(key=lambda m: (-(m.get("downloads") or 0), m["id"]))
        data = {
            "models": rows[(page - 1) * size : page * size],
            "total_count": len(rows),
            "page_number": page,
            "page_size": size,
        }
        self._json(200, {"success": True, "data": data, "request_id": f"req-{number}"})

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        send_json(self, status, body, headers)


@contextmanager
def serve_modelscope(fake: FakeModelScope) -> Iterator[FakeModelScope]:
    with serving(type("Handler", (_Handler,), {"hub": fake})) as url:
        fake.url = url
        yield fake
