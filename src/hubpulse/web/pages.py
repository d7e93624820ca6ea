"""The HTML pages: overview, family, model (lineage), compare, audit and search, each built from the
same view data as the JSON API and rendered with the templates in ``web/templates``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from hubpulse.present.cells import NO_DATA
from hubpulse.present.charts import Chart, Series, chart_html, plotly_js
from hubpulse.present.market import market_chart
from hubpulse.present.report_charts import comparison_chart
from hubpulse.registry import UNATTRIBUTED, load_comparison_sets
from hubpulse.web.claims import audit_in_view, compare_page_claim, market_in_view, months_held
from hubpulse.web.details import family_detail, model_detail, search_models
from hubpulse.web.params import (
    AgainstQ,
    BenchmarkQ,
    Board,
    DateQ,
    FamilyP,
    ModelP,
    ModeQ,
    MonthQ,
    NextQ,
    TickerQ,
)
from hubpulse.web.views import view_meta

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    """``template`` rendered by the app's Jinja environment (``app.state.pages``)."""
    return HTMLResponse(request.app.state.pages.get_template(template).render(**context))


@router.get("/static/plotly.min.js")
def static_plotly() -> Response:
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(plotly_js(), media_type="text/javascript", headers=headers)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, dash: Board, mode: ModeQ = None, date: DateQ = None) -> Response:
    view = dash.view(date, mode)
    report = view.report
    charts = view.remember(
        "overview",
        lambda: [chart_html(c) for c in report.charts if not c.name.endswith("comparison")],
    )
    meta = view_meta(view)
    return render(request, "overview.html", view=view, meta=meta, report=report, charts=charts)


@router.get("/family/{family}", response_class=HTMLResponse)
def family_page(
    request: Request, dash: Board, family: FamilyP, mode: ModeQ = None, date: DateQ = None
) -> Response:
    view = dash.view(date, mode)
    detail = view.remember(("family", family.lower()), lambda: family_detail(view, family))
    charts = view.remember(
        ("family-charts", family.lower()),
        lambda: [chart_html(c) for c in _family_charts(detail, view.report.meta["colors"])],
    )
    return render(request, "family.html", meta=view_meta(view), d=detail, charts=charts)


@router.get("/model/{model_id:path}", response_class=HTMLResponse)
def model_page(
    request: Request, dash: Board, model_id: ModelP, mode: ModeQ = None, date: DateQ = None
) -> Response:
    view = dash.view(date, mode)
    detail = view.remember(("model", model_id), lambda: model_detail(view, model_id))
    tree = _ancestry_tree(detail)
    return render(request, "model.html", meta=view_meta(view), d=detail, tree=tree)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    dash: Board,
    family: Annotated[str | None, Query(max_length=80)] = None,
    next_n: NextQ = 8,
    month: MonthQ = None,
    mode: ModeQ = None,
    date: DateQ = None,
) -> Response:
    view = dash.view(date, mode)
    names = [r["family"] for r in view.report.data["families"] if r["family"] != UNATTRIBUTED]
    name = view.analysis.registry.get(family or view.report.meta["family"]).name
    # the month picker offers only months with an estimate for the family, newest first
    months = sorted(
        {
            r["month"]
            for r in view.report.data["monthly"]
            if r["family"] == name and r["estimate"] is not None
        },
        reverse=True,
    )
    month = month or (months[0] if months else None)
    result = compare_page_claim(view, name, next_n, month)
    colors = view.report.meta["colors"]
    charts = view.remember(
        ("compare-charts", name.lower(), next_n, month),
        lambda: [chart_html(c) for c in _compare_charts(result, colors)],
    )
    context = {"r": result, "families": names, "months": months, "charts": charts}
    return render(request, "compare.html", meta=view_meta(view), **context)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    dash: Board,
    subject: Annotated[str | None, Query(max_length=80)] = None,
    next_n: NextQ = 8,
    against: AgainstQ = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
    date: DateQ = None,
) -> Response:
    view = dash.view(date, None)
    registry = view.analysis.registry
    names = [r["family"] for r in view.report.data["families"] if r["family"] != UNATTRIBUTED]
    vendors = sorted({f.vendor for f in registry.families})
    sets = load_comparison_sets(registry, view.settings.comparisons_file)
    months = months_held(view)[::-1]  # only months with evidence, newest first
    window = month or None  # empty: the snapshot's 30 days; a month not held is a 404
    subject = subject or view.report.meta["family"]
    result = audit_in_view(view, subject, next_n, against or None, window)
    # a definition without evidence shows no figures at all (an empty upper bound would read ∞)
    figures = ("value", "lower", "upper", "combined", "combined_lower", "combined_upper")
    blank = dict.fromkeys(figures, NO_DATA)
    shown = [r | blank if r["lower"] is None else r for r in result["definitions"]]
    context = {
        "r": result,
        "rows": shown,
        "subjects": names + vendors,
        "subject": subject,
        "sets": sorted(sets.values(), key=lambda s: s.name),
        "against": against or "",
        "next_n": next_n,
        "months": months,
        "month": window,
    }
    return render(request, "audit.html", meta=view_meta(view), **context)


@router.get("/market", response_class=HTMLResponse)
def market_page(
    request: Request,
    dash: Board,
    subject: Annotated[str | None, Query(max_length=80)] = None,
    ticker: TickerQ = None,
    benchmark: BenchmarkQ = None,
    mode: ModeQ = None,
) -> Response:
    view = dash.view(None, mode)
    registry = view.analysis.registry
    listed = [f for f in registry.families if f.ticker]
    subjects = [f.name for f in listed] + sorted({f.vendor for f in listed})
    subject = subject or view.report.meta["family"]
    result = market_in_view(view, subject, ticker or None, benchmark or None)
    chart = view.remember(
        ("market-chart", subject.lower(), ticker, benchmark),
        lambda: chart_html(market_chart(result)) if result.get("rows") else "",
    )
    context = {"r": result, "subjects": subjects, "subject": subject, "chart": chart}
    context |= {"ticker": ticker or "", "benchmark": benchmark or ""}
    return render(request, "market.html", meta=view_meta(view), **context)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    dash: Board,
    q: Annotated[str, Query(max_length=100)] = "",
    mode: ModeQ = None,
    date: DateQ = None,
) -> Response:
    view = dash.view(date, mode)
    rows = search_models(view, q, 100) if len(q) >= 2 else []
    names = [r["family"] for r in view.report.data["families"]]
    families = [f for f in names if q and q.lower() in f.lower() and f != UNATTRIBUTED]
    return render(request, "search.html", meta=view_meta(view), q=q, rows=rows, families=families)


def _compare_charts(result: dict[str, Any], colors: dict[str, str]) -> list[Chart]:
    """The subject against the combined rest: over the snapshot's 30 days and in the month."""
    snap, month = result["snapshot"], result["month"]
    charts = [comparison_chart(snap, "compare_snapshot", snap["snapshot_date"], colors)]
    if month:
        charts.append(comparison_chart(month, "compare_month", month["month"], colors))
    return charts


def _family_charts(detail: dict[str, Any], colors: dict[str, str]) -> list[Chart]:
    charts = []
    rows = detail["monthly"]
    if rows:
        charts.append(
            Chart(
                "trend",
                f"{detail['family']}: estimated monthly downloads",
                "line",
                [r["month"] for r in rows],
                [
                    Series(
                        detail["family"],
                        [r["estimate"] for r in rows],
                        lower=[r["lower"] for r in rows],
                        upper=[r["upper"] for r in rows],
                        color=colors.get(detail["family"]),
                    )
                ],
                "downloads per month",
                notes=["band: hard bounds; ↑ = no upper bound; gap = no data"],
            )
        )
    relations = [r for r in detail["derivatives"] if r["relation"] != "all"]
    if relations:
        charts.append(
            Chart(
                "derivatives",
                f"Derivatives of {detail['family']} by relation",
                "bar",
                [r["relation"] for r in relations],
                [Series("derivatives", [r["derivatives"] for r in relations])],
                "derivative repos",
            )
        )
    return charts


def _ancestry_tree(detail: dict[str, Any]) -> dict[str, Any]:
    """The ancestry as nested nodes: the model, its parents, their parents, up to the roots."""
    parents: dict[str, list[dict[str, Any]]] = {}
    for edge in detail["ancestry"]:
        parents.setdefault(str(edge["child"]), []).append(edge)

    def grow(model: str, edge: dict[str, Any] | None, seen: frozenset[str]) -> dict[str, Any]:
        above = [e for e in parents.get(model, []) if e["parent"] not in seen]
        return {
            "id": model,
            "relation": edge["relation"] if edge else None,
            "known": edge["parent_known"] if edge else detail["in_snapshot"],
            "parents": [grow(e["parent"], e, seen | {e["parent"]}) for e in above],
        }

    return grow(detail["model_id"], None, frozenset({detail["model_id"]}))
