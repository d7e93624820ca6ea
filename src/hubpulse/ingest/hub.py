"""The Hub client: every call to the Hugging Face Hub goes through ``huggingface_hub`` here —
the paginated GETs of a crawl (``hubpulse.ingest.crawl``) and the dataset pulls (hub-stats
snapshots, hf-hub-characterization).

**Politeness.** Rate limits (HTTP 429 with ``RateLimit: "api";r=0;t=N``) are retried by
``http_backoff``; when it gives up, the client waits the window out and tries again. Server errors
are retried with exponential backoff. Per-model calls (``--children``) run on a bounded pool.

**Token.** From ``HF_TOKEN`` or the huggingface_hub login; it goes into request headers only — it
is never printed, logged, or written into crawl state, pages, the warehouse or reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers, get_token, hf_raise_for_status, http_backoff

from hubpulse.errors import HubpulseError, first_line, one_line
from hubpulse.ingest.sources import HUB_STATS


class HubError(HubpulseError):
    """The Hub (or a dataset on it) could not be read as needed."""


@dataclass
class Politeness:
    """Retry and wait policy (seconds)."""

    base_wait: float = 1.0
    max_wait: float = 8.0
    retries: int = 5
    max_rate_wait: float = 3600.0
    concurrency: int = 4
    timeout: float = 60.0  # per request: connect, and each read of the answer


@dataclass
class CrawlEvents:
    """Callbacks for progress reporting: a page stored (pages so far, its models, models left
    in the current listing where the Hub says ``X-Total-Count``), a wait before a retry."""

    page: Callable[[int, int, int | None], None] = lambda pages, items, remaining: None
    wait: Callable[[float, str], None] = lambda seconds, reason: None


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
        if urlsplit(url)[:2] != urlsplit(self.endpoint)[:2]:
            raise HubError(
                f"{safe_url(url)} is not on {self.endpoint}: not requested, so the token is "
                "never sent elsewhere"
            )
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
                    retry_on_status_codes=(408, 500, 502, 503, 504),  # 429: waited out below,
                    timeout=policy.timeout,  # within max_rate_wait
                )
                hf_raise_for_status(response)
                return response
            except HfHubHTTPError as exc:
                attempt += 1
                wait = self._wait_for(exc, attempt, waited)
                if wait is None:
                    raise HubError(f"{safe_url(url)}: {_describe(exc)}") from None
                self.events.wait(wait, "rate limit" if _status(exc) == 429 else "server error")
                time.sleep(wait)
                waited += wait
            except httpx2.HTTPError as exc:
                attempt += 1
                if attempt > policy.retries:
                    raise HubError(f"{safe_url(url)}: {exc.__class__.__name__}: {exc}") from None
                time.sleep(min(policy.max_wait, policy.base_wait * 2**attempt))

    def _wait_for(self, exc: HfHubHTTPError, attempt: int, waited: float) -> float | None:
        """Seconds to wait before trying again, or None to give up: a rate limit is waited out
        (its reset time + 1 s) until ``max_rate_wait`` seconds in all, past which a ``HubError``
        says so; 5xx backs off."""
        status, policy = _status(exc), self.politeness
        if status == 429:
            reset = _rate_limit_reset(exc.response.headers if exc.response is not None else {})
            wait = (reset if reset is not None else policy.max_wait) + 1
            if waited + wait > policy.max_rate_wait:
                raise HubError(
                    f"rate limited for {wait:.0f} s more, past the {policy.max_rate_wait:.0f} s "
                    "the crawl may wait (HUBPULSE_HUB_MAX_RATE_WAIT); it is checkpointed: run "
                    "`hubpulse crawl --resume` later"
                )
            return wait
        if status is not None and status >= 500 and attempt <= policy.retries:
            return min(policy.max_wait, policy.base_wait * 2**attempt)
        return None


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
def retry_events(events: CrawlEvents) -> Iterator[None]:
    logger = logging.getLogger("huggingface_hub.utils._http")
    retry_filter = _RetryFilter(events)
    logger.addFilter(retry_filter)
    try:
        yield
    finally:
        logger.removeFilter(retry_filter)


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
        daily: dict[dt.date, Revision] = {}
        for commit in commits:  # newest first
            if "models" not in commit.title:  # e.g. "Upload models.parquet with huggingface_hub"
                continue
            day = commit.created_at.astimezone(dt.UTC).date()
            daily.setdefault(day, Revision(str(commit.commit_id), day))
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise dataset_gone(hub, HUB_STATS, exc) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a body of another shape
        raise HubError(
            f"{hub.endpoint}: the commit list of {HUB_STATS} is not what the Hub sends "
            f"({type(exc).__name__}: {one_line(str(exc), 120)})"
        ) from None
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


def dataset_commit(hub: Hub, repo_id: str, revision: str | None) -> str:
    """The commit a branch or tag of dataset ``repo_id`` points to, so that every file of one
    pull comes from one revision (and the loads record which)."""
    try:
        info = hub.api.dataset_info(repo_id, revision=revision or "main")
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise dataset_gone(hub, repo_id, exc) from None
    if not info.sha:
        raise HubError(f"{hub.endpoint}: {repo_id} at {revision or 'main'} names no commit")
    return str(info.sha)


def download_file(
    hub: Hub, repo_id: str, filename: str, revision: str, cache: Path, bar: Any = None
) -> Path:
    """``hf_hub_download`` of one dataset file into ``cache`` (resumed where a killed download
    stopped; its bytes reported to the tqdm class ``bar``); a clear error if it is gone."""
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
                tqdm_class=bar,
            )
        )
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise dataset_gone(hub, repo_id, exc) from None


def dataset_gone(hub: Hub, repo_id: str, exc: Exception) -> HubError:
    note = " (hub-stats was reported taken down in August 2026)" if repo_id == HUB_STATS else ""
    detail = _describe(exc) if isinstance(exc, HfHubHTTPError) else first_line(exc)
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
    message = one_line(getattr(exc, "server_message", None) or first_line(exc), 300)
    return f"HTTP {status} {message}" + (f" ({one_line(code, 80)})" if code else "")


def safe_url(url: str) -> str:
    """A URL without its query string's cursor noise, for messages."""
    return url.split("?", 1)[0]
