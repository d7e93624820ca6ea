"""History commands end to end on the bundled real series, checked against the raw CSVs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import FORECAST, HUB_STATS
from independent import forecast_month
from typer.testing import CliRunner

from hubpulse.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history") / "wh"
    files = [str(p) for p in sorted(FORECAST.glob("*.csv"))]
    output = run("import-series", *files, "-w", str(root))
    assert output.count("imported:") == 18 and "Qwen.csv (forecast): 13,590 observations" in output
    return root


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fail(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0
    return result.output + str(result.exception or "")


@pytest.mark.slow
def test_reimport_is_a_no_op(store: Path) -> None:
    output = run("import-series", str(FORECAST / "Qwen.csv"), "-w", str(store))
    assert output.startswith("already imported: Qwen.csv")
    rows = json.loads(run("series", "-w", str(store), "-f", "json"))["rows"]
    assert len(rows) == 18 and sum(r["rows"] for r in rows) == 92_655


@pytest.mark.slow
def test_monthly_json_equals_the_raw_csvs(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("monthly", "--from", "2024-12", "--to", "2024-12", "--family", "Qwen")
    args += ("--family", "llama", "--mode", "publisher", "-f", "json", "-w", str(store))
    deconvolved = {r["family"]: r for r in json.loads(run(*args))["rows"]}
    # the month-end rule alone, restated in ``forecast_month``
    monkeypatch.setenv("HUBPULSE_DECONVOLVE", "0")
    payload = json.loads(run(*args))
    assert payload["months"] == "2024-12 … 2024-12" and payload["mode"] == "publisher"
    assert "30-day count nearest the month end" in payload["method"]
    rows = {r["family"]: r for r in payload["rows"]}
    assert set(rows) == {"Qwen", "Llama"}
    for family, row in rows.items():
        expected = forecast_month(FORECAST, family, "2024-12")
        assert row["estimate"] == pytest.approx(expected["estimate"], abs=1)
        assert row["lower"] == pytest.approx(expected["lower"], abs=1)
        assert row["upper"] == pytest.approx(expected["upper"], abs=1)
        # deconvolution only narrows
        assert row["lower"] <= deconvolved[family]["lower"] <= deconvolved[family]["upper"]
        assert deconvolved[family]["upper"] <= row["upper"]


@pytest.mark.slow
def test_compare_month_gives_a_verdict_with_bounds(store: Path) -> None:
    payload = json.loads(
        run(
            "compare",
            "Qwen",
            "--next",
            "8",
            "--month",
            "2024-11",
            "--mode",
            "publisher",
            "-f",
            "json",
            "-w",
            str(store),
        )
    )
    (result,) = payload["comparisons"]
    assert result["month"] == "2024-11" and result["next_n"] == 8
    assert result["verdict"] in {"holds", "fails", "undecided within error"}
    others = result["families"][1:]
    assert result["combined_next"]["estimate"] == sum(r["estimate"] for r in others)
    qwen = forecast_month(FORECAST, "Qwen", "2024-11")
    assert result["value"]["estimate"] == pytest.approx(qwen["estimate"], abs=1)
    text = run("compare", "Qwen", "--month", "2024-11", "--mode", "publisher", "-w", str(store))
    assert "2024-11: Qwen" in text and "claim" in text


def test_trend_has_growth_and_share(store: Path) -> None:
    output = run(
        "trend",
        "Qwen",
        "Llama",
        "--from",
        "2024-10",
        "--to",
        "2024-12",
        "-f",
        "csv",
        "-w",
        str(store),
    )
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(r["family"], r["month"]) for r in rows] == [
        ("Llama", "2024-10"),
        ("Llama", "2024-11"),
        ("Llama", "2024-12"),
        ("Qwen", "2024-10"),
        ("Qwen", "2024-11"),
        ("Qwen", "2024-12"),
    ]
    nov, dec = int(rows[1]["estimate"]), int(rows[2]["estimate"])
    assert float(rows[2]["mom_growth"]) == pytest.approx(dec / nov - 1)
    assert rows[0]["mom_growth"] == ""


@pytest.mark.slow
def test_milestones_and_concentration(store: Path) -> None:
    payload = json.loads(
        run(
            "milestones",
            "Qwen",
            "--at",
            "10M,100M",
            "--to",
            "2025-01",
            "-f",
            "json",
            "-w",
            str(store),
        )
    )
    assert [r["threshold"] for r in payload["rows"]] == [10_000_000, 100_000_000]
    curve = payload["cumulative"]
    crossing = next(r for r in curve if r["cumulative"] >= 10_000_000)
    assert payload["rows"][0]["estimated"].startswith(crossing["month"])
    rows = json.loads(
        run(
            "concentration",
            "--by",
            "country",
            "--from",
            "2024-11",
            "--to",
            "2024-11",
            "-f",
            "json",
            "-w",
            str(store),
        )
    )["rows"]
    assert len(rows) == 1 and 0 < rows[0]["hhi"] <= 10_000 and 0 <= rows[0]["gini"] <= 1


def test_derivative_growth_reads_the_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    run("ingest", str(HUB_STATS), "-w", str(root))
    output = run(
        "derivative-growth",
        "Qwen",
        "--from",
        "2025-01",
        "--to",
        "2025-03",
        "-f",
        "csv",
        "-w",
        str(root),
    )
    rows = list(csv.DictReader(io.StringIO(output)))
    assert {r["family"] for r in rows} == {"Qwen"}
    assert all(r["month"] in {"2025-01", "2025-02", "2025-03"} for r in rows)


@pytest.mark.slow
def test_bad_input_gives_clear_errors(store: Path, tmp_path: Path) -> None:
    assert "not a month" in fail("monthly", "--from", "2024-13", "-w", str(store))
    assert "unknown family 'Nope'" in fail("trend", "Nope", "-w", str(store))
    bogus = tmp_path / "bogus.csv"
    bogus.write_text("a,b\n1,2\n")
    assert "not a forecast series CSV" in fail("import-series", str(bogus), "-w", str(store))
    assert "no download history" in fail("monthly", "-w", str(tmp_path / "empty"))
    assert "coverage '2025-02' is not FIRST:LAST" in fail(
        "import-series", str(bogus), "--layout", "daily", "--coverage", "2025-02", "-w", str(store)
    )
    assert "is not role=name" in fail(
        "import-series", str(bogus), "--layout", "daily", "--column", "id", "-w", str(store)
    )
