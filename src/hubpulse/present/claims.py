"""Claims on the terminal and as JSON or CSV: comparisons (snapshot and month), audits across
definitions, and a model's flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from hubpulse.analysis.claims.month_comparison import MonthComparison
from hubpulse.present.tables import (
    history_meta,
    merge_meta,
    meta,
    print_caveats,
    print_selection,
    print_warning,
    rich_table,
    selection_meta,
    selection_title,
    to_csv,
    to_json,
)
from hubpulse.terms import OutputFormat

if TYPE_CHECKING:
    from hubpulse.analysis.claims.audit import Audit
    from hubpulse.analysis.claims.comparison import Comparison
    from hubpulse.analysis.claims.snapshot_comparison import SnapshotComparison
    from hubpulse.analysis.snapshot.selection import Selection


def print_claims(
    console: Console,
    found: list[Any],
    sources: list[Any],
    fmt: OutputFormat,
    selection: Selection,
) -> None:
    """``compare``'s results (``analysis.claims.runs.run_compare``) with what each read: snapshot
    comparisons with their analysis, month comparisons with their history."""
    from hubpulse.analysis.history.history import History

    if sources and isinstance(sources[0], History):
        metas = [history_meta(h) for h in sources]
        print_month_comparisons(console, found, fmt, merge_meta(metas))
        return
    metas = [
        meta(a, r.mode) | selection_meta(a, r.mode, selection)
        for a, r in zip(sources, found, strict=True)
    ]
    print_comparisons(console, found, fmt, merge_meta(metas))


def print_month_comparisons(
    console: Console,
    results: list[MonthComparison],
    fmt: OutputFormat,
    meta: dict[str, Any] | None = None,
) -> None:
    """Monthly comparisons (one per mode): tables with a verdict line, JSON or CSV."""
    if fmt == "json":
        print(to_json({**(meta or {}), "comparisons": [r.to_dict() for r in results]}))
        return
    if fmt == "csv":
        flat = [{"mode": r.mode, **row, "verdict": r.verdict} for r in results for row in r.rows]
        print(to_csv(flat, list(flat[0])), end="")
        return
    for r in results:
        title = _comparison_title(r)
        shown = [
            {k: v for k, v in row.items() if k not in ("methods", "caveats")} for row in r.rows
        ]
        console.print(rich_table(shown, list(shown[0]), title=title))
        caveats = [f"{row[r.by]}: {row['caveats']}" for row in r.rows if row["caveats"]]
        print_caveats(console, caveats)
        console.print(escape(r.sentence), highlight=False)
    print_selection(console, meta or {})


def print_comparisons(
    console: Console, results: list[SnapshotComparison], fmt: OutputFormat, meta: dict[str, Any]
) -> None:
    """Comparisons (one per mode): tables with a verdict line, JSON or CSV."""
    if fmt == "json":
        print(to_json({**meta, "comparisons": [r.to_dict() for r in results]}))
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
        print_warning(console, meta)
        for result in results:
            print_comparison(console, result)
        print_selection(console, meta)


def print_comparison(console: Console, result: SnapshotComparison) -> None:
    console.print(rich_table(result.rows, list(result.rows[0]), title=_comparison_title(result)))
    console.print(escape(result.sentence), highlight=False)


def _comparison_title(result: Comparison) -> str:
    vs = (
        f"the next {result.next_n} {(result.by == 'family' and 'families') or 'vendors'}"
        if not result.against.groups
        else result.against.name or ", ".join(result.against.groups)
    )
    month = f" in {result.month}" if isinstance(result, MonthComparison) else ""
    return (
        f"{result.subject} vs {vs}{month} ({result.mode} mode){selection_title(result.selection)}"
    )


AUDIT_COLUMNS = {
    "snapshot": ("definition", "subject", "rank", "value", "combined", "ratio", "verdict"),
    "month": ("definition", "subject", "rank", "value", "combined", "verdict"),
    "milestone": ("definition", "subject", "value", "combined", "ratio", "verdict"),
    "derivatives": ("definition", "subject", "value", "combined", "by_relation", "verdict"),
    "applications": ("definition", "subject", "value", "combined", "ratio", "likes", "verdict"),
}


def print_audit(console: Console, audit: Audit, fmt: OutputFormat, meta: dict[str, Any]) -> None:
    """An audit: the matrix of definitions with figures and verdicts, then its summary."""
    if fmt == "json":
        print(to_json({**meta, **audit.to_dict()}))
        return
    kind = audit.kind if audit.kind != "exceeds" else audit.window.split()[0]
    columns = list(AUDIT_COLUMNS[kind])
    names = {"combined": "target"} if audit.kind != "exceeds" else {}
    if fmt == "csv":
        keep = [c for c in audit.rows[0] if c not in ("sentence", "by_relation")]
        flat = [
            {c: _audit_cell(row.get(c)) for c in keep} | {"sentence": row["sentence"]}
            for row in audit.rows
        ]
        print(to_csv(flat, list(flat[0])), end="")
        return
    rows = [{names.get(c, c): _audit_cell(row.get(c)) for c in columns} for row in audit.rows]
    if kind == "month":  # estimates with their hard bounds, in one cell each
        for row, raw in zip(rows, audit.rows, strict=True):
            row["value"] = _with_bounds(raw["value"], raw["lower"], raw["upper"])
            row["combined"] = _with_bounds(
                raw["combined"], raw["combined_lower"], raw["combined_upper"]
            )
    print_warning(console, meta)
    title = escape(f"Audit: {audit.claim} [{audit.window}]")  # a window in brackets is no markup
    console.print(rich_table(rows, list(rows[0]), title=title))
    console.print(escape(audit.summary), highlight=False, soft_wrap=True)
    notes = (
        audit.notes
        if audit.kind in ("derivatives", "applications")
        else [
            "definition = grouping/attribution/scope/counting",
            *audit.notes,
        ]
    )
    for note in [*notes, "`--format json` has each definition's sentence"]:
        console.print(f"[dim]{escape(note)}[/]")


def _with_bounds(value: Any, lower: Any, upper: Any) -> str:
    if value is None and lower is None:
        return "—"
    shown = f"{value:,.0f}" if value is not None else "—"
    top = f"{upper:,.0f}" if upper is not None else "∞"
    return f"{shown} [{lower or 0:,.0f} – {top}]"


def _audit_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:,}" for k, v in sorted(value.items(), key=lambda kv: -kv[1]))
    if isinstance(value, float) and not value.is_integer():
        return round(value, 2)
    return value


def print_flags_of(
    console: Console, found: dict[str, Any], fmt: OutputFormat, meta: dict[str, Any]
) -> None:
    """One model's flags with reasons, and the signals they were judged on."""
    if fmt == "json":
        print(to_json({**meta, **found}))
        return
    if fmt == "csv":
        rows = found["flags"] or [{"flag": None, "reason": None}]
        print(
            to_csv(
                [{"model_id": found["model_id"], **r} for r in rows], ["model_id", "flag", "reason"]
            ),
            end="",
        )
        return
    if found["flags"]:
        console.print(
            rich_table(found["flags"], ["flag", "reason"], title=f"Flags of {found['model_id']}")
        )
    else:
        console.print(f"{found['model_id']}: no flags (robust counting keeps it)", highlight=False)
    signals = " · ".join(f"{k} {v if v is not None else '—'}" for k, v in found["signals"].items())
    console.print(f"[dim]signals: {escape(signals)}[/]")
    console.print(f"[dim]thresholds: {escape(found['thresholds'])}[/]")
