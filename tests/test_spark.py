"""Engine parity: lineage, attribution and metrics give the same results on Spark as on DuckDB.

Both engines read the same Parquet warehouse; every table is compared in full (sorted rows),
counts and integers exactly, floats (shares, computed by each engine's own division) to 1e-12
relative. Runs on a local Spark session (``local[2]``); skipped only when PySpark is not
installed, unless HUBPULSE_REQUIRE_SPARK=1 (as in CI), where a missing Spark fails."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS, HUB_STATS_DATE
from graphs import model

from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot
from hubpulse.analysis.snapshot.dimensions import PAIR_GROUPS, derivative_pairs, pairs_key
from hubpulse.analysis.snapshot.lineage_report import describe_lineage
from hubpulse.analysis.snapshot.ranking import (
    GROUPS,
    count_derivatives,
    derivatives_by_family,
    rank_models,
)
from hubpulse.analysis.snapshot.snapshot import Analysis, analyse_snapshot
from hubpulse.analysis.snapshot.stored import (
    FAMILY_TABLES,
    LINEAGE_TABLES,
    PAIR_TABLES,
    ensure_stored,
    stored_analysis,
)
from hubpulse.ingest.files import ALIAS_SCHEMA, SNAPSHOT_SCHEMA
from hubpulse.ingest.synth import synthesize
from hubpulse.registry import load_registry
from hubpulse.store.derived import DERIVED, Stage
from hubpulse.store.warehouse import Warehouse

# PySpark leaves the sockets it collects results through to the garbage collector.
pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _pair(root: Path, spark: Any, date: dt.date | None = None) -> tuple[Analysis, Analysis]:
    """The same snapshot analysed on DuckDB and on Spark."""
    analyses = []
    for engine in (None, spark):
        store = Warehouse(root, engine)
        day = store.resolve_date(date)
        analyses.append(analyse_snapshot(store.models(day), store.aliases(), load_registry(), day))
    return analyses[0], analyses[1]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> tuple[Analysis, Analysis]:
    """The real hub-stats extract: deep leaderboard merge chains, self-references."""
    root = tmp_path_factory.mktemp("parity-real") / "wh"
    Warehouse(root).ingest(HUB_STATS)
    return _pair(root, spark, HUB_STATS_DATE)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> tuple[Analysis, Analysis]:
    """A synthetic Hub: chains to depth 40, 64-parent merges, renames, missing parents."""
    base = tmp_path_factory.mktemp("parity-synth")
    hub = synthesize(3_000, base / "hub", seed=7)
    Warehouse(base / "wh").ingest(hub.models_path, dt.date(2026, 1, 1))
    return _pair(base / "wh", spark)


@pytest.fixture(scope="module")
def repaired(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> tuple[Analysis, Analysis]:
    """Hand-built graph repairs: a cycle, a self-reference, a rename chain, a missing parent,
    a merge across families and a model id without an org."""
    rows = [
        model("Qwen/Qwen2.5-7B", created="2024-09-01"),
        model("meta-llama/Llama-3.1-8B", created="2024-07-01"),
        model("a/ft", ["Qwen/Qwen2.5-7B"], "finetune", downloads=10),
        model("b/merge", ["a/ft", "meta-llama/Llama-3.1-8B"], "merge", downloads=7),
        model("c/x", ["c/y"], "finetune", created="2024-01-01", downloads=3),
        model("c/y", ["c/x"], "finetune", created="2024-02-01", downloads=4),
        model("d/self", ["d/self"], "finetune", downloads=5),
        model("e/renamed-child", ["old/name"], "adapter", downloads=6),
        model("f/orphan", ["gone/parent"], "quantized", downloads=2),
        model("noorg", downloads=1),
    ]
    snapshot = pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA)
    renames = [("old/name", "older/name"), ("older/name", "Qwen/Qwen2.5-7B")]
    root = tmp_path_factory.mktemp("parity-repaired")
    pq.write_table(snapshot, root / "models.parquet")
    aliases = pa.Table.from_pylist([{"old_id": o, "new_id": n} for o, n in renames], ALIAS_SCHEMA)
    pq.write_table(aliases, root / "aliases.parquet")
    analyses = []
    for con in (ibis.duckdb.connect(), spark):
        models = con.read_parquet(str(root / "models.parquet"))
        known = con.read_parquet(str(root / "aliases.parquet"))
        analyses.append(analyse_snapshot(models, known, load_registry(), dt.date(2026, 1, 1)))
    return analyses[0], analyses[1]


CASES = ["real", "synthetic", "repaired"]


@pytest.mark.parametrize("case", CASES)
def test_lineage_tables_are_identical(case: str, request: pytest.FixtureRequest) -> None:
    duck, spark = request.getfixturevalue(case)
    assert spark.lineage.rounds == duck.lineage.rounds
    for name in ("edges", "closure", "roots", "issues"):
        _same(getattr(duck.lineage, name).to_pyarrow(), getattr(spark.lineage, name).to_pyarrow())
    if case == "repaired":  # the repairs happened, on both engines
        kinds = {r["kind"] for r in spark.lineage.issues.to_pyarrow().to_pylist()}
        assert kinds == {"cycle_break", "self_reference", "alias"}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["publisher", "lineage"])
def test_attribution_and_rankings_are_identical(
    case: str, mode: str, request: pytest.FixtureRequest
) -> None:
    duck, spark = request.getfixturevalue(case)
    _same(duck.attribution(mode).to_pyarrow(), spark.attribution(mode).to_pyarrow())  # type: ignore[arg-type]
    for by in GROUPS:
        want = rank_models(duck, by=by, mode=mode).to_pyarrow()  # type: ignore[arg-type]
        got = rank_models(spark, by=by, mode=mode).to_pyarrow()  # type: ignore[arg-type]
        _same(want, got, ordered=True)


@pytest.mark.parametrize("case", CASES)
def test_derivative_counts_are_identical(case: str, request: pytest.FixtureRequest) -> None:
    duck, spark = request.getfixturevalue(case)
    _same(
        derivatives_by_family(duck).to_pyarrow(),
        derivatives_by_family(spark).to_pyarrow(),
        ordered=True,
    )
    for minimum in (0, 5):
        _same(
            count_derivatives(duck, "Qwen", min_downloads=minimum).to_pyarrow(),
            count_derivatives(spark, "Qwen", min_downloads=minimum).to_pyarrow(),
            ordered=True,
        )


def test_comparison_and_model_lineage_are_identical(real: tuple[Analysis, Analysis]) -> None:
    duck, spark = real
    for mode in ("publisher", "lineage"):
        for n in (1, 8):
            want = compare_snapshot(duck, "Qwen", n, mode=mode).to_dict()  # type: ignore[arg-type]
            got = compare_snapshot(spark, "Qwen", n, mode=mode).to_dict()  # type: ignore[arg-type]
            assert _close(got, want)
    for model_id in ("Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"):
        want = describe_lineage(duck.lineage, duck.models, model_id).to_dict()
        got = describe_lineage(spark.lineage, spark.models, model_id).to_dict()
        assert want["descendants_by_relation"], model_id  # a model with descendants
        assert _close(got, want)


def test_the_spark_run_really_ran_on_spark(real: tuple[Analysis, Analysis]) -> None:
    _, spark = real
    for table in (spark.models, spark.lineage.closure, spark.lineage.roots):
        assert table._find_backend().name == "pyspark"


@pytest.mark.parametrize("case", ["real", "synthetic"])
def test_stored_tables_are_identical(case: str, tmp_path: Path, spark: Any) -> None:
    """``--engine spark`` builds the same stored analysis as DuckDB, table by table."""
    stages = {}
    for name, engine in (("duckdb", None), ("spark", spark)):
        root = tmp_path / name
        if case == "real":
            Warehouse(root).ingest(HUB_STATS)
        else:
            hub = synthesize(3_000, tmp_path / "hub", seed=7)
            Warehouse(root).ingest(hub.models_path, dt.date(2026, 1, 1))
        store = Warehouse(root, engine)
        day = store.resolve_date(None)
        lineage, families, built = ensure_stored(store, day, load_registry(), max_depth=256)
        assert built == ["lineage", "families"]
        stages[name] = {"lineage": lineage, "families": families}
        analysis = stored_analysis(store, day, load_registry())
        for by in PAIR_GROUPS:
            derivative_pairs(analysis, by)  # each group's pairs stage, built now
            (pairs,) = (root / DERIVED).glob(f"*/{pairs_key(by)}-*")
            meta = json.loads((pairs / "meta.json").read_text())
            stages[name][pairs_key(by)] = Stage(pairs, meta)
    each = [(name, (name,)) for name in PAIR_TABLES]
    for stage, tables in (("lineage", LINEAGE_TABLES), ("families", FAMILY_TABLES), *each):
        duck, spark_built = stages["duckdb"][stage], stages["spark"][stage]
        assert spark_built.meta["engine"] == "pyspark" and duck.meta["engine"] == "duckdb"
        assert spark_built.meta["key"] == duck.meta["key"]
        assert spark_built.meta.get("rounds") == duck.meta.get("rounds")
        for table in tables:
            _same(pq.read_table(duck.path(table)), pq.read_table(spark_built.path(table)))


def _same(want: pa.Table, got: pa.Table, *, ordered: bool = False) -> None:
    assert got.schema.names == want.schema.names
    rows_want, rows_got = want.to_pylist(), got.to_pylist()
    assert rows_want, "an empty table proves nothing"
    if not ordered:
        rows_want, rows_got = sorted(rows_want, key=repr), sorted(rows_got, key=repr)
    assert len(rows_got) == len(rows_want)
    for a, b in zip(rows_got, rows_want, strict=True):
        assert _close(a, b), (a, b)


def _close(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-12 relative; containers element by element."""
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-15)
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(_close(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want, strict=True))
    return bool(got == want)


def test_cli_engine_spark_prints_what_duckdb_prints(
    tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hubpulse.cli import app

    hub = synthesize(400, tmp_path / "hub", seed=3)
    root = str(tmp_path / "wh")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(hub.models_path), "-w", root]).exit_code == 0
    monkeypatch.setenv("HUBPULSE_SPARK_MASTER", "local[2]")  # the session the module started
    for command in (["top", "--by", "author"], ["derivatives", "Qwen"], ["compare", "Qwen"]):
        printed = {}
        for engine in ("duckdb", "spark"):
            result = runner.invoke(app, [*command, "-w", root, "-f", "json", "--engine", engine])
            assert result.exit_code == 0, result.output
            printed[engine] = json.loads(result.stdout)
        assert printed["spark"], command
        assert _close(printed["spark"], printed["duckdb"]), command
