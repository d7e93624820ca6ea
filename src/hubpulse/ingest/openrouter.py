"""The OpenRouter data API client: rankings-daily, a window of at most 30 days per request, within
its rate limits (30 requests a minute per key, 500 a day per account).

The key comes from ``OPENROUTER_API_KEY`` and goes in the ``Authorization`` header to the
configured endpoint only; it is never printed, logged or written (errors are redacted). A 429
is waited out (``Retry-After``, else a minute) up to ``max_rate_wait`` seconds in all; 5xx and
network errors are retried with backoff; a refused key or request is a one-line error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2

from hubpulse.errors import HubpulseError, redact

ENDPOINT = "https://openrouter.ai"
PATH = "/api/v1/datasets/rankings-daily"
FIRST_DAY = dt.date(2025, 1, 1)  # the dataset begins here; earlier end dates are refused
WINDOW_DAYS = 30
KEY_VARIABLE = "OPENROUTER_API_KEY"


class RouterError(HubpulseError):
    """OpenRouter refused, failed or could not be reached."""


@dataclass(frozen=True)
class RouterPoliteness:
    interval: float = 2.0  # seconds between requests: 30 a minute
    retries: int = 4
    base_wait: float = 1.0
    max_rate_wait: float = 900.0
    timeout: float = 60.0


def router_key() -> str:
    """The OpenRouter API key from the environment; a clear error when it is not set."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise RouterError(
            f"set {KEY_VARIABLE} to an OpenRouter API key: the rankings data API needs one "
            "(any key works; https://openrouter.ai/settings/keys)"
        )
    return key


def windows(first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """``first`` … ``last`` cut into windows of at most ``WINDOW_DAYS`` days, oldest first."""
    start = max(first, FIRST_DAY)
    while start <= last:
        end = min(last, start + dt.timedelta(days=WINDOW_DAYS - 1))
        yield start, end
        start = end + dt.timedelta(days=1)


def fetch_rankings(
    first: dt.date,
    last: dt.date,
    out: Path,
    *,
    endpoint: str = ENDPOINT,
    politeness: RouterPoliteness | None = None,
    progress: Callable[[dt.date, dt.date], None] | None = None,
) -> list[Path]:
    """Each window's response saved as ``out/rankings_<start>_<end>.json`` (temp file +
    rename), the paths in order."""
    key, policy = router_key(), politeness or RouterPoliteness()
    out.mkdir(parents=True, exist_ok=True)
    saved, last_request = [], 0.0
    with httpx2.Client(timeout=policy.timeout, follow_redirects=False) as client:
        for start, end in windows(first, last):
            time.sleep(max(0.0, last_request + policy.interval - time.monotonic()))
            params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
            body = _get(client, endpoint.rstrip("/") + PATH, params, key, policy)
            last_request = time.monotonic()
            path = out / f"rankings_{start}_{end}.json"
            temp = path.with_name(f".{path.name}.tmp")
            temp.write_text(json.dumps(body), encoding="utf-8")
            os.replace(temp, path)
            saved.append(path)
            if progress is not None:
                progress(start, end)
    return saved


def _get(
    client: httpx2.Client, url: str, params: dict[str, str], key: str, policy: RouterPoliteness
) -> object:
    waited, attempt = 0.0, 0
    while True:
        try:
            response = client.get(url, params=params, headers={"Authorization": f"Bearer {key}"})
        except httpx2.HTTPError as exc:
            attempt += 1
            if attempt > policy.retries:
                raise RouterError(redact(f"{url}: {type(exc).__name__}: {exc}")) from None
            time.sleep(policy.base_wait * 2**attempt)
            continue
        if response.status_code == 429:
            wait = _retry_after(response)
            if waited + wait > policy.max_rate_wait:
                raise RouterError(
                    f"{url}: OpenRouter's rate limit (30 requests a minute, 500 a day) is "
                    f"still reached after waiting {waited:.0f} s; try again later"
                )
            time.sleep(wait)
            waited += wait
            continue
        if response.status_code >= 500 and attempt < policy.retries:
            attempt += 1
            time.sleep(policy.base_wait * 2**attempt)
            continue
        if response.status_code in (401, 403):
            raise RouterError(
                f"OpenRouter refused the key (HTTP {response.status_code}): check {KEY_VARIABLE}"
            )
        if response.status_code != 200:
            raise RouterError(redact(f"{url}: HTTP {response.status_code}: {_message(response)}"))
        try:
            return response.json()
        except ValueError:
            raise RouterError(f"{url}: the answer is not JSON") from None


def _retry_after(response: httpx2.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) + 1.0 if value.strip().isdigit() else 60.0


def _message(response: httpx2.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(error, dict):
        return str(error.get("message", error))[:200]
    return str(error)[:200]
