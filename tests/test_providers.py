"""Inference providers: the models the Hub's providers serve, crawled from the stand-in Hub
(``inference_provider=all``, ``expand=inferenceProviderMapping``) and counted per group, equal
to an independent count over the served records (plain Python, families by fnmatch)."""

from __future__ import annotations

import datetime as dt
import json
import random
import tomllib
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from conftest import HUB_STATS, cli
from fakehub import FakeHub, api_records, serve
from independent import publisher, raw_parents, roots
from test_spaces import strict_json

from hubpulse.analysis.snapshot.applications import analysis_for_spaces
from hubpulse.analysis.snapshot.providers import count_served, providers_day
from hubpulse.ingest.crawl import CrawlScope
from hubpulse.ingest.hub import Hub, Politeness
from hubpulse.settings import load_settings
from hubpulse.store.providers import crawl_providers
from hubpulse.store.warehouse import open_warehouse

FAST = Politeness(base_wait=0.01, max_wait=0.05)
PROVIDERS = ["together", "fireworks-ai", "novita", "groq", "hf-inference"]


def served_records(seed: int = 9) -> list[dict[str, Any]]:
    """The demo's models as the API serves them, a fifth of them with a provider mapping (as
    the list endpoint gives it: a list of entries), some staging or in error."""
    pick = random.Random(seed)
    records = [dict(r) for r in api_records(HUB_STATS)]
    for record in records:
        if pick.random() < 0.2:
            chosen = pick.sample(PROVIDERS, pick.randint(1, 3))
            record["inferenceProviderMapping"] = [
                {
                    "provider": p,
                    "providerId": f"{p}/{record['id'].lower()}",
                    "status": pick.choice(["live", "live", "live", "staging", "error"]),
                    "task": "conversational",
                }
                for p in chosen
            ]
    return records


def expected(records: list[dict[str, Any]], mode: str, by: str) -> dict[str, dict[str, int]]:
    families = tomllib.loads(
        resources.files("hubpulse").joinpath("data", "families.toml").read_text()
    )["family"]
    group = {f["name"]: f[by] for f in families} if by != "family" else {}
    rows, parents = raw_parents(HUB_STATS)
    models: dict[str, set[str]] = defaultdict(set)
    providers: dict[str, set[str]] = defaultdict(set)
    for record in records:
        live = [
            m["provider"]
            for m in record.get("inferenceProviderMapping", [])
            if m["status"] == "live"
        ]
        if not live:
            continue
        model = record["id"]
        tops = roots(model, parents) if mode == "lineage" and model in rows else {model}
        for top in tops:
            family = publisher(top, families) or "(unattributed)"
            key = group.get(family, family) if by != "family" else family
            models[key].add(model)
            providers[key].update(live)
    return {k: {"models": len(models[k]), "providers": len(providers[k])} for k in models}


@pytest.mark.parametrize("mode", ["publisher", "lineage"])
def test_served_models_per_group_equal_an_independent_count(tmp_path: Path, mode: str) -> None:
    records = served_records()
    with serve(FakeHub(models=records)) as fake:
        store = open_warehouse(tmp_path / "wh")
        store.ingest(HUB_STATS)
        scope = CrawlScope(kind="providers", page_size=100)
        result, load = crawl_providers(store, Hub(fake.url, FAST), scope)
        listing = [p for _, p, _ in fake.requests if p.startswith("/api/models")]
    assert "inference_provider=all" in listing[0]
    assert "expand=inferenceProviderMapping" in listing[0]
    served = [r for r in records if r.get("inferenceProviderMapping")]
    assert result.records == len(served) and load.row["complete"]
    settings = load_settings(warehouse=store.root, mode=mode)
    rows, log = providers_day(store)
    analysis = analysis_for_spaces(store, settings, log["first_day"])
    for by in ("family", "vendor"):
        table = count_served(analysis, rows, store.aliases(), by=by, mode=mode)  # type: ignore[arg-type]
        got = {
            r[by]: {"models": r["models"], "providers": r["providers"]}
            for r in store.execute(table).to_pylist()
        }
        assert got == expected(records, mode, by)


def test_malformed_mappings_are_kept_aside_and_the_cli_says_what_it_counts(
    tmp_path: Path,
) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    good = {
        "id": "Qwen/Qwen2.5-7B-Instruct",
        "inferenceProviderMapping": [
            {"provider": "together", "providerId": "x", "status": "live", "task": "chat"}
        ],
    }
    keyed = {  # the model_info shape: keyed by provider
        "id": "meta-llama/Llama-3.1-8B-Instruct",
        "inferenceProviderMapping": {"groq": {"providerId": "y", "status": "live", "task": "c"}},
    }
    bad = [
        {"id": "a/b", "inferenceProviderMapping": "together"},
        {"id": "c/d", "inferenceProviderMapping": [{"status": "live"}]},
        {"id": "e/f", "inferenceProviderMapping": [{"provider": "x", "status": "maybe"}]},
    ]
    path = tmp_path / "served.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [good, keyed, *bad]))
    imported = cli("providers", "import", str(path), "--date", "2026-05-21", "-w", str(root))
    assert imported.returncode == 0, imported.stderr
    assert "2 rows, 3 rejected" in imported.stdout and "a partial listing" in imported.stdout
    shown = cli("inference", "--by", "vendor", "-w", str(root))
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "an offer to serve, not a measure of use" in text and "a partial listing" in text
    answer = strict_json(cli("inference", "-f", "json", "-w", str(root)).stdout)
    assert {r["family"]: r["models"] for r in answer["rows"]} == {"Qwen": 1, "Llama": 1}
    refused = cli("inference", "--status", "dead", "-w", str(root))
    assert refused.returncode == 1 and "--status" in refused.stderr
    assert dt.date.fromisoformat(answer["providers_date"]) == dt.date(2026, 5, 21)


def test_the_dashboard_and_the_report_show_the_cli_s_providers(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hubpulse.web.app import create_app
    from hubpulse.web.views import Dashboard

    records = served_records()
    root = tmp_path / "wh"
    with serve(FakeHub(models=records)) as fake:
        store = open_warehouse(root)
        store.ingest(HUB_STATS)
        crawl_providers(store, Hub(fake.url, FAST), CrawlScope(kind="providers"))
    settings = load_settings(warehouse=root, mode="lineage")
    client = TestClient(create_app(settings, dashboard=Dashboard(settings, warm=False)))
    api = client.get("/api/inference").json()
    shown = strict_json(cli("inference", "--limit", "0", "-f", "json", "-w", str(root)).stdout)
    assert api["rows"] == shown["rows"] and api["rows"]
    assert 'id="providers"' in client.get("/").text
    report = cli("report", "-o", str(tmp_path / "r.md"), "--format", "md", "-w", str(root))
    assert report.returncode == 0, report.stderr
    assert "## Use through inference providers" in (tmp_path / "r.md").read_text()
