"""The demo (``make demo``): ingest the bundled real data, answer the seed questions on it and
write the HTML report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from rich.console import Console

from hubpulse.analysis.claims.month_comparison import compare_month
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot
from hubpulse.analysis.history.history import History, load_history
from hubpulse.analysis.snapshot.dimensions import model_dimensions
from hubpulse.analysis.snapshot.lineage_report import describe_lineage
from hubpulse.analysis.snapshot.ranking import count_derivatives, rank_models
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.present.claims import print_comparison, print_month_comparisons
from hubpulse.present.progress import ingest_with_progress, print_load, print_series_load
from hubpulse.present.render import render_html
from hubpulse.present.report import build_report
from hubpulse.present.tables import (
    emit,
    emit_query,
    history_meta,
    meta,
    print_lineage,
)
from hubpulse.registry import MODES
from hubpulse.settings import Settings
from hubpulse.store.queries import list_snapshots
from hubpulse.store.warehouse import Warehouse, open_store


def run_demo(console: Console, settings: Settings) -> Path:
    """Ingest the bundled data into ``settings.warehouse``, print the answers to the seed
    questions and write ``report.html`` there; returns the report's path."""
    store = open_store(settings, engine="duckdb")
    for path, date in demo_files():
        print_load(console, ingest_with_progress(console, store, path, date))
    for path in demo_series():
        print_series_load(console, store.import_series(path))
    print_demo(console, store, load_analysis(settings, None, store))
    histories = [
        load_history(settings.model_copy(update={"mode": m}), "2024-08", "2025-01") for m in MODES
    ]
    print_demo_history(console, histories)
    with console.status("Writing the HTML report…"):
        report = build_report(settings, month=DEMO_MONTH, warehouse=store)
        path = Path(settings.warehouse) / "report.html"
        path.write_text(render_html(report), encoding="utf-8")
    return path


DEMO_LINEAGE = "deepcogito/cogito-v1-preview-qwen-32B"


DEMO_MONTH = "2024-12"


def demo_files() -> Iterator[tuple[Path, dt.date | None]]:
    """The bundled real data: the hub-stats extract and recorded Hub API bodies."""
    base = Path(str(resources.files("hubpulse").joinpath("data", "demo")))
    yield base / "hub_stats_2026-06.parquet", None
    yield base / "api_models_2025-01-22.json", dt.date(2025, 1, 22)
    yield base / "api_models_2025-03-21.json", dt.date(2025, 3, 21)


def demo_series() -> list[Path]:
    """The bundled real daily series (MIT): 30-day counts of top models of 17 organisations."""
    base = Path(str(resources.files("hubpulse").joinpath("data", "demo")))
    return sorted((base / "forecast_hf_2025-02-18").glob("*.csv"))


def print_demo_history(console: Console, histories: list[History]) -> None:
    """The monthly part of the demo: families in December 2024 and the seed claim for it."""
    history = histories[0]
    monthly = history.monthly("family")
    december = monthly.filter(monthly.month == DEMO_MONTH).limit(10)
    console.rule(f"Monthly downloads from the bundled daily series ({DEMO_MONTH})")
    emit_query(
        console,
        december,
        "table",
        meta=history_meta(history),
        title=f"Families by estimated downloads in {DEMO_MONTH}",
    )
    results = [compare_month(each, "Qwen", 8, DEMO_MONTH) for each in histories]
    print_month_comparisons(console, results, "table")
    console.print(
        "[dim]The bundled series covers the top models of 17 organisations only, so these "
        "figures are not the Hub's totals.[/]"
    )


def print_demo(console: Console, warehouse: Warehouse, analysis: Analysis) -> None:
    """What ``make demo`` shows after ingesting the bundled data."""
    emit(
        console,
        list_snapshots(warehouse).select(["snapshot_date", "source", "rows", "rejects"]),
        "table",
        title="Stored snapshots",
    )
    ranking = rank_models(analysis, by="family", mode="lineage", limit=12)
    emit_query(
        console,
        ranking,
        "table",
        meta=meta(analysis, "lineage"),
        title="Family ranking by 30-day downloads",
    )
    for mode in MODES:
        print_comparison(console, compare_snapshot(analysis, "Qwen", 8, mode=mode))
    report = describe_lineage(analysis.lineage, model_dimensions(analysis), DEMO_LINEAGE)
    console.rule(f"Lineage of {DEMO_LINEAGE}")
    print_lineage(console, report, "table", meta(analysis, "lineage"))
    emit_query(
        console,
        count_derivatives(analysis, "Qwen"),
        "table",
        meta=meta(analysis, "lineage"),
        title="Derivatives of Qwen in the snapshot",
    )
