"""Claim audit across definitions, selection (--task/--llm/--exclude/--against/--by vendor) and
robust counting: crafted repos for each flag, and the demo extract against the plain-Python
computation of ``independent``."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from conftest import FORECAST, HUB_STATS, HUB_STATS_DATE, cli
from independent import (
    LLM_TASKS,
    family_totals,
    forecast_models,
    model_flags,
    model_tasks,
    publisher,
    raw_parents,
    vendor_of,
)

from hubpulse.analysis.claims.audit import audit_exceeds, grid
from hubpulse.analysis.claims.comparison import Against
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot
from hubpulse.analysis.snapshot.flags import ThresholdError, Thresholds
from hubpulse.analysis.snapshot.ranking import audit_rankings, rank_models
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.errors import OptionError
from hubpulse.registry import MODES
from hubpulse.store.warehouse import open_warehouse

DAY = dt.date(2026, 5, 20)
BASE = "Qwen/Qwen9-7B"


def _record(model_id: str, downloads: int, likes: int, created: str, **extra: Any) -> dict:
    return {
        "id": model_id,
        "downloads": downloads,
        "downloadsAllTime": extra.pop("all_time", downloads * 3),
        "likes": likes,
        "createdAt": f"{created}T00:00:00.000Z",
        "tags": extra.pop("tags", ["safetensors"]),
        **extra,
    }


def _child(relation: str = "finetune") -> dict[str, Any]:
    return {"baseModels": {"relation": relation, "models": [{"id": BASE}]}}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot with one repo per flag, a flood, and ordinary peers."""
    records = [
        _record(BASE, 100_000, 400, "2026-01-01", pipeline_tag="text-generation"),
        _record(
            "bob/Qwen9-7B-GGUF", 40_000, 30, "2026-02-01", tags=["gguf"], **_child("quantized")
        ),
        _record("old/Faded-7B", 1, 10, "2024-01-01", all_time=5_000_000, **_child()),
        _record("hf-internal-testing/tiny-random-Qwen9", 50_000, 0, "2026-02-02", **_child()),
        _record("acme/Popular-1B", 5_000_000, 0, "2025-06-01", pipeline_tag="text-generation"),
        *(
            _record(f"spam/Qwen9-7B-sft-{i}", 5, 0, f"2026-03-0{1 + i % 3}", **_child())
            for i in range(12)
        ),
        *(_record(f"lab{i}/Qwen9-7B-chat", 2_000, 20, "2026-03-01", **_child()) for i in range(25)),
    ]
    root = tmp_path_factory.mktemp("crafted")
    source = root / "models.json"
    source.write_text(json.dumps(records))
    store = open_warehouse(root / "wh")
    store.ingest(source, DAY)
    return root / "wh"


FLAGGED = {
    "bob/Qwen9-7B-GGUF": ("intermediary", "GGUF copy of Qwen/Qwen9-7B"),
    "old/Faded-7B": ("dormant", "all-time 5000000 is"),
    "hf-internal-testing/tiny-random-Qwen9": ("ci_like", "test organisation hf-internal-testing"),
    "acme/Popular-1B": ("ci_like", "downloads per like 5000000 are"),
    **{
        f"spam/Qwen9-7B-sft-{i}": ("flood", "one of 12 derivatives of Qwen/Qwen9-7B")
        for i in range(12)
    },
}


def _json(*args: str) -> Any:
    result = cli(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_each_crafted_repo_gets_exactly_its_flag_with_a_reason(crafted: Path) -> None:
    rows = _json("flags", "-w", str(crafted), "--limit", "100")["rows"]
    got = {r["model_id"]: (r["flag"], r["reason"]) for r in rows}
    assert set(got) == set(FLAGGED)
    for model_id, (flag, words) in FLAGGED.items():
        assert got[model_id][0] == flag
        assert words in got[model_id][1], got[model_id][1]
    one = _json("flags", "bob/Qwen9-7B-GGUF", "-w", str(crafted))
    assert one["flags"] == [{"flag": "intermediary", "reason": "GGUF copy of Qwen/Qwen9-7B"}]
    clean = cli("flags", "lab3/Qwen9-7B-chat", "-w", str(crafted))
    assert "no flags" in clean.stdout


@pytest.mark.slow
def test_robust_counting_removes_exactly_the_flagged_repos(crafted: Path) -> None:
    downloads = {"bob/Qwen9-7B-GGUF": 40_000, "old/Faded-7B": 1}
    downloads |= {"hf-internal-testing/tiny-random-Qwen9": 50_000}
    downloads |= {f"spam/Qwen9-7B-sft-{i}": 5 for i in range(12)}
    raw_qwen = 100_000 + sum(downloads.values()) + 25 * 2_000  # every Qwen-rooted repo
    raw = _json("top", "-w", str(crafted), "--mode", "lineage")
    robust = _json("top", "-w", str(crafted), "--mode", "lineage", "--count", "robust")
    qwen = next(r for r in raw["rows"] if r["family"] == "Qwen")
    kept = next(r for r in robust["rows"] if r["family"] == "Qwen")
    assert qwen["downloads_30d"] == raw_qwen
    assert kept["downloads_30d"] == raw_qwen - sum(downloads.values())
    assert kept["removed_30d"] == sum(downloads.values())
    assert kept["copies_30d"] == 40_000  # the intermediary, reported apart
    removed = {r["flag"]: (r["models"], r["downloads_30d"]) for r in robust["removed"]}
    assert removed == {
        "intermediary": (1, 40_000),
        "dormant": (1, 1),
        "ci_like": (2, 50_000 + 5_000_000),
        "flood": (12, 60),
    }
    assert "robust counts" in robust["selection"]["description"]
    # a higher flood threshold keeps the flood
    laxer = _json(
        "top", "-w", str(crafted), "--mode", "lineage", "--count", "robust",
        "--threshold", "flood=13",
    )  # fmt: skip
    qwen_laxer = next(r for r in laxer["rows"] if r["family"] == "Qwen")
    assert qwen_laxer["downloads_30d"] == kept["downloads_30d"] + 60


@pytest.mark.slow
def test_flags_on_the_extract_match_the_independent_computation(demo_store: Path) -> None:
    rows = _json("flags", "-w", str(demo_store), "--limit", "0")["rows"]
    got: dict[str, set[str]] = {}
    for row in rows:
        got.setdefault(row["model_id"], set()).add(row["flag"])
    assert got == model_flags(HUB_STATS, HUB_STATS_DATE)
    assert {f for fs in got.values() for f in fs} == {"intermediary", "dormant", "ci_like", "flood"}


def _totals(mode: str, by: str, scope: str, count: str) -> dict[str, float]:
    """Per family or vendor, straight from the raw rows, under one definition."""
    rows, _ = raw_parents(HUB_STATS)
    keep = set(rows)
    if scope == "llm":
        tasks = model_tasks(HUB_STATS)
        keep = {m for m in keep if tasks[m] in LLM_TASKS}
    if count == "robust":
        keep -= set(model_flags(HUB_STATS, HUB_STATS_DATE))
    totals = family_totals(HUB_STATS, mode, keep=keep)
    if by == "family":
        return totals
    vendors: dict[str, float] = {}
    for family, value in totals.items():
        vendor = vendor_of()[family]
        vendors[vendor] = vendors.get(vendor, 0) + value
    return vendors


def _next(totals: dict[str, float], subject: str, n: int) -> tuple[float, list[str], float]:
    ranked = sorted(
        ((k, v) for k, v in totals.items() if k != "(unattributed)"), key=lambda kv: (-kv[1], kv[0])
    )
    at = [k for k, _ in ranked].index(subject)
    following = ranked[at + 1 : at + 1 + n]
    return totals[subject], [k for k, _ in following], sum(v for _, v in following)


@pytest.mark.slow
def test_llm_compare_ranks_only_llm_families(demo_store: Path) -> None:
    out = _json("compare", "Qwen", "--next", "8", "--llm", "-m", "lineage", "-w", str(demo_store))
    found = out["comparisons"][0]
    value, names, combined = _next(_totals("lineage", "family", "llm", "raw"), "Qwen", 8)
    assert [r["family"] for r in found["families"][1:]] == names
    assert (found["value"], found["combined_next"]) == (value, combined)
    assert "CLIP" not in names and "BGE" not in names and "Whisper" not in names
    assert found["selection"]["llm"] is True
    everything = _json("compare", "Qwen", "--next", "8", "-m", "lineage", "-w", str(demo_store))
    assert "CLIP" in [r["family"] for r in everything["comparisons"][0]["families"]]


@pytest.mark.slow
def test_vendor_comparison_against_the_qwen_team_preset(demo_store: Path) -> None:
    out = _json(
        "compare", "alibaba", "--by", "vendor", "--against", "qwen-team", "-m", "publisher",
        "-w", str(demo_store),
    )  # fmt: skip
    found = out["comparisons"][0]
    vendors = _totals("publisher", "vendor", "all", "raw")
    named = ["Meta", "DeepSeek", "OpenAI", "Mistral AI", "NVIDIA", "Zhipu AI (Z.ai)"]
    named += ["Moonshot AI", "MiniMax"]
    assert found["vendor"] == "Alibaba" and found["against_set"] == "qwen-team"
    assert found["against"] == named
    assert found["value"] == vendors["Alibaba"]
    assert found["combined_next"] == sum(vendors.get(v, 0) for v in named)
    assert found["verdict"] == ("exceeds" if vendors["Alibaba"] > found["combined_next"] else
                                "does not exceed")  # fmt: skip
    assert "qwen-team set" in found["sentence"]
    wrong = cli("compare", "Qwen", "--against", "qwen-team", "-w", str(demo_store))
    assert wrong.returncode == 1 and "add --by vendor" in wrong.stderr


@pytest.mark.slow
def test_audit_verdicts_match_the_independent_computation(demo_store: Path) -> None:
    out = _json("audit", "Qwen", "--next", "8", "-w", str(demo_store))
    assert len(out["definitions"]) == 16
    for row in out["definitions"]:
        totals = _totals(row["mode"], row["by"], row["scope"], row["count"])
        subject = "Qwen" if row["by"] == "family" else "Alibaba"
        value, names, combined = _next(totals, subject, 8)
        assert (row["value"], row["combined"]) == (value, combined), row["definition"]
        assert row["compared"] == ", ".join(names), row["definition"]
        # the demo is a partial extract: a count below the claim cannot refute it
        assert row["verdict"] == ("holds" if value > combined else "cannot refute"), row[
            "definition"
        ]
    holds = sum(1 for r in out["definitions"] if r["verdict"] == "holds")
    assert out["summary"].count("holds under") == (1 if holds else 0)
    assert f"holds under {holds} of 16" in out["summary"] or not holds


@pytest.mark.slow
def test_audit_prints_its_matrix_in_every_format(demo_store: Path) -> None:
    table = cli("audit", "Alibaba", "--against", "qwen-team", "-w", str(demo_store))
    assert table.returncode == 0, table.stderr
    assert "vendor/lineage/llm/robust" in table.stdout and "of 16" in table.stdout
    # the table's title names the window it read (once eaten by Rich as a markup tag)
    title = " ".join(table.stdout.split("┏")[0].split())
    assert title.endswith(f"combined [snapshot {HUB_STATS_DATE} (30 days)]"), title
    csv = cli("audit", "Qwen", "--month", "2024-12", "-w", str(demo_store), "-f", "csv")
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.splitlines()
    assert lines[0].startswith("definition,") and len(lines) == 17
    month = _json("audit", "Qwen", "--month", "2024-12", "-w", str(demo_store))
    direct = _json("compare", "Qwen", "--month", "2024-12", "-m", "lineage", "-w", str(demo_store))[
        "comparisons"
    ][0]
    same = next(r for r in month["definitions"] if r["definition"] == "family/lineage/all/raw")
    assert (same["value"], same["lower"], same["upper"]) == (
        direct["value"]["estimate"],
        direct["value"]["lower"],
        direct["value"]["upper"],
    )
    assert same["verdict"] == direct["verdict"]


def test_derivative_audit_counts_direct_and_transitive_derivatives(demo_store: Path) -> None:
    out = _json("audit", "Qwen", "--derivatives", "500", "--floor", "10", "-w", str(demo_store))
    rows, parents = raw_parents(HUB_STATS)
    registry_families = [{"name": "Qwen", "orgs": ["Qwen", "Alibaba-NLP"]}]

    def own(model_id: str) -> bool:
        return publisher(model_id, registry_families) == "Qwen"

    def ancestors(model_id: str) -> set[str]:
        seen, frontier = set(), [model_id]
        while frontier:
            node = frontier.pop()
            for parent in parents.get(node, []):
                if parent not in seen:
                    seen.add(parent)
                    frontier.append(parent)
        return seen

    for depth in ("direct", "transitive"):
        for floor in (0, 10):
            want = sum(
                1
                for m, row in rows.items()
                if not own(m)
                and (row["downloads"] or 0) >= floor
                and any(own(a) for a in (parents.get(m, []) if depth == "direct" else ancestors(m)))
            )
            label = f"family/{depth}/all/≥{floor}"
            found = next(r for r in out["definitions"] if r["definition"] == label)
            assert found["value"] == want, label
            assert found["verdict"] == ("holds" if want >= 500 else "cannot refute")
            without = label.replace("/all/", "/no-quantized/")
            lean = next(r for r in out["definitions"] if r["definition"] == without)
            assert lean["value"] <= want


@pytest.mark.slow
def test_bad_selections_are_one_line_errors(demo_store: Path) -> None:
    for args, words in (
        (["compare", "Qwen", "--exclude", "Nobody"], "neither a family nor a vendor"),
        (["top", "--threshold", "flood"], "use NAME=VALUE"),
        (["top", "--count", "weird"], "choose one of raw, robust"),
        (["audit", "Nobody"], "neither a family nor a vendor"),
        (["compare", "Qwen", "--against", "Llama,Nobody"], "unknown family 'Nobody'"),
    ):
        result = cli(*args, "-w", str(demo_store))
        assert result.returncode != 0
        assert words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    with pytest.raises(ThresholdError, match="not a number"):
        Thresholds.parse(["ci=lots"])
    assert Thresholds.parse(["dormant-min=5e5", "ci=50"]) == Thresholds(dormant_min=500_000, ci=50)


@pytest.mark.slow
def test_derivative_credit_matches_the_raw_subtree(demo_store: Path) -> None:
    model = "Qwen/Qwen2.5-7B-Instruct"
    out = _json("lineage", model, "-w", str(demo_store))
    rows, parents = raw_parents(HUB_STATS)

    def below(target: str) -> set[str]:
        found = {m for m, ps in parents.items() if target in ps}
        for child in list(found):
            found |= below(child)
        return found

    derived = sum(rows[m]["downloads"] or 0 for m in below(model))
    own = rows[model]["downloads"]
    credit = out["derivative_credit"]
    assert (credit["own_30d"], credit["derivatives_30d"]) == (own, derived)
    assert credit["credit"] == pytest.approx(derived / (own + derived))
    assert out["size"] == "7–9B" and out["flags"] == []
    copy = _json("lineage", "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", "-w", str(demo_store))
    assert copy["flags"][0]["flag"] == "intermediary"


@pytest.mark.slow
def test_relative_adoption_follows_its_definition(demo_store: Path) -> None:
    rows = _json("adoption", "--limit", "0", "-w", str(demo_store))["rows"]
    assert rows and {r["age"] for r in rows} <= {30, 90, 180, 365}
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["age"]), []).append(row["cumulative"])
    for row in rows:  # the reference: the median of the bucket's ten largest at that age
        top = sorted(groups[(row["size"], row["age"])], reverse=True)[:10]
        assert row["reference"] == pytest.approx(statistics.median(top))
        assert row["peers"] == len(top)
        assert row["relative"] == pytest.approx(row["cumulative"] / row["reference"])
    # a Qwen model's cumulative downloads, from the forecast CSVs month by month
    mine = [r for r in rows if r["model_id"] == "Qwen/Qwen2.5-1.5B-Instruct"]
    assert {r["age"] for r in mine} >= {30, 90}
    for row in mine:
        created = dt.date.fromisoformat(row["created"][:10])
        due = created + dt.timedelta(days=row["age"])
        month, total, low = created.replace(day=1), 0.0, 0.0
        while month <= due:
            found = {
                m: (e, lo)
                for m, e, lo, _ in forecast_models(FORECAST, "Qwen", month.strftime("%Y-%m"))
            }
            estimate, lower = found["Qwen/Qwen2.5-1.5B-Instruct"]
            total, low = total + (estimate or 0.0), low + lower
            month = (month + dt.timedelta(days=32)).replace(day=1)
        assert row["cumulative"] == pytest.approx(total), row["age"]
        assert row["lower"] == pytest.approx(low), row["age"]


@pytest.mark.slow
def test_the_signals_are_built_on_first_need_and_then_read(crafted: Path, tmp_path: Path) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(crafted.parent / "models.json", DAY)
    top = cli("top", "-w", str(root))
    assert top.returncode == 0 and "building the families" in top.stderr
    assert not list(root.glob("derived/*/signals-*"))  # a plain ranking never waits for them
    first = cli("flags", "-w", str(root))
    assert "building the flag signals" in first.stderr
    assert len(list(root.glob("derived/*/signals-*/signals.parquet"))) == 1
    again = cli("top", "--count", "robust", "-w", str(root))
    assert again.returncode == 0 and "building" not in again.stderr
    for damaged in root.glob("derived/*/signals-*/marks.parquet"):
        damaged.write_text("not parquet")
    healed = cli("top", "--count", "robust", "-w", str(root), "--format", "json")
    assert healed.returncode == 0 and "damaged" in healed.stderr
    assert json.loads(healed.stdout)["removed"]


def test_a_group_named_twice_is_compared_once_and_the_subject_is_refused(
    demo_analysis: Analysis,
) -> None:
    once = compare_snapshot(
        demo_analysis, "Qwen", 8, mode="lineage", against=Against(groups=("Llama",))
    )
    for twice in (("Llama", "Llama"), ("Llama", "llama"), ("llama", "Llama", "LLAMA")):
        found = compare_snapshot(
            demo_analysis, "Qwen", 8, mode="lineage", against=Against(groups=twice)
        )
        assert found.combined == once.combined and found.next_n == 1, twice
    vendors = compare_snapshot(
        demo_analysis,
        "Alibaba",
        8,
        mode="lineage",
        by="vendor",
        against=Against(groups=("Meta", "meta")),
    )
    meta = next(
        r
        for r in rank_models(demo_analysis, by="vendor", mode="lineage").to_pyarrow().to_pylist()
        if r["vendor"] == "Meta"
    )
    assert vendors.combined == meta["downloads_30d"]
    for own in (("Qwen",), ("Llama", "qwen")):
        with pytest.raises(OptionError, match="'Qwen' is the subject"):
            compare_snapshot(demo_analysis, "Qwen", 8, mode="lineage", against=Against(groups=own))
        with pytest.raises(OptionError, match="is the subject"):
            audit_exceeds({m: demo_analysis for m in MODES}, "qwen", Against(groups=own))


@pytest.mark.slow
def test_the_subject_in_its_own_set_is_a_one_line_error(demo_store: Path) -> None:
    for args in (["compare", "Qwen", "--against", "Qwen"], ["audit", "Qwen", "--against", "Qwen"]):
        result = cli(*args, "-w", str(demo_store))
        assert result.returncode == 1 and "is the subject" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_thresholds_are_checked_for_type_and_range() -> None:
    refused = {
        "flood=0.5": "whole number",
        "dormant-min=1.5": "whole number",
        "ci=nan": "positive number up to",
        "dormant=nan": "positive number up to",
        "flood=nan": "positive number up to",
        "flood=inf": "positive number up to",
        "ci-min=1e30": "positive number up to",
        "dormant-min=9223372036854775808": "positive number up to",
        "ci=-inf": "positive number up to",
        "ci=0": "positive number up to",
        "flood=1": "a flood is at least 2 derivatives",
    }
    for given, words in refused.items():
        with pytest.raises(ThresholdError, match=words):
            Thresholds.parse([given])
    kept = Thresholds.parse(["flood=3", "ci=0.5", "dormant-min=1e15"])
    assert Thresholds.parse(["flood=2"]).flood == 2
    assert (kept.flood, kept.ci, kept.dormant_min) == (3, 0.5, 10**15)


@pytest.mark.parametrize(
    "base",
    [Selection(), Selection(tasks=("text-generation",)), Selection(exclude=("Meta", "Mistral"))],
)
def test_an_audits_eight_rankings_per_mode_equal_each_ranking_on_its_own(
    demo_analysis: Analysis, base: Selection
) -> None:
    """One query per mode gives each definition the groups and figures ``rank_models`` ranks
    under its selection (the figures a comparison reads), flagged models and all."""
    selections = {d.selection(base) for d in grid()}
    for mode in MODES:
        found = audit_rankings(demo_analysis, mode, selections)
        assert len(found) == 8
        for (by, selection), rows in found.items():
            ranked = rank_models(demo_analysis, by=by, mode=mode, selection=selection)
            want = [
                {
                    by: r[by],
                    "downloads_30d": r["downloads_30d"],
                    "downloads_all_time": r["downloads_all_time"],
                }
                for r in ranked.to_pyarrow().to_pylist()
            ]
            assert rows and sorted(rows, key=str) == sorted(want, key=str), (mode, by, selection)
