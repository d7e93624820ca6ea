"""A damaged warehouse loses nothing more: what a published snapshot links to is never swept,
the damage is named (``hubpulse check``, and a warning wherever the warehouse is opened), and
the other snapshots still answer."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb
import pytest
from conftest import API_MARCH, FORECAST, HUB_STATS, HUB_STATS_DATE
from typer.testing import CliRunner

from hubpulse.cli import app, main
from hubpulse.errors import SnapshotConflictError, SnapshotNotFoundError
from hubpulse.store.health import DamagedWarehouseWarning
from hubpulse.store.queries import check_warehouse
from hubpulse.store.warehouse import open_warehouse

MARCH = dt.date(2025, 3, 21)


def _two_snapshots(root: Path) -> Path:
    """A warehouse with the hub-stats snapshot and the March API snapshot; the hub-stats load."""
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    store.ingest(API_MARCH, MARCH)
    return (root / "snapshots" / f"date={HUB_STATS_DATE}").resolve()


def test_a_missing_load_log_loses_no_data_and_is_named(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    load = _two_snapshots(root)
    (load / "loads.parquet").unlink()
    with pytest.warns(
        DamagedWarehouseWarning,
        match=rf"snapshot {HUB_STATS_DATE} .* loads/\w+/loads\.parquet is missing",
    ):
        store = open_warehouse(root)
    store.ingest(API_MARCH, dt.date(2025, 4, 1))  # an ingest sweeps unpublished loads only
    assert {p.name for p in load.iterdir()} == {
        "models.parquet",
        "rejects.parquet",
        "aliases.parquet",
    }
    assert store.snapshot_dates() == [MARCH, dt.date(2025, 4, 1)]  # the others still answer
    with pytest.raises(
        SnapshotNotFoundError, match=r"is damaged: loads/\w+/loads.parquet is missing"
    ):
        store.resolve_date(HUB_STATS_DATE)
    result = check_warehouse(store)
    assert result.snapshots == 3 and len(result.problems) == 1
    assert "loads.parquet is missing" in result.problems[0]
    with pytest.raises(SnapshotConflictError, match="is damaged"):
        store.ingest(HUB_STATS)  # not silently replaced
    store.ingest(HUB_STATS, replace=True)
    assert check_warehouse(open_warehouse(root)).problems == []


def test_a_truncated_file_breaks_only_its_own_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    load = _two_snapshots(root)
    models = load / "models.parquet"
    models.write_bytes(models.read_bytes()[: models.stat().st_size // 2])
    runner = CliRunner()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", DamagedWarehouseWarning)
        top = runner.invoke(app, ["top", "--by", "author", "-w", str(root), "--format", "json"])
        check = runner.invoke(app, ["check", "-w", str(root)])
    damaged = [w for w in seen if issubclass(w.category, DamagedWarehouseWarning)]
    assert damaged and "not readable Parquet" in str(damaged[0].message)
    assert top.exit_code == 0 and f'"snapshot_date": "{MARCH}"' in top.output
    assert check.exit_code == 1
    assert f"snapshot {HUB_STATS_DATE}: loads/{load.name}/models.parquet is not readable" in (
        check.output
    )


def test_check_passes_a_healthy_warehouse(demo_store: Path) -> None:
    check = CliRunner().invoke(app, ["check", "-w", str(demo_store)])
    assert check.exit_code == 0 and "ok: 1 snapshot(s), 18 series load(s)" in check.output


def _ingest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hubpulse", "ingest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_catalog_is_derived_data_that_never_fails_an_ingest(tmp_path: Path) -> None:
    first = _ingest(tmp_path, str(HUB_STATS), "-w", "wh")  # a relative warehouse path
    assert first.returncode == 0, first.stderr
    catalog = tmp_path / "wh" / "catalog.duckdb"
    held = duckdb.connect(str(catalog), read_only=True)  # as the docs suggest: it locks the file
    try:
        second = _ingest(tmp_path, str(API_MARCH), "--date", str(MARCH), "-w", "wh")
    finally:
        held.close()
    assert second.returncode == 0 and "Traceback" not in second.stderr, second.stderr
    catalog.write_bytes(b"not a database")  # corrupt: rewritten, not opened
    third = _ingest(tmp_path, str(API_MARCH), "--date", "2025-04-01", "-w", "wh")
    assert third.returncode == 0 and "Traceback" not in third.stderr, third.stderr
    with duckdb.connect(str(catalog), read_only=True) as fresh:  # from another directory
        dates = fresh.sql("select distinct snapshot_date from models order by 1").fetchall()
    assert [d for (d,) in dates] == [MARCH, dt.date(2025, 4, 1), HUB_STATS_DATE]


def test_a_damaged_series_load_is_named_left_out_and_removable(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    loads = {
        name: store.import_series(FORECAST / f"{name}.csv").load_id
        for name in ("Qwen", "Meta", "DeepSeek")
    }
    (root / "series" / loads["Qwen"] / "series_months.parquet").unlink()
    (root / "series" / loads["Meta"] / "series_loads.parquet").unlink()
    with pytest.warns(DamagedWarehouseWarning) as seen:
        store = open_warehouse(root)
    said = " ".join(str(w.message) for w in seen)
    for name in ("Qwen", "Meta"):
        assert f"series load {loads[name]}" in said and f"--remove {loads[name]}" in said
    found = check_warehouse(store)
    assert found.series == 3 and sorted(found.problems) == sorted(
        [
            f"series {loads['Qwen']}: series/{loads['Qwen']}/series_months.parquet is missing",
            f"series {loads['Meta']}: series/{loads['Meta']}/series_loads.parquet is missing",
        ]
    )
    # the histories read the healthy load only: Qwen and Llama have no evidence, never a 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)
        rows = CliRunner().invoke(
            app,
            [
                "monthly",
                "--from",
                "2025-01",
                "--to",
                "2025-01",
                "-w",
                str(root),
                "--format",
                "json",
            ],
        )
    assert rows.exit_code == 0, rows.output
    figures = {r["family"]: r for r in json.loads(rows.output)["rows"]}
    assert figures["DeepSeek"]["estimate"] > 0
    for family in ("Qwen", "Llama"):
        assert figures.get(family, {}).get("estimate") is None, figures.get(family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)
        removed = CliRunner().invoke(app, ["series", "--remove", loads["Meta"], "-w", str(root)])
    assert removed.exit_code == 0 and f"Removed series load {loads['Meta']}" in removed.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)
        missing = CliRunner().invoke(app, ["series", "--remove", "nope", "-w", str(root)])
    assert missing.exit_code == 1 and "no series load 'nope'" in str(missing.exception)
    store.remove_series(loads["Qwen"])
    assert check_warehouse(open_warehouse(root)).problems == []


def _flip_pages(path: Path) -> None:
    """Damage every column's pages of a Parquet file, its footer intact."""
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for at in range(4, len(data) - footer, 97):
        data[at] ^= 0x5A
    path.write_bytes(bytes(data))


def _meta(build: Path, text: str) -> None:
    (build / "meta.json").write_text(text)


def _rounds(build: Path) -> None:
    meta = json.loads((build / "meta.json").read_text())
    (build / "meta.json").write_text(json.dumps({**meta, "rounds": "many"}))


DAMAGE = {
    "meta {}": ("lineage", lambda b: _meta(b, "{}"), "meta.json is not what a build"),
    "meta []": ("families", lambda b: _meta(b, "[]"), "meta.json is not what a build"),
    "rounds many": ("lineage", _rounds, None),
    "pages flipped": ("families", lambda b: _flip_pages(b / "credits_lineage.parquet"), "cannot"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_stored_analysis_is_named_and_built_again(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    want = _answer(root, monkeypatch, capsys, "top", "--by", "family")
    stage, damage, words = DAMAGE[case]
    (build,) = (root / "derived").glob(f"*/{stage}-*")
    damage(build)
    if words is not None:
        problems = check_warehouse(open_warehouse(root)).problems
        assert len(problems) == 1 and build.name in problems[0] and words in problems[0]
    assert _answer(root, monkeypatch, capsys, "top", "--by", "family") == want
    assert check_warehouse(open_warehouse(root)).problems == [] or words is None


def _answer(root: Path, monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> str:  # type: ignore[no-untyped-def]
    """``hubpulse ARGS --format json`` in this process: it must answer, with no traceback."""
    monkeypatch.setattr(sys, "argv", ["hubpulse", *args, "-w", str(root), "--format", "json"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)
        with pytest.raises(SystemExit) as exit_:
            main()
    out = capsys.readouterr()
    assert exit_.value.code in (0, None), out.err
    return out.out


def test_damaged_or_stray_published_files_are_named_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "wh"
    load = _two_snapshots(root)
    store = open_warehouse(root)
    series = [store.import_series(FORECAST / f"{n}.csv").load_id for n in ("Qwen", "Meta", "IBM")]
    (load / "aliases.parquet").write_text("garbage")
    (root / "series" / series[0] / "coverage.parquet").write_text("garbage")
    (root / "series" / series[1] / "series_models.parquet").unlink()
    _flip_pages(root / "series" / series[2] / "series.parquet")
    for stray in ("date=garbage", "date=2026-13-01"):
        (root / "snapshots" / stray).mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)
        problems = check_warehouse(open_warehouse(root)).problems
    said = "\n".join(problems)
    assert len(problems) == 6, said
    for words in (
        "aliases.parquet is not readable Parquet",
        f"series {series[0]}: series/{series[0]}/coverage.parquet is not readable",
        f"series {series[1]}: series/{series[1]}/series_models.parquet is missing",
        f"series {series[2]}: series.parquet cannot be read",
        "snapshots/date=garbage: not a snapshot",
        "snapshots/date=2026-13-01: not a snapshot",
    ):
        assert words in said
    top = json.loads(_answer(root, monkeypatch, capsys, "top", "--by", "family"))
    assert top["snapshot_date"] == str(MARCH)  # the damaged snapshot is left out
