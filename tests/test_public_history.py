"""Public history you can pull (issue 28): the weekly snapshots and hf-hub-characterization,
served by the stand-in Hub from a known synthetic truth (``weeklyhub``), settle a December-2025
claim end to end, with every monthly bound containing the truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import weeklyhub as wh
from fakehub import FakeHub, serve
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.ingest.hub import Hub, HubError, Politeness
from hubpulse.ingest.sources import CHARACTERIZATION, WEEKLY, route
from hubpulse.store.pulls import pull_characterization, pull_weekly
from hubpulse.store.queries import list_series, list_snapshots
from hubpulse.store.warehouse import open_warehouse

FAST = Politeness(base_wait=0.01, max_wait=0.05)
TRUTH = wh.make_truth()
VENDORS = {  # by the registry's orgs; lineage mode: a derivative counts for its root's vendor
    "Qwen": "Alibaba",
    "someone": "Alibaba",
    "meta-llama": "Meta",
    "deepseek-ai": "DeepSeek",
    "openai": "OpenAI",
    "mistralai": "Mistral AI",
    "nvidia": "NVIDIA",
    "zai-org": "Zhipu AI (Z.ai)",
    "moonshotai": "Moonshot AI",
    "MiniMaxAI": "MiniMax",
    "google": "Google",
}
LLM = {m for m, task, *_ in wh.MODELS if task in ("text-generation", "image-text-to-text")}
runner = CliRunner()


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(models=[], tree_page=5)  # a tree listing of several pages
    fake.datasets[WEEKLY] = wh.weekly_dataset(TRUTH)
    fake.datasets[CHARACTERIZATION] = wh.characterization_dataset(TRUTH)
    with serve(fake) as served:
        yield served


@pytest.fixture(scope="module")
def weekly(hub: FakeHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("weekly") / "wh"
    pull_weekly(open_warehouse(root), Hub(hub.url, FAST), first=dt.date(2025, 10, 1))
    return root


def ask(store: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json", "-w", str(store)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def month_truth(model: str, month: str) -> int:
    first = dt.date.fromisoformat(f"{month}-01")
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return TRUTH.window(model, first, min(last, wh.LAST))


def vendor_truth(month: str, *, llm: bool) -> dict[str, int]:
    totals: dict[str, int] = {}
    for model, *_ in wh.MODELS:
        if llm and model not in LLM:
            continue
        vendor = VENDORS[model.split("/")[0]]
        totals[vendor] = totals.get(vendor, 0) + month_truth(wh.current(model), month)
    return totals


def test_the_weekly_pull_stores_each_dump_once_with_its_day_and_licence(
    hub: FakeHub, weekly: Path
) -> None:
    loads = list_snapshots(open_warehouse(weekly)).to_pylist()
    expected = sorted(
        {wh.dump_day(label) for label in wh.LABELS if label not in (wh.MISSING, wh.STALE_WEEK)}
    )
    assert [r["snapshot_date"] for r in loads] == expected
    assert {(r["dataset"], r["revision"], r["licence"]) for r in loads} == {
        (WEEKLY, wh.WEEKLY_SHA, "ODbL-1.0")
    }
    assert all(r["dataset_file"].startswith("models/") for r in loads)
    again = pull_weekly(open_warehouse(weekly), Hub(hub.url, FAST), first=dt.date(2025, 10, 1))
    assert {w.status for w in again.weeks} == {"stored"}  # nothing downloaded again
    assert again.missing == [wh.MISSING]


def test_a_renamed_repo_is_one_model_across_the_dumps(weekly: Path) -> None:
    old, new, _ = wh.RENAMED
    aliases = duckdb.sql(f"select old_id, new_id from '{weekly}/loads/*/aliases.parquet'").fetchall()
    assert (old, new) in aliases
    assert all(o != wh.DELETED[0] for o, _ in aliases)  # a deletion is not a rename


def test_every_monthly_bound_contains_the_truth(weekly: Path) -> None:
    rows = ask(weekly, "monthly", "--by", "model", "--from", "2025-10", "--to", "2026-01")["rows"]
    checked = 0
    for row in rows:
        if row["estimate"] is None or row["month"] == "2026-01":
            continue
        truth = month_truth(row["model_id"], row["month"])
        assert row["lower"] <= truth, row
        assert row["upper"] is None or truth <= row["upper"], row
        checked += 1
    assert checked >= 20


def test_december_claim_is_decided_from_the_weekly_dumps_alone(weekly: Path) -> None:
    answer = ask(
        weekly, "compare", "Qwen", "--against", "qwen-team", "--by", "vendor", "--llm",
        "--month", "2025-12",
    )
    (lineage,) = (c for c in answer["comparisons"] if c["mode"] == "lineage")
    truth = vendor_truth("2025-12", llm=True)  # lineage: the GGUF counts for Alibaba
    assert lineage["vendor"] == "Alibaba" and lineage["verdict"] in ("holds", "fails"), lineage
    subject, others = lineage["value"], lineage["combined_next"]
    assert subject["lower"] <= truth["Alibaba"] <= subject["upper"]
    combined = sum(v for k, v in truth.items() if k not in ("Alibaba", "Google"))
    assert others["lower"] <= combined <= others["upper"]
    assert (lineage["verdict"] == "holds") == (truth["Alibaba"] > combined)


def test_a_month_without_evidence_names_the_weekly_pull() -> None:
    assert "hubpulse pull weekly" in route("2024-09")
    assert "hubpulse pull weekly" in route("2025-12") and "characterization" in route("2025-12")
