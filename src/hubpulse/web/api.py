"""The JSON API: read-only GET routes whose answers equal the CLI's ``--format json`` (tested).
Figures come from the dashboard's precomputed views; no parameter reaches the engine as SQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hubpulse.analysis.snapshot.ranking import GROUPS, GroupBy, rank_models
from hubpulse.present.tables import selection_meta
from hubpulse.web.claims import audit_in_view, compare_in_view, market_in_view
from hubpulse.web.details import family_detail, model_detail, search_models
from hubpulse.web.params import (
    MONTH_PATTERN,
    AgainstQ,
    BenchmarkQ,
    Board,
    DateQ,
    FamilyP,
    LimitQ,
    ModelP,
    ModeQ,
    MonthQ,
    NextQ,
    Picked,
    SearchQ,
    TickerQ,
)
from hubpulse.web.views import view_meta

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/snapshots")
def api_snapshots(dash: Board) -> list[dict[str, Any]]:
    """Stored snapshots with their load log."""
    rows = [{**r, "file": Path(str(r["file"])).name} for r in dash.snapshots()]  # no server paths
    return [_jsonable(r) for r in rows]


@router.get("/top")
def api_top(
    dash: Board,
    picked: Picked,
    by: Annotated[GroupBy, Query(description=", ".join(GROUPS))] = "family",
    limit: LimitQ = 20,
    mode: ModeQ = None,
    date: DateQ = None,
) -> dict[str, Any]:
    """Ranking by 30-day downloads (as ``hubpulse top``), of the selected models."""
    view = dash.view(date, mode)

    def ranking() -> dict[str, Any]:  # from the stored analysis: no history needed
        with dash.locked():
            expr = rank_models(view.analysis, by=by, mode=view.mode, limit=limit, selection=picked)
            rows = [_jsonable(r) for r in expr.to_pyarrow().to_pylist()]
            return {"rows": rows} | selection_meta(view.analysis, view.mode, picked)

    found = view.remember(("top", by, limit, picked), ranking)
    return {**view_meta(view), "by": by, **found}


@router.get("/families/{family}")
def api_family(
    dash: Board, family: FamilyP, mode: ModeQ = None, date: DateQ = None
) -> dict[str, Any]:
    """A family: ranking row, official models, derivatives, lineage tree, monthly trend."""
    view = dash.view(date, mode)
    return view.remember(("family", family.lower()), lambda: family_detail(view, family))


@router.get("/compare")
def api_compare(
    dash: Board,
    picked: Picked,
    family: Annotated[str, Query(min_length=1, max_length=80)] = "Qwen",
    next_n: NextQ = 8,
    against: AgainstQ = None,
    by: Annotated[Literal["family", "vendor"], Query(description="family or vendor")] = "family",
    month: MonthQ = None,
    mode: ModeQ = None,
    date: DateQ = None,
) -> dict[str, Any]:
    """Does FAMILY (or a vendor) out-download the next N, or the ``against`` groups,
    combined? 30 days to the snapshot, and the calendar month with bounds (as ``hubpulse
    compare``), counting the selected models."""
    view = dash.view(date, mode)
    return compare_in_view(view, family, next_n, month, by=by, against=against, selection=picked)


@router.get("/audit")
def api_audit(
    dash: Board,
    subject: Annotated[str, Query(min_length=1, max_length=80)] = "Qwen",
    next_n: NextQ = 8,
    against: AgainstQ = None,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="Calendar month (default: snapshot)")
    ] = None,
    date: DateQ = None,
) -> dict[str, Any]:
    """A claim under every definition: grouping × attribution × scope × counting (as
    ``hubpulse audit``), over the snapshot's 30 days or a calendar month."""
    return audit_in_view(dash.view(date, None), subject, next_n, against, month)


@router.get("/monthly")
def api_monthly(dash: Board, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
    """Monthly estimates per family with bounds (as ``hubpulse monthly``)."""
    view = dash.view(date, mode)
    return {**view_meta(view), "rows": view.report.data["monthly"]}


@router.get("/concentration")
def api_concentration(dash: Board, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
    """Top-1/top-5 share, HHI and Gini of monthly family downloads."""
    view = dash.view(date, mode)
    return {**view_meta(view), "rows": view.report.data["concentration"]}


@router.get("/applications")
def api_applications(dash: Board, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
    """Spaces built on each family's models, newest stored day of Spaces (as ``hubpulse
    applications -f json``); no rows when no Spaces are stored."""
    view = dash.view(date, mode)
    data = view.report.data
    return {**view_meta(view), "notes": data["applications_note"], "rows": data["applications"]}


@router.get("/tokens")
def api_tokens(dash: Board, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
    """Tokens OpenRouter routed to each family in the newest month with rankings, beside
    downloads (as ``hubpulse tokens -f json``, its notes as lines); no rows when none."""
    view = dash.view(date, mode)
    data = view.report.data
    return {**view_meta(view), "notes": data["tokens_note"], "rows": data["tokens"]}


@router.get("/inference")
def api_inference(dash: Board, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
    """How many of each family's models the Hub's inference providers serve (as ``hubpulse
    inference --limit 0 -f json``), with its notes; no rows when none are stored."""
    view = dash.view(date, mode)
    data = view.report.data
    return {**view_meta(view), "notes": data["providers_note"], "rows": data["providers"]}


@router.get("/market")
def api_market(
    dash: Board,
    subject: Annotated[str, Query(min_length=1, max_length=80, description="Family or vendor")],
    ticker: TickerQ = None,
    benchmark: BenchmarkQ = None,
    mode: ModeQ = None,
) -> dict[str, Any]:
    """Monthly adoption beside the share price, rank correlations by lag and dated events with
    the price move around each (as ``hubpulse market`` and ``hubpulse events``)."""
    view = dash.view(None, mode)
    return market_in_view(view, subject, ticker or None, benchmark or None, strict=True)


@router.get("/models/{model_id:path}")
def api_model(
    dash: Board, model_id: ModelP, mode: ModeQ = None, date: DateQ = None
) -> dict[str, Any]:
    """A model's ancestry and descendants (as ``hubpulse lineage``)."""
    view = dash.view(date, mode)
    return view.remember(("model", model_id), lambda: model_detail(view, model_id))


@router.get("/search")
def api_search(
    dash: Board, q: SearchQ, limit: LimitQ = 50, mode: ModeQ = None, date: DateQ = None
) -> dict[str, Any]:
    """Models whose id contains ``q``, most downloaded first."""
    view = dash.view(date, mode)
    return {**view_meta(view), "q": q, "rows": search_models(view, q, limit)}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for k, v in row.items()}
