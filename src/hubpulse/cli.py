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
from hubpulse.settings import Mode, OutputFormat, Settings, load_settings
from hubpulse.warehouse import list_rejects, list_snapshots, open_warehouse

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


def _analysis(settings: Settings, date: str | None) -> Analysis:
    warehouse = open_warehouse(settings.warehouse)
    day = warehouse.resolve_date(_date(date))
    registry = load_registry(settings.families_file)
    return analyse_snapshot(
        warehouse.models(day),
        warehouse.aliases(),
        registry,
        day,
        max_depth=settings.max_lineage_depth,
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
    date: DateOpt = None,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Does FAMILY out-download the next N families combined? Both modes unless --mode."""
    settings = _settings(warehouse, mode, families)
    analysis = _analysis(settings, date)
    modes = MODES if mode is None and "HUBPULSE_MODE" not in os.environ else (settings.mode,)
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
    settings = _settings(warehouse)
    outputs.print_demo(console, store, _analysis(settings, None))


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
