"""Snapshot commands: ingest, query and explain one snapshot."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from hubpulse.cli.options import (
    EVERYTHING,
    MAX_COUNT,
    MAX_ROWS,
    AgainstOpt,
    DateOpt,
    EngineOpt,
    FamiliesOpt,
    FormatOpt,
    HubOpt,
    ModeOpt,
    NextOpt,
    SelectionOptions,
    SparkMasterOpt,
    WarehouseOpt,
    analysis_of,
    app,
    bounded,
    by_group,
    console,
    group_of,
    metric_of,
    parse_date,
    selection_options,
    settings_of,
)
from hubpulse.terms import GROUPS


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="hub-stats .parquet or Hub API .json/.jsonl")],
    date: DateOpt = None,
    replace: Annotated[
        bool, typer.Option(help="Replace a stored snapshot of the same date.")
    ] = False,
    warehouse: WarehouseOpt = None,
) -> None:
    """Normalise files into snapshots; malformed rows are kept aside as rejects."""
    from hubpulse.present import progress
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    for path in paths:
        result = progress.ingest_with_progress(
            console, store, path, parse_date(date), replace=replace
        )
        progress.print_load(console, result)


@app.command()
def snapshots(warehouse: WarehouseOpt = None, fmt: FormatOpt = "table") -> None:
    """List stored snapshots with their load log."""
    from hubpulse.present import tables
    from hubpulse.store.queries import list_snapshots
    from hubpulse.store.warehouse import open_store

    table = list_snapshots(open_store(settings_of(warehouse), engine="duckdb"))
    drop = ["file_sha256", "hubpulse_version", "date_inferred"]
    tables.emit(console, tables.brief(table, fmt, drop=drop), fmt, title="Snapshots")


@app.command()
def rejects(warehouse: WarehouseOpt = None, date: DateOpt = None, fmt: FormatOpt = "table") -> None:
    """Show the malformed records kept aside when a snapshot was ingested."""
    from hubpulse.present import tables
    from hubpulse.store.queries import list_rejects
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    table = tables.brief(list_rejects(store, parse_date(date)), fmt, drop=["raw"])
    tables.emit(console, table, fmt, title="Rejected records (raw record: --format json)")


@app.command()
def check(warehouse: WarehouseOpt = None) -> None:
    """Verify the warehouse: every published snapshot and imported series can be read and holds
    the rows its load log recorded; rewrite catalog.duckdb. Exits 1 when anything is wrong,
    naming each problem."""
    from hubpulse.store.health import DamagedWarehouseWarning
    from hubpulse.store.queries import check_warehouse
    from hubpulse.store.warehouse import open_store

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DamagedWarehouseWarning)  # listed below instead
        store = open_store(settings_of(warehouse), engine="duckdb")
    result = check_warehouse(store)
    store.refresh_catalog()  # derived data: rewritten whenever asked
    for problem in result.problems:
        console.print(f"[red]problem:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    verdict = f"{len(result.problems)} problem(s)" if result.problems else "ok"
    console.print(
        f"{verdict}: {result.snapshots} snapshot(s), {result.series} series load(s) checked in "
        f"{store.root}",
        highlight=False,
    )
    if result.problems:
        raise typer.Exit(1)


@app.command()
def analyse(
    date: DateOpt = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build again even if stored and up to date.")
    ] = False,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Build the stored analysis of a snapshot (lineage, attributions, dimensions) and the
    warehouse's monthly estimates, which every question reads; questions build them themselves
    when missing or out of date."""
    from hubpulse.analysis.history.groups import analyse_warehouse as build
    from hubpulse.present import tables

    settings = settings_of(warehouse, None, families, engine, spark_master)
    rows = build(settings, parse_date(date), rebuild=rebuild)
    if fmt != "table":
        tables.emit(console, rows, fmt, title="Stored analysis")
        return
    for row in rows:
        counts = " · ".join(f"{n} {v:,}" for n, v in row["rows"].items())
        console.print(
            f"{row['stage']}: {row['status']} for {row['scope']} "
            f"(key {row['key']}, built {row['built_at']}): {counts}",
            highlight=False,
        )


@app.command()
def families(families: FamiliesOpt = None, fmt: FormatOpt = "table") -> None:
    """List the family registry (built-in plus --families overrides)."""
    from hubpulse.present import tables
    from hubpulse.registry import load_registry

    registry = load_registry(settings_of(None, families=families).families_file)
    tables.emit(console, tables.registry_rows(registry), fmt, title="Families")


@app.command()
@selection_options()
def top(
    by: Annotated[
        str, typer.Option(help="family, model, vendor, country, author or size")
    ] = "family",
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show the first N rows (0 = all).", callback=bounded("--limit", 0, MAX_ROWS)
        ),
    ] = 20,
    family: Annotated[
        str | None,
        typer.Option(help="Only this family's credits, e.g. --by size --family Qwen."),
    ] = None,
    hub: HubOpt = "hf",
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Rank families, models, vendors, countries, authors or sizes by downloads (--hub
    modelscope or both: all-time downloads on ModelScope, or on both hubs)."""
    from hubpulse.analysis.snapshot.ranking import rank_models
    from hubpulse.present import tables

    if by not in GROUPS:
        raise typer.BadParameter(f"choose one of {', '.join(GROUPS)}", param_hint="--by")
    settings = settings_of(warehouse, mode, families, engine, spark_master)
    if hub != "hf":
        from hubpulse.present.hubs import show_hubs

        if not selection.build(families).everything or family:
            raise typer.BadParameter(
                "counts every model: no selection or --family", param_hint="--hub"
            )
        show_hubs(console, settings, hub=hub, by=by, date=parse_date(date), limit=limit, fmt=fmt)
        return
    chosen = selection.build(families)
    analysis = analysis_of(settings, date)
    table = rank_models(
        analysis, by=group_of(by), mode=settings.mode, limit=limit, selection=chosen, family=family
    )
    of = f" of {analysis.registry.get(family).name}" if family else ""
    tables.emit_query(
        console,
        table,
        fmt,
        meta=tables.meta(analysis, settings.mode)
        | tables.selection_meta(analysis, settings.mode, chosen),
        title=f"Top {by}{of} by 30-day downloads{tables.selection_title(chosen)}",
    )


@app.command()
@selection_options()
def compare(
    family: Annotated[
        str, typer.Argument(help="Family name, e.g. Qwen (a vendor with --by vendor)")
    ],
    next_n: NextOpt = 8,
    against: AgainstOpt = None,
    by: Annotated[str, typer.Option(help="family or vendor")] = "family",
    metric: Annotated[
        str, typer.Option(help="downloads_30d or downloads_all_time")
    ] = "downloads_30d",
    month: Annotated[
        str | None, typer.Option(help="Calendar month YYYY-MM: compare estimated downloads.")
    ] = None,
    hub: HubOpt = "hf",
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Does FAMILY (or a vendor, --by vendor) out-download the next N groups combined, or the
    --against groups? Both modes unless --mode.

    Without --month: the 30-day (or all-time) counts of one snapshot. With --month: the
    estimated downloads of that calendar month, with bounds: holds, fails or undecided."""
    from hubpulse.analysis.claims.runs import run_compare
    from hubpulse.present.claims import print_claims

    settings = settings_of(warehouse, mode, families, engine, spark_master)
    chosen = selection.build(families)
    found, sources = run_compare(
        settings,
        family,
        next_n=next_n,
        against=against,
        by=by_group(by),
        metric=metric_of(metric),
        month=month,
        selection=chosen,
        date=parse_date(date),
        hub=hub,
    )
    print_claims(console, found, sources, fmt, chosen)


@app.command()
@selection_options("task", "llm", "count", "threshold")
def derivatives(
    target: Annotated[str, typer.Argument(help="Family name or model id (org/name)")],
    min_downloads: Annotated[
        int,
        typer.Option(
            help="Ignore derivatives below this 30-day download count.",
            callback=bounded("--min-downloads", 0, MAX_COUNT),
        ),
    ] = 0,
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Count derivatives of a family or model by relation, with distinct publishers."""
    from hubpulse.analysis.snapshot.ranking import count_derivatives
    from hubpulse.present import tables

    settings = settings_of(warehouse, mode, families, engine, spark_master)
    chosen = selection.build(families)
    analysis = analysis_of(settings, date)
    table = count_derivatives(analysis, target, min_downloads=min_downloads, selection=chosen)
    tables.emit_query(
        console,
        table,
        fmt,
        meta=tables.meta(analysis, settings.mode)
        | tables.selection_meta(None, settings.mode, chosen),
        title=f"Derivatives of {target} (downloads_30d >= {min_downloads})"
        + tables.selection_title(chosen),
    )


@app.command()
@selection_options("threshold")
def lineage(
    model_id: Annotated[str, typer.Argument(help="Model id, org/name")],
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Show a model's ancestry up to its roots, a summary of its descendants, its size, its
    flags with reasons and its derivative credit."""
    from hubpulse.analysis.snapshot.dimensions import model_dimensions
    from hubpulse.analysis.snapshot.indicators import model_extras
    from hubpulse.analysis.snapshot.lineage_report import describe_lineage
    from hubpulse.present import tables

    settings = settings_of(warehouse, mode, families, engine, spark_master)
    analysis = analysis_of(settings, date)
    model_id = analysis.find_model(model_id)
    report = describe_lineage(analysis.lineage, model_dimensions(analysis), model_id)
    extras = model_extras(analysis, model_id, selection.build().thresholds)
    tables.print_lineage(console, report, fmt, tables.meta(analysis, settings.mode), extras)


@app.command()
def demo(
    warehouse: Annotated[
        Path, typer.Option("--warehouse", "-w", help="Demo warehouse directory.")
    ] = Path(".hubpulse-demo"),
) -> None:
    """Ingest the bundled real data and answer the seed questions (what `make demo` runs)."""
    from hubpulse.present.demo import run_demo

    path = run_demo(console, settings_of(warehouse))
    console.print(
        f"Report: {path} (open it in a browser; `hubpulse serve -w {warehouse}` for the dashboard)",
        highlight=False,
    )
    console.print(
        escape(
            "Share prices are not bundled (their licences do not allow it): to see adoption "
            f"beside one, `hubpulse prices import FILE --ticker BABA -w {warehouse}` (a "
            "Yahoo-style CSV) or `hubpulse prices pull BABA` (pip install 'hubpulse[market]'), "
            "then `hubpulse market Qwen` and `hubpulse events Qwen`"
        ),
        highlight=False,
    )
