"""Reports: the seed questions for one warehouse — every figure, its charts and the method.

``build_report`` computes every figure with the same library calls as the CLI commands (``top``,
``monthly``, ``compare``, ``derivatives``, ``concentration``), so a report and the CLI's
``--format json`` always agree; ``render`` turns it into HTML, Markdown or PNGs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from hubpulse._version import __version__
from hubpulse.analysis.claims.month_comparison import compare_month_rows
from hubpulse.analysis.claims.runs import headline_audits
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.analysis.history.estimator import HistoryError, parse_month
from hubpulse.analysis.history.history import History, load_history, month_range
from hubpulse.analysis.history.trends import concentration
from hubpulse.analysis.snapshot.flags import Thresholds
from hubpulse.analysis.snapshot.ranking import SIZE_BUCKETS, derivatives_by_family, rank_models
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.errors import NotComparableError, SnapshotNotFoundError
from hubpulse.ingest.sources import Origin
from hubpulse.present.charts import Chart, family_colors
from hubpulse.present.report_charts import report_charts
from hubpulse.present.tables import (
    MODE_NOTE,
    estimator_note,
    plural,
    selection_title,
    to_json,
)
from hubpulse.registry import UNATTRIBUTED
from hubpulse.settings import Settings
from hubpulse.store.queries import (
    list_series,
    list_snapshots,
    list_spaces,
    partial_extract_warning,
)
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import LLM_TASKS, GroupBy

CAVEATS = (
    "Download counts are the Hub's own: a download is a request for one of a repo's "
    "configuration or weight files, so they count pulls, not users or deployments.",
    "Repeat pulls count every time: CI pipelines, test suites and autoscaling servers that "
    "download at each start inflate popular small models most.",
    "Quantisation double counting: quantised copies, mirrors and merges are separate repos, "
    "so a user who pulls a base model and its GGUF is counted twice, and in lineage mode "
    "both count for the base's family.",
    "Lineage is what publishers declare (baseModels, base_model tags, model cards); "
    "undeclared derivatives count for their publisher only.",
    "Monthly figures are estimates with hard bounds; an empty upper bound means the data "
    "cannot bound it, and a verdict is only stated when the bounds decide it.",
)


@dataclass(frozen=True)
class Report:
    """Every figure of a report (``data``, JSON-able), its charts and its method."""

    meta: dict[str, Any]
    data: dict[str, Any]
    charts: list[Chart]
    methods: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return to_json({"meta": self.meta, **self.data}, indent=1)


def build_report(
    settings: Settings,
    *,
    date: dt.date | None = None,
    month: str | None = None,
    family: str | None = None,
    next_n: int = 8,
    months: int = 12,
    warehouse: Warehouse | None = None,
    analysis: Analysis | None = None,
    selection: Selection | None = None,
) -> Report:
    """All figures of the report for one snapshot (``date``) and one month range, counting
    ``selection``'s models (default: all, raw)."""
    store = warehouse or open_store(settings, engine="duckdb")
    analysis = analysis or load_analysis(settings, date, store)
    mode, chosen = settings.mode, selection or Selection()
    if month is not None:
        parse_month(month)

    def rank(by: GroupBy) -> list[dict[str, Any]]:
        return _rows(rank_models(analysis, by=by, mode=mode, selection=chosen))

    ranking = rank("family")
    subject = analysis.registry.get(family).name if family else _leader(ranking)
    data: dict[str, Any] = {
        "families": ranking,
        "vendors": rank("vendor"),
        "countries": rank("country"),
        "sizes": rank("size"),
        "derivatives": _rows(derivatives_by_family(analysis)),
        "comparison": compare_snapshot_rows(
            ranking,
            subject,
            next_n,
            mode=mode,
            metric="downloads_30d",
            snapshot_date=analysis.snapshot_date,
            selection=chosen,
        ).to_dict(),
        "audits": [
            a.to_dict() for a in headline_audits(analysis, subject, next_n, settings, chosen)
        ],
        "monthly": [],
        "month_comparison": None,
        "concentration": [],
        **_applications(store, settings),
        **_tokens(store, settings),
        **_providers(store, settings),
    }
    if _priced(store):
        from hubpulse.present.market import market_view

        data["market"] = market_view(store, settings, subject)
    meta = _meta(analysis, store, mode, subject, next_n, data, chosen)
    history = _add_monthly(
        data, meta, settings, store, analysis, month=month, months=months, selection=chosen
    )
    return Report(meta, data, report_charts(data, meta), _methods(meta, history))


def _meta(
    analysis: Analysis,
    store: Warehouse,
    mode: str,
    subject: str,
    next_n: int,
    data: dict[str, Any],
    chosen: Selection,
) -> dict[str, Any]:
    """What the report states about itself: snapshot, mode, subject, selection, provenance."""
    ranking = data["families"]
    held = int(analysis.models.count().to_pyarrow().as_py())
    return {
        "title": f"Open-model adoption on the Hugging Face Hub: snapshot {analysis.snapshot_date}"
        + selection_title(chosen),
        "selection": chosen.to_dict(),
        "snapshot_date": analysis.snapshot_date.isoformat(),
        "mode": mode,
        "family": subject,
        "next_n": next_n,
        "months": None,
        "month": None,
        "hubpulse_version": __version__,
        "sources": source_lines(store),
        "snapshot_models": held,
        "warning": partial_extract_warning(held),
        "colors": family_colors(_groups(analysis, ranking)),
    }


def _groups(analysis: Analysis, ranking: list[dict[str, Any]]) -> list[str]:
    """Every family a chart may name, in the registry's order (its colours stay put)."""
    names = [f.name for f in analysis.registry.families]
    return names + [r["family"] for r in ranking if r["family"] not in {*names, UNATTRIBUTED}]


def _add_monthly(
    data: dict[str, Any],
    meta: dict[str, Any],
    settings: Settings,
    store: Warehouse,
    analysis: Analysis,
    *,
    month: str | None,
    months: int,
    selection: Selection,
) -> History | None:
    """The monthly figures, concentration and month comparison (when the warehouse holds any
    history) into ``data`` and ``meta``; the history they came from."""
    subject, next_n, mode = meta["family"], meta["next_n"], settings.mode
    span = month_range(store, settings, month, months)
    if span is None:
        return None
    history = load_history(settings, span[0], span[1], store, analysis, selection)
    monthly = history.monthly("family")
    data["monthly"] = _rows(monthly)
    data["concentration"] = _rows(
        concentration(monthly, "family", top=5, min_coverage=history.checks.min_coverage)
    )
    meta["months"], meta["month"] = f"{span[0]} … {span[1]}", span[1]
    try:
        data["month_comparison"] = compare_month_rows(
            data["monthly"],
            subject,
            next_n,
            mode=mode,
            month=span[1],
            selection=selection,
            min_coverage=history.checks.min_coverage,
        ).to_dict()
    except (LookupError, NotComparableError) as exc:
        data["month_comparison"] = None
        meta["month_comparison_missing"] = str(exc)
    return history


def _applications(store: Warehouse, settings: Settings) -> dict[str, Any]:
    """The Spaces built on each family's models (newest stored day), and what they count;
    nothing when no Spaces are stored."""
    from hubpulse.analysis.snapshot.applications import spaces_days
    from hubpulse.present.applications import applications_answer, fine_print

    if not spaces_days(store):
        return {"applications": [], "applications_note": []}
    table, meta, _ = applications_answer(store, settings, by="family", limit=None)
    warning = [meta["coverage"]] if meta["coverage"].startswith("a partial") else []
    return {"applications": table.to_pylist(), "applications_note": warning + fine_print(meta)}


def _priced(store: Warehouse) -> bool:
    return bool(store.execute(store.series_table("prices_loads").count().as_table())[0][0].as_py())


def _tokens(store: Warehouse, settings: Settings) -> dict[str, Any]:
    """The tokens OpenRouter routed to each family in the newest month with rankings, beside
    downloads, and their caveats; nothing when no router tokens are stored."""
    from hubpulse.present.inference import token_notes, tokens_answer

    if not store.execute(store.series_table("router_loads").count().as_table())[0][0].as_py():
        return {"tokens": [], "tokens_note": []}
    try:
        table, meta = tokens_answer(store, settings)
    except SnapshotNotFoundError:  # loads whose every row was rejected: nothing to show
        return {"tokens": [], "tokens_note": []}
    rows = table.drop_columns(["as_of"]).to_pylist()
    return {"tokens": rows, "tokens_note": token_notes(meta)}


def _providers(store: Warehouse, settings: Settings) -> dict[str, Any]:
    """How many of each family's models the Hub's inference providers serve (newest stored
    day), with what that counts; nothing when no providers are stored."""
    from hubpulse.present.inference import provider_notes, providers_answer

    if not store.execute(store.series_table("providers_loads").count().as_table())[0][0].as_py():
        return {"providers": [], "providers_note": []}
    table, meta = providers_answer(store, settings, limit=None)
    return {"providers": table.to_pylist(), "providers_note": provider_notes(meta)}


def _leader(ranking: list[dict[str, Any]]) -> str:
    for row in ranking:
        if row["family"] != UNATTRIBUTED:
            return str(row["family"])
    raise HistoryError("the snapshot has no attributed family to report on")


def _rows(expr: Any) -> list[dict[str, Any]]:
    table: pa.Table = expr.to_pyarrow()
    return json.loads(to_json(table.to_pylist(), indent=None))


def source_lines(store: Warehouse) -> list[str]:
    """What the warehouse holds (the provenance every report and dashboard page states): one
    line per snapshot of one's own, per public dataset's snapshots and per series layout, then
    the attribution each public dataset's licence asks for."""
    snapshots, lines = list_snapshots(store).to_pylist(), []
    for r in (r for r in snapshots if not r["dataset"]):
        lines.append(
            f"snapshot {r['snapshot_date']}: {plural(r['rows'], 'model')} from "
            f"{Path(r['file']).name} ({r['source']}, {plural(r['rejects'], 'reject')})"
        )
    for cite in sorted({_cite(r) for r in snapshots if r["dataset"]}):
        rows = [r for r in snapshots if r["dataset"] and _cite(r) == cite]
        lines.append(
            f"{plural(len(rows), 'snapshot')} {rows[0]['snapshot_date']} … "
            f"{rows[-1]['snapshot_date']} from {cite}: "
            f"{plural(sum(r['rejects'] for r in rows), 'reject')}"
        )
    loads = list_series(store).to_pylist()
    for layout in sorted({r["layout"] for r in loads}):
        rows = [r for r in loads if r["layout"] == layout]
        cites = sorted({_cite(r) for r in rows if r["dataset"]})
        lines.append(
            f"{plural(len(rows), 'series file')} in the {layout} layout: "
            f"{plural(sum(r['rows'] for r in rows), 'row')}, "
            f"{plural(sum(r['models'] for r in rows), 'model')}, "
            f"{min(r['first_day'] for r in rows)} … {max(r['last_day'] for r in rows)}"
            + (f" from {', '.join(cites)}" if cites else "")
        )
    spaces = list_spaces(store).to_pylist()
    lines += [
        f"Spaces of {r['snapshot_date']}: {plural(r['spaces'], 'Space')} "
        f"({'every Space' if r['complete'] else 'a partial listing'}), "
        f"{plural(r['links'], 'model link')} from "
        + (_cite(r) if r["dataset"] else Path(r["file"]).name)
        for r in spaces
    ]
    used = {(r["dataset"], r["licence"]) for r in [*snapshots, *loads, *spaces] if r["dataset"]}
    lines += [
        f"Contains information from {dataset}, made available under {licence}"
        for dataset, licence in sorted(used)
    ]
    return lines


def _cite(row: dict[str, Any]) -> str:
    return Origin(row["dataset"], row["dataset_file"], row["revision"], row["licence"]).cite()


def _methods(meta: dict[str, Any], history: History | None) -> list[str]:
    mode = meta["mode"]
    lines = [
        f"Attribution: {MODE_NOTE[mode]}. Snapshot {meta['snapshot_date']}.",
        "30-day downloads are the Hub's rolling count at the snapshot; shares are of the "
        "snapshot's total, unattributed models included.",
        "Derivatives are repos in the snapshot that descend (through any chain of declared "
        "parents) from a family's first-party repos; they are the same in both modes.",
        "Size buckets are half-open parameter ranges: "
        + ", ".join(_bucket_text())
        + "; unknown when neither metadata nor the name gives a size.",
        "Claim audits evaluate one claim under 16 definitions: grouping (family or vendor) × "
        "attribution (publisher or lineage) × scope (all models, or LLMs: "
        + ", ".join(LLM_TASKS)
        + ") × counting (raw, or robust: flagged models left out — "
        + Thresholds().describe()
        + "; `hubpulse flags` gives each model's reasons).",
    ]
    if history is not None:
        lines.append(
            f"Monthly figures ({meta['months']}): "
            f"{estimator_note(history.checks.min_coverage)}. "
            "A claim 'holds' when the family's lower bound exceeds the others' combined upper "
            "bound, 'fails' when its upper bound is below their lower bound, and is otherwise "
            "undecided within error."
        )
        if mode == "lineage":
            lines.append(f"Monthly lineage uses the graph of snapshot {history.lineage_date}.")
    else:
        lines.append("The warehouse holds no download history, so no monthly figures.")
    return lines + [f"Caveat: {c}" for c in CAVEATS]


def _bucket_text() -> list[str]:
    texts, low = [], 0.0
    for label, high in SIZE_BUCKETS:
        texts.append(
            f"{label} = [{low / 1e9:g}B, {high / 1e9:g}B)"
            if high != float("inf")
            else f"{label} ≥ {low / 1e9:g}B"
        )
        low = high
    return texts
