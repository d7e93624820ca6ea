"""Verdicts that cannot mislead: no claim holds against nothing, a partial count never refutes,
a dated claim reads the evidence of its date, thin coverage is not ranked, a comparison set
never shrinks silently, ids and months are read as meant, and "no data" says where data is.
Each expected value is hand-counted or read from the raw fixture, not from the tool."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import HUB_STATS, HUB_STATS_DATE, cli
from independent import raw_parents

from hubpulse.analysis.claims.comparison import Against
from hubpulse.analysis.claims.month_comparison import compare_month_rows
from hubpulse.analysis.claims.runs import run_audit, run_compare
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.errors import ModelNotFoundError, NoEvidenceError, NotComparableError
from hubpulse.settings import Settings


def _rows(figures: dict[str, tuple[int | None, int, int | None, float]]) -> list[dict[str, Any]]:
    """Monthly family rows: estimate, lower, upper, coverage."""
    return [
        {
            "month": "2025-12",
            "family": f,
            "estimate": e,
            "lower": lo,
            "upper": hi,
            "coverage": c,
            "models": 3,
            "methods": "",
            "caveats": "",
        }
        for f, (e, lo, hi, c) in figures.items()
    ]


def _json(*args: str) -> Any:
    result = cli(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_below_is_not_comparable_and_fewer_is_said() -> None:
    rows = _rows({"A": (100, 90, 110, 1.0), "B": (50, 40, 60, 1.0), "C": (30, 20, 40, 1.0)})
    with pytest.raises(NotComparableError, match="no group is ranked below it"):
        compare_month_rows(rows, "C", 8, mode="lineage", month="2025-12")
    found = compare_month_rows(rows, "B", 8, mode="lineage", month="2025-12")
    assert found.next_n == 1 and found.combined["estimate"] == 30
    assert "the next 1 (rank 3; 8 asked, only 1 ranked below)" in found.sentence.replace(
        "ranks 3–3", "rank 3"
    )
    ranking = [{"family": "A", "downloads_30d": 10}, {"family": "B", "downloads_30d": 5}]
    with pytest.raises(NotComparableError):
        compare_snapshot_rows(
            ranking, "B", 8, mode="lineage", metric="downloads_30d", snapshot_date=HUB_STATS_DATE
        )


def test_thin_coverage_is_shown_but_not_ranked() -> None:
    # M has the largest estimate but 10% coverage: it is not ranked above A, nor is it one of
    # A's next 1 (B is); a thin subject is compared at its estimate, unranked
    rows = _rows({"M": (500, 10, None, 0.1), "A": (100, 95, 105, 0.9), "B": (50, 45, 55, 0.95)})
    found = compare_month_rows(rows, "A", 1, mode="lineage", month="2025-12", min_coverage=0.8)
    assert found.rank == 1 and found.above == []
    assert [r["family"] for r in found.rows] == ["A", "B"] and found.verdict == "holds"
    assert found.thin == [{"name": "M", "estimate": 500, "coverage": 0.1}]
    assert "not ranked for coverage below 80%: M (10%)" in found.sentence
    thin = compare_month_rows(rows, "M", 1, mode="lineage", month="2025-12", min_coverage=0.8)
    assert thin.rank is None and [r["family"] for r in thin.rows] == ["M", "A"]
    assert "not ranked: 10% covered, below the 80% needed" in thin.sentence


def test_named_groups_without_models_are_an_exact_zero_and_named() -> None:
    rows = _rows({"A": (100, 95, 105, 1.0), "B": (50, 45, 55, 1.0)})
    vs = Against(groups=("B", "Z"), name="team")
    found = compare_month_rows(rows, "A", 0, mode="lineage", month="2025-12", against=vs)
    assert found.combined == {"estimate": 50, "lower": 45, "upper": 55}
    assert found.verdict == "holds" and "no models (0): Z" in found.sentence
    with pytest.raises(NotComparableError, match="none of its groups has models"):
        compare_month_rows(
            rows, "A", 0, mode="lineage", month="2025-12", against=Against(groups=("Z",))
        )


@pytest.mark.slow
def test_a_claim_with_nothing_below_is_an_error_not_holds(demo_store: Path) -> None:
    # 2024-07: the bundled series hold Qwen's first weeks only; read which families are
    # ranked below it from the monthly figures themselves
    monthly = _json("monthly", "--from", "2024-07", "--to", "2024-07", "-m", "publisher",
                    "--limit", "0", "-w", str(demo_store))["rows"]  # fmt: skip
    qwen = next(r for r in monthly if r["family"] == "Qwen")
    below = [
        r
        for r in monthly
        if r["estimate"] is not None
        and r["models"]  # a family with no models yet is not ranked
        and r["family"] not in ("Qwen", "(unattributed)")
        and (r["coverage"] is None or r["coverage"] >= 0.8)
        and r["estimate"] < qwen["estimate"]
    ]
    assert below == []  # the case the issue reported: nothing to compare against
    result = cli("compare", "Qwen", "--month", "2024-07", "-m", "publisher", "-w", str(demo_store))
    assert result.returncode == 1 and "cannot be compared" in result.stderr
    assert "holds" not in result.stdout
    audit = _json("audit", "Qwen", "--month", "2024-07", "-w", str(demo_store))
    assert "holds" not in audit["tally"]
    verdicts = {r["verdict"] for r in audit["definitions"]}
    assert verdicts <= {"not comparable", "no data"} and "not comparable" in verdicts


@pytest.mark.slow
def test_a_partial_extract_cannot_refute_a_count(
    demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, _ = raw_parents(HUB_STATS)
    settings = Settings(warehouse=demo_store)
    found, _ = run_audit(settings, "Qwen", derivatives=100_000)
    assert len(rows) < 500_000  # the bundled extract: its counts are lower bounds
    applicable = [r for r in found.rows if r["verdict"] != "not applicable"]
    assert {r["verdict"] for r in applicable} == {"cannot refute"}
    assert all("a lower bound" in r["sentence"] for r in applicable)
    snapshot, _ = run_audit(settings, "Qwen")
    assert "fails" not in snapshot.tally
    # the same counts on a snapshot that is the whole Hub may refute
    monkeypatch.setattr("hubpulse.store.queries.FULL_HUB_MODELS", len(rows))
    full, _ = run_audit(settings, "Qwen", derivatives=100_000)
    assert {r["verdict"] for r in full.rows if r["verdict"] != "not applicable"} == {"fails"}


@pytest.mark.slow
def test_a_dated_milestone_reads_the_evidence_of_its_date(demo_store: Path) -> None:
    settings = Settings(warehouse=demo_store)
    before, _ = run_audit(settings, "Qwen", milestone=700_000_000, month="2026-01")
    assert {r["verdict"] for r in before.rows} == {"undecided"}
    assert f"snapshots ({HUB_STATS_DATE}) are all later" in before.rows[0]["sentence"]
    assert "would settle it" in " ".join(before.notes) and "2026-01-31" in before.window
    after, read = run_audit(settings, "Qwen", milestone=700_000_000, month="2026-06")
    assert read.snapshot_date == HUB_STATS_DATE and "the newest on or before" in after.window
    rows, _ = raw_parents(HUB_STATS)
    own = sum(r["downloadsAllTime"] or 0 for m, r in rows.items() if m.split("/")[0] in ("Qwen",))
    publisher = next(r for r in after.rows if r["definition"] == "family/publisher/all/raw")
    assert publisher["value"] >= own  # Qwen's org alone (Alibaba-NLP adds to it)
    assert publisher["verdict"] == (
        "holds" if publisher["value"] >= 700_000_000 else "cannot refute"
    )


@pytest.mark.slow
def test_milestones_never_read_a_month_without_data_as_zero(demo_store: Path) -> None:
    out = _json("milestones", "Qwen", "-m", "publisher", "-w", str(demo_store))
    monthly = _json("monthly", "--family", "Qwen", "-m", "publisher", "--limit", "0",
                    "-w", str(demo_store))["rows"]  # fmt: skip
    missing = sorted(r["month"] for r in monthly if r["family"] == "Qwen" and r["estimate"] is None)
    assert missing, "the bundled series leave months without Qwen data"
    curve = out["cumulative"]
    gap = next(i for i, r in enumerate(curve) if r["month"] == missing[0])
    assert all(r["cumulative"] is None for r in curve[gap:])
    assert all(r["cumulative"] is not None for r in curve[:gap])
    undated = [r for r in out["rows"] if r["estimated"] is None]
    assert undated and all(f"no estimate for {missing[0]}" in r["why"] for r in undated
                           if r["threshold"] > curve[gap - 1]["cumulative"])  # fmt: skip


@pytest.mark.slow
def test_model_ids_resolve_by_case_and_external_roots_are_present(demo_store: Path) -> None:
    rows, parents = raw_parents(HUB_STATS)
    root = "Qwen/Qwen2.5-VL-7B-Instruct"
    assert root not in rows and any(root in p for p in parents.values())
    children = sorted(m for m, p in parents.items() if root in p)
    lineage = _json("lineage", root.lower(), "-w", str(demo_store))
    assert lineage["model_id"] == root
    derivatives = _json("derivatives", root, "-w", str(demo_store))["rows"]
    total = next(r for r in derivatives if r["relation"] == "all")
    assert total["derivatives"] >= len(children)
    settings = Settings(warehouse=demo_store)
    from hubpulse.analysis.snapshot.stored import load_analysis

    analysis = load_analysis(settings, None)
    assert analysis.find_model("qwen/qwen2.5-7b-instruct") == "Qwen/Qwen2.5-7B-Instruct"
    with pytest.raises(ModelNotFoundError, match="nor a parent"):
        analysis.find_model("nobody/nothing")
    with pytest.raises(ModelNotFoundError, match="external root"):
        analysis.require_model(root.upper())
    bad = cli("compare", "Qwen", "--month", "Dec-2025", "-w", str(demo_store))
    assert bad.returncode == 1 and "is not a month (YYYY-MM" in bad.stderr


@pytest.mark.slow
def test_no_data_says_which_months_have_some_and_how_to_fetch_more(demo_store: Path) -> None:
    settings = Settings(warehouse=demo_store)
    with pytest.raises(NoEvidenceError) as caught:
        run_compare(settings, "Qwen", month="2025-12")
    message = str(caught.value)
    assert "months with estimates: 2024-07 … " in message
    assert "hubpulse pull characterization" in message  # it covers 2025-02-28 … 2026-08-31
    assert "hubpulse import-series" in message
    early = cli("compare", "Qwen", "--month", "2019-12", "-w", str(demo_store))
    assert early.returncode == 1 and "pull characterization" not in early.stderr


def test_a_spike_that_reverses_is_discounted_under_robust_counting() -> None:
    import datetime as dt

    import ibis
    from histories import model_months

    from hubpulse.analysis.history.monthly import with_jumps
    from hubpulse.analysis.history.spikes import discount_spikes, find_spikes

    months = [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]
    series = {"a/spike": [100, 5000, 110, 120], "b/stays": [100, 5000, 4800, 4900]}
    rows = model_months(months, series)
    marked = with_jumps(ibis.memtable(rows), 10.0)
    spikes = find_spikes(marked).to_pyarrow().to_pylist()
    # a/spike: ×50 in February, back to 110 in March; b/stays keeps its level: no spike
    assert [(s["model_id"], s["month"], s["level"]) for s in spikes] == [
        ("a/spike", "2025-02", 110.0)
    ]
    out = discount_spikes(marked, find_spikes(marked)).to_pyarrow().to_pylist()
    got = {(r["model_id"], r["month"]): r for r in out}
    assert (got[("a/spike", "2025-02")]["estimate"], got[("a/spike", "2025-02")]["lower"]) == (
        110.0,
        110.0,
    )
    assert got[("a/spike", "2025-02")]["upper"] == 5005.0  # the hard upper bound stays
    assert got[("a/spike", "2025-03")]["jump"] is None  # its fall is not a caveat either
    assert got[("b/stays", "2025-02")]["estimate"] == 5000.0
    assert len(out) == len(rows)


@pytest.mark.slow
def test_robust_month_claims_name_the_spikes_they_discount(demo_store: Path) -> None:
    settings = Settings(warehouse=demo_store, mode="publisher")
    from hubpulse.analysis.snapshot.selection import Selection

    (raw,), _ = run_compare(settings, "Qwen", month="2024-12", modes=("publisher",))
    robust_sel = Selection(count="robust")
    (robust,), (history,) = run_compare(
        settings, "Qwen", month="2024-12", modes=("publisher",), selection=robust_sel
    )
    assert history.spikes is not None
    found = history.spikes.filter(history.spikes.month == "2024-12").to_pyarrow().to_pylist()
    for spike in found:  # each reversed: the next month fell by the spike factor or more
        assert spike["jump"] > 10 and spike["fall"] < 0.1
    named = [s for s in robust.discounted if "(Qwen)" in s]
    assert named and "robust counting discounted" in robust.sentence
    assert raw.discounted == [] and "discounted" not in raw.sentence


@pytest.mark.slow
def test_the_api_refuses_what_is_no_verdict_and_the_page_says_why(demo_store: Path) -> None:
    from fastapi.testclient import TestClient

    from hubpulse.web.app import create_app

    client = TestClient(create_app(Settings(warehouse=demo_store)))
    params = {"family": "Qwen", "month": "2024-07", "mode": "publisher"}
    empty = client.get("/api/compare", params=params)
    assert empty.status_code == 422 and "cannot be compared" in empty.json()["detail"]
    page = client.get("/compare", params={"family": "Qwen", "month": "2025-12"})
    assert page.status_code == 200
    assert "No monthly verdict" in page.text and "months with estimates" in page.text
    assert 'id="verdict-snapshot"' in page.text  # the snapshot's claim is still answered
    model = client.get("/api/models/qwen/qwen2.5-7b-instruct").json()
    assert model["model_id"] == "Qwen/Qwen2.5-7B-Instruct"  # one model of that name, any case
    audit = client.get("/audit")
    offered = re.findall(r"<option(?: selected)?>(\d{4}-\d{2})</option>", audit.text)
    monthly = client.get("/api/monthly").json()["rows"]
    held = {r["month"] for r in monthly if r["estimate"] is not None and r["models"]}
    assert offered and set(offered) <= held
