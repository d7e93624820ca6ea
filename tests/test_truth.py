"""Say only what the evidence says (issue 15), on a warehouse like `make demo`'s: no data is
null, never 0; nothing is estimated past the newest observation; coverage travels with every
monthly figure; a claim names what it compared; flagged figures name their model; totals add
up exactly; every command answers or fails in one clear line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import DEMO, FORECAST, cli
from fastapi.testclient import TestClient
from independent import forecast_models
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.errors import HubpulseError
from hubpulse.settings import Settings
from hubpulse.web.app import create_app

runner = CliRunner()


def run_json(store: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json", "-w", str(store)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def qwen_trend(demo_store: Path) -> list[dict[str, Any]]:
    return run_json(demo_store, "trend", "Qwen", "--mode", "publisher")["rows"]  # type: ignore[no-any-return]


def newest_observation(store: Path) -> str:
    """The newest day anything was observed, straight from the Parquet files."""
    days = duckdb.sql(
        f"""select max(d) from (
              select snapshot_date as d from '{store}/loads/*/loads.parquet'
              union all select last_day from '{store}/series/*/series_loads.parquet')"""
    ).fetchone()
    return str(days[0])  # type: ignore[index]


@pytest.mark.slow
def test_months_without_evidence_are_null_not_zero(qwen_trend: list[dict[str, Any]]) -> None:
    empty = [r for r in qwen_trend if r["estimated"] == 0 and r["models"] > 0]
    assert len(empty) >= 6  # the series stop in 2025-02, the snapshot is of 2026-05
    for row in empty:
        assert row["estimate"] is None and row["mom_growth"] is None and row["share"] is None
        assert row["coverage"] == 0
    after = [r for r in qwen_trend if r["month"] > empty[-1]["month"]]
    assert all(r["mom_growth"] is None for r in after[:1])  # no growth from a gap


@pytest.mark.slow
def test_table_shows_no_data_as_a_dash(demo_store: Path) -> None:
    result = runner.invoke(
        app, ["trend", "Qwen", "--from", "2025-06", "--to", "2025-07", "-w", str(demo_store)]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "2025-0" in line and "│" in line]
    estimates = [line.split("│")[2].strip() for line in rows]  # month │ estimate │ …
    assert estimates == ["—", "—"]


@pytest.mark.slow
def test_nothing_is_estimated_past_the_newest_observation(demo_store: Path) -> None:
    newest = newest_observation(demo_store)
    rows = run_json(demo_store, "monthly", "--from", "2026-01", "--to", "2027-06")["rows"]
    assert max(r["month"] for r in rows) == newest[:7]
    last = [r for r in rows if r["month"] == newest[:7]]
    assert last and all(r["through"] == newest for r in last)
    april = next(r for r in rows if r["month"] == "2026-04" and r["family"] == "Qwen")
    # the snapshot's 30-day window saw only 10 of April's days: it does not stand for April
    assert april["estimated"] < april["models"] / 10
    beyond = cli("compare", "Qwen", "--month", "2027-01", "-w", str(demo_store))
    errors = [line for line in beyond.stderr.splitlines() if not line.startswith("note:")]
    assert beyond.returncode == 1 and len(errors) == 1  # one line, after any first-use note
    assert "newest observation" in beyond.stderr


@pytest.mark.slow
def test_coverage_is_in_cli_json_api_and_report(demo_store: Path) -> None:
    fields = {"coverage", "month_coverage", "models", "estimated", "through", "caveats"}
    assert fields <= set(run_json(demo_store, "monthly")["rows"][0])
    client = TestClient(create_app(Settings(warehouse=demo_store)))
    api = client.get("/api/monthly").json()
    assert fields <= set(api["rows"][0])
    assert api["warning"] and api["snapshot_models"] == 4167
    result = runner.invoke(app, ["report", "-w", str(demo_store), "-o", str(demo_store / "r.html")])
    assert result.exit_code == 0, result.output
    html = (demo_store / "r.html").read_text()
    data = json.loads(re.search(r'id="hubpulse-data">(.*?)</script>', html, re.S)[1])  # type: ignore[index]
    assert fields <= set(data["monthly"][0])
    assert 'id="provenance-warning"' in html and "4,167 models" in html


@pytest.mark.slow
def test_a_month_without_evidence_for_the_subject_fails_in_cli_and_api(demo_store: Path) -> None:
    result = cli("compare", "Qwen", "--month", "2025-12", "-w", str(demo_store))
    assert result.returncode == 1 and result.stdout == ""
    last = result.stderr.splitlines()[-1]  # after any note of a stage built on first use
    assert last.startswith("error:") and "no estimate for 2025-12" in last
    client = TestClient(create_app(Settings(warehouse=demo_store)))
    answer = client.get("/api/compare", params={"family": "Qwen", "month": "2025-12"})
    assert answer.status_code == 404 and "no estimate for 2025-12" in answer.text


@pytest.mark.slow
def test_compare_states_rank_and_who_is_above(demo_store: Path) -> None:
    month = ["--from", "2024-12", "--to", "2024-12", "--mode", "publisher"]
    rows = run_json(demo_store, "monthly", *month)["rows"]
    minimum = run_json(demo_store, "monthly", *month)["min_coverage"]
    ranked = sorted(  # only a family whose estimate covers the minimum is ranked
        (
            r
            for r in rows
            if r["estimate"] is not None
            and r["models"]
            and r["family"] != "(unattributed)"
            and (r["coverage"] is None or r["coverage"] >= minimum)
        ),
        key=lambda r: (-r["estimate"], r["family"]),
    )
    place = [r["family"] for r in ranked].index("Qwen")
    payload = run_json(demo_store, "compare", "Qwen", "--month", "2024-12", "--mode", "publisher")
    (comparison,) = payload["comparisons"]
    assert comparison["rank"] == place + 1 and place > 0
    assert [a["family"] for a in comparison["above"]] == [r["family"] for r in ranked[:place]]
    assert comparison["unranked"] == sorted(
        r["family"]
        for r in rows
        if r["estimate"] is None and r["models"] and r["family"] != "(unattributed)"
    )
    for name in comparison["above"]:
        assert name["family"] in comparison["sentence"]
    assert {"months", "mode", "method", "min_coverage"} <= set(payload)
    snapshot = run_json(demo_store, "compare", "Qwen", "--mode", "publisher")
    assert {"snapshot_date", "method", "warning"} <= set(snapshot)


@pytest.mark.slow
def test_one_model_making_most_of_a_figure_is_flagged_with_its_name(
    demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBPULSE_DECONVOLVE", "0")  # forecast_models restates the month-end rule
    models = [m for m in forecast_models(FORECAST, "Qwen", "2024-10") if m[1] is not None]
    top = max(models, key=lambda m: m[1] or 0)
    part = (top[1] or 0) / sum(m[1] or 0 for m in models)
    assert part > 0.5  # the independent computation agrees that one model dominates
    rows = run_json(demo_store, "monthly", "--family", "Qwen", "--mode", "publisher")["rows"]
    october = next(r for r in rows if r["month"] == "2024-10")
    assert october["top_model"] == top[0]
    assert october["caveats"].startswith(f"one model {round(part * 100)}%: {top[0]}")
    drivers = run_json(demo_store, "drivers", "Qwen", "--month", "2024-10", "--mode", "publisher")
    assert drivers["rows"][0]["model_id"] == top[0]
    assert drivers["rows"][0]["group_share"] == pytest.approx(part, abs=1e-6)


@pytest.mark.slow
def test_a_collapse_against_the_month_before_is_flagged(demo_store: Path) -> None:
    before = dict((m, e) for m, e, _, _ in forecast_models(FORECAST, "Qwen", "2024-11"))
    after = dict((m, e) for m, e, _, _ in forecast_models(FORECAST, "Qwen", "2024-12"))
    fell = {m: before[m] / after[m] for m in after if after[m] and before.get(m)}
    model, factor = max(fell.items(), key=lambda kv: kv[1])
    assert factor > 10
    rows = run_json(demo_store, "monthly", "--family", "Qwen", "--mode", "publisher")["rows"]
    december = next(r for r in rows if r["month"] == "2024-12")
    assert f"collapse ÷{round(factor)}: {model}" in december["caveats"]
    # the flag does not depend on where the range starts
    alone = run_json(demo_store, "monthly", "--family", "Qwen", "--from", "2024-12", "--to",
                     "2024-12", "--mode", "publisher")["rows"]  # fmt: skip
    assert alone[0]["caveats"] == december["caveats"]


def test_lineage_totals_add_up_to_the_per_model_sum_exactly(demo_store: Path) -> None:
    families = run_json(demo_store, "top", "--by", "family", "--limit", "1000")["rows"]
    models = duckdb.sql(
        f"select sum(downloads_30d), sum(downloads_all_time) "
        f"from '{demo_store}/loads/*/models.parquet'"
    ).fetchone()
    assert sum(r["downloads_30d"] for r in families) == models[0]  # type: ignore[index]
    assert sum(r["downloads_all_time"] for r in families) == models[1]  # type: ignore[index]


def test_unknown_all_time_counts_stay_unknown(tmp_path: Path) -> None:
    store = tmp_path / "wh"
    one_row = DEMO / "api_models_2025-01-22.json"
    result = runner.invoke(app, ["ingest", str(one_row), "-w", str(store)])
    assert result.exit_code == 0, result.output
    rows = run_json(store, "top", "--by", "model")["rows"]
    assert rows and all(r["downloads_all_time"] is None for r in rows)
    table = runner.invoke(app, ["top", "-w", str(store)]).output
    assert "—" in table and "warning: partial extract" in table


def test_help_shows_defaults_and_environment_variables() -> None:
    text = runner.invoke(app, ["compare", "--help"]).output
    for expected in (
        "[env HUBPULSE_MODE; default lineage]",
        "[env HUBPULSE_FAMILIES_FILE]",
        "pip install 'hubpulse[spark]'",
        "[env HUBPULSE_WAREHOUSE; default ~/.local/share/hubpulse]",
    ):
        assert expected in " ".join(text.split()), expected
    text = " ".join(runner.invoke(app, ["trend", "--help"]).output.split())
    assert "[env HUBPULSE_MIN_COVERAGE; default 0.8]" in text


def test_an_empty_default_warehouse_points_to_the_demo(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".hubpulse-demo").symlink_to(demo_store)
    result = cli("top", env={"HUBPULSE_WAREHOUSE": str(tmp_path / "empty")})
    assert result.returncode == 1
    assert "-w .hubpulse-demo" in result.stderr and result.stderr.count("\n") == 1


COMMANDS: list[list[str]] = [
    *[["top", "--by", by] for by in ("family", "model", "vendor", "country", "author", "size")],
    ["compare", "Qwen"],
    ["compare", "Qwen", "--month", "2024-12"],
    ["compare", "Qwen", "--month", "2025-12"],  # no evidence: an error line
    ["compare", "alibaba", "--by", "vendor", "--against", "qwen-team", "--count", "robust"],
    ["compare", "Qwen", "--month", "2024-12", "--llm", "--exclude", "meta"],
    ["audit", "Qwen", "--month", "2024-12"],
    ["audit", "Alibaba", "--against", "qwen-team", "--month", "2025-12"],  # no data rows
    ["audit", "Qwen", "--derivatives", "1000"],
    ["flags", "--limit", "5"],
    ["adoption", "Qwen", "--ages", "30,90"],
    ["top", "--by", "size", "--family", "Qwen", "--task", "text-generation"],
    ["derivatives", "Qwen"],
    ["lineage", "Qwen/Qwen2.5-7B-Instruct"],
    *[["monthly", "--by", by] for by in ("family", "vendor", "country", "model", "author")],
    *[["monthly", "--by", by, "--family", "Qwen"] for by in ("family", "vendor", "model")],
    ["trend", "Qwen", "Llama"],
    *[["concentration", "--by", by] for by in ("family", "vendor", "country")],
    ["milestones", "Qwen"],
    ["derivative-growth", "Qwen"],
    ["drivers", "Qwen", "--month", "2024-10"],
    ["drivers", "alibaba", "--by", "vendor", "--month", "2024-10"],
    ["drivers", "Nowhere", "--by", "country", "--month", "2024-10"],  # unknown: an error line
    ["snapshots"],
    ["series"],
    ["rejects"],
    ["analyse"],
]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "csv"])  # JSON: test_json checks each command's
def test_every_command_answers_or_fails_in_one_line(demo_store: Path, fmt: str) -> None:
    for args in COMMANDS:
        result = runner.invoke(app, [*args, "--format", fmt, "-w", str(demo_store)])
        where = f"{' '.join(args)} --format {fmt}"
        if result.exception is None or isinstance(result.exception, SystemExit):
            assert result.exit_code == 0 or "Error" in result.output, where
            assert result.output.strip(), where
            if fmt == "json" and result.exit_code == 0:
                json.loads(result.output)
        else:  # main() prints a hubpulse error as one line; anything else is a traceback
            assert isinstance(result.exception, HubpulseError), (where, result.exception)
            assert "\n" not in str(result.exception).strip(), where
