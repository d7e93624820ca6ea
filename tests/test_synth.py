"""`hubpulse synth`: deterministic, shaped like the Hub where cost is decided, and read by the
whole pipeline exactly as a real hub-stats dump (checked against the independent computation)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from independent import family_totals
from typer.testing import CliRunner

from hubpulse.analysis.snapshot.lineage import model_depths
from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.analysis.snapshot.snapshot import analyse_snapshot
from hubpulse.cli import app
from hubpulse.ingest.synth import MAX_DEPTH, MAX_MERGE, synthesize
from hubpulse.registry import load_registry
from hubpulse.store.warehouse import open_warehouse

MODELS = 20_000


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    result = runner_invoke(
        ["synth", "--models", str(MODELS), "--days", "40", "--seed", "7", "--out", str(out)]
    )
    assert f"{MODELS:,} models" in result
    return out


def runner_invoke(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    one = synthesize(3_000, tmp_path / "a", days=5, seed=1)
    two = synthesize(3_000, tmp_path / "b", days=5, seed=1)
    three = synthesize(3_000, tmp_path / "c", days=5, seed=2)
    assert digest(one.models_path) == digest(two.models_path) != digest(three.models_path)
    assert one.daily_path and two.daily_path and digest(one.daily_path) == digest(two.daily_path)


def test_the_shape_that_decides_cost(hub: Path) -> None:
    """Counted straight from the raw rows: lineage share, merges, floods, leaves, renames."""
    rows = pq.read_table(hub / "models.parquet").to_pylist()
    assert len(rows) == MODELS and len({r["id"] for r in rows}) == MODELS
    parents = {}
    for r in rows:
        card = json.loads(r["cardData"])
        named = [m["id"] for m in (r["baseModels"] or {}).get("models", [])]
        base = card.get("base_model")
        parents[r["id"]] = named or ([base] if isinstance(base, str) else base or [])
    with_lineage = sum(1 for p in parents.values() if p)
    assert 0.27 < with_lineage / MODELS < 0.31
    assert max(len(p) for p in parents.values()) == MAX_MERGE
    ids = set(parents)
    assert any(p.startswith("ghost-org/") for ps in parents.values() for p in ps)
    old_names = {p for ps in parents.values() for p in ps if p.endswith("-old")}
    assert old_names and not old_names & ids  # renamed parents are named by an id that is gone
    children = Counter(p for ps in parents.values() for p in ps)
    flood = [p for p, _ in children.most_common(3)]
    assert all(children[p] > 0.02 * with_lineage for p in flood)  # adapter floods
    quantized = {r["id"] for r in rows if r["gguf"]}
    assert quantized and not quantized & set(children)  # quantized repos are leaves
    downloads = sorted((r["downloads"] for r in rows), reverse=True)
    assert sum(downloads[: MODELS // 100]) > 0.5 * sum(downloads)  # top 1% hold most downloads


@pytest.mark.slow
def test_pipeline_reads_it_like_a_real_dump(hub: Path, tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    result = store.ingest(hub / "models.parquet")
    assert result.rows == MODELS and result.rejects == 0
    day = store.resolve_date(None)
    analysis = analyse_snapshot(store.models(day), store.aliases(), load_registry(), day)
    assert analysis.lineage.rounds == MAX_DEPTH.bit_length()  # path doubling: 2, 4, … ≥ depth
    assert int(model_depths(analysis.lineage).depth.max().execute()) == MAX_DEPTH
    issues = analysis.lineage.issues
    assert int(issues.filter(issues.kind == "alias").count().execute()) > 0
    for mode in ("publisher", "lineage"):
        ranking = rank_models(analysis, by="family", mode=mode).to_pyarrow().to_pylist()
        got = {r["family"]: r["downloads_30d"] for r in ranking}
        expected = family_totals(hub / "models.parquet", mode)
        assert set(got) == {f for f, v in expected.items() if v or f in got}, mode
        for family, value in expected.items():  # ±1: split shares rounded in two ways
            assert abs(got.get(family, 0) - value) <= 1, (mode, family)


def test_daily_table_imports_and_sums(hub: Path, tmp_path: Path) -> None:
    daily = pq.read_table(hub / "daily.parquet")
    assert daily.num_rows > 0
    output = runner_invoke(
        [
            "import-series",
            str(hub / "daily.parquet"),
            "--layout",
            "daily",
            "--models",
            str(hub / "daily_models.parquet"),
            "--column",
            "models_created=created_at",
            "-w",
            str(tmp_path / "wh"),
        ]
    )
    assert f"{daily.num_rows:,} rows" in output or "0 rejected" in output
    monthly = json.loads(
        runner_invoke(
            [
                "monthly",
                "--by",
                "model",
                "--from",
                "2026-04",
                "--to",
                "2026-04",
                "--mode",
                "publisher",
                "--format",
                "json",
                "-w",
                str(tmp_path / "wh"),
            ]
        )
    )["rows"]
    april = pc.and_(
        pc.greater_equal(daily["date"], pc.strptime("2026-04-01", "%Y-%m-%d", "s").cast("date32")),
        pc.less(daily["date"], pc.strptime("2026-05-01", "%Y-%m-%d", "s").cast("date32")),
    )
    expected = int(pc.sum(daily.filter(april)["downloads"]).as_py())
    daily_rows = [r for r in monthly if r["methods"].startswith("daily")]
    assert sum(r["estimate"] for r in daily_rows) == expected
