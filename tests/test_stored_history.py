"""The stored history stage: every history question reads the model-month estimates stored once
(``derived/warehouse/history-…``), and what it answers equals the estimates computed from
scratch; a second question builds nothing, and only a changed input rebuilds it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest
from conftest import FIXTURES, FORECAST, HUB_STATS
from histories import synthetic_history
from typer.testing import CliRunner

from hubpulse.analysis.history.evidence import read_evidence
from hubpulse.analysis.history.history import History, load_history, prepare_history
from hubpulse.analysis.history.monthly import Checks
from hubpulse.analysis.history.stored import stored_history
from hubpulse.analysis.snapshot.flags import Thresholds
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.cli import app
from hubpulse.registry import load_registry
from hubpulse.settings import load_settings
from hubpulse.store.names import DERIVED, WAREHOUSE
from hubpulse.store.warehouse import open_warehouse

GROUPS = ("family", "vendor", "country", "author", "model")


def _rows(table) -> list[dict]:  # type: ignore[no-untyped-def]
    return table.to_pyarrow().to_pylist()


def _malformed(root: Path) -> Path:
    """The malformed snapshot fixture (rejects kept aside) beside the bundled snapshot and two
    real series."""
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    store.ingest(FIXTURES / "malformed.jsonl", dt.date(2025, 3, 21))
    for name in ("Qwen.csv", "Meta.csv"):
        store.import_series(FORECAST / name)
    return root


CASES = {  # warehouse, months asked, a group to list the drivers of
    "real": (None, ("2024-10", "2025-02"), "Qwen", "2024-12"),
    "synthetic": (synthetic_history, ("2025-01", "2025-05"), "Qwen", "2025-04"),
    "malformed": (_malformed, ("2024-11", "2025-03"), "Qwen", "2025-01"),
}


def _case_root(case: str, demo_store: Path, tmp_path: Path) -> Path:
    """A warehouse of one of ``CASES`` (the real one copied from the demo's)."""
    make, root = CASES[case][0], tmp_path / "wh"
    if make is None:
        shutil.copytree(demo_store, root, symlinks=True)
    else:
        make(root)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("mode", ["publisher", "lineage"])
def test_stored_history_answers_equal_the_estimates_from_scratch(
    case: str, mode: str, demo_store: Path, tmp_path: Path
) -> None:
    _, (first, last), group, month = CASES[case]
    root = _case_root(case, demo_store, tmp_path)
    settings = load_settings(warehouse=root, mode=mode)
    store = open_warehouse(root)
    analysis = load_analysis(settings, None, store)
    robust = Selection(count="robust", thresholds=Thresholds())

    def scratch_of(first: str | None, last: str | None) -> History:
        return prepare_history(
            read_evidence(store),
            load_registry(),
            mode=mode,  # type: ignore[arg-type]
            analysis=analysis if mode == "lineage" else None,
            first=first,
            last=last,
            checks=Checks.from_settings(settings),
        )

    # a spike is judged by the month after it too: from scratch, every month's estimates
    everything = scratch_of(None, None).estimates
    for selection in (Selection(), robust):
        stored = load_history(settings, first, last, store, analysis, selection)
        scratch = replace(scratch_of(first, last), full=everything).restricted(selection, analysis)
        for by in GROUPS:
            rows = _rows(stored.monthly(by))
            assert rows, (case, by)  # an empty answer would prove nothing
            assert rows == _rows(scratch.monthly(by)), (case, by, selection)
        drivers = _rows(stored.drivers("family", group, month))
        assert drivers and drivers == _rows(scratch.drivers("family", group, month))


def test_a_second_question_builds_nothing_and_a_new_load_rebuilds_only_history(
    tmp_path: Path,
) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    store.import_series(FORECAST / "Qwen.csv")
    settings = load_settings(warehouse=root)
    load_history(settings, None, None, open_warehouse(root))
    builds = sorted((root / DERIVED).glob("*/*-*"))
    history = [b.name.split("-")[0] for b in builds if b.parent.name == WAREHOUSE]
    assert sorted(history) == ["groups_lineage", "history"]  # the question's mode only
    load_history(settings, "2025-01", "2025-01", open_warehouse(root))  # another range
    assert sorted((root / DERIVED).glob("*/*-*")) == builds  # nothing built
    open_warehouse(root).import_series(FORECAST / "Meta.csv")
    load_history(settings, None, None, open_warehouse(root))
    after = sorted((root / DERIVED).glob("*/*-*"))
    new = [b for b in after if b not in builds]
    assert {b.parent.name for b in new} == {WAREHOUSE}  # the snapshot's stages stay as built
    assert sorted(b.name.split("-")[0] for b in new) == ["groups_lineage", "history"]
    changed = settings.model_copy(update={"spike_factor": 20.0})
    first = stored_history(open_warehouse(root), settings)
    again = stored_history(open_warehouse(root), changed)
    assert first.span == again.span and first.estimates.count().execute() > 0
    assert len(list((root / DERIVED / WAREHOUSE).glob("history-*"))) == 3


def test_analyse_builds_the_history_and_no_question_builds_after_it(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    store.import_series(FORECAST / "Qwen.csv")
    runner = CliRunner()
    result = runner.invoke(app, ["analyse", "-w", str(root), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["stage"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["history"]["status"] == "built" and rows["history"]["scope"].startswith("months")
    (build,) = (root / DERIVED / WAREHOUSE).glob("history-*")
    assert rows["history"]["path"] == str(build)
    estimates = pq.read_table(build / "estimates.parquet")  # a directory: a file per month
    assert rows["history"]["rows"]["estimates"] == estimates.num_rows
    ids = estimates.column("model_id")
    for mode in ("publisher", "lineage"):  # both modes' groups: every model with history
        groups = rows[f"groups_{mode}"]
        assert groups["status"] == "built" and groups["scope"] == rows["history"]["scope"]
        shares = pq.read_table(Path(groups["path"]) / "shares.parquet")
        assert set(shares.column("model_id").to_pylist()) == set(ids.to_pylist())
    builds = sorted((root / DERIVED).glob("*/*-*"))
    # Qwen alone has a series: compared with a family without one (its bounds count)
    compare = ["compare", "Qwen", "--month", "2025-01", "--against", "Llama"]
    for command in (["trend", "Qwen"], compare):
        for mode in ("publisher", "lineage"):
            asked = runner.invoke(app, [*command, "--mode", mode, "-w", str(root)])
            assert asked.exit_code == 0, asked.output
    assert sorted((root / DERIVED).glob("*/*-*")) == builds


@pytest.mark.slow
def test_killing_a_history_build_leaves_the_previous_answers_intact(
    demo_store: Path, tmp_path: Path
) -> None:
    root = tmp_path / "wh"
    shutil.copytree(demo_store, root)
    settings = load_settings(warehouse=root)
    want = _rows(load_history(settings, None, None, open_warehouse(root)).monthly("family"))
    code = (
        "from hubpulse.analysis.history.stored import stored_history\n"
        "from hubpulse.settings import load_settings\n"
        "from hubpulse.store.warehouse import open_warehouse\n"
        f"stored_history(open_warehouse({str(root)!r}), load_settings(warehouse={str(root)!r}),"
        " rebuild=True)\n"
    )
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):  # from reading the evidence to writing it
        build = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(delay)
        build.send_signal(signal.SIGKILL)
        build.wait()
        found = load_history(settings, None, None, open_warehouse(root)).monthly("family")
        assert _rows(found) == want, delay
    for build in (root / DERIVED / WAREHOUSE).glob("history-*"):  # none half written
        assert {p.name for p in build.iterdir()} == {
            "meta.json",
            "estimates.parquet",
            "basis.parquet",
        }


def _counted(row: dict) -> float | None:
    """A model-month's estimate as jumps compare it: none before creation or in the month
    the model was created (only part of a month)."""
    created, start = row["created"], row["month_start"]
    newborn = created is not None and (created.year, created.month) >= (start.year, start.month)
    return None if row["method"] == "not_created" or newborn else row["estimate"]


@pytest.mark.parametrize("case", ["real", "synthetic"])
def test_stored_jump_marks_follow_their_definition(
    case: str, demo_store: Path, tmp_path: Path
) -> None:
    """Every stored model-month's jump against the model's previous calendar month, computed
    here in plain Python from the stored estimates themselves."""
    root = _case_root(case, demo_store, tmp_path)
    settings = load_settings(warehouse=root)
    factor = settings.spike_factor
    rows = _rows(stored_history(open_warehouse(root), settings).estimates)
    months: dict[str, dict[str, dict]] = {}
    for row in rows:
        months.setdefault(row["model_id"], {})[row["month"]] = row
    jumps = 0
    for held in months.values():
        before = None
        for month in sorted(held):
            row, now = held[month], _counted(held[month])
            want = None
            if now is not None and before is not None:
                if now > factor * max(before, 1.0):
                    want = now / max(before, 1.0)
                elif now * factor < before:
                    want = max(now, 1.0) / before
            assert row["jump"] == pytest.approx(want), (row["model_id"], month)
            size = None if want is None else max(now, before)  # kept where a jump only
            assert row["jump_size"] == pytest.approx(size), (row["model_id"], month)
            jumps += want is not None
            before = now
    assert jumps  # the data holds jumps: a test of nothing would prove nothing


@pytest.mark.parametrize("case", ["real", "malformed"])
def test_a_history_built_a_slice_of_models_at_a_time_equals_one_built_whole(
    case: str, demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large evidence is estimated a slice of models at a time (bounded memory): every stored
    model-month, bound and jump mark is the one a single pass stores."""
    root = _case_root(case, demo_store, tmp_path)
    settings = load_settings(warehouse=root)
    key = ("model_id", "month")

    def rows() -> list[dict]:
        built = stored_history(open_warehouse(root), settings, rebuild=True)
        return sorted(_rows(built.estimates), key=lambda r: tuple(r[k] for k in key))

    want = rows()
    monkeypatch.setattr("hubpulse.analysis.history.stored.SLICE_ROWS", 15_000)
    got = rows()
    (build,) = (root / DERIVED / WAREHOUSE).glob("history-*")
    assert json.loads((build / "meta.json").read_text())["slices"] >= 3
    assert want and got == want
    leftovers = [*build.glob(".estimates*"), *build.glob(".evidence*")]
    assert not leftovers  # no slice and no scratch copy of the evidence stays
    pieces = list((build / "estimates.parquet").iterdir())
    assert len(pieces) >= 3
    for piece in pieces:  # a file per month and slice, named after its month
        months = set(pq.read_table(piece, columns=["month"]).column("month").to_pylist())
        assert months == {piece.name[:7]}, piece.name


def test_a_history_build_runs_every_query_on_its_own_warehouse(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build (sliced, so the month table and the stale tally are in-memory tables) never sends
    a query to Ibis's default connection: that is whichever warehouse was opened last, which
    another thread may be using (the dashboard's requests beside a build). Here it is closed,
    so any query sent there fails."""
    root = _case_root("real", demo_store, tmp_path)
    store = open_warehouse(root)
    # restored after the test: the default connection is closed below
    monkeypatch.setattr(ibis.options, "default_backend", ibis.options.default_backend)
    other = open_warehouse(tmp_path / "other")  # now Ibis's default connection
    other.con.disconnect()
    monkeypatch.setattr("hubpulse.analysis.history.stored.SLICE_ROWS", 15_000)
    built = stored_history(store, load_settings(warehouse=root), rebuild=True)
    assert built.estimates.count().execute() > 0
