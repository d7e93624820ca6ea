"""The benchmark's pandas + networkx peer computes what hubpulse computes (so the speed ratio
compares like with like), and the bench job runner reports time and memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import run_job
from bench.peer import run
from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.analysis.snapshot.snapshot import analyse_snapshot
from hubpulse.ingest.synth import synthesize
from hubpulse.registry import load_registry
from hubpulse.store.warehouse import open_warehouse


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(8_000, tmp_path_factory.mktemp("peer"), seed=11).models_path


@pytest.mark.slow
def test_peer_gives_hubpulse_numbers(models: Path, tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    store.ingest(models)
    day = store.resolve_date(None)
    analysis = analyse_snapshot(store.models(day), store.aliases(), load_registry(), day)
    peer = run(models)
    for mode in ("publisher", "lineage"):
        ranking = rank_models(analysis, by="family", mode=mode).to_pyarrow().to_pylist()
        ours = {r["family"]: r["downloads_30d"] for r in ranking}
        assert set(ours) == {f for f, v in peer[mode].items() if v or f in ours}
        for family, value in peer[mode].items():
            assert abs(ours.get(family, 0) - value) <= 1, (mode, family)
        derivatives = {r["family"]: r["derivatives"] for r in ranking if r["derivatives"]}
        assert derivatives == peer["derivatives"]


def test_jobs_report_time_and_peak_memory(models: Path) -> None:
    result, peak_mb = run_job("floor", models=str(models))
    assert result["seconds"] > 0 and 20 < peak_mb < 4_000


def test_a_killed_job_is_reported_not_fatal(models: Path) -> None:
    from bench.__main__ import JobFailed

    with pytest.raises(JobFailed, match=r"not done after 0 s \(stopped\)"):
        run_job("peer", 0.2, models=str(models))
