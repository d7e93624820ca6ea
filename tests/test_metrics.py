"""Family metrics on the real hub-stats extract against an independent computation."""

from __future__ import annotations

import duckdb
import pytest
from conftest import HUB_STATS
from graphs import DAY, aliases, model, records, snapshot
from independent import family_totals

from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.analysis.snapshot.ranking import count_derivatives, rank_models
from hubpulse.analysis.snapshot.snapshot import analyse_snapshot
from hubpulse.registry import load_registry


@pytest.mark.parametrize("mode", ["publisher", "lineage"])
def test_family_totals_equal_independent_computation(demo_analysis, mode):
    expected = family_totals(HUB_STATS, mode)
    ranking = records(rank_models(demo_analysis, by="family", mode=mode))
    mine = {r["family"]: r["downloads_30d"] for r in ranking}
    assert set(mine) == {f for f, v in expected.items() if v or f in mine}
    for family, value in expected.items():
        assert mine.get(family, 0) == pytest.approx(round(value), abs=1), family
    total = duckdb.sql(f"select sum(downloads) from read_parquet('{HUB_STATS}')").fetchone()[0]
    assert sum(mine.values()) == pytest.approx(total, abs=len(mine))
    assert sum(r["share"] for r in ranking) == pytest.approx(1.0)
    assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))


@pytest.mark.parametrize("mode", ["publisher", "lineage"])
def test_qwen_vs_next_eight_matches_independent_verdict(demo_analysis, mode):
    expected = family_totals(HUB_STATS, mode)
    ordered = sorted(
        ((round(v), f) for f, v in expected.items() if f != "(unattributed)"), reverse=True
    )
    names = [f for _, f in ordered]
    at = names.index("Qwen")
    combined = sum(v for v, _ in ordered[at + 1 : at + 9])
    result = compare_snapshot_rows(
        records(rank_models(demo_analysis, by="family", mode=mode)),
        "Qwen",
        8,
        mode=mode,
        metric="downloads_30d",
        snapshot_date=demo_analysis.snapshot_date,
    )
    assert result.value == pytest.approx(round(expected["Qwen"]), abs=1)
    assert result.combined == pytest.approx(combined, abs=8)
    assert result.verdict == ("exceeds" if expected["Qwen"] > combined else "does not exceed")
    assert [r["family"] for r in result.rows[1:]] == names[at + 1 : at + 9]


def test_author_ranking_equals_plain_group_by(demo_analysis):
    expected = duckdb.sql(
        f"select author, sum(downloads), count(*) from read_parquet('{HUB_STATS}') "
        "group by author order by 2 desc, author limit 10"
    ).fetchall()
    mine = records(rank_models(demo_analysis, by="author", mode="publisher", limit=10))
    assert [(r["author"], r["downloads_30d"], r["models"]) for r in mine] == expected


def test_model_ranking_carries_family_and_descendants(demo_analysis):
    top = records(rank_models(demo_analysis, by="model", mode="lineage", limit=3))
    expected = duckdb.sql(
        f"select id, downloads from read_parquet('{HUB_STATS}') order by downloads desc, id limit 3"
    ).fetchall()
    assert [(r["model_id"], r["downloads_30d"]) for r in top] == expected
    assert all(r["family"] for r in top)


def small_analysis(mode_rows):
    models = snapshot(mode_rows)
    return analyse_snapshot(models, aliases(), load_registry(), DAY)


def test_merge_of_two_families_is_split_evenly_in_lineage_mode():
    rows = [
        model("Qwen/Qwen2.5-7B", downloads=1000),
        model("meta-llama/Llama-3.1-8B", downloads=500),
        model(
            "fan/frankenmerge",
            ["Qwen/Qwen2.5-7B", "meta-llama/Llama-3.1-8B"],
            "merge",
            downloads=100,
        ),
        model("fan/orphan", downloads=7),
        model("fan/quant-of-missing", ["Qwen/Qwen-does-not-exist"], "quantized", downloads=40),
    ]
    analysis = small_analysis(rows)
    lineage = {r["family"]: r for r in records(rank_models(analysis, mode="lineage"))}
    assert lineage["Qwen"]["downloads_30d"] == 1000 + 50 + 40
    assert lineage["Llama"]["downloads_30d"] == 500 + 50
    assert lineage["(unattributed)"]["downloads_30d"] == 7
    assert lineage["Qwen"]["models"] == 3 and lineage["Qwen"]["derivatives"] == 2
    publisher = {r["family"]: r for r in records(rank_models(analysis, mode="publisher"))}
    assert publisher["Qwen"]["downloads_30d"] == 1000
    assert publisher["(unattributed)"]["downloads_30d"] == 147
    assert publisher["Qwen"]["derivatives"] == 2  # derivatives are a lineage fact in both modes


def test_vendor_and_country_roll_up_families():
    rows = [
        model("google/gemma-2-9b", downloads=30),
        model("google-bert/bert-base-uncased", downloads=20),
        model("google/t5-small", downloads=5),
        model("Qwen/Qwen3-8B", downloads=100),
    ]
    analysis = small_analysis(rows)
    vendors = {r["vendor"]: r["downloads_30d"] for r in records(rank_models(analysis, by="vendor"))}
    assert vendors == {"Alibaba": 100, "Google": 50, "(unattributed)": 5}
    countries = {r["country"]: r["models"] for r in records(rank_models(analysis, by="country"))}
    assert countries == {"China": 1, "United States": 2, "(unattributed)": 1}


def test_derivatives_by_relation_with_download_floor():
    rows = [
        model("Qwen/Qwen2.5-7B", downloads=1000),
        model("Qwen/Qwen2.5-7B-Instruct", ["Qwen/Qwen2.5-7B"], "finetune", downloads=900),
        model("a/tune", ["Qwen/Qwen2.5-7B-Instruct"], "finetune", downloads=50),
        model("a/quant", ["a/tune"], "quantized", downloads=3),
        model("b/quant", ["Qwen/Qwen2.5-7B"], "quantized", downloads=20),
        model("c/lora", ["Qwen/Qwen2.5-7B"], "adapter", downloads=0),
    ]
    analysis = small_analysis(rows)
    table = {r["relation"]: r for r in records(count_derivatives(analysis, "Qwen"))}
    assert table["all"]["derivatives"] == 4 and table["all"]["publishers"] == 3
    assert table["quantized"]["derivatives"] == 2 and table["quantized"]["downloads_30d"] == 23
    floored = {
        r["relation"]: r for r in records(count_derivatives(analysis, "Qwen", min_downloads=10))
    }
    assert floored["all"]["derivatives"] == 2 and "adapter" not in floored
    one = {r["relation"]: r for r in records(count_derivatives(analysis, "a/tune"))}
    assert one["all"]["derivatives"] == 1 and one["quantized"]["publishers"] == 1
