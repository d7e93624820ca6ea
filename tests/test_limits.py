"""Counts near or past the 64-bit limit, and numbers that are not numbers: each such value is a
reject with its reason (the good rows still load), and every question still answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS
from test_hubstats import assert_same
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.ingest.files import read_snapshot
from hubpulse.ingest.records import MAX_COUNT, MAX_PARAMETERS
from hubpulse.store.warehouse import open_warehouse

DAY = '"lastModified": "2025-06-01T00:00:00.000Z"'


def _line(model: str, **fields: str) -> str:
    extra = "".join(f', "{k}": {v}' for k, v in fields.items())
    return f'{{"id": "{model}", "author": "{model.split("/")[0]}", {DAY}{extra}}}'


HOSTILE = {  # model -> (fields as raw JSON text, the field its reject must name)
    "o/int64-max": ({"downloads": "9223372036854775807"}, "downloads"),
    "o/ten-to-the-30": ({"downloadsAllTime": "1" + "0" * 30}, "downloadsAllTime"),
    "o/float-huge": ({"downloads": "1e300"}, "downloads"),
    "o/infinity": ({"likes": "Infinity"}, "likes"),
    "o/nan-count": ({"downloads": "NaN"}, "downloads"),
    "o/nan-score": ({"downloads": "3", "trendingScore": "NaN"}, "trendingScore"),
    "o/inf-score": ({"downloads": "3", "trendingScore": "-Infinity"}, "trendingScore"),
    "o/params-huge": (
        {"downloads": "3", "safetensors": '{"total": 1' + "0" * 25 + "}"},
        "safetensors",
    ),
    "o/params-negative": ({"downloads": "3", "safetensors": '{"total": -7}'}, "safetensors"),
    "o/gguf-huge": ({"downloads": "3", "gguf": '{"total": 18446744073709551615}'}, "gguf"),
}


def _hostile_file(tmp_path: Path) -> Path:
    lines = [_line("ok/at-the-ceiling", downloads=str(MAX_COUNT), likes=str(MAX_COUNT))]
    lines += [_line("ok/small", downloads="5", downloadsAllTime="50")]
    lines += [_line(model, **fields) for model, (fields, _) in HOSTILE.items()]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_out_of_range_values_are_rejects_with_reasons(tmp_path: Path) -> None:
    snapshot = read_snapshot(_hostile_file(tmp_path))
    rejected = {r["model_id"]: (r["field"], r["reason"]) for r in snapshot.rejects.to_pylist()}
    assert {m: f for m, (f, _) in rejected.items()} == {m: f for m, (_, f) in HOSTILE.items()}
    assert "ceiling" in rejected["o/int64-max"][1] and "finite" in rejected["o/nan-score"][1]
    assert sorted(snapshot.rows["model_id"].to_pylist()) == ["ok/at-the-ceiling", "ok/small"]


@pytest.mark.slow
def test_questions_answer_on_counts_at_the_ceiling(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(_hostile_file(tmp_path), None)
    runner = CliRunner()
    for args in (["top", "--by", "author"], ["compare", "ok", "--next", "1"], ["monthly"]):
        result = runner.invoke(app, [*args, "-w", str(root), "--format", "json"])
        if args[0] == "compare":  # 'ok' is no family: a clear error, not an overflow
            assert "unknown family" in str(result.exception)
            continue
        assert result.exit_code == 0, result.output
        payload: dict[str, Any] = json.loads(result.output)
        if args[0] == "top":
            rows = {r["author"]: r["downloads_30d"] for r in payload["rows"]}
            assert rows == {"ok": MAX_COUNT + 5}


def test_the_vectorised_reader_agrees_on_hostile_values(tmp_path: Path) -> None:
    table = pq.read_table(HUB_STATS)
    rows = table.slice(0, 30).to_pylist()
    rows[0]["downloads"] = 2**63 - 1
    rows[1]["trendingScore"] = float("nan")
    rows[2].update(safetensors=None, gguf=json.dumps({"total": 10**25}))
    rows[3].update(safetensors=None, gguf=json.dumps({"total": 2**64 - 1}))
    rows[4]["likes"] = MAX_COUNT + 1
    rows[5]["downloadsAllTime"] = MAX_COUNT  # at the ceiling: kept
    rows[6]["safetensors"] = {"parameters": None, "total": -3}
    rows[7]["safetensors"] = {"parameters": None, "total": MAX_PARAMETERS + 1}
    rows[8].update(safetensors=None, gguf=json.dumps({"total": 1.5e12}))  # not a count: no size
    path = tmp_path / "extreme.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    snapshot = assert_same(path)  # the DuckDB path and the Python path give the same snapshot
    fields = {r["row"]: r["field"] for r in snapshot.rejects.to_pylist()}
    assert fields == {
        1: "downloads",
        2: "trendingScore",
        3: "gguf",
        4: "gguf",
        5: "likes",
        7: "safetensors",
        8: "safetensors",
    }


def test_unsigned_64_bit_columns_are_read_not_crashed_on(tmp_path: Path) -> None:
    table = pq.read_table(HUB_STATS).slice(0, 20)
    at = table.schema.get_field_index("downloads")
    values = [2**64 - 1, *table["downloads"].to_pylist()[1:]]
    table = table.set_column(at, "downloads", pa.array(values, pa.uint64()))
    path = tmp_path / "uint64.parquet"
    pq.write_table(table, path)
    snapshot = read_snapshot(path)
    assert snapshot.rows.num_rows == 19
    assert snapshot.rejects.to_pylist()[0]["field"] == "downloads"
