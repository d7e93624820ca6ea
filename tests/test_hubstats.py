"""The vectorised hub-stats reader gives exactly the Python reader's snapshot: rows, rejects
(with file, row, field, reason and raw record) and aliases, on real, synthetic and deliberately
irregular dumps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS

from hubpulse.ingest.files import Snapshot, read_snapshot
from hubpulse.ingest.hubstats import read_hub_stats
from hubpulse.ingest.synth import synthesize


def assert_same(path: Path) -> Snapshot:
    fast, slow = read_snapshot(path), read_snapshot(path, vectorised=False)
    assert fast.snapshot_date == slow.snapshot_date
    assert fast.rows.sort_by("model_id").equals(slow.rows.sort_by("model_id"))
    assert fast.rejects.to_pylist() == slow.rejects.to_pylist()
    assert fast.aliases.equals(slow.aliases)
    return fast


def test_real_extract() -> None:
    snapshot = assert_same(HUB_STATS)
    regular, irregular = read_hub_stats(HUB_STATS) or (None, None)
    assert regular is not None and regular.num_rows == 4167 and irregular == []
    assert snapshot.aliases.num_rows > 0


def test_synthetic_hub(tmp_path: Path) -> None:
    assert_same(synthesize(12_000, tmp_path, seed=5).models_path)


def _edit(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**row, **changes}


def test_irregular_rows_take_the_python_path_and_end_the_same(tmp_path: Path) -> None:
    table = pq.read_table(HUB_STATS)
    base = table.slice(0, 40).to_pylist()
    card = json.loads(base[0]["cardData"] or "{}")
    rows = [
        _edit(base[0], cardData="{not json"),  # unparseable card → reject
        _edit(base[1], createdAt=dt.datetime(1990, 1, 1)),  # out of range → reject
        _edit(base[2], downloads=-5),  # negative → reject
        _edit(base[3], tags=["a", None]),  # tags with a null → reject
        _edit(base[4], id="bad id/with space"),  # malformed id → reject
        _edit(base[5], id=base[6]["id"]),  # duplicate of a later good row: first wins
        base[6],
        _edit(base[7], id=base[8]["id"], downloads=-1),  # rejected, so not "first seen"
        base[8],
        _edit(  # tie between declared relations: Python decides
            base[9],
            baseModels=None,
            tags=["base_model:finetune:a/x", "base_model:adapter:b/y"],
        ),
        _edit(base[10], baseModels=None, tags=["base_model:c/plain", "base_model:d/other"]),
        _edit(
            base[11],
            baseModels=None,
            tags=[],
            cardData=json.dumps({**card, "base_model": ["  e/one ", "f/two", "e/one"]}),
        ),
        _edit(base[12], baseModels=None, tags=[], cardData=json.dumps({"base_model": "\tg/tab"})),
        _edit(base[13], gguf="{ }", cardData=json.dumps({"license": ["mit", "apache-2.0"]})),
        _edit(base[14], createdAt=dt.datetime(2022, 3, 2, 23, 29, 4, 500)),  # placeholder
        _edit(base[15], author="", cardData="null", gguf=""),
        _edit(base[16], cardData="[1, 2]"),  # a JSON array is not an object → reject
        _edit(base[17], gguf=json.dumps({"total": True})),  # a boolean is not a size
        _edit(
            base[18],
            baseModels={"relation": "weird", "models": [{"_id": "x", "id": "h/one"}]},
            cardData=json.dumps({"base_model": "h/old-name"}),
        ),
        *base[19:],
    ]
    path = tmp_path / "irregular.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    snapshot = assert_same(path)
    reasons = {r["row"]: r["field"] for r in snapshot.rejects.to_pylist()}
    assert reasons == {
        1: "cardData",
        2: "createdAt",
        3: "downloads",
        4: "tags",
        5: "id",
        7: "id",
        8: "downloads",
        17: "cardData",
    }
    _, irregular = read_hub_stats(path) or (None, [])
    assert {1, 2, 3, 4, 5, 8, 10, 13, 17} <= set(irregular)


def test_other_typings_fall_back_to_python(tmp_path: Path) -> None:
    table = pq.read_table(HUB_STATS).slice(0, 50)
    table = table.set_column(
        table.schema.get_field_index("downloads"),
        "downloads",
        table["downloads"].cast(pa.float64()),
    )
    path = tmp_path / "floats.parquet"
    pq.write_table(table, path)
    assert read_hub_stats(path) is None
    assert_same(path)


@pytest.mark.parametrize("text", [b"not parquet at all", b""])
def test_unreadable_files_fall_back(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(text)
    assert read_hub_stats(path) is None
