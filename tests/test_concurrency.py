"""`hubpulse serve` under concurrent clients: a real server process on 127.0.0.1, every route
mixed, 8 clients, a bounded number of requests; any 5xx or timeout fails."""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import serve

CLIENTS = 8
ROUNDS = 12
TIMEOUT = 60  # seconds for one request: far above a healthy answer, far below "hangs for good"
ROUTES = [
    "/api/snapshots",
    "/api/top?by=author&limit=5",
    "/api/top?by=model&limit=5&mode=publisher",
    "/api/top?by=family",
    "/api/families/Qwen",
    "/api/compare?family=Qwen&next=8&month=2024-12",
    "/api/monthly?mode=publisher",
    "/api/concentration",
    "/api/models/deepcogito/cogito-v1-preview-qwen-32B",
    "/api/search?q=qwen",
    "/",
    "/family/Llama?mode=publisher",
    "/model/Qwen/Qwen2.5-7B-Instruct",
    "/compare?family=Qwen&next=3",
    "/search?q=llama",
    "/api/families/Nope",  # 404s must stay 404s under load
]


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.slow
def test_every_route_under_eight_concurrent_clients(demo_store: Path) -> None:
    rng = random.Random(13)
    with serve(demo_store) as url:
        # the two calls that deadlocked the server, first, side by side, several rounds
        first = [f"{url}/api/snapshots", f"{url}/api/top?by=author&limit=5"] * (CLIENTS // 2)
        mixed = [f"{url}{rng.choice(ROUTES)}" for _ in range(CLIENTS * ROUNDS)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(fetch, first * 4 + mixed))  # a timeout raises here
    counts = Counter(statuses)
    assert not [s for s in counts if s >= 500], counts
    assert set(counts) <= {200, 404}, counts
    assert counts[200] >= len(statuses) - ROUNDS * CLIENTS // 4, counts
