"""Readers on real recorded data, checked against direct queries of the raw files."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import API_MARCH, FIXTURES, HUB_STATS

from hubpulse.errors import SnapshotFormatError
from hubpulse.ingest.files import SNAPSHOT_SCHEMA, read_snapshot

RAW = f"read_parquet('{HUB_STATS}')"


@pytest.fixture(scope="module")
def hub_stats():
    return read_snapshot(HUB_STATS)


def test_hub_stats_rows_match_raw_parquet(hub_stats):
    raw = duckdb.sql(
        f"select count(*), sum(downloads), sum(downloadsAllTime), sum(likes), "
        f"max(lastModified)::date from {RAW}"
    ).fetchone()
    table = hub_stats.rows
    assert table.schema == SNAPSHOT_SCHEMA
    assert hub_stats.rejects.num_rows == 0
    assert table.num_rows == raw[0]
    assert sum(table["downloads_30d"].to_pylist()) == raw[1]
    assert sum(v or 0 for v in table["downloads_all_time"].to_pylist()) == raw[2]
    assert sum(table["likes"].to_pylist()) == raw[3]
    assert hub_stats.snapshot_date == raw[4] and hub_stats.date_inferred


def test_hub_stats_lineage_prefers_base_models_struct(hub_stats):
    raw = duckdb.sql(
        f"select id, baseModels.relation, list_transform(baseModels.models, lambda m: m.id) "
        f"from {RAW} where len(baseModels.models) > 0"
    ).fetchall()
    rows = {r["model_id"]: r for r in hub_stats.rows.to_pylist()}
    for model_id, relation, parents in raw:
        assert rows[model_id]["base_models"] == parents
        assert rows[model_id]["base_relation"] == relation
        assert rows[model_id]["lineage_source"] == "baseModels"
    relations = duckdb.sql(
        f"select baseModels.relation r, count(*) from {RAW} where r is not null group by r"
    ).fetchall()
    mine = (
        hub_stats.rows.filter(
            [s == "baseModels" for s in hub_stats.rows["lineage_source"].to_pylist()]
        )["base_relation"]
        .value_counts()
        .to_pylist()
    )
    assert {d["values"]: d["counts"] for d in mine} == dict(relations)


def test_hub_stats_card_fallback_reads_string_and_list_base_model(hub_stats):
    # rows without baseModels whose card names a parent: card is the only lineage source
    expected = duckdb.sql(
        f"select id, json_extract(cardData, '$.base_model') from {RAW} "
        f"where baseModels is null and json_extract(cardData, '$.base_model') is not null"
    ).fetchall()
    rows = {r["model_id"]: r for r in hub_stats.rows.to_pylist()}
    assert len(expected) == 120
    for model_id, card_value in expected:
        value = json.loads(card_value)
        parents = [value] if isinstance(value, str) else value
        cleaned = [p.strip() for p in parents if p.strip()]
        assert rows[model_id]["base_models"] == cleaned
        assert rows[model_id]["lineage_source"] == ("card" if cleaned else None)


def test_real_third_party_lineage_and_params(hub_stats):
    rows = {r["model_id"]: r for r in hub_stats.rows.to_pylist()}
    cogito = rows["deepcogito/cogito-v1-preview-qwen-32B"]
    assert cogito["base_models"] == ["Qwen/Qwen2.5-32B"]
    assert cogito["base_relation"] == "finetune"
    qwen = rows["Qwen/Qwen2.5-7B-Instruct"]
    assert (qwen["downloads_30d"], qwen["downloads_all_time"]) == (13_167_875, 134_115_567)
    assert qwen["params_total"] == 7_615_616_512 and qwen["license"] == "apache-2.0"
    raw_gguf = duckdb.sql(f"select count(*) from {RAW} where gguf is not null").fetchone()[0]
    assert sum(r["is_gguf"] for r in rows.values()) >= raw_gguf


def test_placeholder_created_at_is_unknown(hub_stats):
    placeholder = duckdb.sql(
        f"select count(*) from {RAW} where createdAt = '2022-03-02 23:29:04'"
    ).fetchone()[0]
    assert placeholder > 0
    nulls = hub_stats.rows["created_at"].null_count
    assert nulls == placeholder


def test_api_bodies_match_recorded_index():
    index = json.loads((FIXTURES / "cassette_index.json").read_text())
    snapshot = read_snapshot(API_MARCH, dt.date(2025, 3, 21))
    rows = {r["model_id"]: r for r in snapshot.rows.to_pylist()}
    march = [e for e in index if e["status"] == 200 and "21 Mar 2025" in e["response_date_header"]]
    assert set(rows) == {e["id"] for e in march}
    for entry in march:
        row = rows[entry["id"]]
        assert (row["downloads_30d"], row["likes"]) == (entry["downloads"], entry["likes"])
        expected = [t.split(":", 2)[2] for t in entry["base_model_tags"] if t.count(":") == 2]
        assert row["base_models"] == expected


def test_api_stale_card_id_becomes_alias_and_missing_lineage_stays_empty():
    snapshot = read_snapshot(API_MARCH, dt.date(2025, 3, 21))
    rows = {r["model_id"]: r for r in snapshot.rows.to_pylist()}
    assert rows["meta-llama/Llama-3.1-8B-Instruct"]["base_models"] == ["meta-llama/Llama-3.1-8B"]
    assert rows["meta-llama/Llama-3.1-8B-Instruct"]["lineage_source"] == "tags"
    assert snapshot.aliases.to_pylist() == [
        {"old_id": "meta-llama/Meta-Llama-3.1-8B", "new_id": "meta-llama/Llama-3.1-8B"}
    ]
    assert rows["meta-llama/Meta-Llama-3-8B-Instruct"]["base_models"] == []
    assert rows["meta-llama/Meta-Llama-3-8B-Instruct"]["base_relation"] is None


def test_malformed_rows_are_kept_aside_with_reason():
    path = FIXTURES / "malformed.jsonl"
    snapshot = read_snapshot(path)
    assert snapshot.rows["model_id"].to_pylist() == ["good-org/model-a", "good-org/model-b"]
    rejects = {r["row"]: r for r in snapshot.rejects.to_pylist()}
    assert sorted(rejects) == [2, 3, 4, 5, 6, 8]
    assert rejects[2]["field"] == "id" and "missing model id" in rejects[2]["reason"]
    assert rejects[3]["field"] == "downloads" and "non-negative" in rejects[3]["reason"]
    assert rejects[4]["field"] == "createdAt" and "yesterday-ish" in rejects[4]["reason"]
    assert rejects[5]["field"] == "cardData" and "unparseable" in rejects[5]["reason"]
    assert rejects[6]["field"] == "line" and "unparseable JSON" in rejects[6]["reason"]
    assert "duplicate id (first seen at row 1)" in rejects[8]["reason"]
    lines = path.read_text().splitlines()
    assert all(r["file"] == str(path) for r in rejects.values())
    assert rejects[6]["raw"] == lines[5]
    assert json.loads(rejects[3]["raw"]) == json.loads(lines[2])


def test_card_list_base_model_with_gguf_is_a_merge_and_date_is_inferred():
    snapshot = read_snapshot(FIXTURES / "malformed.jsonl")
    row = snapshot.rows.to_pylist()[1]
    assert row["base_models"] == ["good-org/model-a", "Qwen/Qwen2.5-7B"]
    assert row["base_relation"] == "merge" and row["is_gguf"] and row["params_total"] == 7000
    assert row["license"] == "apache-2.0"
    assert snapshot.snapshot_date == dt.date(2025, 6, 1)
    assert snapshot.rows.to_pylist()[0]["license"] == "mit"


def test_unknown_layout_and_unreadable_files_are_clear_errors(tmp_path):
    bad = tmp_path / "models.csv"
    bad.write_text("id\nx/y\n")
    with pytest.raises(SnapshotFormatError, match=r"models.csv: unknown input layout"):
        read_snapshot(bad)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(SnapshotFormatError, match=r"broken.parquet: not a readable Parquet"):
        read_snapshot(broken)
    with pytest.raises(SnapshotFormatError, match="no such file"):
        read_snapshot(tmp_path / "missing.json")


def test_parquet_without_dates_needs_explicit_date(tmp_path):
    table = pq.read_table(HUB_STATS, columns=["id", "downloads"]).slice(0, 3)
    path = tmp_path / "nodates.parquet"
    pq.write_table(table, path)
    with pytest.raises(SnapshotFormatError, match="pass --date"):
        read_snapshot(path)
    assert read_snapshot(path, dt.date(2026, 1, 1)).rows.num_rows == 3
