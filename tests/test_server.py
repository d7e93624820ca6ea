"""`hubpulse serve`: the JSON API answers what the CLI answers, validates every parameter,
is read-only, and survives schema-driven fuzzing without a server error."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import API_MARCH, HUB_STATS, HUB_STATS_DATE
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from test_report import cli_json, same

from hubpulse.analysis.snapshot.lineage_report import describe_lineage
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.analysis.snapshot.stored import analyse
from hubpulse.settings import load_settings
from hubpulse.store.warehouse import open_warehouse
from hubpulse.web.app import create_app

MODEL = "deepcogito/cogito-v1-preview-qwen-32B"


@pytest.fixture(scope="module")
def app(demo_store: Path) -> FastAPI:
    return create_app(load_settings(warehouse=demo_store, mode="lineage"))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def get(client: TestClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:300])
    return response.json() if url.startswith("/api") else response.text


def test_api_rankings_equal_the_cli(client: TestClient, demo_store: Path) -> None:
    for by in ("family", "author", "size"):
        for mode in ("lineage", "publisher"):
            api = get(client, f"/api/top?by={by}&limit=30&mode={mode}")
            cli = cli_json(demo_store, "top", "--by", by, "--limit", "30", "--mode", mode)
            assert api["snapshot_date"] == cli["snapshot_date"] and api["mode"] == mode
            assert same(api["rows"], cli["rows"]), (by, mode)


@pytest.mark.slow
def test_api_compare_equals_the_cli(client: TestClient, demo_store: Path) -> None:
    for next_n in (1, 8):
        api = get(client, f"/api/compare?family=qwen&next={next_n}&month=2024-12")
        snapshot = cli_json(
            demo_store, "compare", "Qwen", "--next", str(next_n), "--mode", "lineage"
        )
        month = cli_json(
            demo_store,
            "compare",
            "Qwen",
            "--next",
            str(next_n),
            "--month",
            "2024-12",
            "--mode",
            "lineage",
        )
        assert same(api["snapshot"], snapshot["comparisons"][0])
        assert same(api["month"], month["comparisons"][0])
    verdicts = {n: get(client, f"/api/compare?next={n}")["snapshot"]["verdict"] for n in (1, 8)}
    assert verdicts == {1: "exceeds", 8: "does not exceed"}


@pytest.mark.slow
def test_api_selection_equals_the_cli(client: TestClient, demo_store: Path) -> None:
    api = get(client, "/api/top?by=family&limit=30&llm=true&count=robust&exclude=CLIP")
    cli = cli_json(
        demo_store, "top", "--limit", "30", "--llm", "--count", "robust", "--exclude", "CLIP",
        "--mode", "lineage",
    )  # fmt: skip
    assert same(api["rows"], cli["rows"]) and same(api["removed"], cli["removed"])
    assert api["selection"]["count"] == "robust" and "CLIP" not in str(api["rows"])
    query = "family=Alibaba&by=vendor&against=qwen-team&llm=true&month=2024-12"
    api = get(client, f"/api/compare?{query}")
    snapshot = cli_json(
        demo_store, "compare", "Alibaba", "--by", "vendor", "--against", "qwen-team", "--llm",
        "--mode", "lineage",
    )  # fmt: skip
    month = cli_json(
        demo_store, "compare", "Alibaba", "--by", "vendor", "--against", "qwen-team", "--llm",
        "--mode", "lineage", "--month", "2024-12",
    )  # fmt: skip
    assert same(api["snapshot"], snapshot["comparisons"][0])
    assert same(api["month"], month["comparisons"][0])


@pytest.mark.slow
def test_api_audit_equals_the_cli(client: TestClient, demo_store: Path) -> None:
    for query, args in (
        ("subject=qwen&next=8", ["Qwen", "--next", "8"]),
        (
            "subject=Alibaba&against=qwen-team&month=2024-12",
            ["Alibaba", "--against", "qwen-team", "--month", "2024-12"],
        ),
    ):
        api = get(client, f"/api/audit?{query}")
        cli = cli_json(demo_store, "audit", *args)
        for key in ("claim", "window", "summary", "tally"):
            assert api[key] == cli[key], key
        assert same(api["definitions"], cli["definitions"])
    page = get(client, "/audit?subject=Alibaba&against=qwen-team")
    assert page.count("vendor/lineage/llm/robust") == 1 and "Qwen team" in page


def test_api_model_lineage_equals_the_cli(client: TestClient, demo_store: Path) -> None:
    api = get(client, f"/api/models/{MODEL}")
    cli = cli_json(demo_store, "lineage", MODEL, "--mode", "lineage")
    for key in ("ancestry", "roots", "depth", "descendants_by_relation", "descendants_by_depth"):
        assert same(api[key], cli[key]), key
    assert api["model"]["model_id"] == MODEL and api["model"]["family"] == "Qwen"


@pytest.mark.slow
def test_model_pages_read_the_stored_graph_and_equal_a_fresh_computation(
    app: FastAPI, client: TestClient, demo_analysis: Analysis
) -> None:
    """A model page looks its rows up in the stored tables with statements prepared once (the
    view's facts in memory, as a warm dashboard holds them); it answers exactly what
    `describe_lineage` answers on a from-scratch analysis, for busy parents, external parents,
    merges, repaired edges and a random sample."""
    view = app.state.board.view()
    assert len(view.models) and view.statements is not None  # the prepared lookups are used
    edges = demo_analysis.lineage.edges.to_pyarrow().to_pylist()
    busiest = Counter(e["parent"] for e in edges).most_common(15)
    external = [e["parent"] for e in edges if not e["parent_known"]][:10]
    merged = [c for c, n in Counter(e["child"] for e in edges).most_common(10)]
    issues = demo_analysis.lineage.issues.to_pyarrow().to_pylist()[:10]
    sample = {p for p, _ in busiest} | set(external) | set(merged) | {MODEL}
    sample |= {i["model_id"] for i in issues} | {i["parent_id"] for i in issues}
    sample |= set(random.Random(3).sample(sorted(e["child"] for e in edges), 20))
    for model in sorted(sample):
        expected = describe_lineage(demo_analysis.lineage, demo_analysis.models, model).to_dict()
        page = get(client, f"/api/models/{model}")
        got = {k: page[k] for k in expected}
        key = lambda r: sorted(r.items())  # noqa: E731  (issues come unordered from the engine)
        assert sorted(got.pop("issues"), key=key) == sorted(expected.pop("issues"), key=key)
        assert same(got, expected), model
        children = [e for e in edges if e["parent"] == model]
        assert page["children_total"] == len(children)
    assert client.get("/api/models/nobody/nothing").status_code == 404


def test_api_family_detail(client: TestClient, demo_store: Path) -> None:
    detail = get(client, "/api/families/QWEN")
    assert detail["family"] == "Qwen" and detail["vendor"] == "Alibaba"
    derivatives = cli_json(demo_store, "derivatives", "Qwen", "--mode", "lineage")["rows"]
    assert same(
        [{k: v for k, v in r.items() if k != "family"} for r in detail["derivatives"]], derivatives
    )
    official = detail["official_models"]
    assert official and all(m["model_id"].split("/")[0] == "Qwen" for m in official)
    assert [m["downloads_30d"] for m in official] == sorted(
        (m["downloads_30d"] for m in official), reverse=True
    )
    tops = {m["model_id"] for m in detail["tree"]}
    assert tops <= {m["model_id"] for m in official}
    assert detail["monthly"] and {r["month"] for r in detail["monthly"]} >= {"2024-11", "2024-12"}


def test_api_search_finds_models_by_part_of_their_id(client: TestClient) -> None:
    rows = get(client, "/api/search?q=QWEN2.5-7b&limit=500")["rows"]
    assert rows and all("qwen2.5-7b" in r["model_id"].lower() for r in rows)
    assert "Qwen/Qwen2.5-7B-Instruct" in {r["model_id"] for r in rows}
    downloads = [r["downloads_30d"] for r in rows]
    assert downloads == sorted(downloads, reverse=True)


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/families/Nope", 404, "unknown family 'Nope'"),
        ("/family/Nope", 404, "unknown family &#39;Nope&#39;"),
        (
            "/api/models/nobody/nothing",
            404,
            "'nobody/nothing' is neither in the 2026-05-20 snapshot",
        ),
        ("/model/nobody/nothing", 404, "is neither in the 2026-05-20 snapshot"),
        ("/api/compare?family=Nope", 404, "unknown family 'Nope'"),
        ("/api/compare?month=2024-13", 422, "month"),
        ("/compare?month=December", 422, "month"),
        (
            "/api/compare?month=2019-01",
            404,
            "no estimate for 2019-01 (no data, not zero): months with estimates: 2024-",
        ),
        ("/api/compare?next=0", 422, "next"),
        ("/api/top?mode=popular", 422, "mode"),
        ("/api/top?by=sql", 422, "by"),
        ("/api/top?date=2026-02-30", 422, "date"),
        ("/api/top?date=2020-01-01", 404, "no snapshot dated 2020-01-01"),
        ("/api/search?q=x", 422, "q"),
        ("/api/audit?subject=Nobody", 404, "'Nobody' is neither a family nor a vendor"),
        ("/api/audit?against=Llama,Nobody", 404, "'Nobody' is neither a family nor a vendor"),
        ("/api/audit?month=2019-01", 404, "no estimate for 2019-01 (no data, not zero)"),
        ("/audit?month=2019-01", 404, "no estimate for 2019-01 (no data, not zero)"),
    ],
)
def test_bad_parameters_get_clear_errors(
    client: TestClient, url: str, status: int, message: str
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text[:300]
    body = response.json()["detail"] if url.startswith("/api") else response.text
    assert message in body


def test_the_app_is_read_only(client: TestClient, app: FastAPI) -> None:
    methods = {m for route in app.routes for m in getattr(route, "methods", set())}
    assert methods <= {"GET", "HEAD"}
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/top").status_code == 405
    spec = client.get("/openapi.json").json()
    parameters = {
        p["name"]
        for op in spec["paths"].values()
        for m in op.values()
        for p in m.get("parameters", [])
    }
    assert not parameters & {"sql", "query", "where", "expr"}


def test_pages_render(client: TestClient) -> None:
    overview = get(client, "/")
    assert 'href="/family/Qwen"' in overview and overview.count('class="plotly-graph-div"') >= 6
    assert "does not exceed" in overview
    assert 'href="/model/Qwen/' in get(client, "/family/Qwen")
    page = get(client, f"/model/{MODEL}")
    assert 'id="ancestry"' in page and "Qwen/Qwen2.5-32B" in page
    assert "exceeds" in get(client, "/compare?family=Qwen&next=1")
    assert 'href="/model/Qwen/Qwen2.5-7B-Instruct"' in get(client, "/search?q=qwen2.5-7b")
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000
    assert json.loads(client.get("/openapi.json").text)["info"]["title"] == "hubpulse"


@pytest.mark.slow
def test_api_fuzzed_from_its_schema_never_fails_on_the_server(app: FastAPI) -> None:
    """Every operation of the OpenAPI schema, with generated (valid and invalid) parameters:
    4xx is fine, a 5xx or a response that breaks the schema is not."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 13
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            # about 5xx, not speed: a cold page built on a loaded machine may take past the
            # client's default 10 s, so the timeout is far above any healthy answer
            response = case.call(timeout=600)
            case.validate_response(response, checks=[not_a_server_error])

        fuzz()


@pytest.mark.slow
def test_the_dashboard_follows_the_warehouse(tmp_path: Path) -> None:
    """After an ingest --replace or a new snapshot, the next request serves the new figures."""
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    client = TestClient(create_app(load_settings(warehouse=root, mode="publisher")))
    before = get(client, "/api/top?by=author&limit=1")["rows"][0]
    store.ingest(API_MARCH, HUB_STATS_DATE, replace=True)  # another file for the same day
    after = get(client, "/api/top?by=author&limit=1")["rows"][0]
    assert after != before
    assert after["downloads_30d"] == max(
        r["downloads_30d"]
        for r in cli_json(root, "top", "--by", "author", "--mode", "publisher")["rows"]
    )
    get(client, "/api/top?date=2025-01-01", status=404)
    store.ingest(API_MARCH, dt.date(2025, 1, 1))
    assert get(client, "/api/top?date=2025-01-01")["snapshot_date"] == "2025-01-01"
    assert len(get(client, "/api/snapshots")) == 2


def test_the_api_shows_no_server_paths(client: TestClient) -> None:
    rows = get(client, "/api/snapshots")
    assert rows and all("/" not in str(r["file"]) for r in rows), rows


def test_the_dashboard_follows_a_rebuilt_analysis_and_outlives_pruning(tmp_path: Path) -> None:
    """A rebuild (or builds under other registries that prune the one it reads) never turns the
    running dashboard's answers into 500s; a rebuild is noticed and read."""
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    settings = load_settings(warehouse=root)
    client = TestClient(create_app(settings))
    before = get(client, "/api/top?by=family&limit=3")
    built = get(client, "/api/models/Qwen/Qwen2.5-7B-Instruct")
    robust = get(client, "/api/top?by=family&limit=3&count=robust")
    for i in range(4):  # other registries: their builds would prune the dashboard's
        extra = tmp_path / f"extra{i}.toml"
        extra.write_text(
            f'[[family]]\nname = "X{i}"\nvendor = "X{i}"\ncountry = "US"\norgs = ["x{i}"]\n'
        )
        analyse(settings.model_copy(update={"families_file": extra}))
    # not asked before (nothing remembered): read from the stored tables now
    assert get(client, "/api/top?by=family&limit=4")["rows"][:3] == before["rows"]
    assert get(client, "/api/top?by=family&limit=4&count=robust")["rows"][:3] == robust["rows"]
    old = open_warehouse(root).version()
    analyse(settings, rebuild=True)
    assert open_warehouse(root).version() != old  # what the dashboard compares
    assert get(client, "/api/top?by=family&limit=5")["rows"][:3] == before["rows"]
    assert get(client, "/api/models/Qwen/Qwen2.5-7B-Instruct") == built
