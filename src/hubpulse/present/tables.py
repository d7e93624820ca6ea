"""Outputs for people: Rich tables, JSON and CSV renderings, ingest progress and the demo.

JSON output wraps rows with the facts needed to audit them: snapshot date, attribution mode
and the definition of each figure.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.tree import Tree

from hubpulse.analysis.lineage import LineageReport, describe_lineage
from hubpulse.analysis.metrics import (
    Analysis,
    Comparison,
    compare_family,
    count_derivatives,
    rank_models,
)
from hubpulse.analysis.trends import History, MonthlyComparison, compare_family_month
from hubpulse.ingest.crawl import CrawlScope
from hubpulse.ingest.files import count_records
from hubpulse.ingest.hub import CrawlEvents, Hub
from hubpulse.ingest.series import SeriesLoad
from hubpulse.registry import MODES, Registry
from hubpulse.settings import Mode, OutputFormat
from hubpulse.store.loads import LoadResult
from hubpulse.store.pulls import crawl_hub
from hubpulse.store.warehouse import Warehouse, list_snapshots

MODE_NOTE = {
    "publisher": "publisher mode: a model counts for the family its own repo belongs to",
    "lineage": "lineage mode: a model counts for the family of its root ancestor(s); "
    "cross-family merges are split evenly",
}
DEMO_LINEAGE = "deepcogito/cogito-v1-preview-qwen-32B"
DEMO_MONTH = "2024-12"
ESTIMATOR_NOTE = (
    "monthly downloads estimated per model from daily counts, else all-time counter brackets, "
    "else the 30-day count nearest the month end (x days/30); lower/upper are hard bounds, "
    "upper empty = unbounded"
)


def meta(analysis: Analysis, mode: Mode) -> dict[str, Any]:
    """Facts stated with every query result."""
    return {
        "snapshot_date": analysis.snapshot_date.isoformat(),
        "mode": mode,
        "method": MODE_NOTE[mode],
    }


def history_meta(history: History) -> dict[str, Any]:
    """Facts stated with every history result."""
    mode_note = MODE_NOTE[history.mode]
    if history.mode == "lineage":
        mode_note += (
            f" (graph of snapshot {history.lineage_date})"
            if history.lineage_date
            else " (no snapshot stored, so no graph: models count for their publisher)"
        )
    return {
        "months": f"{history.first} … {history.last}",
        "mode": history.mode,
        "lineage_snapshot": history.lineage_date.isoformat() if history.lineage_date else None,
        "method": f"{mode_note}; {ESTIMATOR_NOTE}",
    }


def emit_query(
    console: Console, expr: ir.Table, fmt: OutputFormat, *, meta: dict[str, Any], title: str
) -> None:
    """Execute ``expr`` and print it in ``fmt`` with ``meta``."""
    emit(console, expr.to_pyarrow(), fmt, title=title, meta=meta)


def emit(
    console: Console,
    table: pa.Table | Sequence[dict[str, Any]],
    fmt: OutputFormat,
    *,
    title: str,
    meta: dict[str, Any] | None = None,
) -> None:
    """Print ``table`` as a Rich table, JSON (``{..meta, rows: [...]}``) or CSV."""
    records = table.to_pylist() if isinstance(table, pa.Table) else list(table)
    columns = (
        table.column_names if isinstance(table, pa.Table) else list(records[0] if records else [])
    )
    if fmt == "json":
        print(json.dumps({**(meta or {}), "rows": records}, default=json_default, indent=2))
    elif fmt == "csv":
        print(to_csv(records, columns), end="")
    else:
        console.print(rich_table(records, columns, title=title))
        if meta:
            day = meta.get("snapshot_date")
            where = f"snapshot {day}" if day else f"months {meta.get('months')}"
            console.print(f"[dim]{where} · {escape(meta['method'])}[/]")


def brief(
    table: pa.Table, fmt: OutputFormat, *, drop: list[str]
) -> pa.Table | list[dict[str, Any]]:
    """For the terminal only: drop bulky columns, show file names without their directory and
    timestamps to the second. JSON and CSV keep everything."""
    if fmt != "table":
        return table
    records = table.drop_columns(drop).to_pylist()
    for record in records:
        if record.get("file"):
            record["file"] = Path(record["file"]).name
        if isinstance(record.get("loaded_at"), dt.datetime):
            record["loaded_at"] = record["loaded_at"].replace(microsecond=0)
    return records


def to_csv(records: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return buffer.getvalue()


def rich_table(records: list[dict[str, Any]], columns: list[str], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        numeric = bool(records) and isinstance(records[0].get(column), int | float)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for record in records:
        table.add_row(*(pretty(column, record.get(column)) for column in columns))
    return table


def registry_rows(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "family": f.name,
            "vendor": f.vendor,
            "country": f.country,
            "ticker": f.ticker or "",
            "organisations": ", ".join(f.orgs + f.repos),
            "patterns": ", ".join(f.patterns),
        }
        for f in registry.families
    ]


def ingest_with_progress(
    console: Console,
    warehouse: Warehouse,
    path: Path,
    date: dt.date | None,
    *,
    replace: bool = False,
) -> LoadResult:
    """Ingest one file with a Rich progress bar over its records (on a terminal)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(f"ingest {Path(path).name}", total=count_records(path))
        return warehouse.ingest(
            path, date, replace=replace, progress=lambda n: progress.advance(task, n)
        )


def print_load(console: Console, result: LoadResult) -> None:
    inferred = " (inferred from newest lastModified)" if result.date_inferred else ""
    verb = {"loaded": "loaded", "replaced": "replaced", "unchanged": "already ingested"}[
        result.status
    ]
    console.print(
        f"{verb}: {Path(result.file).name} → snapshot {result.snapshot_date}{inferred}: "
        f"{result.rows:,} rows, {result.rejects:,} rejected, {result.aliases:,} aliases "
        f"[dim](load {result.load_id}, {result.source})[/]",
        highlight=False,
    )


def crawl_with_progress(
    console: Console,
    warehouse: Warehouse,
    hub: Hub,
    scope: CrawlScope | None,
    *,
    resume: bool,
    replace: bool,
) -> None:
    """Crawl with a Rich progress line (pages, models, rate, rate-limit waits), then ingest."""
    waits: list[float] = []
    with Progress(
        TextColumn("[bold]crawl[/] {task.completed:,} pages · {task.fields[models]:,} models"),
        TextColumn("· {task.fields[rate]:.0f} models/s · waits {task.fields[waits]}"),
        TimeElapsedColumn(),
        TextColumn("· listing ETA"),
        TimeRemainingColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("crawl", total=None, models=0, rate=0.0, waits="none")
        start, seen = time.monotonic(), [0]

        def page(pages: int, items: int, remaining: int | None) -> None:
            seen[0] += items
            rate = seen[0] / max(time.monotonic() - start, 1e-9)
            progress.update(task, completed=pages, models=seen[0], rate=rate)
            if remaining is not None and items:  # pages left in this listing, for the ETA
                progress.update(task, total=pages + remaining / items)

        def wait(seconds: float, reason: str) -> None:
            waits.append(seconds)
            progress.update(task, waits=f"{len(waits)} ({sum(waits):.0f}s, last: {reason})")

        hub.events = CrawlEvents(page=page, wait=wait)
        result, load = crawl_hub(warehouse, hub, scope, resume=resume, replace=replace)
    console.print(
        f"crawled {result.records:,} models in {result.pages:,} pages of {result.listings:,} "
        f"listings (crawl {result.crawl_id}; {len(waits)} waits, {sum(waits):.0f}s)",
        highlight=False,
    )
    print_load(console, load)


def print_series_load(console: Console, result: SeriesLoad) -> None:
    verb = "imported" if result.status == "loaded" else "already imported"
    console.print(
        f"{verb}: {Path(result.file).name} ({result.layout}): {result.rows:,} observations of "
        f"{result.models:,} models, {result.first_day} … {result.last_day}, "
        f"{result.rejects:,} rejected [dim](load {result.load_id})[/]",
        highlight=False,
    )


def print_month_comparisons(
    console: Console, results: list[MonthlyComparison], fmt: OutputFormat
) -> None:
    """Monthly comparisons (one per mode): tables with a verdict line, JSON or CSV."""
    if fmt == "json":
        payload = {"comparisons": [r.to_dict() for r in results]}
        print(json.dumps(payload, default=json_default, indent=2))
        return
    if fmt == "csv":
        flat = [{"mode": r.mode, **row, "verdict": r.verdict} for r in results for row in r.rows]
        print(to_csv(flat, list(flat[0])), end="")
        return
    for r in results:
        title = f"{r.family} vs the next {r.next_n} families in {r.month} ({r.mode} mode)"
        console.print(rich_table(r.rows, list(r.rows[0]), title=title))
        console.print(escape(month_comparison_sentence(r)), highlight=False)


def month_comparison_sentence(result: MonthlyComparison) -> str:
    def span(figures: dict[str, int | None]) -> str:
        upper = f"{figures['upper']:,}" if figures["upper"] is not None else "unbounded"
        return f"{figures['estimate'] or 0:,} [{figures['lower'] or 0:,} – {upper}]"

    return (
        f"{result.month}: {result.family} {span(result.value)} vs the next {result.next_n} "
        f"combined {span(result.combined)}: claim {result.verdict} "
        f"(point estimates: {result.point_verdict}) [{result.mode} mode]"
    )


def print_comparisons(console: Console, results: list[Comparison], fmt: OutputFormat) -> None:
    """Comparisons (one per mode): tables with a verdict line, JSON or CSV."""
    if fmt == "json":
        payload = {"comparisons": [r.to_dict() for r in results]}
        print(json.dumps(payload, default=json_default, indent=2))
    elif fmt == "csv":
        flat = [
            {
                "mode": r.mode,
                **row,
                "verdict": r.verdict,
                "margin": r.margin,
                "combined_next": r.combined,
            }
            for r in results
            for row in r.rows
        ]
        print(to_csv(flat, list(flat[0])), end="")
    else:
        for result in results:
            print_comparison(console, result)


def print_comparison(console: Console, result: Comparison) -> None:
    console.print(rich_table(result.rows, list(result.rows[0]), title=_comparison_title(result)))
    console.print(escape(comparison_sentence(result)), highlight=False)


def comparison_sentence(result: Comparison) -> str:
    ratio = f" ({result.ratio:.2f}×)" if result.ratio is not None else ""
    return (
        f"{result.family} {result.metric} {result.value:,} {result.verdict} the next "
        f"{result.next_n} combined {result.combined:,}: margin {result.margin:+,}{ratio} "
        f"[snapshot {result.snapshot_date}, {result.mode} mode]"
    )


def print_lineage(
    console: Console, report: LineageReport, fmt: OutputFormat, meta: dict[str, Any]
) -> None:
    if fmt == "json":
        print(json.dumps({**meta, **report.to_dict()}, default=json_default, indent=2))
        return
    if fmt == "csv":
        print(to_csv(report.ancestry, ["child", "parent", "relation", "parent_known"]), end="")
        return
    console.print(ancestry_tree(report))
    roots = ", ".join(
        f"{r['root_id']}{' (external)' if r['external'] else ''}" for r in report.roots
    )
    console.print(f"roots: {roots} · depth {report.depth}", highlight=False)
    if report.descendants_by_relation:
        console.print(
            rich_table(
                report.descendants_by_relation,
                list(report.descendants_by_relation[0]),
                title=f"Descendants of {report.model_id} by relation",
            )
        )
    else:
        console.print(f"no descendants of {report.model_id} in this snapshot")
    for issue in report.issues:
        console.print(
            f"[yellow]note:[/] {issue['kind']}: {issue['model_id']} → "
            f"{issue['parent_id']} ({issue['detail']})",
            highlight=False,
        )


def ancestry_tree(report: LineageReport) -> Tree:
    """The ancestry as a Rich tree: the model at the top, parents below it, up to the roots."""
    parents: dict[str, list[dict[str, Any]]] = {}
    for edge in report.ancestry:
        parents.setdefault(str(edge["child"]), []).append(edge)
    tree = Tree(f"[bold]{report.model_id}[/]")

    def grow(node: Tree, model: str, seen: frozenset[str]) -> None:
        for edge in parents.get(model, []):
            parent = str(edge["parent"])
            label = f"← {parent} [dim]({edge['relation'] or 'unknown'})[/]"
            if not edge["parent_known"]:
                label += " [yellow]external[/]"
            if parent not in seen:
                grow(node.add(label), parent, seen | {parent})

    grow(tree, report.model_id, frozenset({report.model_id}))
    return tree


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
    results = [compare_family_month(each, "Qwen", 8, DEMO_MONTH) for each in histories]
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
        print_comparison(console, compare_family(analysis, "Qwen", 8, mode=mode))
    report = describe_lineage(analysis.lineage, analysis.models, DEMO_LINEAGE)
    console.rule(f"Lineage of {DEMO_LINEAGE}")
    print_lineage(console, report, "table", meta(analysis, "lineage"))
    emit_query(
        console,
        count_derivatives(analysis, "Qwen"),
        "table",
        meta=meta(analysis, "lineage"),
        title="Derivatives of Qwen in the snapshot",
    )


def _comparison_title(result: Comparison) -> str:
    return f"{result.family} vs the next {result.next_n} families ({result.mode} mode)"


def pretty(column: str, value: Any) -> str:
    if value is None:
        return ""
    if (column.endswith("share") or column.endswith("growth")) and isinstance(value, float):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and column != "rank":
        return f"{value:,}"
    return str(value)


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
