"""Public history you can pull (issue 28): the weekly snapshots and hf-hub-characterization,
served by the stand-in Hub from a known synthetic truth (``weeklyhub``), settle a December-2025
claim end to end, with every monthly bound containing the truth."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pytest
import weeklyhub as wh
from fakehub import FakeHub, hubpulse_process, serve
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.ingest.hub import Hub, Politeness
from hubpulse.ingest.renames import match_renames
from hubpulse.ingest.sources import CHARACTERIZATION, WEEKLY, route
from hubpulse.present.report import source_lines
from hubpulse.settings import Settings
from hubpulse.store.pulls import pull_characterization, pull_weekly
from hubpulse.store.queries import list_series, list_snapshots
from hubpulse.store.warehouse import open_warehouse
from hubpulse.web.app import create_app

FAST = Politeness(base_wait=0.01, max_wait=0.05)
TRUTH = wh.make_truth()
VENDORS = {  # by the registry's orgs; lineage mode: a derivative counts for its root's vendor
    "Qwen": "Alibaba",
    "someone": "Alibaba",
    "meta-llama": "Meta",
    "deepseek-ai": "DeepSeek",
    "openai": "OpenAI",
    "mistralai": "Mistral AI",
    "nvidia": "NVIDIA",
    "zai-org": "Zhipu AI (Z.ai)",
    "moonshotai": "Moonshot AI",
    "MiniMaxAI": "MiniMax",
    "google": "Google",
}
LLM = {m for m, task, *_ in wh.MODELS if task in ("text-generation", "image-text-to-text")}
runner = CliRunner()


@pytest.fixture(scope="module")
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(models=[], tree_page=5)  # a tree listing of several pages
    fake.datasets[WEEKLY] = wh.weekly_dataset(TRUTH)
    fake.datasets[CHARACTERIZATION] = wh.characterization_dataset(TRUTH)
    with serve(fake) as served:
        yield served


@pytest.fixture(scope="module")
def weekly(hub: FakeHub, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("weekly") / "wh"
    pull_weekly(open_warehouse(root), Hub(hub.url, FAST), first=dt.date(2025, 10, 1))
    return root


def ask(store: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json", "-w", str(store)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def month_truth(model: str, month: str) -> int:
    first = dt.date.fromisoformat(f"{month}-01")
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return TRUTH.window(model, first, min(last, wh.LAST))


def vendor_truth(month: str, *, llm: bool) -> dict[str, int]:
    totals: dict[str, int] = {}
    for model, *_ in wh.MODELS:
        if llm and model not in LLM:
            continue
        vendor = VENDORS[model.split("/")[0]]
        totals[vendor] = totals.get(vendor, 0) + month_truth(wh.current(model), month)
    return totals


def test_the_weekly_pull_stores_each_dump_once_with_its_day_and_licence(
    hub: FakeHub, weekly: Path
) -> None:
    loads = list_snapshots(open_warehouse(weekly)).to_pylist()
    expected = sorted(
        {wh.dump_day(label) for label in wh.LABELS if label not in (wh.MISSING, wh.STALE_WEEK)}
    )
    assert [r["snapshot_date"] for r in loads] == expected
    assert {(r["dataset"], r["revision"], r["licence"]) for r in loads} == {
        (WEEKLY, wh.WEEKLY_SHA, "ODbL-1.0")
    }
    assert all(r["dataset_file"].startswith("models/") for r in loads)
    again = pull_weekly(open_warehouse(weekly), Hub(hub.url, FAST), first=dt.date(2025, 10, 1))
    assert {w.status for w in again.weeks} == {"stored"}  # nothing downloaded again
    assert again.missing == [wh.MISSING]


def test_a_renamed_repo_is_one_model_across_the_dumps(weekly: Path) -> None:
    old, new, _ = wh.RENAMED
    aliases = duckdb.sql(
        f"select old_id, new_id from '{weekly}/loads/*/aliases.parquet'"
    ).fetchall()
    assert (old, new) in aliases
    assert all(o != wh.DELETED[0] for o, _ in aliases)  # a deletion is not a rename


def test_every_monthly_bound_contains_the_truth(weekly: Path) -> None:
    rows = ask(weekly, "monthly", "--by", "model", "--from", "2025-10", "--to", "2026-01")["rows"]
    checked = 0
    for row in rows:
        if row["estimate"] is None or row["month"] == "2026-01":
            continue
        truth = month_truth(row["model_id"], row["month"])
        assert row["lower"] <= truth, row
        assert row["upper"] is None or truth <= row["upper"], row
        checked += 1
    assert checked >= 20


def test_december_claim_is_decided_from_the_weekly_dumps_alone(weekly: Path) -> None:
    answer = ask(
        weekly,
        "compare",
        "Qwen",
        "--against",
        "qwen-team",
        "--by",
        "vendor",
        "--llm",
        "--month",
        "2025-12",
    )
    (lineage,) = (c for c in answer["comparisons"] if c["mode"] == "lineage")
    truth = vendor_truth("2025-12", llm=True)  # lineage: the GGUF counts for Alibaba
    assert lineage["vendor"] == "Alibaba" and lineage["verdict"] in ("holds", "fails"), lineage
    subject, others = lineage["value"], lineage["combined_next"]
    assert subject["lower"] <= truth["Alibaba"] <= subject["upper"]
    combined = sum(v for k, v in truth.items() if k not in ("Alibaba", "Google"))
    assert others["lower"] <= combined <= others["upper"]
    assert (lineage["verdict"] == "holds") == (truth["Alibaba"] > combined)


def test_a_month_without_evidence_names_the_weekly_pull() -> None:
    assert "hubpulse pull weekly" in route("2024-09")
    assert "hubpulse pull weekly" in route("2025-12") and "characterization" in route("2025-12")


def test_characterization_pulled_beside_the_weeks_keeps_every_bound_true(
    hub: FakeHub, weekly: Path, tmp_path: Path
) -> None:
    root = tmp_path / "both"
    shutil.copytree(weekly, root, symlinks=True)
    load = pull_characterization(open_warehouse(root), Hub(hub.url, FAST))
    (row,) = list_series(open_warehouse(root)).to_pylist()
    assert (row["dataset"], row["revision"], row["licence"]) == (
        CHARACTERIZATION,
        wh.CHARACTERIZATION_SHA,
        "CC-BY-4.0",
    )
    assert load.rejects == 0
    rows = ask(root, "monthly", "--by", "model", "--from", "2025-10", "--to", "2025-12")["rows"]
    for r in rows:  # daily counts make every month exact, renamed model included
        assert r["lower"] == r["estimate"] == r["upper"] == month_truth(r["model_id"], r["month"])


def test_a_renamed_characterization_column_is_one_line_naming_it(
    hub: FakeHub, tmp_path: Path
) -> None:
    process = _hubpulse(hub, tmp_path / "wh", "characterization", "--column", "day=day")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    (line,) = err.decode().strip().splitlines()
    assert "downloads.parquet" in line and "no column day" in line and CHARACTERIZATION in line


def _pull(fake: FakeHub, root: Path, *args: str) -> subprocess.Popen[bytes]:
    return _hubpulse(fake, root, "weekly", *args)


def _hubpulse(fake: FakeHub, root: Path, *args: str) -> subprocess.Popen[bytes]:
    return hubpulse_process(fake, root, "pull", *args)


def _published(root: Path) -> int:
    return len(list((root / "snapshots").glob("date=*"))) if (root / "snapshots").is_dir() else 0


@pytest.mark.slow
def test_killed_pull_resumes_to_the_same_warehouse(
    hub: FakeHub, weekly: Path, tmp_path: Path
) -> None:
    root, kills = tmp_path / "killed", 0
    args = ["--from", "2025-10-01"]
    hub.delay = 0.02
    try:
        while kills < 4:
            process = _pull(hub, root, *args)
            target = _published(root) + 1 + kills % 2
            while _published(root) < target and process.poll() is None:
                time.sleep(0.005)
            time.sleep(0.01 * kills)
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.communicate()
            kills += 1
            args = ["--resume"]
        final = _pull(hub, root, *args)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()
    finally:
        hub.delay = 0.0
    assert kills >= 3
    keep = ["snapshot_date", "file_sha256", "dataset", "dataset_file", "revision", "licence"]
    killed, whole = (list_snapshots(open_warehouse(r)).select(keep) for r in (root, weekly))
    assert killed.equals(whole)
    query = "select old_id, new_id, count(*) from '{}/snapshots/*/aliases.parquet' group by all"
    assert sorted(duckdb.sql(query.format(root)).fetchall()) == sorted(
        duckdb.sql(query.format(weekly)).fetchall()
    )
    again = _pull(hub, root, "--resume")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 1 and b"no unfinished weekly pull" in err


def test_the_report_and_the_dashboard_name_the_dataset_and_its_licence(weekly: Path) -> None:
    lines = source_lines(open_warehouse(weekly))
    weeks = len(wh.LABELS) - 2  # the missing week, and the stale week's repeated file
    assert (
        f"{weeks} snapshots 2025-10-07 … 2026-01-27 from {WEEKLY} @ 7e7e7e7 (ODbL-1.0)"
        in (lines[0])
    )
    assert lines[-1] == f"Contains information from {WEEKLY}, made available under ODbL-1.0"
    with TestClient(create_app(Settings(warehouse=weekly))) as client:
        page = client.get("/").text
    assert f"Contains information from {WEEKLY}, made available under ODbL-1.0" in page


def test_a_shared_creation_instant_links_no_rename() -> None:
    """Hand-counted: only a → b pairs up. The bulk-import instant L is shared by other repos,
    so a deletion and an unrelated repo made public on it are not a rename; nor is a pair whose
    counter went down."""
    t1, t2, legacy = (dt.datetime(2024, 5, d, 9, 30, 1, 123) for d in (1, 2, 3))

    def dump(rows: list[tuple[str, dt.datetime, int]]) -> Any:
        return ibis.memtable(
            [{"model_id": m, "created_at": c, "downloads_all_time": n} for m, c, n in rows]
        )

    before = dump(
        [
            ("o/a", t1, 10),
            ("o/c", t2, 100),
            ("o/old1", legacy, 5),
            ("o/old2", legacy, 5),
            ("o/gone", legacy, 7),
        ]
    )
    after = dump(
        [
            ("o/b", t1, 12),
            ("o/d", t2, 50),
            ("o/old1", legacy, 6),
            ("o/old2", legacy, 6),
            ("o/public", legacy, 9),
        ]
    )
    found = match_renames(before, after).to_pyarrow().to_pylist()
    assert found == [{"old_id": "o/a", "new_id": "o/b"}]


@pytest.mark.slow
def test_two_pulls_at_once_end_with_the_same_warehouse(
    hub: FakeHub, weekly: Path, tmp_path: Path
) -> None:
    keep = ["snapshot_date", "file_sha256", "dataset", "dataset_file", "revision", "licence"]
    whole = list_snapshots(open_warehouse(weekly)).select(keep)
    for attempt in range(3):
        root = tmp_path / f"twice-{attempt}"
        pulls = [_pull(hub, root, "--from", "2025-10-01") for _ in range(2)]
        for process in pulls:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err.decode()
        assert list_snapshots(open_warehouse(root)).select(keep).equals(whole)
        assert not (root / "pulls" / "weekly.json").exists()
