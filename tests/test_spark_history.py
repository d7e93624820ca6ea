"""Engine parity for history: the stored history stage built on Spark holds the same model-month
estimates, bounds, methods, caveats and jump marks as the one built on DuckDB, on the bundled
real series and on a synthetic warehouse made to hold every kind of evidence and defect (gaps,
the Hub's window glitch, a day that did not refresh, a contradiction, a counter reset, daily
sums covering a whole month and part of one); and every history command prints the same on both
engines. Skipped only when PySpark is not installed, unless HUBPULSE_REQUIRE_SPARK=1 (as in
CI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from histories import model_months, synthetic_history
from test_spark import _close, _same

from hubpulse.analysis.history.deconvolve import list_left_out
from hubpulse.analysis.history.stored import HISTORY_TABLES, stored_history
from hubpulse.settings import load_settings
from hubpulse.store.names import DERIVED, WAREHOUSE
from hubpulse.store.warehouse import Warehouse

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_history(tmp_path_factory.mktemp("history-synth") / "wh")


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


def test_spikes_are_found_and_discounted_alike_on_spark(spark: Any, tmp_path: Path) -> None:
    import datetime as dt

    import ibis

    from hubpulse.analysis.history.monthly import with_jumps
    from hubpulse.analysis.history.spikes import discount_spikes, find_spikes

    months = [dt.date(2024, m, 1) for m in (11, 12)] + [dt.date(2025, m, 1) for m in (1, 2)]
    series = {"a/spike": [100, 5000, 110, 120], "b/stays": [100, 5000, 4800, 4900]}
    series["c/late"] = [10, 12, 900, 40]  # a spike across a year's end is one too
    path = tmp_path / "estimates.parquet"  # read by each engine, nothing written elsewhere
    pq.write_table(model_months(months, series), path)
    out = {}
    for name, con in (("duckdb", ibis.duckdb.connect()), ("spark", spark)):
        marked = with_jumps(con.read_parquet(str(path)), 10.0)
        spikes = find_spikes(marked).to_pyarrow().to_pylist()
        kept = discount_spikes(marked, find_spikes(marked)).to_pyarrow().to_pylist()
        out[name] = (
            sorted((s["model_id"], s["month"], s["level"]) for s in spikes),
            sorted((r["model_id"], r["month"], r["estimate"], r["lower"]) for r in kept),
        )
    assert out["duckdb"][0] == [("a/spike", "2024-12", 110.0), ("c/late", "2025-01", 40.0)]
    assert out["spark"] == out["duckdb"]
