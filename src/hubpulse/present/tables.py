"""Tables for people: Rich tables, JSON and CSV renderings of query results, and the sentences
that state a comparison or a lineage.

JSON output wraps rows with the facts needed to audit them: snapshot date, attribution mode
and the definition of each figure.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from hubpulse.present.cells import NO_DATA, plural, pretty
from hubpulse.terms import Mode, OutputFormat

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History
    from hubpulse.analysis.snapshot.lineage_report import LineageReport
    from hubpulse.analysis.snapshot.selection import Selection
    from hubpulse.analysis.snapshot.snapshot import Analysis
    from hubpulse.registry import Registry

MODE_NOTE = {
    "publisher": "publisher mode: a model counts for the family its own repo belongs to",
    "lineage": "lineage mode: a model counts for the family of its root ancestor(s); "
    "cross-family merges are split evenly",
}


ESTIMATOR_NOTE = (
    "monthly downloads estimated per model from daily counts, else daily 30-day counts "
    "deconvolved into days, else all-time counter brackets, else the 30-day count nearest "
    "the month end (x days/30); lower/upper are hard bounds "
    "(∞ = unbounded); — = no data; coverage = part of the group's newest 30-day downloads "
    "that was estimated; share and growth only where coverage ≥ {min_coverage:.0%}"
)


def estimator_note(min_coverage: float) -> str:
    return ESTIMATOR_NOTE.format(min_coverage=min_coverage)


def meta(analysis: Analysis, mode: Mode | None) -> dict[str, Any]:
    """Facts stated with every query result: the snapshot, how many models it holds (and a
    warning when that makes it a partial extract), the mode and its method (none for answers
    that span both modes or need none)."""
    from hubpulse.store.queries import partial_extract_warning

    models = int(analysis.models.count().to_pyarrow().as_py())
    facts = {
        "snapshot_date": analysis.snapshot_date.isoformat(),
        "snapshot_models": models,
        "warning": partial_extract_warning(models),
    }
    return facts if mode is None else facts | {"mode": mode, "method": MODE_NOTE[mode]}


def selection_meta(
    analysis: Analysis | None, mode: Mode, selection: Selection | None
) -> dict[str, Any]:
    """What a selection counted and, under robust counting, what it removed per flag from the
    snapshot (``analysis``; without one, nothing is said about removals)."""
    if selection is None or selection.everything:
        return {}
    from hubpulse.analysis.snapshot.ranking import removed_by_robust

    found: dict[str, Any] = {"selection": selection.to_dict()}
    if analysis is not None and selection.count == "robust":
        found["removed"] = removed_by_robust(analysis, mode, selection)
    return found


def selection_title(selection: Selection | None) -> str:
    """A title's note of what was counted, so no reader misses it: " (LLM models; robust
    counts)"."""
    if selection is None or selection.everything:
        return ""
    return f" ({selection.brief})"


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
        "method": f"{mode_note}; {estimator_note(history.checks.min_coverage)}",
        "min_coverage": history.checks.min_coverage,
    } | selection_meta(None, history.mode, history.selection)


def merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """One statement of facts for results under several modes: what they share once, what
    differs (mode, method, lineage snapshot) as a mapping from mode to value."""
    if len(metas) == 1:
        return metas[0]
    merged: dict[str, Any] = {"mode": [m["mode"] for m in metas]}
    for key in metas[0]:
        if key == "mode":
            continue
        values = [m.get(key) for m in metas]
        same = all(v == values[0] for v in values)
        merged[key] = values[0] if same else {m["mode"]: m.get(key) for m in metas}
    return merged


def emit_query(
    console: Console, expr: ir.Table, fmt: OutputFormat, *, meta: dict[str, Any], title: str
) -> None:
    """Execute ``expr`` and print it in ``fmt`` with ``meta``."""
    table = expr.to_pyarrow()
    if fmt != "table" or "estimated" not in table.column_names:
        emit(console, table, fmt, title=title, meta=meta)
        return
    records, caveats = monthly_brief(table.to_pylist())
    emit(console, records, fmt, title=title, meta=meta)
    print_caveats(console, caveats)


MONTHLY_DETAIL = ("models", "month_coverage", "top_model", "top_share", "methods", "caveats")


def monthly_brief(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """For the terminal only, monthly figures lose the columns JSON and CSV keep for audit
    (methods, top model, month coverage), show ``estimated`` as N/M models, and give their
    caveats as lines to print under the table ("2024-12 Qwen: collapse ÷121: …")."""
    caveats = []
    for record in records:
        if record.get("models") is not None:
            record["estimated"] = f"{record['estimated']}/{record['models']}"
        if record.get("caveats"):
            where = " ".join(
                str(record[k])
                for k in ("month", "family", "vendor", "country", "author", "model_id")
                if record.get(k) is not None
            )
            caveats.append(f"{where}: {record['caveats']}")
        for column in MONTHLY_DETAIL:
            record.pop(column, None)
    if all(r.get("through") is None for r in records):  # no month cut short: say nothing
        for record in records:
            record.pop("through", None)
    return records, caveats


def print_caveats(console: Console, caveats: list[str]) -> None:
    """Caveats of figures, one line each: where one model makes most of a figure, or jumped
    (not model flags, which ``hubpulse flags`` lists)."""
    for line in caveats:
        console.print(f"[yellow]caveat[/] {escape(line)}", highlight=False)
    if caveats:
        console.print(
            "[dim]`hubpulse drivers GROUP --month YYYY-MM` lists the models behind a figure[/]"
        )


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
        print(to_json({**(meta or {}), "rows": records}))
    elif fmt == "csv":
        print(to_csv(records, columns), end="")
    elif not records:
        console.print(f"{title}: none")
    else:
        print_warning(console, meta or {})
        console.print(rich_table(records, columns, title=title))
        if meta:
            print_meta(console, meta)


def print_warning(console: Console, meta: dict[str, Any]) -> None:
    """A warning about the whole answer (a partial extract), above it, where no reader misses
    it."""
    if meta.get("warning"):
        console.print(f"[yellow]warning:[/] {escape(meta['warning'])}", highlight=False)


def print_meta(console: Console, meta: dict[str, Any]) -> None:
    """The fine print under a table."""
    day = meta.get("snapshot_date")
    where = f"snapshot {day}" if day else f"months {meta.get('months')}"
    if meta.get("snapshot_models") is not None:
        where += f" ({plural(meta['snapshot_models'], 'model')})"
    method = meta.get("method") or meta.get("thresholds") or ""
    if isinstance(method, dict):
        method = "; ".join(method.values())
    console.print(f"[dim]{where} · {escape(method)}[/]")
    print_selection(console, meta)


def print_selection(console: Console, meta: dict[str, Any]) -> None:
    """What a selection counted and what robust counting removed, under the answer."""
    chosen = meta.get("selection")
    if chosen:
        console.print(f"[dim]counted: {escape(chosen['description'])}[/]")
    if meta.get("removed"):
        parts = [
            f"{r['flag']} {plural(r['models'], 'model')} ({r['downloads_30d']:,} 30-day downloads)"
            for r in meta["removed"]
        ]
        console.print(f"[dim]robust counting removed: {escape('; '.join(parts))}[/]")


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


MIN_WIDTH = 12  # the narrowest a text column with longer values or header is drawn


def rich_table(records: list[dict[str, Any]], columns: list[str], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        values = [r.get(column) for r in records]
        numeric = any(isinstance(v, int | float) for v in values) and all(
            v is None or isinstance(v, int | float) for v in values
        )
        short = all(len(str(v)) <= 12 for v in values)
        longest = max((len(pretty(column, v)) for v in values), default=0)
        table.add_column(
            column,
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=numeric or short,
            # a narrow terminal folds a long id, never squeezes a column to nothing
            min_width=None if numeric else min(max(longest, len(column)), MIN_WIDTH),
        )
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


def print_lineage(
    console: Console,
    report: LineageReport,
    fmt: OutputFormat,
    meta: dict[str, Any],
    extras: dict[str, Any] | None = None,
) -> None:
    extras = extras or {}
    if fmt == "json":
        print(to_json({**meta, **report.to_dict(), **extras}))
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
    if extras:
        print_extras(console, extras)


def print_extras(console: Console, extras: dict[str, Any]) -> None:
    """A model's size, derivative credit and flags, under its lineage."""
    credit = extras["derivative_credit"]
    share = f"{credit['credit']:.1%}" if credit["credit"] is not None else NO_DATA
    console.print(
        f"size {extras['size'] or NO_DATA} · derivative credit {share} "
        f"({credit['derivatives_30d']:,} of the subtree's "
        f"{credit['own_30d'] + credit['derivatives_30d']:,} 30-day downloads go to descendants)",
        highlight=False,
    )
    for flag in extras["flags"]:
        console.print(f"[yellow]flag[/] {flag['flag']}: {escape(flag['reason'])}", highlight=False)
    if not extras["flags"]:
        console.print("no flags: robust counting keeps it", highlight=False)


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


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def to_json(payload: Any, *, indent: int | None = 2) -> str:
    """Strict JSON for every output: NaN and ±Infinity, which no strict parser accepts, become
    null (no number there), and dates become ISO text."""
    return json.dumps(_finite(payload), default=json_default, indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
