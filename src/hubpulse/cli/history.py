"""History commands: import series and ask monthly questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubpulse.cli.options import (
    EVERYTHING,
    MAX_AGE_DAYS,
    MAX_ROWS,
    DateOpt,
    EngineOpt,
    FamiliesOpt,
    FormatOpt,
    FromOpt,
    MinCoverageOpt,
    ModeOpt,
    SelectionOptions,
    SparkMasterOpt,
    ToOpt,
    WarehouseOpt,
    analysis_of,
    app,
    bounded,
    console,
    history_of,
    selection_options,
    settings_of,
    trend_by,
)
from hubpulse.errors import OptionError


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
    from hubpulse.ingest.series import DailyColumns, parse_coverage
    from hubpulse.present import progress
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
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
        progress.print_series_load(console, result)


@app.command()
def series(
    rejects: Annotated[bool, typer.Option(help="Show rejected observations instead.")] = False,
    left_out: Annotated[
        bool,
        typer.Option(
            "--left-out",
            help="Show the 30-day counts the estimator leaves out (glitches, stale days, counts "
            "before creation) and the models whose counts contradict the counting model.",
        ),
    ] = False,
    remove: Annotated[
        str | None,
        typer.Option(
            "--remove",
            metavar="LOAD",
            help="Remove series load LOAD (its load_id in the list; a damaged one too).",
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """List imported download series (or their rejected or left-out observations)."""
    from hubpulse.present import tables
    from hubpulse.store.queries import list_series, list_series_rejects
    from hubpulse.store.warehouse import open_store

    store = open_store(settings_of(warehouse), engine="duckdb")
    if remove is not None:
        file = store.remove_series(remove)
        console.print(f"Removed series load {remove}" + (f" ({file})" if file else ""))
        return
    if left_out:
        from hubpulse.analysis.history.deconvolve import list_left_out

        table = list_left_out(store)
        tables.emit(console, table, fmt, title=f"30-day counts left out ({table.num_rows:,})")
        return
    table = list_series_rejects(store) if rejects else list_series(store)
    drop = [] if rejects else ["file_sha256", "hubpulse_version", "options"]
    title = "Rejected series observations" if rejects else "Series"
    tables.emit(console, tables.brief(table, fmt, drop=drop), fmt, title=title)


@app.command()
@selection_options()
def monthly(
    by: Annotated[str, typer.Option(help="family, vendor, country, model or author")] = "family",
    first: FromOpt = None,
    last: ToOpt = None,
    family: Annotated[list[str] | None, typer.Option(help="Only these families.")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="At most N groups per month, largest first (default: 25 in a table, all in "
            "JSON and CSV; 0 = all).",
            show_default=False,
            callback=bounded("--limit", 0, MAX_ROWS),
        ),
    ] = None,
    selection: SelectionOptions = EVERYTHING,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    min_coverage: MinCoverageOpt = None,
) -> None:
    """Estimated downloads per calendar month and group, with method and bounds."""
    from hubpulse.analysis.history.trends import check_families
    from hubpulse.present import tables

    settings = settings_of(
        warehouse, mode, families, engine, spark_master, min_coverage=min_coverage
    )
    chosen = selection.build(families)
    history = history_of(settings, first, last, chosen)
    names = check_families(history.registry, family) if family else None
    limit = (25 if fmt == "table" else 0) if limit is None else limit
    table = history.monthly(trend_by(by), names, limit=limit)
    title = f"Monthly downloads by {by}" + (f" (the {limit} largest per month)" if limit else "")
    title += tables.selection_title(chosen)
    tables.emit_query(console, table, fmt, meta=tables.history_meta(history), title=title)


@app.command()
@selection_options()
def trend(
    family: Annotated[list[str], typer.Argument(help="One or more family names")],
    first: FromOpt = None,
    last: ToOpt = None,
    selection: SelectionOptions = EVERYTHING,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    min_coverage: MinCoverageOpt = None,
) -> None:
    """Monthly series of families: estimate, bounds, month-over-month growth, share."""
    from hubpulse.analysis.history.trends import check_families, family_trend
    from hubpulse.present import tables

    settings = settings_of(
        warehouse, mode, families, engine, spark_master, min_coverage=min_coverage
    )
    chosen = selection.build(families)
    history = history_of(settings, first, last, chosen)
    names = check_families(history.registry, family)
    table = family_trend(history.monthly("family"), names, history.checks.min_coverage)
    if fmt == "table" and len(names) == 1:  # the title names it
        table = table.drop("family")
    title = f"Trend of {', '.join(family)}{tables.selection_title(chosen)}"
    tables.emit_query(console, table, fmt, meta=tables.history_meta(history), title=title)


@app.command()
def drivers(
    group: Annotated[str, typer.Argument(help="Family (or vendor, country, author with --by)")],
    month: Annotated[str, typer.Option(help="Calendar month YYYY-MM.")],
    by: Annotated[str, typer.Option(help="family, vendor, country or author")] = "family",
    limit: Annotated[
        int, typer.Option(help="Show the first N models.", callback=bounded("--limit", 1, MAX_ROWS))
    ] = 20,
    mode: ModeOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """The models behind one monthly figure: each one's estimate, bounds, method, part of the
    group's figure and any jump or collapse against its month before."""
    from hubpulse.present import tables

    if by not in ("family", "vendor", "country", "author"):
        raise typer.BadParameter("choose family, vendor, country or author", param_hint="--by")
    settings = settings_of(warehouse, mode, families, engine, spark_master)
    history = history_of(settings, month, month)
    name = group if by == "author" else history.registry.group(by, group)
    table = history.drivers(trend_by(by), name, month)
    meta = tables.history_meta(history) | {"group": name, "by": by, "month": month}
    title = f"Models behind {name} in {month} ({history.mode} mode)"
    tables.emit_query(console, table.limit(limit), fmt, meta=meta, title=title)


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
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Estimated day cumulative downloads (since --from) crossed each threshold, with bounds."""
    from hubpulse.analysis.history.trends import family_milestones
    from hubpulse.present import tables
    from hubpulse.terms import parse_amounts

    thresholds = parse_amounts(at, "--at")
    history = history_of(settings_of(warehouse, mode, families, engine, spark_master), first, last)
    name, found, rows = family_milestones(history, family, thresholds)
    meta = tables.history_meta(history) | {"cumulative": rows}
    tables.emit(console, found, fmt, meta=meta, title=f"Milestones of {name} since {history.first}")


ADOPTION_NOTE = (
    "relative = cumulative downloads at the age / the median of the size bucket's top 10 at "
    "that age"
)


@app.command()
def adoption(
    target: Annotated[
        str | None,
        typer.Argument(help="A model id, or a family (its first-party models); default: all."),
    ] = None,
    ages: Annotated[str, typer.Option(help="Ages in days, comma-separated.")] = "30,90,180,365",
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show the first N rows (0 = all).", callback=bounded("--limit", 0, MAX_ROWS)
        ),
    ] = 30,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Relative adoption (the ATOM Project's way): cumulative downloads at age 30/90/180/365
    days against the median of the 10 models of the same size with the most downloads at that
    age, from the monthly estimates (ages read at month ends; no data where a month has no
    estimate or the history does not reach that age)."""
    from hubpulse.analysis.history.adoption import relative_adoption_of
    from hubpulse.present import tables

    try:
        days = tuple(int(a) for a in ages.split(","))
    except ValueError:
        raise OptionError(f"--ages {ages!r}: give days such as 30,90") from None
    for day in days:
        bounded("--ages", 1, MAX_AGE_DAYS)(day)
    settings = settings_of(warehouse, None, families, engine, spark_master)
    table, history = relative_adoption_of(settings, target, ages=days, limit=limit)
    title = f"Relative adoption of {target or 'every model'} (cumulative downloads by age)"
    if fmt == "table":  # the age says what the creation day would; JSON and CSV keep both
        table = table.drop("created")
    meta = tables.history_meta(history)
    meta["method"] = f"{ADOPTION_NOTE}; {meta['method']}"
    tables.emit_query(console, table, fmt, meta=meta, title=title)


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
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
    min_coverage: MinCoverageOpt = None,
) -> None:
    """Top-N share, HHI and Gini of monthly downloads across families, vendors or countries."""
    from hubpulse.analysis.history.trends import concentration
    from hubpulse.present import tables

    if by not in ("family", "vendor", "country"):
        raise typer.BadParameter("choose family, vendor or country", param_hint="--by")
    settings = settings_of(
        warehouse, mode, families, engine, spark_master, min_coverage=min_coverage
    )
    history = history_of(settings, first, last)
    group = trend_by(by)
    table = concentration(history.monthly(group), group, top, history.checks.min_coverage)
    title = f"Concentration of monthly downloads across {by}"
    tables.emit_query(console, table, fmt, meta=tables.history_meta(history), title=title)


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
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """New derivatives per month and family by relation, from creation dates (mode-free)."""
    from hubpulse.analysis.history.trends import check_families, count_new_derivatives
    from hubpulse.present import tables

    settings = settings_of(warehouse, mode, families, engine, spark_master)
    analysis = analysis_of(settings, date)
    names = check_families(analysis.registry, family) if family else None
    table = count_new_derivatives(analysis, first, last, names)
    meta = tables.meta(analysis, settings.mode) | {"method": "derivatives by creation month"}
    tables.emit_query(console, table, fmt, meta=meta, title="New derivatives per month")
