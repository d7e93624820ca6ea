"""Hub: fresh data from the Hugging Face Hub through ``huggingface_hub`` — resumable crawls of the
model listing, and pulls of the public dumps (hub-stats snapshots, hf-hub-characterization).

**Crawl.** ``list_models`` hides the pagination cursor, so a crawl walks the same pages with
huggingface_hub's own HTTP layer (``http_backoff`` for retries, ``hf_raise_for_status`` for
errors, ``build_hf_headers`` for the token) and checkpoints after every page: the page is written
to ``pages/NNNNNN.jsonl`` (temp file + rename), then ``state.json`` records the next ``Link`` URL
(temp file + rename). A crawl killed at any moment therefore resumes at the first page whose
state was not recorded and rewrites that page: nothing lost, nothing counted twice. At the end
the pages are assembled (first record per id) into one JSON Lines file, ingested through the same
path as any file.

**Politeness.** Rate limits (HTTP 429 with ``RateLimit: "api";r=0;t=N``) are retried by
``http_backoff``; when it gives up, the crawl waits the window out and tries again. Server errors
are retried with exponential backoff. Per-model calls (``--children``) run on a bounded pool.

**Token.** From ``HF_TOKEN`` or the huggingface_hub login; it goes into request headers only — it
is never printed, logged, or written into crawl state, pages, the warehouse or reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers, get_token, hf_raise_for_status, http_backoff
from pydantic import BaseModel, ConfigDict, Field

from hubpulse.analysis.families import Registry
from hubpulse.errors import HubpulseError
from hubpulse.ingest.series import DailyColumns, SeriesLoad, ValueKind
from hubpulse.store.warehouse import LoadResult, Warehouse

HUB_STATS = "cfahlgren1/hub-stats"
CHARACTERIZATION = "harvardMadsys/hf-hub-characterization"
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


class HubError(HubpulseError):
    """The Hub (or a dataset on it) could not be read as needed."""


class CrawlScope(BaseModel):
    """What to list: everything, some authors, a search, and optionally derivatives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    everything: bool = False
    authors: list[str] = Field(default_factory=list)
    search: str | None = None
    queries: list[dict[str, str]] = Field(default_factory=list)
    derivatives: bool = False
    max_depth: int = Field(default=8, ge=1)
    children: bool = False
    page_size: int = Field(default=500, ge=1, le=1000)

    def listings(self) -> list[dict[str, Any]]:
        """The first-level listings (query parameters of ``/api/models``)."""
        found: list[dict[str, Any]] = [{**q, "level": 0} for q in self.queries]
        found += [{"author": a, "level": 0} for a in self.authors]
        if self.search:
            found = [{**f, "search": self.search} for f in found] or [
                {"search": self.search, "level": 0}
            ]
        if self.everything:
            found = [{"level": 0}]
        if not found:
            raise HubError("nothing to crawl: give --all, --author, --family or --search")
        return found


@dataclass
class Politeness:
    """Retry and wait policy (seconds)."""

    base_wait: float = 1.0
    max_wait: float = 8.0
    retries: int = 5
    max_rate_wait: float = 3600.0
    concurrency: int = 4


@dataclass
class CrawlEvents:
    """Callbacks for progress reporting: a page stored (pages so far, its models, models left
    in the current listing where the Hub says ``X-Total-Count``), a wait before a retry."""

    page: Callable[[int, int, int | None], None] = lambda pages, items, remaining: None
    wait: Callable[[float, str], None] = lambda seconds, reason: None


@dataclass
class CrawlResult:
    crawl_id: str
    snapshot_date: dt.date
    path: Path
    pages: int
    records: int
    listings: int


class Hub:
    """The Hub at ``endpoint`` (default: ``HF_ENDPOINT``), with the user's token if any."""

    def __init__(self, endpoint: str | None = None, politeness: Politeness | None = None) -> None:
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.politeness = politeness or Politeness()
        self._token = get_token()
        self.api = HfApi(endpoint=self.endpoint, token=self._token)
        self.events = CrawlEvents()

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx2.Response:
        """GET with huggingface_hub's retries, then waiting out rate limits; clear errors."""
        policy, attempt, waited = self.politeness, 0, 0.0
        while True:
            try:
                response = http_backoff(
                    "GET",
                    url,
                    params=params,
                    headers=build_hf_headers(token=self._token),
                    max_retries=policy.retries,
                    base_wait_time=policy.base_wait,
                    max_wait_time=policy.max_wait,
                )
                hf_raise_for_status(response)
                return response
            except HfHubHTTPError as exc:
                attempt += 1
                wait = self._wait_for(exc, attempt, waited)
                if wait is None:
                    raise HubError(f"{_safe(url)}: {_describe(exc)}") from None
                self.events.wait(wait, "rate limit" if _status(exc) == 429 else "server error")
                time.sleep(wait)
                waited += wait
            except httpx2.HTTPError as exc:
                attempt += 1
                if attempt > policy.retries:
                    raise HubError(f"{_safe(url)}: {exc.__class__.__name__}: {exc}") from None
                time.sleep(min(policy.max_wait, policy.base_wait * 2**attempt))

    def _wait_for(self, exc: HfHubHTTPError, attempt: int, waited: float) -> float | None:
        """Seconds to wait before trying again, or None to give up: a rate limit is waited out
        (its reset time + 1 s) until ``max_rate_wait`` seconds in all; 5xx backs off."""
        status, policy = _status(exc), self.politeness
        if status == 429:
            reset = _rate_limit_reset(exc.response.headers if exc.response is not None else {})
            wait = (reset if reset is not None else policy.max_wait) + 1
            return wait if waited + wait <= policy.max_rate_wait else None
        if status is not None and status >= 500 and attempt <= policy.retries:
            return min(policy.max_wait, policy.base_wait * 2**attempt)
        return None


def crawl_models(hub: Hub, state_dir: Path) -> CrawlResult:
    """Run (or continue) the crawl checkpointed in ``state_dir`` to its end and assemble the
    snapshot file."""
    state = _load_state(state_dir)
    if state is None:
        raise HubError(f"no crawl state in {state_dir}")
    scope = CrawlScope(**state["scope"])
    with _retry_events(hub.events):
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


_RETRY = re.compile(r"(Rate limited\. Waiting|Retrying in) ([0-9.]+)s")


class _RetryFilter(logging.Filter):
    """Turns huggingface_hub's own retry warnings into wait events (shown on the progress
    line) instead of log lines."""

    def __init__(self, events: CrawlEvents) -> None:
        super().__init__()
        self.events = events

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        found = _RETRY.search(message)
        if found:
            reason = "rate limit" if found.group(1).startswith("Rate") else "server error"
            self.events.wait(float(found.group(2)), reason)
            return False
        return not message.startswith(("HTTP Error", "'"))  # the retried failure itself


@contextlib.contextmanager
def _retry_events(events: CrawlEvents) -> Iterator[None]:
    logger = logging.getLogger("huggingface_hub.utils._http")
    retry_filter = _RetryFilter(events)
    logger.addFilter(retry_filter)
    try:
        yield
    finally:
        logger.removeFilter(retry_filter)


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
        params |= {"limit": scope.page_size, "expand": [e for e in EXPAND if e not in per_model]}
        try:
            response = hub.get(f"{hub.endpoint}/api/models", params=params)
        except HubError as exc:
            if "HTTP 400" not in str(exc) or "baseModels" in per_model:
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
    _write_atomic(
        pages / f"{state['pages']:06d}.jsonl",
        "".join(json.dumps(item, sort_keys=True) + "\n" for item in items),
    )
    link = response.links.get("next", {}).get("url")
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


def _page_items(response: httpx2.Response, state: dict[str, Any]) -> list[Any]:
    try:
        items = response.json()
    except ValueError as exc:
        raise HubError(
            f"{_safe(str(response.request.url))}: page {state['pages'] + 1} is not JSON ({exc}); "
            "the crawl is checkpointed: fix the cause and run `hubpulse crawl --resume`"
        ) from None
    if not isinstance(items, list):
        raise HubError(
            f"{_safe(str(response.request.url))}: page {state['pages'] + 1} is not a JSON array "
            f"(got {type(items).__name__}); run `hubpulse crawl --resume` once fixed"
        )
    return items  # records without an id are kept: the ingest quarantines them as rejects


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
    path = state_dir / f"models_{state['date']}.jsonl"
    _write_atomic(path, "".join(lines))
    return path


def _read_page(state_dir: Path, page: int) -> Iterator[Any]:
    with (state_dir / "pages" / f"{page:06d}.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _load_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "state.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _save_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(state_dir / "state.json", json.dumps(state, indent=1))


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


# -- dataset pulls -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Revision:
    sha: str
    day: dt.date


def hub_stats_revisions(
    hub: Hub,
    *,
    revision: str | None = None,
    date: dt.date | None = None,
    since: dt.date | None = None,
) -> list[Revision]:
    """The dated revisions of hub-stats to pull: one given sha, the newest commit of one day, or
    the newest commit of every day since a date (oldest first)."""
    try:
        commits = hub.api.list_repo_commits(HUB_STATS, repo_type="dataset")
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise _dataset_gone(hub, HUB_STATS, exc) from None
    daily: dict[dt.date, Revision] = {}
    for commit in commits:  # newest first
        if "models" not in commit.title:  # e.g. "Upload models.parquet with huggingface_hub"
            continue
        day = commit.created_at.astimezone(dt.UTC).date()
        daily.setdefault(day, Revision(commit.commit_id, day))
    if revision:
        found = [r for r in daily.values() if r.sha.startswith(revision)]
        if not found:
            raise HubError(f"{HUB_STATS} has no models.parquet commit {revision!r}")
        return found[:1]
    if date:
        if date not in daily:
            days = ", ".join(str(d) for d in sorted(daily)[-5:])
            raise HubError(f"{HUB_STATS} has no models.parquet commit on {date} (latest: {days})")
        return [daily[date]]
    chosen = [r for d, r in sorted(daily.items()) if since is None or d >= since]
    return chosen if since else chosen[-1:]


def download_file(hub: Hub, repo_id: str, filename: str, revision: str, cache: Path) -> Path:
    """``hf_hub_download`` of one dataset file into ``cache``; a clear error if it is gone."""
    try:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                repo_type="dataset",
                revision=revision,
                cache_dir=cache,
                endpoint=hub.endpoint,
                token=hub._token,
            )
        )
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise _dataset_gone(hub, repo_id, exc) from None


def _dataset_gone(hub: Hub, repo_id: str, exc: Exception) -> HubError:
    note = " (hub-stats was reported taken down in August 2026)" if repo_id == HUB_STATS else ""
    detail = _describe(exc) if isinstance(exc, HfHubHTTPError) else _first_line(exc)
    return HubError(f"dataset {repo_id} is not available from {hub.endpoint}{note}: {detail}")


def _status(exc: HfHubHTTPError) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def _rate_limit_reset(headers: Any) -> float | None:
    """Seconds until the window resets, from ``RateLimit: "api";r=0;t=55`` or Retry-After."""
    for part in str(headers.get("RateLimit", "")).split(";"):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return float(value)
    retry = headers.get("Retry-After")
    return float(retry) if retry and str(retry).isdigit() else None


def _describe(exc: HfHubHTTPError) -> str:
    """Status, the Hub's own message and error code, e.g. ``404 Repository not found``."""
    response = exc.response
    status = response.status_code if response is not None else "?"
    code = response.headers.get("X-Error-Code") if response is not None else None
    message = getattr(exc, "server_message", None) or _first_line(exc)
    return f"HTTP {status} {message}" + (f" ({code})" if code else "")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _safe(url: str) -> str:
    """A URL without its query string's cursor noise, for messages."""
    return url.split("?", 1)[0]


# -- into the warehouse ------------------------------------------------------------------------
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


def crawl_hub(
    warehouse: Warehouse,
    hub: Hub,
    scope: CrawlScope | None,
    *,
    resume: bool = False,
    replace: bool = False,
) -> tuple[CrawlResult, LoadResult]:
    """Crawl into a checkpointed directory of the warehouse, then ingest the snapshot. With
    ``resume`` the newest unfinished crawl continues (its own scope; ``scope`` is ignored)."""
    base = warehouse.work_dir("crawls")
    if resume:
        state_dir = _unfinished(base)
        if state_dir is None:
            raise HubError(f"no unfinished crawl in {base} to resume")
    else:
        if scope is None:
            raise HubError("nothing to crawl: give --all, --author, --family or --search")
        state_dir = base / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        _save_state(state_dir, _new_state(scope))
    result = crawl_models(hub, state_dir)
    load = warehouse.ingest(result.path, result.snapshot_date, replace=replace)
    _write_atomic(state_dir / "done", load.load_id + "\n")
    return result, load


def _unfinished(base: Path) -> Path | None:
    if not base.is_dir():
        return None
    pending = [
        d for d in base.iterdir() if (d / "state.json").is_file() and not (d / "done").exists()
    ]
    return max(pending, key=lambda d: d.name) if pending else None


def pull_hub_stats(
    warehouse: Warehouse,
    hub: Hub,
    *,
    revision: str | None = None,
    date: dt.date | None = None,
    since: dt.date | None = None,
) -> list[LoadResult]:
    """Download hub-stats ``models.parquet`` at the chosen dated revisions and ingest each as
    the snapshot of its commit day (already stored days are no-ops)."""
    loads = []
    for rev in hub_stats_revisions(hub, revision=revision, date=date, since=since):
        path = download_file(hub, HUB_STATS, "models.parquet", rev.sha, warehouse.work_dir("hub"))
        loads.append(warehouse.ingest(path, rev.day))
    return loads


def pull_characterization(
    warehouse: Warehouse,
    hub: Hub,
    *,
    columns: DailyColumns | None = None,
    values: ValueKind = "daily",
    revision: str = "main",
) -> SeriesLoad:
    """Download hf-hub-characterization ``models.parquet`` and ``downloads.parquet`` and import
    the daily downloads as history (joined on the immutable hub id)."""
    cache = warehouse.work_dir("hub")
    models = download_file(hub, CHARACTERIZATION, "models.parquet", revision, cache)
    downloads = download_file(hub, CHARACTERIZATION, "downloads.parquet", revision, cache)
    return warehouse.import_series(
        downloads, layout="daily", models_path=models, columns=columns, values=values
    )
