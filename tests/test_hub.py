"""Crawls and pulls with the real huggingface_hub client against the stand-in Hub."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import API_MARCH, HUB_STATS
from fakehub import FakeHub, api_records, hubpulse_process, serve

from hubpulse.ingest.crawl import scope_for
from hubpulse.ingest.files import read_snapshot
from hubpulse.ingest.hub import CrawlEvents, Hub, HubError, Politeness
from hubpulse.ingest.series import DailyColumns
from hubpulse.ingest.sources import CHARACTERIZATION
from hubpulse.ingest.sources import HUB_STATS as HUB_STATS_REPO
from hubpulse.registry import load_registry
from hubpulse.store.pulls import crawl_hub, pull_characterization, pull_hub_stats
from hubpulse.store.queries import list_rejects
from hubpulse.store.warehouse import Warehouse, open_warehouse

FAST = Politeness(base_wait=0.01, max_wait=0.05)
SERVED = api_records(HUB_STATS)


@pytest.fixture
def fake() -> Iterator[FakeHub]:
    with serve(FakeHub(models=[dict(r) for r in SERVED])) as hub:
        yield hub


def canonical(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drop = {"snapshot_date", "load_id"}
    return sorted(
        ({k: v for k, v in r.items() if k not in drop} for r in rows), key=lambda r: r["model_id"]
    )


def expected_rows() -> list[dict[str, Any]]:
    return canonical(read_snapshot(HUB_STATS).rows.to_pylist())


def stored_rows(store: Warehouse) -> list[dict[str, Any]]:
    return canonical(store.models().to_pyarrow().to_pylist())


def crawl_all(fake: FakeHub, root: Path, **scope: Any) -> Warehouse:
    store = open_warehouse(root)
    options = {"everything": True, "page_size": 200} | scope
    crawl_hub(store, Hub(fake.url, FAST), scope_for(load_registry(), **options))
    return store


def test_crawl_equals_the_served_data_row_for_row(fake: FakeHub, tmp_path: Path) -> None:
    store = crawl_all(fake, tmp_path / "wh")
    assert stored_rows(store) == expected_rows()
    listing = [p for m, p, _ in fake.requests if p.startswith("/api/models")]
    assert len(listing) == 21  # 4,167 models / 200 per page
    assert "expand=baseModels" in listing[0] and "cursor=" in listing[1]


@pytest.mark.slow
def test_injected_429_and_5xx_still_complete_correctly(tmp_path: Path) -> None:
    hub = FakeHub(models=[dict(r) for r in SERVED], fault_rate=0.2, seed=7)
    waits: list[str] = []
    with serve(hub):
        client = Hub(hub.url, FAST)
        client.events = CrawlEvents(wait=lambda seconds, reason: waits.append(reason))
        store = open_warehouse(tmp_path / "wh")
        scope = scope_for(load_registry(), everything=True, page_size=300)
        crawl_hub(store, client, scope)
    assert stored_rows(store) == expected_rows()
    refused = len(hub.requests) - 14  # 4,167 / 300 = 14 pages answered
    assert refused >= 2 and len(waits) == refused
    assert {"rate limit", "server error"} <= set(waits)


@pytest.mark.slow
def test_malformed_page_stops_with_a_clear_error_then_resumes(
    fake: FakeHub, tmp_path: Path
) -> None:
    fake.malformed_pages = {3}
    store = open_warehouse(tmp_path / "wh")
    hub = Hub(fake.url, FAST)
    scope = scope_for(load_registry(), everything=True, page_size=400)
    with pytest.raises(HubError, match=r"page 4 is not JSON .*hubpulse crawl --resume"):
        crawl_hub(store, hub, scope)
    fake.malformed_pages = set()
    before = len(fake.requests)
    crawl_hub(store, hub, None, resume=True)
    assert stored_rows(store) == expected_rows()
    assert "cursor=" in fake.requests[before][1]  # resumed at page 4, not from the start


def test_bad_rows_are_quarantined_not_dropped(fake: FakeHub, tmp_path: Path) -> None:
    bad = next(r for r in fake.models if r["id"] == "Qwen/Qwen2.5-7B-Instruct")
    bad["downloads"] = -5
    store = crawl_all(fake, tmp_path / "wh")
    (reject,) = list_rejects(store).to_pylist()
    assert (reject["model_id"], reject["field"]) == ("Qwen/Qwen2.5-7B-Instruct", "downloads")
    assert len(stored_rows(store)) == len(SERVED) - 1


@pytest.mark.slow
def test_family_crawl_walks_derivatives_level_by_level(fake: FakeHub, tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    scope = scope_for(load_registry(), families=["DeepSeek"], derivatives=True, page_size=100)
    result, _ = crawl_hub(store, Hub(fake.url, FAST), scope)
    got = {r["model_id"] for r in store.models().to_pyarrow().to_pylist()}
    parents = {
        r["id"]: [m["id"] for m in (r.get("baseModels") or {}).get("models") or []] for r in SERVED
    }
    expected = {m for m in parents if m.split("/")[0].lower() == "deepseek-ai"}
    frontier = set(expected)
    while frontier:  # plain breadth-first walk over the served parents
        frontier = {m for m, ps in parents.items() if set(ps) & frontier} - expected
        expected |= frontier
    assert got == expected and result.listings > 1


def test_children_counts_use_bounded_per_model_requests(fake: FakeHub, tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    scope = scope_for(load_registry(), authors=["deepseek-ai"], children=True)
    result, _ = crawl_hub(store, Hub(fake.url, FAST), scope)
    infos = [p for m, p, _ in fake.requests if p.startswith("/api/models/deepseek-ai")]
    assert len(infos) == result.records == 36
    text = result.path.read_text()
    assert '"childrenModelCount": {"finetune":' in text


def test_base_models_are_fetched_per_model_if_the_list_refuses_them(
    fake: FakeHub, tmp_path: Path
) -> None:
    fake.reject_list_expand = {"baseModels"}
    store = crawl_all(fake, tmp_path / "wh", everything=False, authors=["deepseek-ai"])
    rows = {r["model_id"]: r for r in stored_rows(store)}
    expected = {r["model_id"]: r for r in expected_rows() if r["author"] == "deepseek-ai"}
    assert rows == expected
    infos = [p for _, p, _ in fake.requests if p.startswith("/api/models/deepseek-ai")]
    assert len(infos) == 36 and all("expand=baseModels" in p for p in infos)


def test_recorded_bodies_renames_and_missing_repos(fake: FakeHub) -> None:
    recorded = json.loads(API_MARCH.read_text())  # real /api/models/{id} answers (cassettes)
    fake.bodies = {body["id"]: body for body in recorded}
    # the real 307 seen in the cassettes: the old name redirects to the new one
    fake.renames = {"meta-llama/Meta-Llama-3.1-8B-Instruct": "meta-llama/Llama-3.1-8B-Instruct"}
    hub = Hub(fake.url, FAST)
    info = hub.api.model_info("meta-llama/Meta-Llama-3.1-8B-Instruct")
    assert (info.id, info.downloads, info.likes) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        5_795_728,
        3_763,
    )
    assert (
        info.card_data is not None and info.card_data.base_model == "meta-llama/Meta-Llama-3.1-8B"
    )
    with pytest.raises(
        HubError, match=r"nobody/nothing: HTTP 404 Repository not found \(RepoNotFound\)"
    ):
        hub.get(f"{fake.url}/api/models/nobody/nothing")


def _hub_stats_dataset() -> dict[str, Any]:
    content = HUB_STATS.read_bytes()
    commits = [
        ("c3" * 20, "2026-05-21T13:04:00.000Z"),
        ("c2" * 20, "2026-05-20T13:03:00.000Z"),
        ("c1" * 20, "2026-05-19T13:02:00.000Z"),
    ]
    return {
        "commits": [
            {
                "id": sha,
                "authors": [{"user": "cfahlgren1"}],
                "date": day,
                "title": "Upload models.parquet with huggingface_hub",
                "message": "",
            }
            for sha, day in commits
        ],
        "files": {(sha, "models.parquet"): content for sha, _ in commits},
    }


def test_pull_hub_stats_ingests_dated_revisions(fake: FakeHub, tmp_path: Path) -> None:
    fake.datasets[HUB_STATS_REPO] = _hub_stats_dataset()
    store = open_warehouse(tmp_path / "wh")
    hub = Hub(fake.url, FAST)
    loads = pull_hub_stats(store, hub, since=dt.date(2026, 5, 20))
    assert [(x.snapshot_date, x.rows) for x in loads] == [
        (dt.date(2026, 5, 20), 4_167),
        (dt.date(2026, 5, 21), 4_167),
    ]
    (one,) = pull_hub_stats(store, hub, date=dt.date(2026, 5, 19))
    assert one.status == "loaded" and store.snapshot_dates()[0] == dt.date(2026, 5, 19)
    (again,) = pull_hub_stats(store, hub, revision="c1c1")
    assert again.status == "unchanged"
    with pytest.raises(HubError, match=r"no models\.parquet commit on 2026-05-01"):
        pull_hub_stats(store, hub, date=dt.date(2026, 5, 1))


def test_pull_hub_stats_says_when_the_dataset_is_gone(fake: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(HubError, match=r"cfahlgren1/hub-stats is not available .*taken down"):
        pull_hub_stats(open_warehouse(tmp_path / "wh"), Hub(fake.url, FAST))


def test_pull_characterization_imports_daily_downloads(fake: FakeHub, tmp_path: Path) -> None:
    downloads, models = tmp_path / "d.parquet", tmp_path / "m.parquet"
    pq.write_table(
        pa.table(
            {
                "hub_id": ["h1", "h1", "h2"],
                "date": [dt.date(2026, 8, d) for d in (1, 2, 1)],
                "downloads": [10, 20, 5],
            }
        ),
        downloads,
    )
    pq.write_table(pa.table({"hub_id": ["h1", "h2"], "repo": ["org/a", "org/b"]}), models)
    fake.datasets[CHARACTERIZATION] = {
        "commits": [],
        "files": {
            ("main", "downloads.parquet"): downloads.read_bytes(),
            ("main", "models.parquet"): models.read_bytes(),
        },
    }
    store = open_warehouse(tmp_path / "wh")
    load = pull_characterization(
        store, Hub(fake.url, FAST), columns=DailyColumns(models_name="repo")
    )
    assert (load.rows, load.models, load.rejects) == (3, 2, 0)


def _crawl_process(
    fake: FakeHub, root: Path, *args: str, token: str | None = None
) -> subprocess.Popen[bytes]:
    return hubpulse_process(fake, root, "crawl", *args, token=token)


def _pages_done(root: Path) -> int:
    states = sorted((root / "crawls").glob("*/state.json"))
    if not states:
        return -1
    try:
        return int(json.loads(states[-1].read_text())["pages"])
    except (ValueError, KeyError):
        return -1


@pytest.mark.slow
def test_killed_crawl_resumes_to_the_identical_snapshot(tmp_path: Path) -> None:
    hub = FakeHub(models=[dict(r) for r in SERVED], delay=0.01)
    root = tmp_path / "wh"
    rng = random.Random(11)
    kills = 0
    with serve(hub):
        args = ["--all", "--page-size", "40"]
        while kills < 10:
            process = _crawl_process(hub, root, *args)
            target = _pages_done(root) + rng.randint(1, 6)
            deadline = time.monotonic() + 60
            while _pages_done(root) < target and process.poll() is None:
                assert time.monotonic() < deadline, "crawl made no progress"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))  # land anywhere inside the next page
            if process.poll() is not None:
                process.communicate()
                break
            process.send_signal(signal.SIGKILL)
            process.communicate()  # reap it and close its pipes
            kills += 1
            args = ["--resume"]
        final = _crawl_process(hub, root, *args)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
    assert kills >= 10
    assert stored_rows(open_warehouse(root)) == expected_rows()


def test_the_token_is_sent_but_never_shown_or_stored(fake: FakeHub, tmp_path: Path) -> None:
    token = "hf_SECRETtokenVALUE0123456789"
    root = tmp_path / "wh"
    process = _crawl_process(fake, root, "--author", "deepseek-ai", "--children", token=token)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    sent = [h.get("Authorization") or h.get("authorization") for _, _, h in fake.requests]
    assert f"Bearer {token}" in sent
    assert token.encode() not in out + err
    for path in root.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    "commits",
    [
        [{"foo": 1}],
        {"not": "a list"},
        [{"id": "c" * 40, "title": None, "date": "2026-05-20T00:00:00Z", "authors": []}],
        [{"id": "c" * 40, "title": "models", "date": "yesterday", "authors": []}],
        ["just a string"],
    ],
    ids=["no keys", "an object", "no title", "no date", "strings"],
)
def test_pull_hub_stats_against_an_unexpected_commit_list_is_one_error(
    commits: Any, fake: FakeHub, tmp_path: Path
) -> None:
    fake.datasets[HUB_STATS_REPO] = {"commits": commits, "files": {}}
    with pytest.raises(HubError, match="the commit list of cfahlgren1/hub-stats is not what"):
        pull_hub_stats(open_warehouse(tmp_path / "wh"), Hub(fake.url, FAST))
