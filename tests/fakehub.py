"""A stand-in Hugging Face Hub on 127.0.0.1 speaking the real wire protocol (notes §1, §2):

- ``GET /api/models`` with ``author``, ``search``, ``filter`` (repeatable, ``base_model:[rel:]id``),
  ``sort``, ``limit``, ``expand`` / ``expand[]`` (only the requested keys plus ``_id``, ``id``),
  cursor pagination through an absolute ``Link: <…>; rel="next"`` URL on its own host;
- ``GET /api/spaces`` the same way, with ``models`` (repeatable: Spaces using any of them);
- ``inference_provider=all|NAME`` on ``/api/models``: the models a provider serves (records with
  an ``inferenceProviderMapping``, served as the list endpoint's list of entries);
- ``GET /api/models/{id}``: 307 with a relative ``Location`` for a renamed repo, 404 with
  ``X-Error-Code: RepoNotFound`` for an unknown one;
- datasets: ``GET /api/datasets/{repo}[/revision/{rev}]`` (its ``sha``), ``/commits/{rev}``,
  ``/tree/{rev}/{path}`` (recursive, ``lfs`` objects, cursor pages), and
  ``HEAD|GET /datasets/{repo}/resolve/{rev}/{file}`` (``Range`` answered with 206, so a killed
  download resumes); a file's content is bytes, or a path streamed from disk;
- injected faults: 429 with ``RateLimit``/``RateLimit-Policy`` headers, 503, malformed pages.

The models served are the real hub-stats extract, re-serialised in API form.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pyarrow.parquet as pq

DEFAULT_KEYS = (
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)


def api_records(parquet: Path) -> list[dict[str, Any]]:
    """hub-stats rows as the API serves them (timestamps ISO ``.000Z``, JSON strings parsed,
    missing values omitted)."""
    records = []
    for row in pq.read_table(parquet).to_pylist():
        item: dict[str, Any] = {"_id": hashlib.sha1(row["id"].encode()).hexdigest()[:24]}
        for key, value in row.items():
            if value is None:
                continue
            if isinstance(value, dt.datetime):
                value = value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            elif key in ("cardData", "gguf") and isinstance(value, str):
                value = json.loads(value)
            item[key] = value
        item["modelId"] = item["id"]
        item["private"] = False
        records.append(item)
    return records


@dataclass
class FakeHub:
    models: list[dict[str, Any]]
    spaces: list[dict[str, Any]] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    fault_rate: float = 0.0
    malformed_pages: set[int] = field(default_factory=set)
    seed: int = 0
    delay: float = 0.0
    reject_list_expand: set[str] = field(default_factory=set)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # recorded model_info bodies
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    tree_page: int = 1000  # the Hub's page size of a tree listing

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._pages_served = 0

    # -- listing ---------------------------------------------------------------------------
    def select(self, query: dict[str, list[str]], kind: str = "models") -> list[dict[str, Any]]:
        rows = self.spaces if kind == "spaces" else self.models
        if "models" in query:
            wanted = set(query["models"])
            rows = [r for r in rows if wanted & set(r.get("models") or [])]
        if "inference_provider" in query:  # "all", or one provider's name
            which = query["inference_provider"][0]
            rows = [
                r
                for r in rows
                if any(
                    which in ("all", m.get("provider"))
                    for m in r.get("inferenceProviderMapping") or []
                )
            ]
        if "author" in query:
            rows = [r for r in rows if r.get("author", "").lower() == query["author"][0].lower()]
        if "search" in query:
            text = query["search"][0].lower()
            rows = [r for r in rows if text in r["id"].lower()]
        for tag in query.get("filter", []):
            rows = [r for r in rows if tag in r.get("tags", []) or self._has_parent(r, tag)]
        sort = query.get("sort", ["downloads" if kind == "models" else "likes"])[0]
        return sorted(rows, key=lambda r: (-(r.get(sort) or 0), r["id"]))

    @staticmethod
    def _has_parent(row: dict[str, Any], tag: str) -> bool:
        if not tag.startswith("base_model:"):
            return False
        parent = tag.split(":")[-1]
        models = (row.get("baseModels") or {}).get("models") or []
        return any(m.get("id") == parent for m in models)

    @staticmethod
    def shape(row: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        keys = expand or list(DEFAULT_KEYS)
        return {"_id": row["_id"], "id": row["id"]} | {k: row[k] for k in keys if k in row}


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, *, head: bool) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        with hub._lock:
            hub.requests.append((self.command, self.path, dict(self.headers)))
            roll = hub._random.random()
        if hub.delay:
            threading.Event().wait(hub.delay)
        path = unquote(parts.path)
        if path == "/api/agent-harnesses":
            return self._json({"standardEnvVars": [], "harnesses": {}})
        if roll < hub.fault_rate and path.startswith("/api/"):
            return self._fault(roll / hub.fault_rate)
        if path in ("/api/models", "/api/spaces"):
            return self._list(query, path.removeprefix("/api/"))
        if path.startswith("/api/models/"):
            return self._info(path.removeprefix("/api/models/"), query)
        if path.startswith("/api/datasets/") and "/commits/" in path:
            return self._commits(path.removeprefix("/api/datasets/").split("/commits/")[0])
        if path.startswith("/api/datasets/") and "/tree/" in path:
            repo, rest = path.removeprefix("/api/datasets/").split("/tree/", 1)
            revision, _, folder = rest.partition("/")
            return self._tree(repo, revision, folder, query)
        if path.startswith("/api/datasets/"):
            repo, _, revision = path.removeprefix("/api/datasets/").partition("/revision/")
            return self._dataset(repo, revision or "main")
        if path.startswith("/datasets/") and "/resolve/" in path:
            repo, rest = path.removeprefix("/datasets/").split("/resolve/", 1)
            revision, _, filename = rest.partition("/")
            return self._file(repo, revision, filename, head=head)
        self._error(404, "EntryNotFound", f"no route {path}")

    def _fault(self, which: float) -> None:
        if which < 0.5:
            self.send_response(429)
            self.send_header("RateLimit", '"api";r=0;t=0')
            self.send_header("RateLimit-Policy", '"fixed window";"api";q=500;w=300')
            self.send_header("Content-Type", "application/json")
            body = b'{"error":"rate limited"}'
        else:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            body = b'{"error":"service unavailable"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _list(self, query: dict[str, list[str]], kind: str = "models") -> None:
        hub = self.hub
        expand = query.get("expand", []) + query.get("expand[]", [])
        if hub.reject_list_expand & set(expand):
            return self._error(400, "BadRequest", "expand not allowed on list")
        rows = hub.select(query, kind)
        limit = int(query.get("limit", ["30"])[0])
        offset = int(base64.b64decode(query["cursor"][0]).decode()) if "cursor" in query else 0
        page = rows[offset : offset + limit]
        with hub._lock:
            number = hub._pages_served
            hub._pages_served += 1
        headers = {}
        if offset + limit < len(rows):
            nxt = {k: v for k, v in query.items() if k != "cursor"}
            nxt["cursor"] = [base64.b64encode(str(offset + limit).encode()).decode()]
            headers["Link"] = f'<{hub.url}/api/{kind}?{urlencode(nxt, doseq=True)}>; rel="next"'
        if number in hub.malformed_pages:
            return self._raw(200, b'[{"id": "broken', headers)
        headers["X-Total-Count"] = str(len(rows))
        self._json([hub.shape(r, expand) for r in page], headers)

    def _info(self, model_id: str, query: dict[str, list[str]]) -> None:
        hub = self.hub
        if model_id in hub.renames:
            self.send_response(307)
            self.send_header("Location", "/api/models/" + quote(hub.renames[model_id]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        expand = query.get("expand", []) + query.get("expand[]", [])
        if model_id in hub.bodies and not expand:
            return self._json(hub.bodies[model_id])  # a real recorded answer
        row = next((r for r in hub.models if r["id"] == model_id), None)
        if row is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        item = dict(row)
        item["childrenModelCount"] = {
            "finetune": sum(1 for r in hub.models if hub._has_parent(r, f"base_model:{model_id}"))
        }
        return self._json(hub.shape(item, expand) if expand else item)

    def _commits(self, repo: str) -> None:
        data = self.hub.datasets.get(repo)
        if data is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        self._json(data["commits"])

    def _dataset(self, repo: str, revision: str) -> None:
        data = self.hub.datasets.get(repo)
        if data is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        sha = data.get("branches", {}).get(revision, revision)
        if not any(rev == sha for rev, _ in data["files"]):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        author = repo.split("/")[0]
        self._json({"_id": "d" * 24, "id": repo, "author": author, "sha": sha, "private": False})

    def _tree(self, repo: str, revision: str, folder: str, query: dict[str, list[str]]) -> None:
        data = self.hub.datasets.get(repo)
        if data is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        names = sorted(name for rev, name in data["files"] if rev == revision)
        names = [n for n in names if n.startswith(folder + "/")]
        if not names:
            return self._error(404, "EntryNotFound", f"{folder} does not exist on {revision}")
        entries: list[dict[str, Any]] = []
        for name in names:
            parent = name.rpartition("/")[0]
            if parent != folder and not any(e["path"] == parent for e in entries):
                entries.append({"type": "directory", "oid": "0" * 40, "path": parent})
            sha, size = digest(data["files"][(revision, name)])
            entries.append(
                {
                    "type": "file",
                    "oid": sha[:40],
                    "size": size,
                    "path": name,
                    "lfs": {"oid": sha, "size": size, "pointerSize": 134},
                }
            )
        limit = int(self.hub.tree_page)
        offset = int(base64.b64decode(query["cursor"][0]).decode()) if "cursor" in query else 0
        headers = {}
        if offset + limit < len(entries):
            nxt = {k: v for k, v in query.items() if k != "cursor"}
            nxt["cursor"] = [base64.b64encode(str(offset + limit).encode()).decode()]
            url = f"{self.hub.url}/api/datasets/{repo}/tree/{revision}/{folder}"
            headers["Link"] = f'<{url}?{urlencode(nxt, doseq=True)}>; rel="next"'
        self._json(entries[offset : offset + limit], headers)

    def _file(self, repo: str, revision: str, filename: str, *, head: bool) -> None:
        data = self.hub.datasets.get(repo)
        if data is None:
            return self._error(404, "RepoNotFound", "Repository not found")
        content = data["files"].get((revision, filename))
        if content is None:
            return self._error(404, "EntryNotFound", "Entry not found")
        sha, size = digest(content)
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and not head:
            start = int(wanted.removeprefix("bytes=").split("-")[0] or 0)
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", revision)
        self.send_header("ETag", '"' + sha + '"')
        self.send_header("Content-Length", str(size - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if head:
            return
        if isinstance(content, bytes):
            self.wfile.write(content[start:])
            return
        with Path(content).open("rb") as handle:
            handle.seek(start)
            while chunk := handle.read(1 << 20):
                self.wfile.write(chunk)

    def _json(self, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(200, json.dumps(payload).encode(), headers or {})

    def _raw(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_DIGESTS: dict[tuple[str, float], tuple[str, int]] = {}


def digest(content: bytes | Path) -> tuple[str, int]:
    """SHA-256 and size of a file's content (a path's digest computed once)."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest(), len(content)
    key = (str(content), Path(content).stat().st_mtime)
    if key not in _DIGESTS:
        hasher = hashlib.sha256()
        with Path(content).open("rb") as handle:
            while chunk := handle.read(1 << 22):
                hasher.update(chunk)
        _DIGESTS[key] = (hasher.hexdigest(), Path(content).stat().st_size)
    return _DIGESTS[key]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-response (the kill tests) is expected, not news


def hubpulse_process(
    hub: FakeHub, root: Path, *args: str, token: str | None = None
) -> subprocess.Popen[bytes]:
    """``hubpulse ARGS -w ROOT`` as a process whose Hub is the stand-in ``hub``."""
    env = os.environ | {"HF_ENDPOINT": hub.url, "HUBPULSE_HUB_RETRY_WAIT": "0.01", "COLUMNS": "120"}
    if token:
        env["HF_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "hubpulse", *args, "-w", str(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    with serving(type("Handler", (_Handler,), {"hub": hub})) as url:
        hub.url = url
        yield hub


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    """``body`` as a JSON answer with ``status`` and extra ``headers``."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port in a thread; its base URL."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
