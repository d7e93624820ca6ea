"""End-to-end CLI runs on the bundled real data; numbers checked against plain SQL."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from conftest import FIXTURES, HUB_STATS, cli
from independent import family_totals
from typer.testing import CliRunner

from hubpulse.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "wh"
    result = runner.invoke(app, ["ingest", str(HUB_STATS), "--warehouse", str(root)])
    assert result.exit_code == 0, result.output
    assert "4,167 rows, 0 rejected" in result.output
    return root


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_top_family_json_equals_independent_totals(store):
    payload = json.loads(
        run(
            "top",
            "--by",
            "family",
            "--limit",
            "5",
            "--format",
            "json",
            "--mode",
            "publisher",
            "-w",
            str(store),
        )
    )
    assert payload["mode"] == "publisher" and payload["snapshot_date"] == "2026-05-20"
    expected = sorted(family_totals(HUB_STATS, "publisher").items(), key=lambda kv: -kv[1])[:5]
    assert [(r["family"], r["downloads_30d"]) for r in payload["rows"]] == [
        (f, round(v)) for f, v in expected
    ]


def test_top_author_csv_equals_plain_sql(store):
    text = run("top", "--by", "author", "--limit", "3", "--format", "csv", "-w", str(store))
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = duckdb.sql(
        f"select author, sum(downloads) from read_parquet('{HUB_STATS}') "
        "group by 1 order by 2 desc limit 3"
    ).fetchall()
    assert [(r["author"], int(r["downloads_30d"])) for r in rows] == expected


def test_compare_reports_both_modes_with_verdict_and_margin(store):
    both = json.loads(run("compare", "Qwen", "--next", "8", "--format", "json", "-w", str(store)))
    assert [c["mode"] for c in both["comparisons"]] == ["publisher", "lineage"]
    for payload in both["comparisons"]:
        assert payload["next_n"] == 8
        assert payload["margin"] == payload["value"] - payload["combined_next"]
        assert payload["combined_next"] == sum(f["downloads_30d"] for f in payload["families"][1:])
        expected = family_totals(HUB_STATS, payload["mode"])
        assert payload["value"] == round(expected["Qwen"])
        assert payload["verdict"] == (
            "exceeds" if payload["value"] > payload["combined_next"] else "does not exceed"
        )
        assert len(payload["families"]) == 9 and payload["families"][0]["family"] == "Qwen"
    one = json.loads(
        run(
            "compare",
            "qwen",
            "--next",
            "2",
            "--mode",
            "publisher",
            "--format",
            "json",
            "-w",
            str(store),
        )
    )
    assert [c["mode"] for c in one["comparisons"]] == ["publisher"]
    text = run("compare", "Qwen", "--next", "3", "--format", "csv", "-w", str(store))
    assert len(list(csv.DictReader(io.StringIO(text)))) == 8


def test_lineage_shows_real_third_party_ancestry(store):
    out = run("lineage", "deepcogito/cogito-v1-preview-qwen-32B", "-w", str(store))
    assert "Qwen/Qwen2.5-32B" in out and "finetune" in out and "depth 1" in out
    data = json.loads(run("lineage", "Qwen/Qwen2.5-32B", "--format", "json", "-w", str(store)))
    children = duckdb.sql(
        f"select count(*) from read_parquet('{HUB_STATS}') "
        "where list_contains(list_transform(baseModels.models, lambda m: m.id), 'Qwen/Qwen2.5-32B')"
    ).fetchone()[0]
    by_depth = {r["depth"]: r["descendants"] for r in data["descendants_by_depth"]}
    assert by_depth[1] == children


def test_derivatives_family_and_floor(store):
    all_rows = json.loads(run("derivatives", "Qwen", "--format", "json", "-w", str(store)))
    floored = json.loads(
        run("derivatives", "Qwen", "--min-downloads", "1000", "--format", "json", "-w", str(store))
    )
    total = {r["relation"]: r for r in all_rows["rows"]}["all"]
    kept = {r["relation"]: r for r in floored["rows"]}["all"]
    assert kept["derivatives"] < total["derivatives"]
    assert kept["publishers"] <= total["publishers"]


def test_snapshots_families_and_rejects_commands(store, tmp_path):
    assert "2026-05-20" in run("snapshots", "-w", str(store))
    assert "Alibaba" in run("families")
    root = tmp_path / "wh"
    out = run("ingest", str(FIXTURES / "malformed.jsonl"), "-w", str(root))
    assert "2 rows, 6 rejected" in out
    rejects = json.loads(run("rejects", "--format", "json", "-w", str(root)))["rows"]
    assert [r["row"] for r in rejects] == [2, 3, 4, 5, 6, 8]
    assert "already ingested" in run("ingest", str(FIXTURES / "malformed.jsonl"), "-w", str(root))


@pytest.mark.slow
def test_errors_are_one_clear_line_and_exit_non_zero(store, tmp_path):
    unknown = cli("compare", "Qwne", "-w", str(store))
    assert unknown.returncode == 1 and "unknown family 'Qwne'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    empty = cli("top", env={"HUBPULSE_WAREHOUSE": str(tmp_path / "empty")})
    assert empty.returncode == 1 and "run `hubpulse ingest PATH` first" in empty.stderr
    bad_date = cli("top", "--date", "2026-13-01", "-w", str(store))
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    for path, message in [
        (tmp_path / "nope.parquet", "no such file"),
        (broken, "not a readable Parquet file"),
    ]:
        failed = cli("ingest", str(path), "-w", str(tmp_path / "wh"))
        assert failed.returncode == 1 and message in failed.stderr
        assert "Traceback" not in failed.stderr
    missing = cli("lineage", "nobody/nothing", "-w", str(store))
    assert (
        missing.returncode == 1
        and "'nobody/nothing' is neither in the 2026-05-20 snapshot" in missing.stderr
    )
