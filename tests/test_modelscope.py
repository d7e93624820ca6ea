"""ModelScope: the families' owners listed with the official client from a stand-in of its
OpenAPI surface, ranked beside Hugging Face's all-time downloads, equal to an independent sum
over the served records (plain Python: families by fnmatch over the registry TOML)."""

from __future__ import annotations

import json
import random
import tomllib
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS, cli
from fakemodelscope import FakeModelScope, serve_modelscope
from independent import publisher
from test_spaces import strict_json

pytest.importorskip("modelscope_hub", reason="pip install 'hubpulse[modelscope]'")

from hubpulse.store.modelscope import crawl_into
from hubpulse.store.warehouse import open_warehouse

OWNERS = ["Qwen", "deepseek-ai", "ZhipuAI", "someone"]


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "ms-home"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    monkeypatch.delenv("MODELSCOPE_API_TOKEN", raising=False)


def served(seed: int = 4) -> list[dict[str, Any]]:
    """ModelScope models: mirrors of the demo's Qwen and DeepSeek repos, models only there,
    an owner with more than 3,000 models, and one record without a download count."""
    pick = random.Random(seed)
    ids = [r["id"] for r in pq.read_table(HUB_STATS, columns=["id"]).to_pylist()]
    mirrored = [i for i in ids if i.split("/")[0] in ("Qwen", "deepseek-ai")]
    own = [f"ZhipuAI/glm-local-{n}" for n in range(20)] + [
        f"Qwen/Qwen-only-ms-{n}" for n in range(5)
    ]
    tail = [f"someone/model-{n}" for n in range(3050)]
    models = []
    for model_id in mirrored + own + tail:
        record = {
            "id": model_id,
            "downloads": pick.randint(0, 10**7),
            "likes": pick.randint(0, 500),
            "created_at": 1735689600,  # epoch seconds, as the API may serve them
            "last_modified": "2026-05-01T00:00:00Z",
            "license": "apache-2.0",
        }
        models.append(record)
    models[3].pop("downloads")  # no count served: no data, never 0
    return models


def expected(models: list[dict[str, Any]], cap_owner: str = "someone") -> dict[str, int]:
    families = tomllib.loads(
        resources.files("hubpulse").joinpath("data", "families.toml").read_text()
    )["family"]
    kept = [m for m in models if m["id"].split("/")[0] != cap_owner]
    capped = sorted(
        (m for m in models if m["id"].split("/")[0] == cap_owner),
        key=lambda m: (-(m.get("downloads") or 0), m["id"]),
    )[:3000]
    totals: dict[str, int] = defaultdict(int)
    for model in kept + capped:
        if model.get("downloads") is None:
            continue
        family = publisher(model["id"], families, "modelscope")
        totals[family or "(unattributed)"] += model["downloads"]
    return dict(totals)


def test_the_owners_models_ranked_beside_hugging_face(tmp_path: Path) -> None:
    models = served()
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    with serve_modelscope(FakeModelScope(models, limited={2})) as fake:
        load, truncated = crawl_into(store, OWNERS, endpoint=fake.url, page_size=100)
        asked = list(fake.requests)
    assert truncated == ["someone"]  # 3,050 models: the query returns 3,000
    assert all("sort=downloads" in p and "owner=" in p for p in asked)
    assert load.row["rows"] == len(models) - 50 and not load.row["complete"]
    answer = strict_json(
        cli("top", "--hub", "modelscope", "--mode", "publisher", "--limit", "0", "-f", "json",
            "-w", str(root)).stdout
    )  # fmt: skip
    got = {r["family"]: r["ms_all_time"] for r in answer["rows"]}
    assert got == expected(models)
    assert got["GLM"] == sum(m["downloads"] for m in models if m["id"].startswith("ZhipuAI/"))
    both = strict_json(cli("top", "--hub", "both", "-f", "json", "-w", str(root)).stdout)
    for row in both["rows"]:
        if row["hf_all_time"] is not None:
            assert row["all_time"] == row["hf_all_time"] + (row["ms_all_time"] or 0)
    compared = strict_json(
        cli("compare", "Qwen", "--hub", "both", "--next", "3", "--mode", "lineage", "-f", "json",
            "-w", str(root)).stdout
    )["comparisons"][0]  # fmt: skip
    ranked = [r for r in both["rows"] if r["family"] != "(unattributed)"]
    at = [r["family"] for r in ranked].index("Qwen")
    assert compared["value"] == ranked[at]["all_time"]
    assert compared["combined_next"] == sum(r["all_time"] for r in ranked[at + 1 : at + 4])
    assert "Hugging Face + ModelScope" in compared["sentence"]
    shown = cli("top", "--hub", "both", "-w", str(root))
    assert shown.returncode == 0, shown.stderr
    assert "never with a 30-day figure" in " ".join(shown.stdout.split())
    refused = cli("top", "--hub", "both", "--llm", "-w", str(root))
    assert refused.returncode != 0 and "--hub" in refused.stderr


def test_a_killed_crawl_resumes_and_bad_records_are_kept_aside(tmp_path: Path) -> None:
    models = served()[:60]
    store = open_warehouse(tmp_path / "wh")
    with serve_modelscope(FakeModelScope(models)) as fake:
        base = store.work_dir("crawls") / "modelscope"
        fake_url = fake.url
    with pytest.raises(Exception, match="resume"):  # the stand-in is gone: the crawl stops
        crawl_into(store, ["Qwen", "deepseek-ai"], endpoint=fake_url, page_size=10)
    with serve_modelscope(FakeModelScope(models)) as fake:
        load, _ = crawl_into(store, [], resume=True, endpoint=fake.url, page_size=10)
    assert load.row["rows"] == 60 and len(list(base.iterdir())) == 1
    path = tmp_path / "ms.jsonl"
    path.write_text(
        json.dumps({"id": "Qwen/a", "downloads": 5})
        + "\n"
        + json.dumps({"id": "Qwen/b", "downloads": "many"})
        + "\nnot json\n"
    )
    result = cli(
        "modelscope", "import", str(path), "--date", "2026-05-02", "-w", str(tmp_path / "wh")
    )
    assert result.returncode == 0, result.stderr
    assert "1 rows, 2 rejected" in result.stdout
    # another owner's listing of the same day is stored beside it, without --replace
    other = tmp_path / "ms2.jsonl"
    other.write_text(json.dumps({"id": "ZhipuAI/c", "downloads": 7}) + "\n")
    wh = str(tmp_path / "wh")
    beside = cli("modelscope", "import", str(other), "--date", "2026-05-02", "--owner",
                 "ZhipuAI", "-w", wh)  # fmt: skip
    assert beside.returncode == 0, beside.stderr
    again = cli("modelscope", "import", str(other), "--date", "2026-05-02", "-w", wh)
    assert again.returncode == 1 and "--replace" in again.stderr  # the same owners: refused
    store = open_warehouse(tmp_path / "wh")
    from hubpulse.store.modelscope import current_modelscope

    held = store.execute(current_modelscope(store))
    days = [str(d) for d in held["day"].to_pylist()]
    ids = {i for i, d in zip(held["model_id"].to_pylist(), days, strict=True) if d == "2026-05-02"}
    assert ids == {"Qwen/a", "ZhipuAI/c"}


def test_a_family_is_crawled_and_attributed_under_its_modelscope_names() -> None:
    from hubpulse.registry import load_registry
    from hubpulse.store.modelscope import modelscope_owners

    registry = load_registry()
    assert modelscope_owners(registry, ["GLM", "Qwen"], ["extra"]) == [
        "extra",
        "ZhipuAI",
        "Qwen",
        "Alibaba-NLP",
    ]
    assert ("zhipuai", None) in registry.get("GLM").rules("modelscope")
    assert ("zhipuai", None) not in registry.get("GLM").rules()


def test_audit_by_all_time_downloads_on_modelscope(tmp_path: Path) -> None:
    models = [m for m in served() if not m["id"].startswith("someone/")]
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    with serve_modelscope(FakeModelScope(models)) as fake:
        crawl_into(store, ["deepseek-ai", "ZhipuAI"], endpoint=fake.url)
        crawl_into(store, ["Qwen"], endpoint=fake.url)  # same day: kept beside the first
    sums = expected(models)

    def audit(*args: str) -> dict[str, dict[str, Any]]:
        found = strict_json(cli("audit", *args, "-f", "json", "-w", str(root)).stdout)
        return {r["definition"]: r for r in found["definitions"]}

    rows = audit("DeepSeek", "--hub", "modelscope", "--against", "GLM")
    pub = rows["family/publisher/all/raw"]
    assert (pub["value"], pub["combined"]) == (sums["DeepSeek"], sums["GLM"])
    # both families' organisations were listed in full: publisher counts are exact
    assert pub["verdict"] == ("holds" if sums["DeepSeek"] > sums["GLM"] else "fails")
    assert rows["family/lineage/all/raw"]["verdict"] in ("undecided", "cannot refute")
    # Qwen's Alibaba-NLP was never listed: its count is a lower bound
    rows = audit("Qwen", "--hub", "modelscope", "--milestone", str(sums["Qwen"] + 1))
    assert rows["family/publisher/all/raw"]["verdict"] == "cannot refute"
    rows = audit("Qwen", "--hub", "modelscope", "--milestone", str(sums["Qwen"]))
    assert rows["family/publisher/all/raw"]["verdict"] == "holds"
    # the next N: a family whose organisations no crawl listed may belong in the set
    rows = audit("Qwen", "--hub", "both", "--next", "2")
    assert {r["verdict"] for r in rows.values()} <= {"undecided", "cannot refute"}
    refused = cli("audit", "Qwen", "--hub", "both", "--month", "2026-05", "-w", str(root))
    assert refused.returncode != 0 and "--hub" in refused.stderr
