"""Hostile and odd input: every failure is one line naming the file, row or field (never a
traceback), malformed records are kept aside while good ones load, and oddities that would
mislead a reader are refused or warned about."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import FORECAST, HUB_STATS

from hubpulse.cli import main
from hubpulse.errors import RegistryError, SeriesFormatError, SnapshotFormatError
from hubpulse.ingest.crawl import CrawlScope, crawl_models, start_crawl
from hubpulse.ingest.files import read_snapshot
from hubpulse.ingest.hub import Hub, HubError
from hubpulse.ingest.series import read_forecast_series
from hubpulse.registry import load_comparison_sets, load_registry
from hubpulse.store.warehouse import Warehouse

DAY = '"lastModified": "2025-06-01T00:00:00.000Z"'
GOOD = f'{{"id": "ok/model", "downloads": 5, {DAY}}}'
DEEP = "[" * 100_000 + "]" * 100_000


def one_line_error(*args: str, cwd: Path) -> str:
    """Run ``hubpulse ARGS``; it must fail with exactly one line on stderr, no traceback."""
    run = subprocess.run(
        [sys.executable, "-m", "hubpulse", *args], cwd=cwd, capture_output=True, text=True
    )
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_a_parquet_file_corrupt_in_the_middle_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    pq.write_table(pq.read_table(HUB_STATS), path, row_group_size=500)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\xff" * 4096  # the footer stays intact
    path.write_bytes(bytes(data))
    line = one_line_error("ingest", str(path), "-w", "wh", cwd=tmp_path)
    assert "broken.parquet" in line and "unreadable" in line


def test_deep_nesting_and_bad_bytes_are_rejects_of_their_line(tmp_path: Path) -> None:
    card = json.dumps('{"a":' * 5000 + "1" + "}" * 5000)  # a card string nested 5,000 deep
    lines = [
        GOOD.encode(),
        DEEP.encode(),
        b'{"id": "bad/bytes", "downloads": 1, "note": "\xff\xfe"}',
        f'{{"id": "deep/card", "downloads": 2, "cardData": {card}, {DAY}}}'.encode(),
    ]
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    snapshot = read_snapshot(path)
    assert snapshot.rows["model_id"].to_pylist() == ["ok/model"]
    reasons = {r["row"]: r["reason"] for r in snapshot.rejects.to_pylist()}
    assert "nested too deeply" in reasons[2] and "not UTF-8" in reasons[3]
    assert "cardData JSON is nested too deeply" in reasons[4]
    whole = tmp_path / "deep.json"
    whole.write_text(DEEP)
    with pytest.raises(SnapshotFormatError, match=r"deep.json: JSON nested too deeply"):
        read_snapshot(whole)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/wh/loads"), "/wh/loads: Permission"),
        (OSError(errno.ENOSPC, "No space left on device", "/wh/x"), "/wh/x: No space left"),
    ],
)
def test_operating_system_failures_are_one_line(
    error: OSError, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(Warehouse, "ingest", fail)
    monkeypatch.setattr(sys, "argv", ["hubpulse", "ingest", str(HUB_STATS), "-w", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1 and err.startswith("error: ") and words in err
    assert len(err.splitlines()) == 1


def test_odd_registries_are_clear_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[[family]]\nname = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(RegistryError, match=r"latin.toml: family registry is not UTF-8"):
        load_registry(latin)
    numbers = tmp_path / "numbers.toml"
    numbers.write_text("family = [1, 2]\n")
    with pytest.raises(RegistryError, match=r"numbers.toml, line 1: 'family' must be an array"):
        load_registry(numbers)


def test_a_crawl_runs_once_at_a_time(tmp_path: Path) -> None:
    state_dir = start_crawl(tmp_path, CrawlScope(authors=["someone"]))
    with (state_dir / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(HubError, match="already running in another process"):
            crawl_models(Hub("http://127.0.0.1:9"), state_dir)


def test_no_usable_row_is_no_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "nothing.jsonl"
    path.write_text('{"downloads": 1}\n{"id": "x/y", "downloads": -1}\n')
    with pytest.raises(SnapshotFormatError, match=r"nothing.jsonl: no usable row.*id: missing"):
        read_snapshot(path)
    line = one_line_error("ingest", str(path), "-w", "wh", cwd=tmp_path)
    assert "no usable row" in line and not (tmp_path / "wh" / "snapshots").exists()


def test_no_download_counts_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "counts.jsonl"
    path.write_text(f'{{"id": "x/y", "likes": 3, {DAY}}}\n')
    with pytest.warns(UserWarning, match="no row has a 30-day download count"):
        read_snapshot(path)


def test_a_future_snapshot_day_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.jsonl"
    path.write_text('{"id": "x/y", "downloads": 1, "lastModified": "2099-01-01T00:00:00Z"}\n')
    with pytest.raises(SnapshotFormatError, match=r"2099-01-01, is in the future.*--date"):
        read_snapshot(path)
    assert read_snapshot(path, dt.date(2025, 6, 1)).snapshot_date == dt.date(2025, 6, 1)


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    line = one_line_error("ingest", str(tmp_path), "-w", "wh", cwd=tmp_path)
    assert "is a directory; give the files in it" in line


ABSURD = [
    (["top", "--limit", "-1"], {}, "--limit -1: give a whole number from 0"),
    (["top", "--limit", str(2**63)], {}, f"--limit {2**63}: give a whole number"),
    (["flags", "--limit", "-1"], {}, "--limit -1"),
    (["monthly", "--limit", "-1"], {}, "--limit -1: give a whole number from 0"),
    (["drivers", "Qwen", "--limit", str(2**63)], {}, "--limit"),
    (["adoption", "--limit", "-5"], {}, "--limit -5"),
    (["adoption", "--ages", "999999999999"], {}, "--ages 999999999999"),
    (["adoption", "nope/nothing"], {}, "model 'nope/nothing' is neither in the"),
    (["derivatives", "Qwen", "--min-downloads", str(2**64)], {}, "--min-downloads"),
    (["compare", "Qwen", "--month", "0001-01"], {}, "outside the months a history can hold"),
    (["monthly", "--from", "0001-01"], {}, "outside the months"),
    (["drivers", "Qwen", "--month", "9999-12"], {}, "outside the months"),
    (["audit", "Qwen", "--month", "0001-01"], {}, "outside the months"),
    (["trend", "Qwen", "--from", "0001-01", "--to", "9999-12"], {}, "outside the months"),
    (["monthly", "--from", "2024-1"], {}, "'2024-1' is not a month"),
    (["monthly", "--from", "\uff12\uff10\uff12\uff14-01"], {}, "is not a month"),
    (["compare", "Qwen", "--exclude", "Qwen"], {}, "Qwen is excluded by --exclude Qwen"),
    (["top"], {"HUBPULSE_MODE": "sideways"}, "HUBPULSE_MODE='sideways'"),
    (["top"], {"HUBPULSE_DUCKDB_MEMORY_LIMIT": "lots"}, "give a size such as 2GB"),
    (["top"], {"HUBPULSE_MIN_COVERAGE": "nan"}, "HUBPULSE_MIN_COVERAGE='nan'"),
    (["top"], {"HUBPULSE_SPIKE_FACTOR": "0.5"}, "HUBPULSE_SPIKE_FACTOR='0.5'"),
    (["top"], {"HUBPULSE_SPARK_CONF": "{not json"}, "HUBPULSE_SPARK_CONF: not valid JSON"),
    (
        ["top", "--by", "author"],
        {"HUBPULSE_DUCKDB_MEMORY_LIMIT": "1MB", "HUBPULSE_DUCKDB_THREADS": "1"},
        "DuckDB ran out of memory under its limit",
    ),
]


@pytest.mark.parametrize(("args", "env", "words"), ABSURD, ids=lambda v: str(v)[:40])
def test_absurd_values_are_one_line_errors(
    args: list[str],
    env: dict[str, str],
    words: str,
    demo_store: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["hubpulse", *args, "-w", str(demo_store)])
    with pytest.raises(SystemExit) as exit_:
        main()
    lines = capsys.readouterr().err.strip().splitlines()
    said = [line for line in lines if not line.startswith("note: ")]  # a first build's notes
    assert exit_.value.code == 1 and len(said) == 1 and said[0].startswith("error: "), lines
    assert words in said[0]


def test_config_files_must_be_small_regular_utf8_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # no writer: opening it would block forever
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(RegistryError, match="must be a regular file"):
            load_registry(path)
        with pytest.raises(RegistryError, match="must be a regular file"):
            load_comparison_sets(load_registry(), path)
        with pytest.raises(SeriesFormatError, match="not a regular file"):
            read_forecast_series(path)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(RegistryError, match="larger than 1,048,576 bytes"):
        load_registry(big)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(
        b'\xef\xbb\xbf[[family]]\nname = "Zed"\nvendor = "Zed"\ncountry = "US"\norgs = ["zed"]\n'
    )
    assert load_registry(bom).get("zed").vendor == "Zed"
    odd = tmp_path / "sets.toml"
    odd.write_text("set = 5\n")
    with pytest.raises(RegistryError, match="'set' must be \\[\\[set\\]\\] tables"):
        load_comparison_sets(load_registry(), odd)


def _disk_full(*args: object, **kwargs: object) -> None:
    import duckdb

    raise duckdb.IOException('IO Error: Could not write file "x.parquet": No space left on device')


def test_a_full_disk_falls_back_to_memory_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ibis.backends.duckdb

    root = tmp_path / "wh"
    Warehouse(root).ingest(HUB_STATS)
    monkeypatch.setattr(ibis.backends.duckdb.Backend, "to_parquet", _disk_full)
    for args in (["top", "--by", "family"], ["flags"], ["top", "--count", "robust"]):
        monkeypatch.setattr(sys, "argv", ["hubpulse", *args, "-w", str(root), "--format", "json"])
        with pytest.raises(SystemExit) as exit_:
            main()
        out = capsys.readouterr()
        assert exit_.value.code in (0, None), out.err
        assert "computing" in out.err and "in memory" in out.err and json.loads(out.out)["rows"]
    assert not list((root / "derived").glob("*/[!.]*-*")) and not list(
        (root / "derived").glob("*/.tmp-*")
    )
    monkeypatch.setattr(
        sys, "argv", ["hubpulse", "import-series", str(FORECAST / "Qwen.csv"), "-w", str(root)]
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1 and err == "error: No space left on device", err
    assert not list((root / "series").iterdir())
