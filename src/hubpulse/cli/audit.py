"""Claim commands: audit a claim under every definition, show a model's flags, list the named
comparison sets."""

from __future__ import annotations

from typing import Annotated

import typer

from hubpulse.cli.options import (
    EVERYTHING,
    MAX_ROWS,
    AgainstOpt,
    DateOpt,
    EngineOpt,
    FamiliesOpt,
    FormatOpt,
    HubOpt,
    NextOpt,
    SelectionOptions,
    SparkMasterOpt,
    WarehouseOpt,
    analysis_of,
    app,
    bounded,
    console,
    parse_date,
    selection_options,
    settings_of,
)
from hubpulse.terms import parse_amount


@app.command()
@selection_options("task", "exclude", "threshold")
def audit(
    subject: Annotated[str, typer.Argument(help="A family (Qwen) or a vendor (Alibaba).")],
    next_n: NextOpt = 8,
    against: AgainstOpt = None,
    month: Annotated[
        str | None,
        typer.Option(help="Audit a calendar month YYYY-MM (estimated downloads, with bounds)."),
    ] = None,
    milestone: Annotated[
        str | None,
        typer.Option(
            help="Audit 'passed X all-time downloads' instead, e.g. 700M.", show_default=False
        ),
    ] = None,
    derivatives: Annotated[
        str | None,
        typer.Option(help="Audit 'has X+ derivatives' instead, e.g. 100000.", show_default=False),
    ] = None,
    floor: Annotated[int, typer.Option(min=1, help="Derivative audit's 30-day floor.")] = 10,
    applications: Annotated[
        str | None,
        typer.Option(
            help="Audit 'has X+ applications (Spaces)' instead, e.g. 10000 (--date: of Spaces).",
            show_default=False,
        ),
    ] = None,
    hub: HubOpt = "hf",
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Check one claim under every definition — grouping × attribution × scope (all, LLMs)
    × counting (raw, robust) — and say which it holds under: "SUBJECT out-downloads the next
    N (or --against) combined" over the snapshot's 30 days or --month, --milestone an
    all-time total, --derivatives a derivative count, --applications the Spaces built on it."""
    from hubpulse.analysis.claims.runs import run_audit
    from hubpulse.present import tables
    from hubpulse.present.claims import print_audit

    settings = settings_of(warehouse, None, families, engine, spark_master)
    result, analysis = run_audit(
        settings,
        subject,
        next_n=next_n,
        against=against,
        month=month,
        milestone=parse_amount(milestone, "--milestone") if milestone else None,
        derivatives=parse_amount(derivatives, "--derivatives") if derivatives else None,
        floor=floor,
        base=selection.build(families),
        date=parse_date(date),
        applications=parse_amount(applications, "--applications") if applications else None,
        hub=hub,
    )
    meta = tables.meta(analysis, None)
    print_audit(console, result, fmt, meta)


@app.command()
@selection_options("threshold")
def flags(
    model_id: Annotated[
        str | None, typer.Argument(help="Model id, org/name (default: every flagged model).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show the first N flagged models (0 = all).",
            callback=bounded("--limit", 0, MAX_ROWS),
        ),
    ] = 50,
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    fmt: FormatOpt = "table",
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Why a model's downloads may say little about adoption: its flags (intermediary copy,
    dormant, CI-like or test repo, flood) with reasons, and the signals they were judged on.
    Without MODEL_ID: every flagged model, most downloaded first."""
    from hubpulse.analysis.snapshot.flags import describe_flags, flag_table
    from hubpulse.present import tables
    from hubpulse.present.claims import print_flags_of

    settings = settings_of(warehouse, None, families)
    thresholds = selection.build().thresholds
    analysis = analysis_of(settings, date)
    meta = tables.meta(analysis, None) | {"thresholds": thresholds.describe()}
    if model_id is None:
        tables.emit_query(
            console,
            flag_table(analysis, thresholds, limit),
            fmt,
            meta=meta,
            title="Flagged models (robust counting leaves them out)",
        )
        return
    print_flags_of(console, describe_flags(analysis, model_id, thresholds), fmt, meta)


@app.command("comparison-sets")
def comparison_sets(fmt: FormatOpt = "table", families: FamiliesOpt = None) -> None:
    """List the named comparison sets (--against NAME): the groups a published claim compared
    its subject with, and its source."""
    from hubpulse.present import tables
    from hubpulse.registry import load_comparison_sets, load_registry

    settings = settings_of(None, families=families)
    sets = load_comparison_sets(load_registry(settings.families_file), settings.comparisons_file)
    rows = [
        {
            "name": s.name,
            "by": s.by,
            "subject": s.subject,
            "against": ", ".join(s.against) if s.against else f"the next {s.next}",
            "month": s.month,
            "source": s.source,
            "quote": s.quote,
        }
        for s in sets.values()
    ]
    tables.emit(console, rows, fmt, title="Named comparison sets")
