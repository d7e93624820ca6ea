"""Builders, readers and writers meeting: a reader keeps reading what it started with while
other processes prune old builds, replace the snapshot or delete a build by hand; leftovers of
killed writers go at the next writing command. Each race is run deterministically (the steps
interleaved by hand) and, marked slow, as many processes at once."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import FORECAST, HUB_STATS, HUB_STATS_DATE, cli

from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.cli import main
from hubpulse.settings import load_settings
from hubpulse.store.derived import DERIVED, KEEP
from hubpulse.store.warehouse import open_warehouse


def _warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "wh"
    open_warehouse(root).ingest(HUB_STATS)
    return root


def _variants(tmp_path: Path, n: int) -> list[Path]:
    """``n`` family registries, each adding one family of its own: ``n`` keys of the families
    stage, so that building them all prunes the oldest."""
    paths = []
    for i in range(n):
        path = tmp_path / f"variant{i}.toml"
        path.write_text(
            f'[[family]]\nname = "Variant{i}"\nvendor = "V{i}"\ncountry = "US"\n'
            f'orgs = ["variant-org-{i}"]\n'
        )
        paths.append(path)
    return paths


def _families(analysis) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = rank_models(analysis, by="family").to_pyarrow().to_pylist()
    return {r["family"]: r["downloads_30d"] for r in rows}


def test_pruning_never_removes_a_build_a_reader_holds(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    variants = _variants(tmp_path, KEEP + 2)
    reader = load_analysis(load_settings(warehouse=root, families_file=variants[0]), None)
    for variant in variants[1:]:  # KEEP newer builds and more: variant 0's is the oldest
        load_analysis(load_settings(warehouse=root, families_file=variant), None)
    found = _families(reader)  # read only now, lazily: its build must still be there
    fresh = load_analysis(load_settings(warehouse=root, families_file=variants[0]), None)
    assert found == _families(fresh) and found["Qwen"] > 0
    del reader, fresh
    gc.collect()
    load_analysis(load_settings(warehouse=root, families_file=variants[1]), None)
    builds = list((root / DERIVED).glob("*/families-*"))
    assert len(builds) <= KEEP + 1  # once let go, old builds are pruned again


def test_a_reader_sees_the_replaced_snapshot_whole_and_the_old_load_goes_after(
    tmp_path: Path,
) -> None:
    root = _warehouse(tmp_path)
    settings = load_settings(warehouse=root)
    reader_store = open_warehouse(root)
    reader = load_analysis(settings, None, reader_store)
    old = reader_store.load_id(HUB_STATS_DATE)
    smaller = tmp_path / "smaller.parquet"
    pq.write_table(pq.read_table(HUB_STATS).slice(0, 500), smaller)
    open_warehouse(root).ingest(smaller, HUB_STATS_DATE, replace=True)
    # the reader still reads the old load, whole: its models and its stored tables
    assert reader.models.count().execute() == 4167
    assert sum(_families(reader).values()) > 0
    assert (root / "loads" / old).is_dir() and (root / DERIVED / old).is_dir()
    assert load_analysis(settings, None).models.count().execute() == 500  # a new reader: new
    del reader, reader_store
    gc.collect()
    open_warehouse(root).import_series(FORECAST / "Qwen.csv")  # any writing command sweeps
    assert not (root / "loads" / old).exists() and not (root / DERIVED / old).exists()


def test_a_build_deleted_or_damaged_while_a_command_runs_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _warehouse(tmp_path)
    want = _cli_json(root, "top", "--by", "family")
    import hubpulse.cli.options as options

    loaded, deleted = options.analysis_of, []

    def and_deleted(*args, **kwargs):  # type: ignore[no-untyped-def]
        analysis = loaded(*args, **kwargs)
        for build in [] if deleted else (root / DERIVED).glob("*/families-*"):
            shutil.rmtree(build)  # by hand, mid-question, once
            deleted.append(build)
        return analysis

    monkeypatch.setattr("hubpulse.cli.snapshots.analysis_of", and_deleted)
    capsys.readouterr()
    assert _main_json(root, monkeypatch, capsys, "top", "--by", "family") == want
    (table,) = (root / DERIVED).glob("*/families-*/credits_lineage.parquet")
    data = bytearray(table.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for at in range(4, len(data) - footer, 97):  # every column's pages, the footer intact
        data[at] ^= 0x5A
    table.write_bytes(bytes(data))  # the footer intact: only reading the pages finds it
    assert _main_json(root, monkeypatch, capsys, "top", "--by", "family") == want
    assert not table.parent.exists()


def _cli_json(root: Path, *args: str) -> dict:
    result = cli(*args, "-w", str(root), "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _main_json(root: Path, monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> dict:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "argv", ["hubpulse", *args, "-w", str(root), "--format", "json"])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    assert exit_.value.code in (0, None), out.err
    assert "building it again" in out.err
    return json.loads(out.out)


def test_what_killed_writers_left_goes_at_the_next_writing_command(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    code = (
        "import os, signal\n"
        "from hubpulse.store import loads, warehouse\n"
        "real = loads.write_parquet\n"
        "def dying(path, table):\n"
        "    real(path, table)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "loads.write_parquet = dying\n"
        f"warehouse.open_warehouse({str(root)!r}).import_series({str(FORECAST / 'Qwen.csv')!r})\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == -signal.SIGKILL
    load_id = open_warehouse(root).load_id(HUB_STATS_DATE)
    killed_build = root / DERIVED / load_id / ".tmp-families-deadbeef"
    killed_build.mkdir(parents=True)
    (killed_build.parent / ".build.lock").touch()
    assert list((root / "series").glob(".tmp-*"))
    smaller = tmp_path / "smaller.parquet"
    pq.write_table(pq.read_table(HUB_STATS).slice(0, 100), smaller)
    open_warehouse(root).ingest(smaller, HUB_STATS_DATE.replace(day=1))  # another command
    assert not list((root / "series").glob(".tmp-*")) and not killed_build.exists()


def _question(root: Path, variant: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    extra = ["--families", str(variant)] if variant else []
    return cli(*args, *extra, "-w", str(root), "--format", "json")


@pytest.mark.slow
def test_many_processes_asking_with_many_registries_never_crash(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    variants = _variants(tmp_path, KEEP + 2)
    asks = [variants[i % len(variants)] for i in range(2 * len(variants))]
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda v: _question(root, v, "top", "--by", "family"), asks))
    failed = [r.stderr for r in runs if r.returncode != 0]
    assert not failed, failed[0]


@pytest.mark.slow
def test_readers_running_through_a_replace_see_one_load_whole(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    cli("analyse", "-w", str(root))
    smaller = tmp_path / "smaller.parquet"
    pq.write_table(pq.read_table(HUB_STATS).slice(0, 1000), smaller)
    env = {**os.environ, "HUBPULSE_WAREHOUSE": str(root)}
    readers = [
        subprocess.Popen(
            [sys.executable, "-m", "hubpulse", "flags", "--format", "json", "--limit", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    for path in (smaller, HUB_STATS, smaller):
        open_warehouse(root).ingest(path, HUB_STATS_DATE, replace=True)
    for reader in readers:
        out, err = reader.communicate(timeout=600)
        assert reader.returncode == 0, err
        assert json.loads(out)["rows"] is not None
