"""Crawl: the Hub's model listing, page by page, resumable after any kill.

``list_models`` hides the pagination cursor, so a crawl walks the same pages with
huggingface_hub's own HTTP layer (``Hub.get``: ``http_backoff`` for retries,
``hf_raise_for_status`` for errors, ``build_hf_headers`` for the token) and checkpoints after
every page: the page is written to ``pages/NNNNNN.jsonl`` (temp file + rename), then
``state.json`` records the next ``Link`` URL (temp file + rename). A crawl killed at any moment
therefore resumes at the first page whose state was not recorded and rewrites that page: nothing
lost, nothing counted twice. At the end the pages are assembled (first record per id) into one
JSON Lines file, which ``hubpulse.store.pulls.crawl_hub`` ingests through the same path as any
file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx2
from pydantic import BaseModel, ConfigDict, Field

from hubpulse.errors import redact
from hubpulse.ingest.hub import Hub, HubError, retry_events, safe_url
from hubpulse.ingest.providers import PROVIDER_EXPAND
from hubpulse.ingest.spaces import SPACE_EXPAND
from hubpulse.registry import Registry

EXPAND = [
    "author",
    "createdAt",
    "lastModified",
    "downloads",
    "downloadsAllTime",
    "likes",
    "trendingScore",
    "tags",
    "pipeline_tag",
    "library_name",
    "cardData",
    "safetensors",
    "gguf",
    "baseModels",
]


class CrawlScope(BaseModel):
    """What to list: everything, some authors, a search, and optionally derivatives; of models,
    or of Spaces (``kind``), whose listing can also ask for the Spaces that use given models."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["models", "spaces", "providers"] = "models"
    providers: list[str] = Field(default_factory=list)
    everything: bool = False
    authors: list[str] = Field(default_factory=list)
    search: str | None = None
    queries: list[dict[str, str]] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    derivatives: bool = False
    max_depth: int = Field(default=8, ge=1)
    children: bool = False
    page_size: int = Field(default=500, ge=1, le=1000)

    def listings(self) -> list[dict[str, Any]]:
        """The first-level listings (query parameters of ``/api/models``)."""
        if self.kind == "providers":  # every model some provider serves, or one provider's
            return [{"inference_provider": p, "level": 0} for p in self.providers or ["all"]]
        found: list[dict[str, Any]] = [{**q, "level": 0} for q in self.queries]
        found += [{"models": m, "level": 0} for m in self.models if self.kind == "spaces"]
        found += [{"author": a, "level": 0} for a in self.authors]
        if self.search:
            found = [{**f, "search": self.search} for f in found] or [
                {"search": self.search, "level": 0}
            ]
        if self.everything:
            found = [{"level": 0}]
        if not found:
            raise HubError(f"nothing to crawl: give {self.choices()}")
        return found

    def choices(self) -> str:
        if self.kind == "spaces":
            return "--all, --author, --model or --search"
        return "--all, --author, --family or --search"

    def expand(self) -> list[str]:
        """The ``expand`` names the listing asks for."""
        return {"spaces": SPACE_EXPAND, "providers": PROVIDER_EXPAND}.get(self.kind, EXPAND)

    def endpoint(self) -> str:
        return "/api/spaces" if self.kind == "spaces" else "/api/models"


@dataclass
class CrawlResult:
    crawl_id: str
    snapshot_date: dt.date
    path: Path
    pages: int
    records: int
    listings: int


def crawl_models(hub: Hub, state_dir: Path) -> CrawlResult:
    """Run (or continue) the crawl checkpointed in ``state_dir`` to its end and assemble the
    snapshot file."""
    state = _load_state(state_dir)
    if state is None:
        raise HubError(f"no crawl state in {state_dir}")
    scope = CrawlScope(**state["scope"])
    with _only_runner(state_dir), retry_events(hub.events):
        while state["current"] < len(state["listings"]):
            _crawl_page(hub, scope, state_dir, state)
    path = _assemble(state_dir, state)
    with path.open(encoding="utf-8") as handle:
        records = sum(1 for _ in handle)
    return CrawlResult(
        crawl_id=state_dir.name,
        snapshot_date=dt.date.fromisoformat(state["date"]),
        path=path,
        pages=state["pages"],
        records=records,
        listings=len(state["listings"]),
    )


@contextlib.contextmanager
def _only_runner(state_dir: Path) -> Iterator[None]:
    """One process at a time per crawl: a second ``--resume`` of a running crawl is refused."""
    with (state_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubError(
                f"crawl {state_dir.name} is already running in another process; "
                "wait for it, or stop it and run the same command with --resume again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _new_state(scope: CrawlScope) -> dict[str, Any]:
    return {
        "scope": scope.model_dump(),
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "listings": scope.listings(),
        "current": 0,
        "next_url": None,
        "pages": 0,
        "page_listing": [],
    }


def _crawl_page(hub: Hub, scope: CrawlScope, state_dir: Path, state: dict[str, Any]) -> None:
    """Fetch, enrich and store one page, then record progress (in that order)."""
    listing = state["listings"][state["current"]]
    per_model = list(state.get("per_model", []))
    if state["next_url"]:
        response = hub.get(state["next_url"])
    else:
        params = {k: v for k, v in listing.items() if k != "level"}
        expand = scope.expand()
        params |= {"limit": scope.page_size, "expand": [e for e in expand if e not in per_model]}
        try:
            response = hub.get(f"{hub.endpoint}{scope.endpoint()}", params=params)
        except HubError as exc:
            if "HTTP 400" not in str(exc) or "baseModels" in per_model or scope.kind != "models":
                raise
            # baseModels on the list endpoint is unconfirmed: fetch it per model instead
            state["per_model"] = per_model = [*per_model, "baseModels"]
            params["expand"] = [e for e in EXPAND if e not in per_model]
            response = hub.get(f"{hub.endpoint}/api/models", params=params)
    items = _page_items(response, state)
    expand = per_model + (["childrenModelCount"] if scope.children else [])
    if expand:
        items = _per_model(hub, items, expand)
    pages = state_dir / "pages"
    pages.mkdir(exist_ok=True)
    write_atomic(
        pages / f"{state['pages']:06d}.jsonl",
        "".join(json.dumps(item, sort_keys=True) + "\n" for item in items),
    )
    link = response.links.get("next", {}).get("url")
    _check_cursor(state, link)
    total = response.headers.get("X-Total-Count") or ""
    state["listing_items"] = 0 if not link else state.get("listing_items", 0) + len(items)
    remaining = max(0, int(total) - state["listing_items"]) if total.isdigit() and link else None
    state["pages"] += 1
    state["page_listing"].append(state["current"])
    state["next_url"] = link
    if not link:
        state["current"] += 1
        if scope.derivatives and state["current"] >= len(state["listings"]):  # level finished
            state["listings"] += _next_level(state_dir, state, scope.max_depth)
    _save_state(state_dir, state)
    hub.events.page(state["pages"], len(items), remaining)


def _check_cursor(state: dict[str, Any], link: str | None) -> None:
    """A next-page link already followed in this listing would loop forever: stop instead."""
    seen = state.setdefault("listing_urls", [])
    if link is None:
        seen.clear()
    elif link in seen or link == state["next_url"]:
        raise HubError(
            f"the Hub's next-page link repeats {safe_url(link)} (page {state['pages'] + 1}): "
            "stopped rather than looping; the crawl is checkpointed"
        )
    else:
        seen.append(link)


def _page_items(response: httpx2.Response, state: dict[str, Any]) -> list[Any]:
    try:
        items = response.json()
    except ValueError as exc:
        raise HubError(
            f"{safe_url(str(response.request.url))}: page {state['pages'] + 1} is not JSON "
            f"({exc}); "
            f"the crawl is checkpointed: fix the cause and run `{_command(state)} --resume`"
        ) from None
    if not isinstance(items, list):
        raise HubError(
            f"{safe_url(str(response.request.url))}: page {state['pages'] + 1} is not a JSON array "
            f"(got {type(items).__name__}); run `{_command(state)} --resume` once fixed"
        )
    return items  # records without an id are kept: the ingest quarantines them as rejects


def _command(state: dict[str, Any]) -> str:
    kind = state["scope"].get("kind", "models")
    return "hubpulse crawl" if kind == "models" else f"hubpulse {kind} crawl"


def _per_model(hub: Hub, items: list[Any], expand: list[str]) -> list[Any]:
    """Add fields served per model only (``childrenModelCount``, or ``baseModels`` where the
    list endpoint refuses it) with a bounded pool of ``/api/models/{id}`` requests."""

    def fetch(item: Any) -> Any:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return item
        url = f"{hub.endpoint}/api/models/{item['id']}"
        try:
            info = hub.get(url, params={"expand": expand}).json()
        except HubError:
            return item  # deleted or renamed away since the listing: the fields stay unknown
        if not isinstance(info, dict):
            return item
        return item | {key: info[key] for key in expand if info.get(key) is not None}

    with ThreadPoolExecutor(max_workers=hub.politeness.concurrency) as pool:
        return list(pool.map(fetch, items))


def _next_level(state_dir: Path, state: dict[str, Any], max_depth: int) -> list[dict[str, Any]]:
    """Listings ``filter=base_model:<id>`` for the models found at the level just finished."""
    level = state["listings"][state["current"] - 1]["level"]
    if level + 1 > max_depth:
        return []
    seen: set[str] = set()
    found: list[str] = []
    for page, listing in enumerate(state["page_listing"]):
        for item in _read_page(state_dir, page):
            model_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(model_id, str) or model_id in seen:
                continue
            seen.add(model_id)
            if state["listings"][listing]["level"] == level:
                found.append(model_id)
    walked = {x["filter"].removeprefix("base_model:") for x in state["listings"] if "filter" in x}
    return [{"filter": f"base_model:{m}", "level": level + 1} for m in found if m not in walked]


def _assemble(state_dir: Path, state: dict[str, Any]) -> Path:
    """One JSON Lines file of every page in order, first record per model id."""
    seen: set[str] = set()
    lines = []
    for page in range(state["pages"]):
        for item in _read_page(state_dir, page):
            model_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(model_id, str):
                if model_id in seen:
                    continue
                seen.add(model_id)
            lines.append(json.dumps(item, sort_keys=True) + "\n")
    path = state_dir / f"{state['scope'].get('kind', 'models')}_{state['date']}.jsonl"
    write_atomic(path, "".join(lines))
    return path


def _read_page(state_dir: Path, page: int) -> Iterator[Any]:
    with (state_dir / "pages" / f"{page:06d}.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def crawl_scope(state_dir: Path) -> CrawlScope:
    """The scope of the crawl checkpointed in ``state_dir`` (a resumed crawl keeps its own)."""
    state = _load_state(state_dir)
    if state is None:
        raise HubError(f"no crawl state in {state_dir}")
    return CrawlScope(**state["scope"])


def _load_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "state.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / "state.json", json.dumps(state, indent=1))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` in one step, token-shaped values redacted (a Hub that echoes the request's
    Authorization header inside records must not get the token stored)."""
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        handle.write(redact(text))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def scope_for(
    registry: Registry,
    *,
    everything: bool = False,
    authors: list[str] | None = None,
    families: list[str] | None = None,
    search: str | None = None,
    **options: Any,
) -> CrawlScope:
    """A crawl scope; a family means its organisations and its cross-organisation repos."""
    queries: list[dict[str, str]] = []
    orgs = list(authors or [])
    for name in families or []:
        family = registry.get(name)
        orgs += family.orgs
        for repo in family.repos:
            org, _, pattern = repo.partition("/")
            queries.append({"author": org, "search": pattern.split("*")[0]})
    return CrawlScope(
        everything=everything,
        authors=list(dict.fromkeys(orgs)),
        search=search,
        queries=queries,
        **options,
    )


def _unfinished(base: Path) -> Path | None:
    if not base.is_dir():
        return None
    pending = [
        d for d in base.iterdir() if (d / "state.json").is_file() and not (d / "done").exists()
    ]
    return max(pending, key=lambda d: d.name) if pending else None


def start_crawl(base: Path, scope: CrawlScope | None, *, resume: bool = False) -> Path:
    """The checkpoint directory of a crawl under ``base``: a new one for ``scope``, or with
    ``resume`` the newest unfinished one (which keeps its own scope)."""
    if resume:
        state_dir = _unfinished(base)
        if state_dir is None:
            raise HubError(f"no unfinished crawl in {base} to resume")
        return state_dir
    if scope is None:
        raise HubError("nothing to crawl: give --all, --author, --family or --search")
    state_dir = base / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    _save_state(state_dir, _new_state(scope))
    return state_dir


def finish_crawl(state_dir: Path, load_id: str) -> None:
    """Mark the crawl as ingested (by the load ``load_id``), so ``--resume`` skips it."""
    write_atomic(state_dir / "done", load_id + "\n")
