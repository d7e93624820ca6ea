"""Warehouse: idempotent, atomic ingest with a load log and rejects."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import duckdb
import pytest
from conftest import API_MARCH, FIXTURES, HUB_STATS, HUB_STATS_DATE

from hubpulse.errors import SnapshotConflictError, SnapshotNotFoundError
from hubpulse.store.queries import list_rejects, list_snapshots
from hubpulse.store.warehouse import Warehouse, open_warehouse


def count_rows(store: Warehouse) -> int:
    return int(store.table("models").count().execute())


def test_ingest_twice_changes_nothing(warehouse):
    first = warehouse.ingest(HUB_STATS)
    files = sorted(p.relative_to(warehouse.root) for p in warehouse.root.rglob("*.parquet"))
    second = warehouse.ingest(HUB_STATS)
    assert (first.status, second.status) == ("loaded", "unchanged")
    assert second.load_id == first.load_id
    assert count_rows(warehouse) == 4167
    assert sorted(p.relative_to(warehouse.root) for p in warehouse.root.rglob("*.parquet")) == files
    assert list_snapshots(warehouse).num_rows == 1


def test_load_log_and_load_id_on_every_row(warehouse):
    result = warehouse.ingest(HUB_STATS)
    log = list_snapshots(warehouse).to_pylist()[0]
    assert log["snapshot_date"] == HUB_STATS_DATE and log["rows"] == 4167 and log["date_inferred"]
    assert log["source"] == "hub-stats-parquet" and len(log["file_sha256"]) == 64
    ids = warehouse.execute(warehouse.table("models").select("load_id").distinct())
    assert ids["load_id"].to_pylist() == [result.load_id]


def test_different_file_for_same_date_is_refused_unless_replaced(warehouse):
    warehouse.ingest(API_MARCH, dt.date(2025, 3, 21))
    with pytest.raises(SnapshotConflictError, match=r"already holds .*--replace"):
        warehouse.ingest(FIXTURES / "malformed.jsonl", dt.date(2025, 3, 21))
    replaced = warehouse.ingest(FIXTURES / "malformed.jsonl", dt.date(2025, 3, 21), replace=True)
    assert replaced.status == "replaced"
    assert count_rows(warehouse) == 2
    assert len(list((warehouse.root / "loads").iterdir())) == 1  # the old load was swept


def test_rejects_are_stored_with_file_row_and_reason(warehouse):
    result = warehouse.ingest(FIXTURES / "malformed.jsonl")
    assert (result.rows, result.rejects) == (2, 6)
    rejects = list_rejects(warehouse).to_pylist()
    assert [r["row"] for r in rejects] == [2, 3, 4, 5, 6, 8]
    assert all(r["file"].endswith("malformed.jsonl") and r["reason"] for r in rejects)
    again = warehouse.ingest(FIXTURES / "malformed.jsonl")
    assert again.status == "unchanged" and list_rejects(warehouse).num_rows == 6


def test_catalog_file_serves_views_to_any_duckdb_client(warehouse):
    warehouse.ingest(HUB_STATS)
    warehouse.ingest(API_MARCH, dt.date(2025, 3, 21))
    with duckdb.connect(str(warehouse.root / "catalog.duckdb"), read_only=True) as con:
        per_date = con.execute(
            "select snapshot_date, count(*) from models group by 1 order by 1"
        ).fetchall()
    assert per_date == [(dt.date(2025, 3, 21), 4), (HUB_STATS_DATE, 4167)]


def test_unknown_date_and_empty_warehouse_are_clear_errors(warehouse):
    with pytest.raises(SnapshotNotFoundError, match="run `hubpulse ingest PATH` first"):
        warehouse.models()
    warehouse.ingest(API_MARCH, dt.date(2025, 3, 21))
    with pytest.raises(
        SnapshotNotFoundError, match=r"no snapshot for 2025-12-01.*stored: 2025-03-21"
    ):
        warehouse.models(dt.date(2025, 12, 1))


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["after_write", "before_swap"])
def test_ingest_killed_with_sigkill_leaves_no_partial_snapshot(tmp_path, moment):
    root = tmp_path / "wh"
    # the load written in full (then killed), or killed just before its link is swapped in
    target = "Warehouse._publish" if moment == "before_swap" else "write_load"
    script = textwrap.dedent(
        f"""
        import os, signal
        from hubpulse.store import warehouse
        from hubpulse.store.warehouse import Warehouse
        original = warehouse.{target}
        def killed(*args, **kwargs):
            if "{target}" == "write_load":
                original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        warehouse.{target} = killed
        Warehouse({str(root)!r}).ingest({str(HUB_STATS)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=os.environ)
    assert proc.returncode == -9
    store = open_warehouse(root)
    assert store.snapshot_dates() == []
    assert list((root / "loads").iterdir())  # the orphan load is on disk, invisible
    result = store.ingest(HUB_STATS)
    assert result.status == "loaded" and count_rows(store) == 4167
    assert [p.name for p in (root / "loads").iterdir()] == [result.load_id]


def test_views_expose_exactly_the_canonical_columns(warehouse):
    from hubpulse.ingest.files import SNAPSHOT_SCHEMA

    warehouse.ingest(HUB_STATS)
    assert warehouse.table("models").columns == (*SNAPSHOT_SCHEMA.names, "load_id")
