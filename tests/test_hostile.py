"""Hostile and odd input: every failure is one line naming the file, row or field (never a
traceback), malformed records are kept aside while good ones load, and oddities that would
mislead a reader are refused or warned about."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS

from hubpulse.cli import main
from hubpulse.errors import RegistryError, SnapshotFormatError
from hubpulse.ingest.crawl import CrawlScope, crawl_models, start_crawl
from hubpulse.ingest.files import read_snapshot
from hubpulse.ingest.hub import Hub, HubError
from hubpulse.registry import load_registry
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
