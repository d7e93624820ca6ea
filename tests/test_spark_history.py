"""Engine parity for history: the stored history stage built on Spark holds the same model-month
estimates, bounds, methods, caveats and jump marks as the one built on DuckDB, on the bundled
real series and on a synthetic warehouse made to hold every kind of evidence and defect (gaps,
the Hub's window glitch, a day that did not refresh, a contradiction, a counter reset, daily
sums covering a whole month and part of one); and every history command prints the same on both
engines. Skipped only when PySpark is not installed, unless HUBPULSE_REQUIRE_SPARK=1 (as in
CI)."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_spark import _close, _same

from hubpulse.analysis.history.deconvolve import list_left_out
from hubpulse.analysis.history.stored import HISTORY_TABLES, stored_history
from hubpulse.settings import load_settings
from hubpulse.store.derived import DERIVED, WAREHOUSE
from hubpulse.store.engines import connect_spark
from hubpulse.store.warehouse import Warehouse

if os.environ.get("HUBPULSE_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark", reason="PySpark not installed: pip install 'hubpulse[spark]'")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

START, DAYS = dt.date(2025, 1, 1), 150
ORGS = ("Qwen", "meta-llama", "mistralai", "google")  # the families Qwen, Llama, Mistral, Gemma
MODELS = [f"{ORGS[k % 4]}/m{k}" for k in range(24)]
GLITCHED, STALE_DAY, CONTRADICTED, RESET = (2, 7), 90, 23, 5


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    backend = connect_spark("local[2]")
    yield backend
    backend.disconnect()
    gc.collect()


def _downloads(k: int, rng: random.Random) -> list[int]:
    """Model k's true downloads per day from START (0 before its creation day)."""
    created = 3 * k - 20
    days = [rng.randint(0, 400) + (5_000 if rng.random() < 0.03 else 0) for _ in range(DAYS)]
    return [0 if i < created else d for i, d in enumerate(days)]


def _synthetic(root: Path) -> Path:
    """A warehouse with 30-day series, two snapshots and two daily files of known truth."""
    rng = random.Random(11)
    truth = {m: _downloads(k, rng) for k, m in enumerate(MODELS)}

    def rolling(m: str, i: int) -> int:
        return sum(truth[m][max(0, i - 29) : i + 1])

    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    src = root.parent / "src"
    src.mkdir(parents=True)
    with (src / "synth.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["model", *[f"{d} 00:00:00" for d in days], "created_at"])
        for k, m in enumerate(MODELS):
            cells: list[str] = []  # the layout's running sum of 30-day counts
            running = 0
            for i in range(DAYS):
                value = rolling(m, i)
                if k in GLITCHED and i in (70, 71):  # the window's first two weeks read 0
                    value -= sum(truth[m][i - 29 : i - 15])
                if i == STALE_DAY:  # a collection that did not refresh
                    value = rolling(m, i - 1)
                if k == CONTRADICTED and i == 100:
                    value += 1_000_000  # a count no downloads can explain
                running += value
                gap = (k % 3 == 0 and 30 <= i < 36) or (k % 5 == 0 and i % 7 == 3)
                cells.append("" if gap else str(running))
            created = START + dt.timedelta(days=3 * k - 20)
            out.writerow([m, *cells, f"{created} 00:00:00+00:00"])
    store = Warehouse(root)
    extra = {f"extra/a{k}": _downloads(k, rng) for k in range(4)}  # snapshots only
    extra["extra/gone"] = _downloads(9, rng)  # in the first snapshot only: deleted after
    truth |= extra
    for index in (45, 75, 120):
        records, day = [], days[index]
        listed = MODELS + [m for m in extra if index == 45 or m != "extra/gone"]
        for k, m in enumerate(listed):
            all_time = sum(truth[m][: index + 1])
            if k == RESET and index == 120:
                all_time //= 3  # the counter went down: a new epoch
            created = START + dt.timedelta(days=3 * (k % 24) - 20)
            records.append(
                {
                    "id": m,
                    "downloads": rolling(m, index),
                    "downloadsAllTime": all_time,
                    "likes": k,
                    "createdAt": f"{created}T00:00:00.000Z",
                    "tags": ["safetensors"],
                }
            )
        path = src / f"models-{day}.json"
        path.write_text(json.dumps(records))
        store.ingest(path, day)
    store.import_series(src / "synth.csv")
    for name, (first, last), picked in (
        ("march", (59, 89), range(4)),  # 2025-03-01 … 2025-03-31: whole months
        ("april", (94, 109), (6, 7)),  # part of April
    ):
        ids, dates, counts = [], [], []
        for k in picked:
            for i in range(first, last + 1):
                if truth[MODELS[k]][i]:  # a day without a row had no downloads
                    ids.append(MODELS[k])
                    dates.append(days[i])
                    counts.append(truth[MODELS[k]][i])
        path = src / f"{name}.parquet"
        pq.write_table(pa.table({"hub_id": ids, "date": dates, "downloads": counts}), path)
        store.import_series(path, layout="daily", coverage=(days[first], days[last]))
    return root


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic(tmp_path_factory.mktemp("history-synth") / "wh")


def _both(root: Path, spark: Any, tmp_path: Path) -> dict[str, dict[str, pa.Table]]:
    """The history stage built from scratch on each engine, in its own copy of ``root``."""
    built = {}
    for name, engine in (("duckdb", None), ("spark", spark)):
        copy = tmp_path / name
        shutil.copytree(root, copy)
        shutil.rmtree(copy / DERIVED / WAREHOUSE, ignore_errors=True)
        stored_history(Warehouse(copy, engine), load_settings(warehouse=copy))
        (build,) = (copy / DERIVED / WAREHOUSE).glob("history-*")
        built[name] = {t: pq.read_table(build / f"{t}.parquet") for t in HISTORY_TABLES}
    return built


def test_the_synthetic_warehouse_holds_every_kind_of_evidence(synthetic: Path) -> None:
    """What the parity below is worth: every method, defect and caveat occurs."""
    built = stored_history(Warehouse(synthetic), load_settings(warehouse=synthetic))
    rows = built.estimates.to_pyarrow().to_pylist()
    methods = {r["method"] for r in rows}
    assert methods >= {"daily", "deconvolved", "all_time", "rolling30", "daily_partial"}
    assert "not_created" in methods
    assert any("counter_reset" in (r["caveats"] or "") for r in rows)
    assert any(r["jump"] for r in rows)
    reasons = {r["reason"].split(":")[0] for r in list_left_out(Warehouse(synthetic)).to_pylist()}
    assert reasons >= {"glitch", "stale", "contradiction"}


@pytest.mark.parametrize("case", ["synthetic", "real"])
def test_the_history_stage_on_spark_equals_duckdb(
    case: str, request: pytest.FixtureRequest, spark: Any, tmp_path: Path
) -> None:
    root = request.getfixturevalue("synthetic" if case == "synthetic" else "demo_store")
    built = _both(root, spark, tmp_path)
    for table in HISTORY_TABLES:
        _same(built["duckdb"][table], built["spark"][table])


HISTORY_COMMANDS = [
    ["monthly", "--by", "author", "--limit", "0"],
    ["monthly", "--by", "model", "--count", "robust"],
    ["trend", "Qwen", "Llama"],
    ["compare", "Qwen", "--month", "2025-02", "--next", "2"],
    ["drivers", "Mistral", "--month", "2025-04"],
    ["milestones", "Qwen", "--at", "10K,100K"],
    ["concentration", "--by", "vendor"],
    ["adoption", "--limit", "0"],
    ["audit", "Qwen", "--next", "2", "--month", "2025-04"],
]


def test_every_history_command_prints_the_same_on_spark(
    synthetic: Path, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hubpulse.cli import app

    root = tmp_path / "wh"
    shutil.copytree(synthetic, root)
    monkeypatch.setenv("HUBPULSE_SPARK_MASTER", "local[2]")  # the session the module started
    runner = CliRunner()
    for command in HISTORY_COMMANDS:
        printed = {}
        for engine in ("duckdb", "spark"):
            args = [*command, "-w", str(root), "-f", "json", "--engine", engine]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, (command, engine, result.output)
            printed[engine] = json.loads(result.stdout)
        assert printed["duckdb"], command
        assert _close(printed["spark"], printed["duckdb"]), command
