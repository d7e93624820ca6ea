"""The stored analysis: questions read tables built once per snapshot, and get exactly the
answers of a from-scratch computation; a changed registry rebuilds by itself; a killed build
leaves nothing half-written; two racing builders build once."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURES, HUB_STATS, HUB_STATS_DATE, cli
from independent import family_totals
from typer.testing import CliRunner

from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot
from hubpulse.analysis.snapshot.lineage_report import describe_lineage
from hubpulse.analysis.snapshot.ranking import count_derivatives, derivatives_by_family, rank_models
from hubpulse.analysis.snapshot.snapshot import Analysis, analyse_snapshot
from hubpulse.analysis.snapshot.stored import (
    FAMILY_TABLES,
    LINEAGE_TABLES,
    LOOKUP_TABLES,
    PAIR_TABLES,
    SIGNAL_TABLES,
    load_analysis,
)
from hubpulse.cli import app
from hubpulse.errors import NotComparableError
from hubpulse.ingest.synth import synthesize
from hubpulse.registry import load_registry
from hubpulse.settings import load_settings
from hubpulse.store.derived import DERIVED, Stage, read_stage, stage_rows
from hubpulse.store.warehouse import open_warehouse
from hubpulse.store.writers import partitioned_writer
from hubpulse.terms import GROUPS, MODES


def _ingest(root: Path, case: str, tmp: Path) -> dt.date:
    store = open_warehouse(root)
    if case == "real":
        store.ingest(HUB_STATS)
        return HUB_STATS_DATE
    if case == "broken":  # malformed records kept aside, the rest loaded
        store.ingest(FIXTURES / "malformed.jsonl", dt.date(2025, 3, 21))
        return dt.date(2025, 3, 21)
    hub = synthesize(4_000, tmp / "hub", seed=11)  # chains, merges, renames, missing parents
    store.ingest(hub.models_path, dt.date(2026, 1, 1))
    return dt.date(2026, 1, 1)


def _answers(analysis: Analysis) -> dict[str, Any]:
    """Every question's answer on ``analysis``, as plain values."""
    out: dict[str, Any] = {}
    for mode in MODES:
        for by in GROUPS:
            out[f"top {by} {mode}"] = rank_models(analysis, by=by, mode=mode).to_pyarrow()
        families = [r["family"] for r in out[f"top family {mode}"].to_pylist()]
        for family in families[:3]:
            if family != "(unattributed)":
                try:
                    found: Any = compare_snapshot(analysis, family, 8, mode=mode).to_dict()
                except NotComparableError as exc:  # the last family has none below it
                    found = str(exc)
                out[f"compare {family} {mode}"] = found
    out["derivatives"] = derivatives_by_family(analysis).to_pyarrow()
    ids = analysis.models.order_by("model_id").model_id.to_pyarrow().to_pylist()
    parents = sorted(set(analysis.lineage.edges.parent.to_pyarrow().to_pylist()))
    for model_id in sorted(
        set(ids[:: max(1, len(ids) // 5)] + parents[:: max(1, len(parents) // 5)])
    ):
        out[f"lineage {model_id}"] = describe_lineage(
            analysis.lineage, analysis.models, model_id
        ).to_dict()
        if model_id in ids:
            out[f"derivatives {model_id}"] = count_derivatives(analysis, model_id).to_pyarrow()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", ["real", "synthetic", "broken"])
def test_stored_answers_equal_a_computation_from_scratch(case: str, tmp_path: Path) -> None:
    day = _ingest(tmp_path / "wh", case, tmp_path)
    settings = load_settings(warehouse=tmp_path / "wh")
    store = open_warehouse(tmp_path / "wh")
    fresh = analyse_snapshot(store.models(day), store.aliases(), load_registry(), day)
    want = _answers(fresh)
    built = load_analysis(settings, day)  # builds the stored tables
    assert _answers(built) == want
    # the derivative counts built each group's pairs stage on first use, the lineage lookups
    # the closure by ancestor
    stages = {"lineage": 1, "families": 1, "lookup": 1} | dict.fromkeys(PAIR_TABLES, 1)
    assert _stages(tmp_path / "wh") == stages
    again = load_analysis(settings, day)  # reads them: no second build
    assert _answers(again) == want
    assert _stages(tmp_path / "wh") == stages
    assert "ibis_cached" not in str(again.attribution("lineage").compile())  # read, not made


def _stages(root: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for stage in (root / DERIVED).glob("*/*-*"):
        found[stage.name.split("-")[0]] = found.get(stage.name.split("-")[0], 0) + 1
    return found


STAGE_TABLES = {
    "lineage": LINEAGE_TABLES,
    "families": FAMILY_TABLES,
    "signals": SIGNAL_TABLES,
    "lookup": LOOKUP_TABLES,
} | {name: (name,) for name in PAIR_TABLES}


def _published_are_whole(root: Path) -> None:
    """Every published stage holds meta.json and all its tables, each a readable Parquet."""
    for stage in (root / DERIVED).glob("*/[!.]*-*"):
        tables = STAGE_TABLES[stage.name.split("-")[0]]  # a stage of a new name must be added
        assert (stage / "meta.json").is_file()
        for table in tables:
            pq.read_metadata(stage / f"{table}.parquet")


@pytest.mark.slow
def test_a_changed_registry_rebuilds_without_a_manual_step(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    first = cli("top", "--mode", "publisher", "-f", "json", "-w", str(root))
    assert first.returncode == 0, first.stderr
    assert "building the lineage" in first.stderr
    before = {r["family"]: r["downloads_30d"] for r in json.loads(first.stdout)["rows"]}
    # DeepSeek's organisation is given to Qwen (listed first, so Qwen wins the tie)
    override = {"orgs": ["Qwen", "Alibaba-NLP", "deepseek-ai"]}
    toml = tmp_path / "families.toml"
    toml.write_text('[[family]]\nname = "Qwen"\norgs = ["Qwen", "Alibaba-NLP", "deepseek-ai"]\n')
    second = cli(
        "top", "--mode", "publisher", "-f", "json", "-w", str(root), "--families", str(toml)
    )
    assert second.returncode == 0, second.stderr
    notes = [line for line in second.stderr.splitlines() if line.startswith("note:")]
    assert any("family registry" in n and "rebuilding" in n for n in notes), second.stderr
    assert not any("lineage" in n and "build" in n for n in notes)  # the graph is reused
    after = {r["family"]: r["downloads_30d"] for r in json.loads(second.stdout)["rows"]}
    expected = family_totals(HUB_STATS, "publisher", {"Qwen": override})
    assert after["Qwen"] == round(expected["Qwen"])
    assert after["Qwen"] > before["Qwen"] and "DeepSeek" not in after
    # and back: the built-in registry's tables are still stored, nothing is rebuilt
    third = cli("top", "--mode", "publisher", "-f", "json", "-w", str(root))
    assert "note:" not in third.stderr
    assert {r["family"]: r["downloads_30d"] for r in json.loads(third.stdout)["rows"]} == before


@pytest.mark.slow
def test_a_killed_build_leaves_nothing_half_written(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    hub = synthesize(30_000, tmp_path / "hub", seed=3)
    open_warehouse(root).ingest(hub.models_path, dt.date(2026, 1, 1))
    reference = tmp_path / "reference"
    shutil.copytree(root, reference, symlinks=True)
    want = _json("top", "--by", "family", "-w", str(reference))
    kills = 0
    # kill inside each stage's write (seen by its staging directory), not at guessed times
    for stage in ("lineage", "families", "signals", "lineage", "families", "signals"):
        staging = f"*/.tmp-{stage}-*"
        left = set((root / DERIVED).glob(staging))  # by a killed build, until the next sweep
        process = subprocess.Popen(
            [sys.executable, "-m", "hubpulse", "analyse", "--rebuild", "-w", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while process.poll() is None and not set((root / DERIVED).glob(staging)) - left:
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        _published_are_whole(root)
    assert kills >= 3  # the build was really interrupted, several times, mid-write
    assert _json("top", "--by", "family", "-w", str(root)) == want
    _published_are_whole(root)
    _json("analyse", "-w", str(root))  # takes the build lock: a killed build's leftovers go
    assert not list((root / DERIVED).glob("*/.tmp-*"))


def _json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_two_racing_builders_build_once(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    hub = synthesize(20_000, tmp_path / "hub", seed=5)
    open_warehouse(root).ingest(hub.models_path, dt.date(2026, 1, 1))
    command = [sys.executable, "-m", "hubpulse", "analyse", "-f", "json", "-w", str(root)]
    racers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=300)[0])["rows"] for p in racers]
    assert all(p.returncode == 0 for p in racers)
    # lineage, families, lookup, signals, four groups' pairs, history and the history's groups
    # in both modes: each built by one racer and found stored by the other (not always the same)
    stages = [r["stage"] for r in outputs[0]]
    assert stages == [r["stage"] for r in outputs[1]] and len(stages) == 11
    for first, second in zip(*outputs, strict=True):
        assert sorted((first["status"], second["status"])) == ["built", "stored"], first
    keys = [[r["key"] for r in rows] for rows in outputs]
    assert keys[0] == keys[1]
    assert _stages(root) == {stage: 1 for stage in stages}


@pytest.mark.slow
def test_replacing_a_snapshot_sweeps_its_stored_analysis(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    settings = load_settings(warehouse=root)
    load_analysis(settings, None)
    old = store.load_id(HUB_STATS_DATE)
    assert (root / DERIVED / old).is_dir()
    rows = pq.read_table(HUB_STATS).slice(0, 500)
    pq.write_table(rows, tmp_path / "smaller.parquet")
    store.ingest(tmp_path / "smaller.parquet", HUB_STATS_DATE, replace=True)
    assert not (root / DERIVED / old).exists()
    analysis = load_analysis(settings, None, open_warehouse(root))
    assert analysis.models.count().execute() == 500
    assert rank_models(analysis).to_pyarrow().column("models").to_pylist()  # answers the new one
    assert isinstance(rows, pa.Table)


@pytest.mark.slow
def test_a_warehouse_that_cannot_be_written_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    want = _json("top", "--by", "family", "-w", str(tmp_path / "wh"))
    shutil.rmtree(root / DERIVED)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("hubpulse.store.derived.publish_stage", refuse)
    assert _json("top", "--by", "family", "-w", str(root)) == want
    assert "cannot store the analysis" in caplog.text and "Permission denied" in caplog.text
    assert not list((root / DERIVED).glob("*/*-*"))


@pytest.mark.slow
def test_a_damaged_stored_table_is_built_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    want = _json("top", "--by", "family", "-w", str(root))
    (credits,) = (root / DERIVED).glob("*/families-*/credits_lineage.parquet")
    credits.write_bytes(b"not parquet at all")
    assert _json("top", "--by", "family", "-w", str(root)) == want
    assert "damaged" in caplog.text and "building it again" in caplog.text
    assert not credits.parent.exists()  # the damaged build is gone, a new one read
    (rebuilt,) = (root / DERIVED).glob("*/families-*/credits_lineage.parquet")
    pq.read_metadata(rebuilt)


def test_a_table_written_in_parts_holds_a_file_per_value_and_slice(tmp_path: Path) -> None:
    """``partitioned_writer``: each slice's rows land in one file per value of the column, the
    stage reads the files as one table, row for row; with no rows, a file of the columns."""
    con = open_warehouse(tmp_path / "wh").con
    rows = [{"month": f"2025-0{1 + i % 3}", "n": i} for i in range(30)]
    whole = con.create_table("t", pa.Table.from_pylist(rows))
    build = tmp_path / "build"
    build.mkdir()
    partitioned_writer(lambda part: whole.filter(whole.n % 2 == part), 2, "month")(
        build / "t.parquet"
    )
    empty = whole.filter(whole.n < 0)
    partitioned_writer(lambda part: empty, 1, "month")(build / "e.parquet")
    stage = Stage(build, {})
    names = [f.name for f in stage.files("t")]
    assert len(names) == 6 and names == sorted(names)  # 3 months x 2 slices
    for piece in stage.files("t"):
        held = pq.read_table(piece).to_pylist()
        assert {r["month"] for r in held} == {piece.name[:7]}, piece.name
        assert {r["n"] % 2 for r in held} == {int(piece.name.split("-")[2])}
    assert [f.name for f in stage.files("e")] == ["empty.parquet"]
    assert stage_rows(stage, ["t", "e"]) == {"t": 30, "e": 0}
    tables = read_stage(con, stage, ["t", "e"])
    assert sorted(tables["t"].to_pyarrow().to_pylist(), key=lambda r: r["n"]) == rows
    assert tables["e"].schema() == whole.schema() and tables["e"].count().execute() == 0
