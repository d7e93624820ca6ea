"""Rendering: a ``report.Report`` as one self-contained HTML page, as Markdown, or as PNGs;
also the Jinja environment the dashboard's pages share.

The HTML embeds plotly.js from the installed package (no CDN) and the report's figures as JSON
(``<script id="hubpulse-data" type="application/json">``) next to the tables and charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from hubpulse.present.cells import plural, pretty
from hubpulse.present.charts import chart_html, plotly_js, write_png
from hubpulse.present.report import Report

TABLES: dict[str, tuple[str, list[str], int]] = {
    "families": (
        "Family ranking",
        ["rank", "family", "downloads_30d", "share", "downloads_all_time", "models", "derivatives"],
        40,
    ),
    "vendors": ("Vendors", ["rank", "vendor", "downloads_30d", "share", "models"], 20),
    "countries": (
        "Countries of origin",
        ["rank", "country", "downloads_30d", "share", "models"],
        20,
    ),
    "sizes": ("Model sizes", ["size", "downloads_30d", "share", "models"], 10),
    "concentration": (
        "Concentration by month",
        ["month", "coverage", "groups", "total", "top1_share", "top5_share", "hhi", "gini"],
        24,
    ),
}


def environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    """The Jinja environment of the report (autoescaping on); the dashboard passes a ``loader``
    that adds its own templates."""
    env = jinja2.Environment(
        loader=loader or jinja2.PackageLoader("hubpulse.present", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pretty"] = lambda value, column: pretty(column, value)
    env.filters["plural"] = lambda value, noun: plural(value, noun)
    return env


def render_html(report: Report) -> str:
    """One self-contained HTML page: plotly.js, charts, tables, figures as JSON, methods."""
    data_json = report.to_json().replace("</", "<\\/")
    return (
        environment()
        .get_template("report.html")
        .render(
            report=report,
            charts=[(c, chart_html(c)) for c in report.charts],
            tables=TABLES,
            plotly_js=plotly_js(),
            data_json=data_json,
        )
    )


def write_pngs(report: Report, directory: Path) -> list[Path]:
    """Each chart as ``<directory>/<chart>.png`` (matplotlib)."""
    return [write_png(chart, directory / f"{chart.name}.png") for chart in report.charts]


def render_markdown(report: Report, images: Path | None = None) -> str:
    """The report as Markdown; with ``images`` the charts are linked as PNGs."""
    meta, data = report.meta, report.data
    out = [
        f"# {meta['title']}",
        "",
        f"Mode: **{meta['mode']}** · months: {meta['months'] or '—'}",
        "",
        *([f"> **Warning:** {meta['warning']}", ""] if meta.get("warning") else []),
    ]
    for sentence in _verdicts(data):
        out += [f"- {sentence}"]
    out.append("")
    for chart in report.charts:
        if images is not None:
            out += [f"![{chart.title}]({images.as_posix()}/{chart.name}.png)", ""]
    for key, (title, columns, limit) in TABLES.items():
        rows = data[key][:limit]
        if rows:
            out += [f"## {title}", "", *markdown_table(rows, columns), ""]
    derivatives = [r for r in data["derivatives"] if r["relation"] == "all"]
    if derivatives:
        columns = ["family", "derivatives", "publishers", "downloads_30d"]
        out += ["## Derivatives (all relations)", "", *markdown_table(derivatives, columns), ""]
    if data.get("applications"):
        columns = ["rank", "family", "applications", "share", "likes", "models"]
        out += ["## Applications (Spaces built on each family's models)", ""]
        out += [*[f"> {line}" for line in data["applications_note"]], ""]
        out += [*markdown_table(data["applications"][:20], columns), ""]
    if data.get("tokens"):
        columns = ["month", "family", "tokens", "share", "days", "downloads_share"]
        out += ["## Use through a router: tokens per family", ""]
        out += [*markdown_table(data["tokens"], columns), ""]
        out += [*[f"> {line}" for line in data["tokens_note"]], ""]
    if data.get("providers"):
        columns = ["rank", "family", "models", "providers", "offers"]
        out += ["## Use through inference providers: models served per family", ""]
        out += [*markdown_table(data["providers"][:20], columns), ""]
        out += [*[f"> {line}" for line in data["providers_note"]], ""]
    out += ["## Method and caveats", "", *[f"- {line}" for line in report.methods], ""]
    out += ["## Sources", "", *[f"- {line}" for line in meta["sources"]], ""]
    return "\n".join(out)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    head = [
        f"| {' | '.join(columns)} |",
        f"|{'|'.join('---:' if _numeric(rows, c) else '---' for c in columns)}|",
    ]
    body = ["| " + " | ".join(_md_cell(c, r.get(c)) for c in columns) + " |" for r in rows]
    return head + body


def _md_cell(column: str, value: Any) -> str:
    return pretty(column, value).replace("|", "\\|")


def _numeric(rows: list[dict[str, Any]], column: str) -> bool:
    return any(isinstance(r.get(column), int | float) for r in rows)


def _verdicts(data: dict[str, Any]) -> list[str]:
    comparisons = [data["comparison"], data["month_comparison"]]
    return [f"{c['verdict']}: {c['sentence']}." for c in comparisons if c]


def verdict_sentences(report: Report) -> list[str]:
    """The report's headline sentences (also shown at the top of the HTML)."""
    return _verdicts(report.data)
