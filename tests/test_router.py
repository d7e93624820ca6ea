"""Router tokens: OpenRouter's rankings pulled from a stand-in of its data API (its documented
wire format), mapped to families and compared with an independent computation over the truth
(plain Python: the top 50 of each day by sorting, routes by fnmatch over the TOML)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import random
import tomllib
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from conftest import cli
from fakerouter import KEY, FakeRouter, serve_router
from test_spaces import strict_json

from hubpulse.errors import SnapshotConflictError
from hubpulse.ingest.openrouter import RouterError, RouterPoliteness
from hubpulse.store.router import current_tokens, import_rankings, pull_rankings
from hubpulse.store.warehouse import open_warehouse

FAST = RouterPoliteness(interval=0.0, base_wait=0.01)
OPEN = [
    "qwen/qwen3-235b-a22b-2507",
    "qwen/qwen3-coder",
    "qwen/qwen3-coder:free",
    "meta-llama/llama-3.3-70b-instruct",
    "deepseek/deepseek-chat-v3.1",
    "google/gemma-3-27b-it",
    "mistralai/mistral-small-3.2-24b-instruct",
    "openai/gpt-oss-120b",
    "z-ai/glm-4.6",
    "moonshotai/kimi-k2",
]
CLOSED = ["qwen/qwen-max", "google/gemini-2.5-flash", "mistralai/mistral-medium-3.1"]
UNMAPPED = ["anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini", "x-ai/grok-4-fast"]


def make_truth(seed: int = 5) -> dict[dt.date, dict[str, int]]:
    """Daily tokens from 2025-11-20 to 2026-01-10: the named models plus a long tail of 60,
    so that each day has more than 50 models and an `other` row."""
    pick = random.Random(seed)
    names = OPEN + CLOSED + UNMAPPED + [f"tail-lab/model-{n}" for n in range(60)]
    truth = {}
    day = dt.date(2025, 11, 20)
    while day <= dt.date(2026, 1, 10):
        truth[day] = {
            name: pick.randint(1, 10**9) * (50 if "tail" not in name else 1)
            for name in names
            if pick.random() < 0.95
        }
        day += dt.timedelta(days=1)
    return truth


def routes() -> list[tuple[str, str]]:
    text = resources.files("hubpulse").joinpath("data", "routes.toml").read_text()
    return [(r["pattern"], r["family"]) for r in tomllib.loads(text)["route"]]


def family_of(slug: str) -> str:
    if slug == "other":
        return "(outside the top 50)"
    bare = slug.split(":")[0].lower()
    for pattern, family in routes():
        if fnmatch.fnmatchcase(bare, pattern.lower()):
            return family
    return "(unmapped)"


def model_of(slug: str) -> str:
    """The Hub model a [[model]] link names, else the family's "no Hub model" group."""
    text = resources.files("hubpulse").joinpath("data", "routes.toml").read_text()
    links = {m["name"].lower(): m["model"] for m in tomllib.loads(text)["model"]}
    family = family_of(slug)
    if family in ("(outside the top 50)", "(unmapped)", "(closed weights)"):
        return family
    return links.get(slug.split(":")[0].lower(), f"{family}: no Hub model named")


def expected_month(
    truth: dict[dt.date, dict[str, int]], month: str, key: Any = None
) -> dict[str, dict[str, Any]]:
    """Tokens and share per family (or ``key`` of a name) for the month, from the truth."""
    key = key or family_of
    tokens: dict[str, int] = defaultdict(int)
    total = 0
    for day, counts in truth.items():
        if str(day)[:7] != month:
            continue
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        for slug, count in ranked[:50]:
            tokens[key(slug)] += count
        tokens["(outside the top 50)"] += sum(c for _, c in ranked[50:])
        total += sum(counts.values())
    return {f: {"tokens": t, "share": t / total} for f, t in tokens.items()}


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)


def test_pulled_tokens_per_family_equal_the_truth(tmp_path: Path, keyed: None) -> None:
    from hubpulse.analysis.history.tokens import load_routes, token_shares
    from hubpulse.registry import load_registry

    truth = make_truth()
    store = open_warehouse(tmp_path / "wh")
    with serve_router(FakeRouter(truth, limited={2})) as fake:
        loads = pull_rankings(
            store, dt.date(2025, 11, 20), dt.date(2026, 1, 10), endpoint=fake.url, politeness=FAST
        )
        asked = [p for p, _ in fake.requests]
    assert len(loads) == 2 and len(asked) == 3  # two 30-day windows, one 429 waited out
    assert all("start_date=" in p and "end_date=" in p for p in asked)
    registry = load_registry()
    table = token_shares(store, registry, load_routes(None, registry))
    rows = store.execute(table).to_pylist()
    december = {r["family"]: r for r in rows if r["month"] == "2025-12"}
    expected = expected_month(truth, "2025-12")
    assert {f: r["tokens"] for f, r in december.items()} == {
        f: e["tokens"] for f, e in expected.items()
    }
    for family, row in december.items():
        assert row["share"] == pytest.approx(expected[family]["share"], rel=1e-12)
        assert row["days"] == 31
    assert "Qwen" in december and "(closed weights)" in december and "(unmapped)" in december


def test_the_key_is_required_checked_and_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_warehouse(tmp_path / "wh")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    first, last = dt.date(2025, 12, 1), dt.date(2025, 12, 31)
    with serve_router(FakeRouter(make_truth())) as fake:
        with pytest.raises(RouterError, match="set OPENROUTER_API_KEY"):
            pull_rankings(store, first, last, endpoint=fake.url, politeness=FAST)
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-wrongwrongwrong")
        with pytest.raises(RouterError, match="refused the key"):
            pull_rankings(store, first, last, endpoint=fake.url, politeness=FAST)
        monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
        env = {"OPENROUTER_API_KEY": KEY, "HUBPULSE_ROUTER_ENDPOINT": fake.url}
        result = cli(
            "router", "pull", "--from", "2025-12-01", "--to", "2025-12-31",
            "-w", str(tmp_path / "wh"), env=env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    for path in (tmp_path / "wh").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_a_restated_window_replaces_the_days_it_covers(tmp_path: Path, keyed: None) -> None:
    truth = make_truth()
    store = open_warehouse(tmp_path / "wh")
    first, last = dt.date(2025, 12, 1), dt.date(2025, 12, 30)
    with serve_router(FakeRouter(truth)) as fake:
        pull_rankings(store, first, last, endpoint=fake.url, politeness=FAST)
        again = pull_rankings(store, first, last, endpoint=fake.url, politeness=FAST)
        assert [load.status for load in again] == ["unchanged"]
        fake.as_of = "2026-01-03T02:00:00Z"
        for counts in fake.truth.values():
            for slug in counts:
                counts[slug] += 1
        restated = pull_rankings(store, first, last, endpoint=fake.url, politeness=FAST)
    assert [load.status for load in restated] == ["replaced"]
    rows = store.execute(current_tokens(store)).to_pylist()
    assert len(rows) == len({(r["day"], r["permaslug"]) for r in rows})  # never twice
    assert sum(r["tokens"] for r in rows) == sum(
        sum(counts.values()) for day, counts in truth.items() if first <= day <= last
    )


def test_malformed_rows_are_kept_aside(tmp_path: Path) -> None:
    body = {
        "data": [
            {"date": "2025-12-01", "model_permaslug": "qwen/qwen3-coder", "total_tokens": "100"},
            {"date": "2025-12-01", "model_permaslug": "meta-llama/x", "total_tokens": "-5"},
            {"date": "2025-13-01", "model_permaslug": "qwen/qwen3-coder", "total_tokens": "7"},
            {"date": "2025-12-02", "total_tokens": "7"},
            {"date": "2025-12-02", "model_permaslug": "other", "total_tokens": "900"},
        ],
        "meta": {
            "as_of": "2025-12-03T02:00:00Z",
            "start_date": "2025-12-01",
            "end_date": "2025-12-02",
            "version": "v1",
        },
    }
    path = tmp_path / "rankings.json"
    path.write_text(json.dumps(body))
    store = open_warehouse(tmp_path / "wh")
    load = import_rankings(store, path)
    assert (load.row["rows"], load.row["rejects"]) == (2, 3)
    rejects = store.execute(store.series_table("router_rejects")).to_pylist()
    assert sorted(r["field"] for r in rejects) == ["date", "model_permaslug", "total_tokens"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**body, "data": body["data"][:1]}))
    with pytest.raises(SnapshotConflictError, match="already stored"):
        import_rankings(store, other)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = cli("router", "import", str(bad), "-w", str(tmp_path / "wh"))
    assert result.returncode == 1 and result.stderr.startswith("error:")
    assert "bad.json" in result.stderr and "Traceback" not in result.stderr


def test_tokens_on_the_command_line_say_what_they_are(tmp_path: Path, keyed: None) -> None:
    truth = make_truth()
    root = tmp_path / "wh"
    with serve_router(FakeRouter(truth)) as fake:
        env = {"HUBPULSE_ROUTER_ENDPOINT": fake.url}
        pulled = cli(
            "router", "pull", "--month", "2025-12", "-w", str(root), env=env
        )  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    shown = cli("tokens", "--month", "2025-12", "-w", str(root))
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "not comparable across tokenizers" in text
    assert "lower bounds" in text and "Source: OpenRouter (openrouter.ai/rankings)" in text
    answer = strict_json(cli("tokens", "--month", "2025-12", "-f", "json", "-w", str(root)).stdout)
    expected = expected_month(truth, "2025-12")
    assert {r["family"]: r["tokens"] for r in answer["rows"]} == {
        f: e["tokens"] for f, e in expected.items()
    }
    unmapped = {u["permaslug"] for u in answer["unmapped"]}
    assert unmapped == set(UNMAPPED) | {f"tail-lab/model-{n}" for n in range(60)} & unmapped
    assert set(UNMAPPED) <= unmapped


def test_the_dashboard_and_the_report_show_the_cli_s_tokens(tmp_path: Path, keyed: None) -> None:
    from conftest import HUB_STATS
    from fastapi.testclient import TestClient

    from hubpulse.settings import load_settings
    from hubpulse.web.app import create_app
    from hubpulse.web.views import Dashboard

    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    with serve_router(FakeRouter(make_truth())) as fake:
        pull_rankings(
            store, dt.date(2025, 12, 1), dt.date(2025, 12, 31), endpoint=fake.url, politeness=FAST
        )
    settings = load_settings(warehouse=root, mode="lineage")
    client = TestClient(create_app(settings, dashboard=Dashboard(settings, warm=False)))
    api = client.get("/api/tokens").json()
    shown = strict_json(cli("tokens", "-f", "json", "-w", str(root)).stdout)
    assert api["rows"] == shown["rows"] and api["rows"]
    assert any("not comparable across tokenizers" in n for n in api["notes"])
    page = client.get("/").text
    assert 'id="tokens"' in page and "Source: OpenRouter (openrouter.ai/rankings)" in page
    report = cli("report", "-o", str(tmp_path / "r.html"), "-w", str(root))
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    assert 'id="section-tokens"' in html
    assert html.count("Source: OpenRouter (openrouter.ai/rankings), as of 2026-01-02") >= 2


def test_tokens_per_hub_model_beside_its_downloads(tmp_path: Path, keyed: None) -> None:
    import pyarrow.parquet as pq
    from conftest import HUB_STATS

    truth = make_truth()
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    with serve_router(FakeRouter(truth)) as fake:
        pull_rankings(
            store, dt.date(2025, 12, 1), dt.date(2025, 12, 31), endpoint=fake.url, politeness=FAST
        )
    answer = strict_json(
        cli("tokens", "--by", "model", "--month", "2025-12", "-f", "json", "-w", str(root)).stdout
    )
    expected = expected_month(truth, "2025-12", model_of)
    assert {r["model"]: r["tokens"] for r in answer["rows"]} == {
        m: e["tokens"] for m, e in expected.items()
    }
    # the :free variant counts for the same Hub model as the plain name
    assert "Qwen/Qwen3-Coder-480B-A35B-Instruct" in expected
    hub = pq.read_table(HUB_STATS, columns=["id", "downloads"]).to_pylist()
    downloads = {r["id"]: r["downloads"] for r in hub}
    total = sum(d for d in downloads.values() if d is not None)
    for row in answer["rows"]:
        assert row["downloads_30d"] == downloads.get(row["model"])
        if row["downloads_30d"] is not None:
            assert row["downloads_share"] == pytest.approx(row["downloads_30d"] / total)
    assert any(r["downloads_30d"] for r in answer["rows"])
    assert "Mistral: no Hub model named" in expected  # a name no [[model]] links
    assert "(closed weights)" in expected
