"""Report and dashboard commands: `report` writes one file, `serve` runs the web dashboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import typer

from hubpulse.cli.options import (
    EVERYTHING,
    DateOpt,
    EngineOpt,
    FamiliesOpt,
    ModeOpt,
    NextOpt,
    SelectionOptions,
    SparkMasterOpt,
    WarehouseOpt,
    app,
    console,
    parse_date,
    selection_options,
    settings_of,
)


@app.command()
@selection_options()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (HTML or Markdown).")],
    month: Annotated[
        str | None, typer.Option(help="Last month YYYY-MM of the monthly charts (default: latest).")
    ] = None,
    months: Annotated[int, typer.Option(min=1, max=120, help="How many months to chart.")] = 12,
    family: Annotated[
        str | None, typer.Option(help="Family to compare (default: the top family).")
    ] = None,
    next_n: NextOpt = 8,
    report_format: Annotated[
        Literal["html", "md"], typer.Option("--format", "-f", help="html or md.")
    ] = "html",
    png: Annotated[
        Path | None, typer.Option(help="Also write every chart as DIR/<chart>.png.")
    ] = None,
    selection: SelectionOptions = EVERYTHING,
    date: DateOpt = None,
    mode: ModeOpt = None,
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Write a self-contained report: rankings, monthly trends, the family-vs-next-N claim with
    bounds, its audit under every definition, derivatives, vendors, countries, sizes,
    concentration and the method."""
    from hubpulse.present.render import render_html, render_markdown, verdict_sentences, write_pngs
    from hubpulse.present.report import build_report

    settings = settings_of(warehouse, mode, families, engine, spark_master)
    with console.status("Computing the report's figures…"):
        result = build_report(
            settings,
            date=parse_date(date),
            month=month,
            family=family,
            next_n=next_n,
            months=months,
            selection=selection.build(families),
        )
    written = write_pngs(result, png) if png is not None else []
    if report_format == "md":
        images = Path(os.path.relpath(png, out.parent)) if png else None
        text = render_markdown(result, images)
    else:
        text = render_html(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    for sentence in verdict_sentences(result):
        console.print(sentence, highlight=False)
    console.print(
        f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(result.charts)} charts"
        + (f"; {len(written)} PNGs in {png}" if written else "")
        + ")",
        highlight=False,
    )


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind; anything but loopback exposes the data.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    mode: ModeOpt = None,
    warehouse: WarehouseOpt = None,
    families: FamiliesOpt = None,
) -> None:
    """Run the read-only web dashboard and JSON API (OpenAPI at /docs) on the warehouse."""
    import uvicorn

    from hubpulse.web.app import create_app

    settings = settings_of(warehouse, mode, families)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]warning:[/] binding {host}: anyone who can reach it can read the data"
        )
    with console.status("Precomputing the newest snapshot's figures…"):
        web = create_app(settings)
    console.print(f"hubpulse dashboard on http://{host}:{port}/ (Ctrl+C stops)", highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")
