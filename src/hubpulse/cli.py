"""The ``hubpulse`` command line: each command parses options, calls one library function and
prints the result as a Rich table, JSON or CSV. Errors become one-line messages in ``main``."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hubpulse import outputs
from hubpulse.errors import HubpulseError
from hubpulse.families import MODES, load_registry
from hubpulse.hub import Hub, Politeness, pull_characterization, pull_hub_stats, scope_for
from hubpulse.lineage import describe_lineage
from hubpulse.metrics import (
    GROUPS,
    Analysis,
    GroupBy,
    Metric,
    analyse_snapshot,
    compare_family,
    count_derivatives,
    rank_models,
)
from hubpulse.series import DailyColumns, parse_coverage
from hubpulse.settings import Mode, OutputFormat, Settings, load_settings
from hubpulse.trends import (
    TREND_GROUPS,
    History,
    TrendBy,
    check_families,
    compare_family_month,
    concentration,
    count_new_derivatives,
    cumulative_downloads,
    family_trend,
    find_milestones,
    parse_counts,
    prepare_history,
)
from hubpulse.warehouse import (
    Warehouse,
    list_rejects,
    list_series,
    list_series_rejects,
    list_snapshots,
    open_warehouse,
)

app = typer.Typer(
    help="Measure adoption of open-weight models on the Hugging Face Hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)

WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="Warehouse directory [env HUBPULSE_WAREHOUSE; default ~/.local/share/hubpulse]",
        show_default=False,
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
ModeOpt = Annotated[
    Mode | None,
    typer.Option(
        "--mode",
        "-m",
        help="Attribution: publisher or lineage [env HUBPULSE_MODE; default lineage]",
        show_default=False,
    ),
]
DateOpt = Annotated[
    str | None, typer.Option("--date", "-d", help="Snapshot date YYYY-MM-DD (default: newest).")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First month YYYY-MM (default: earliest data).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last month YYYY-MM (default: latest).")]
FamiliesOpt = Annotated[
    Path | None,
    typer.Option(
        "--families",
        help="Extra family registry TOML [env HUBPULSE_FAMILIES_FILE].",
        show_default=False,
    ),
]


def _settings(
    warehouse: Path | None, mode: str | None = None, families: Path | None = None
) -> Settings:
    return load_settings(warehouse=warehouse, mode=mode, families_file=families)


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--date"
        ) from None


def _analysis(settings: Settings, date: str | None, warehouse: Warehouse | None = None) -> Analysis:
    warehouse = warehouse or open_warehouse(settings.warehouse)
    day = warehouse.resolve_date(_date(date))
    registry = load_registry(settings.families_file)
    return analyse_snapshot(
        warehouse.models(day),
        warehouse.aliases(),
        registry,
        day,
        max_depth=settings.max_lineage_depth,
    )


def _history(settings: Settings, first: str | None, last: str | None) -> History:
    """Estimates for the month range; lineage mode uses the newest snapshot's graph."""
    store = open_warehouse(settings.warehouse)
    lineage_needed = settings.mode == "lineage" and store.snapshot_dates()
    return prepare_history(
        store.history_evidence(),
        load_registry(settings.families_file),
        mode=settings.mode,
        analysis=_analysis(settings, None, store) if lineage_needed else None,
        first=first,
        last=last,
        max_gap_days=settings.max_gap_days,
    )


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
    store = open_warehouse(_settings(warehouse).warehouse)
    for path in paths:
        result = outputs.ingest_with_progress(console, store, path, _date(date), replace=replace)
        outputs.print_load(console, result)


@app.command()
def snapshots(warehouse: WarehouseOpt = None, fmt: FormatOpt = "table") -> None:
    """List stored snapshots with their load log."""
    table = list_snapshots(open_warehouse(_settings(warehouse).warehouse))
    drop = ["file_sha256", "hubpulse_version", "date_inferred"]
    outputs.emit(console, outputs.brief(table, fmt, drop=drop), fmt, title="Snapshots")


@app.command()
def rejects(warehouse: WarehouseOpt = None, date: DateOpt = None, fmt: FormatOpt = "table") -> None:
    """Show the malformed records kept aside when a snapshot was ingested."""
    store = open_warehouse(_settings(warehouse).warehouse)
    table = outputs.brief(list_rejects(store, _date(date)), fmt, drop=["raw"])
    outputs.emit(console, table, fmt, title="Rejected records (raw record: --format json)")


@app.command()
def families(families: FamiliesOpt = None, fmt: FormatOpt = "table") -> None:
    """List the family registry (built-in plus --families overrides)."""
    registry = load_registry(_settings(None, families=families).families_file)
    outputs.emit(console, outputs.registry_rows(registry), fmt, title="Families")


@app.command()
def top(
    by: Annotated[str, typer.Option(help="family, model, vendor, country or author")] = "family",
    limit: Annotated[int | None, typer.Option(help="Show the first N rows.")] = 20,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Rank families, models, vendors, countries or authors by downloads."""
    if by not in GROUPS:
        raise typer.BadParameter(f"choose one of {', '.join(GROUPS)}", param_hint="--by")
    settings = _settings(warehouse, mode, families)
    analysis = _analysis(settings, date)
    table = rank_models(analysis, by=_group(by), mode=settings.mode, limit=limit)
    outputs.emit_query(
        console,
        table,
        fmt,
        meta=outputs.meta(analysis, settings.mode),
        title=f"Top {by} by 30-day downloads",
    )


@app.command()
def compare(
    family: Annotated[str, typer.Argument(help="Family name, e.g. Qwen")],
    next_n: Annotated[int, typer.Option("--next", min=1, help="How many following families.")] = 8,
    metric: Annotated[
        str, typer.Option(help="downloads_30d or downloads_all_time")
    ] = "downloads_30d",
    month: Annotated[
        str | None, typer.Option(help="Calendar month YYYY-MM: compare estimated downloads.")
    ] = None,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Does FAMILY out-download the next N families combined? Both modes unless --mode.

    Without --month: the 30-day (or all-time) counts of one snapshot. With --month: the
    estimated downloads of that calendar month, with bounds: holds, fails or undecided."""
    settings = _settings(warehouse, mode, families)
    modes = MODES if mode is None and "HUBPULSE_MODE" not in os.environ else (settings.mode,)
    if month is not None:
        histories = [_history(settings.model_copy(update={"mode": m}), month, month) for m in modes]
        found = [compare_family_month(h, family, next_n, month) for h in histories]
        outputs.print_month_comparisons(console, found, fmt)
        return
    analysis = _analysis(settings, date)
    results = [
        compare_family(analysis, family, next_n, mode=m, metric=_metric(metric)) for m in modes
    ]
    outputs.print_comparisons(console, results, fmt)


@app.command()
def derivatives(
    target: Annotated[str, typer.Argument(help="Family name or model id (org/name)")],
    min_downloads: Annotated[
        int, typer.Option(min=0, help="Ignore derivatives below this 30-day download count.")
    ] = 0,
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Count derivatives of a family or model by relation, with distinct publishers."""
    settings = _settings(warehouse, mode, families)
    analysis = _analysis(settings, date)
    table = count_derivatives(analysis, target, min_downloads=min_downloads)
    outputs.emit_query(
        console,
        table,
        fmt,
        meta=outputs.meta(analysis, settings.mode),
        title=f"Derivatives of {target} (downloads_30d >= {min_downloads})",
    )


@app.command()
def lineage(
    model_id: Annotated[str, typer.Argument(help="Model id, org/name")],
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Show a model's ancestry up to its roots and a summary of its descendants."""
    settings = _settings(warehouse, mode, families)
    analysis = _analysis(settings, date)
    report = describe_lineage(analysis.lineage, analysis.models, model_id)
    outputs.print_lineage(console, report, fmt, outputs.meta(analysis, settings.mode))


@app.command()
def demo(
    warehouse: Annotated[
        Path, typer.Option("--warehouse", "-w", help="Demo warehouse directory.")
    ] = Path(".hubpulse-demo"),
) -> None:
    """Ingest the bundled real data and answer the seed questions (what `make demo` runs)."""
    store = open_warehouse(warehouse)
    for path, date in outputs.demo_files():
        outputs.print_load(console, outputs.ingest_with_progress(console, store, path, date))
    for path in outputs.demo_series():
        outputs.print_series_load(console, store.import_series(path))
    settings = _settings(warehouse)
    outputs.print_demo(console, store, _analysis(settings, None))
    histories = [
        _history(settings.model_copy(update={"mode": m}), "2024-08", "2025-01") for m in MODES
    ]
    outputs.print_demo_history(console, histories)


@app.command("import-series")
def import_series(
    paths: Annotated[
        list[Path], typer.Argument(help="Series files (.csv forecast, .parquet daily)")
    ],
    layout: Annotated[str, typer.Option(help="forecast or daily")] = "forecast",
    models: Annotated[
        Path | None, typer.Option(help="daily: models table mapping the id column to repo names")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            help="daily: column mapping role=name (id, day, value, models_id, "
            "models_name, models_created); repeatable"
        ),
    ] = None,
    values: Annotated[
        str, typer.Option(help="daily: daily counts or a cumulative counter")
    ] = "daily",
    coverage: Annotated[
        str | None, typer.Option(help="daily: covered days FIRST:LAST (default: the file's span)")
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Import download time series (daily counts, daily 30-day counts) as history."""
    store = open_warehouse(_settings(warehouse).warehouse)
    mapping = DailyColumns.from_pairs(column or [])
    for path in paths:
        result = store.import_series(
            path,
            layout=layout,
            models_path=models,
            columns=mapping,
            values=values,  # type: ignore[arg-type]
            coverage=parse_coverage(coverage),
        )
        outputs.print_series_load(console, result)


@app.command()
def series(
    rejects: Annotated[bool, typer.Option(help="Show rejected observations instead.")] = False,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """List imported download series (or their rejected observations)."""
    store = open_warehouse(_settings(warehouse).warehouse)
    table = list_series_rejects(store) if rejects else list_series(store)
    drop = [] if rejects else ["file_sha256", "hubpulse_version", "options"]
    title = "Rejected series observations" if rejects else "Series"
    outputs.emit(console, outputs.brief(table, fmt, drop=drop), fmt, title=title)


@app.command()
def monthly(
    by: Annotated[str, typer.Option(help="family, vendor, country, model or author")] = "family",
    first: FromOpt = None,
    last: ToOpt = None,
    family: Annotated[list[str] | None, typer.Option(help="Only these families.")] = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Estimated downloads per calendar month and group, with method and bounds."""
    settings = _settings(warehouse, mode, families)
    history = _history(settings, first, last)
    table = history.monthly(_trend_by(by))
    if family:
        table = table.filter(table.family.isin(check_families(history.registry, family)))
    title = f"Monthly downloads by {by}"
    outputs.emit_query(console, table, fmt, meta=outputs.history_meta(history), title=title)


@app.command()
def trend(
    family: Annotated[list[str], typer.Argument(help="One or more family names")],
    first: FromOpt = None,
    last: ToOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Monthly series of families: estimate, bounds, month-over-month growth, share."""
    settings = _settings(warehouse, mode, families)
    history = _history(settings, first, last)
    table = family_trend(history.monthly("family"), check_families(history.registry, family))
    title = f"Trend of {', '.join(family)}"
    outputs.emit_query(console, table, fmt, meta=outputs.history_meta(history), title=title)


@app.command()
def milestones(
    family: Annotated[str, typer.Argument(help="Family name")],
    at: Annotated[str, typer.Option(help="Thresholds, e.g. 100M,500M,700M")] = "100M,500M,700M",
    first: FromOpt = None,
    last: ToOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Estimated day cumulative downloads (since --from) crossed each threshold, with bounds."""
    settings = _settings(warehouse, mode, families)
    history = _history(settings, first, last)
    name = check_families(history.registry, [family])[0]
    curve = cumulative_downloads(history.estimates, history.shares, history.registry)
    rows = curve.filter(curve.family == name).to_pyarrow().to_pylist()
    found = find_milestones(rows, parse_counts(at))
    meta = outputs.history_meta(history) | {"cumulative": rows}
    outputs.emit(
        console, found, fmt, meta=meta, title=f"Milestones of {name} since {history.first}"
    )


@app.command("concentration")
def concentration_command(
    by: Annotated[str, typer.Option(help="family, vendor or country")] = "family",
    top: Annotated[int, typer.Option(min=1, help="N of the top-N share column.")] = 5,
    first: FromOpt = None,
    last: ToOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Top-N share, HHI and Gini of monthly downloads across families, vendors or countries."""
    if by not in ("family", "vendor", "country"):
        raise typer.BadParameter("choose family, vendor or country", param_hint="--by")
    settings = _settings(warehouse, mode, families)
    history = _history(settings, first, last)
    table = concentration(history.monthly(_trend_by(by)), _trend_by(by), top)
    title = f"Concentration of monthly downloads across {by}"
    outputs.emit_query(console, table, fmt, meta=outputs.history_meta(history), title=title)


@app.command("derivative-growth")
def derivative_growth(
    family: Annotated[list[str] | None, typer.Argument(help="Families (default: all)")] = None,
    first: Annotated[str, typer.Option("--from", help="First month YYYY-MM.")] = "2023-01",
    last: Annotated[str, typer.Option("--to", help="Last month YYYY-MM.")] = "2099-12",
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """New derivatives per month and family by relation, from creation dates (mode-free)."""
    settings = _settings(warehouse, mode, families)
    analysis = _analysis(settings, date)
    names = check_families(analysis.registry, family) if family else None
    table = count_new_derivatives(analysis, first, last, names)
    meta = outputs.meta(analysis, settings.mode) | {"method": "derivatives by creation month"}
    outputs.emit_query(console, table, fmt, meta=meta, title="New derivatives per month")


@app.command()
def crawl(
    everything: Annotated[bool, typer.Option("--all", help="Every model on the Hub.")] = False,
    author: Annotated[list[str] | None, typer.Option(help="Organisation or user.")] = None,
    family: Annotated[list[str] | None, typer.Option(help="A registry family's repos.")] = None,
    search: Annotated[str | None, typer.Option(help="Substring of the repo id.")] = None,
    derivatives: Annotated[
        bool, typer.Option(help="Also walk derivatives level by level (filter=base_model:ID).")
    ] = False,
    children: Annotated[
        bool, typer.Option(help="Add childrenModelCount per model (one request each).")
    ] = False,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Models per page.")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, help="Parallel per-model requests.")] = 4,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished crawl.")] = False,
    replace: Annotated[bool, typer.Option(help="Replace a stored snapshot of the day.")] = False,
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Crawl the Hub's model listing into a snapshot; resumable after any interruption."""
    settings = _settings(warehouse, families=families)
    scope = None
    if not resume:
        scope = scope_for(
            load_registry(settings.families_file),
            everything=everything,
            authors=author,
            families=family,
            search=search,
            derivatives=derivatives,
            children=children,
            page_size=page_size,
        )
    hub = Hub(politeness=Politeness(base_wait=settings.hub_retry_wait, concurrency=concurrency))
    store = open_warehouse(settings.warehouse)
    outputs.crawl_with_progress(console, store, hub, scope, resume=resume, replace=replace)


pull_app = typer.Typer(help="Pull public Hub dumps into the warehouse.", no_args_is_help=True)
app.add_typer(pull_app, name="pull")


@pull_app.command("hub-stats")
def pull_hub_stats_command(
    revision: Annotated[str | None, typer.Option(help="One commit sha (or prefix).")] = None,
    date: Annotated[str | None, typer.Option(help="The commit of one day YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option(help="One commit per day since YYYY-MM-DD.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Ingest cfahlgren1/hub-stats models.parquet at dated revisions (default: the newest)."""
    settings = _settings(warehouse)
    hub = Hub(politeness=Politeness(base_wait=settings.hub_retry_wait))
    store = open_warehouse(settings.warehouse)
    for load in pull_hub_stats(store, hub, revision=revision, date=_date(date), since=_date(since)):
        outputs.print_load(console, load)


@pull_app.command("characterization")
def pull_characterization_command(
    column: Annotated[
        list[str] | None, typer.Option(help="Column mapping role=name (see import-series).")
    ] = None,
    values: Annotated[str, typer.Option(help="daily counts or a cumulative counter")] = "daily",
    revision: Annotated[str, typer.Option(help="Dataset revision.")] = "main",
    warehouse: WarehouseOpt = None,
) -> None:
    """Import harvardMadsys/hf-hub-characterization daily downloads as history."""
    settings = _settings(warehouse)
    hub = Hub(politeness=Politeness(base_wait=settings.hub_retry_wait))
    store = open_warehouse(settings.warehouse)
    mapping = DailyColumns.from_pairs(column or [])
    load = pull_characterization(store, hub, columns=mapping, values=values, revision=revision)  # type: ignore[arg-type]
    outputs.print_series_load(console, load)


def _trend_by(by: str) -> TrendBy:
    if by not in TREND_GROUPS:
        raise typer.BadParameter(f"choose one of {', '.join(TREND_GROUPS)}", param_hint="--by")
    return by  # type: ignore[return-value]


def _group(by: str) -> GroupBy:
    return by  # type: ignore[return-value]


def _metric(metric: str) -> Metric:
    if metric not in ("downloads_30d", "downloads_all_time"):
        raise typer.BadParameter(
            "choose downloads_30d or downloads_all_time", param_hint="--metric"
        )
    return metric  # type: ignore[return-value]


def main() -> None:
    """Entry point: run the app, turning hubpulse errors into one clear line and exit 1."""
    try:
        app(prog_name="hubpulse")
    except HubpulseError as exc:
        Console(stderr=True).print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
