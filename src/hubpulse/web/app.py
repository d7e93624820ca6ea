"""The web dashboard: a read-only FastAPI app over a warehouse, with a documented JSON API
(OpenAPI at ``/openapi.json``, browsable at ``/docs``) and HTML pages: overview, family, model
(lineage), compare and search.

Only GET routes exist; no parameter reaches the engine as SQL. Every parameter is validated:
an unknown family, model or snapshot answers 404 with a message naming it, a malformed month,
date or mode 422. Figures come from ``dashboard.Dashboard`` (precomputed per snapshot).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from hubpulse._version import __version__
from hubpulse.analysis.metrics import GROUPS, GroupBy, compare_families, rank_models
from hubpulse.analysis.trends import compare_month
from hubpulse.errors import HubpulseError
from hubpulse.present.charts import Chart, Series, chart_html, plotly_js
from hubpulse.present.render import environment
from hubpulse.present.tables import MODE_NOTE
from hubpulse.registry import UNATTRIBUTED
from hubpulse.settings import Mode, Settings
from hubpulse.store.warehouse import list_snapshots
from hubpulse.web.views import Dashboard, View, family_detail, model_detail, search_models

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
ModeQ = Annotated[Mode | None, Query(description="publisher or lineage (default: settings)")]
DateQ = Annotated[dt.date | None, Query(description="Snapshot date YYYY-MM-DD (default: newest)")]
MonthQ = Annotated[
    str | None,
    Query(pattern=MONTH_PATTERN, description="Calendar month YYYY-MM (default: latest)"),
]
FamilyP = Annotated[str, Path(min_length=1, max_length=80, description="Family name, e.g. Qwen")]
ModelP = Annotated[str, Path(min_length=3, max_length=200, description="Model id org/name")]
NextQ = Annotated[int, Query(ge=1, le=50, alias="next", description="How many next families")]
SearchQ = Annotated[str, Query(min_length=2, max_length=100, description="Part of a model id")]
LimitQ = Annotated[int, Query(ge=1, le=500, description="Most rows to return")]


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem}, 422: {"model": Problem}}


def create_app(settings: Settings, *, dashboard: Dashboard | None = None) -> FastAPI:
    """The app for ``settings.warehouse``; the newest snapshot is precomputed at once."""
    board = dashboard or Dashboard(settings)
    board.view()
    app = FastAPI(
        title="hubpulse",
        version=__version__,
        description="Adoption of open-weight models on the Hugging Face Hub: rankings, "
        "monthly estimates with bounds, derivatives and lineage, read-only.",
        responses=ERRORS,
    )
    pages = environment()
    pages.globals.update(version=__version__, mode_note=MODE_NOTE)

    @app.exception_handler(HubpulseError)
    async def _hubpulse_error(request: Request, exc: HubpulseError) -> Response:
        status = 404 if isinstance(exc, LookupError) else 422
        return _problem(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        ]
        return _problem(request, 422, "; ".join(parts))

    def _problem(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": message}, status_code=status)
        html = pages.get_template("error.html").render(status=status, message=message)
        return HTMLResponse(html, status_code=status)

    def render(template: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(pages.get_template(template).render(**context))

    # ---- JSON API -------------------------------------------------------------------------

    @app.get("/api/snapshots", tags=["api"])
    def api_snapshots() -> list[dict[str, Any]]:
        """Stored snapshots with their load log."""
        rows = list_snapshots(board.store).drop_columns(["file_sha256"]).to_pylist()
        return [_jsonable(r) for r in rows]

    @app.get("/api/top", tags=["api"])
    def api_top(
        by: Annotated[GroupBy, Query(description=", ".join(GROUPS))] = "family",
        limit: LimitQ = 20,
        mode: ModeQ = None,
        date: DateQ = None,
    ) -> dict[str, Any]:
        """Ranking by 30-day downloads (as ``hubpulse top``)."""
        view = board.view(date, mode)
        if by in ("family", "vendor", "country", "size"):
            key = {"family": "families", "vendor": "vendors", "country": "countries"}
            rows = view.report.data[key.get(by, "sizes")][:limit]
        else:
            with board.locked():
                expr = rank_models(view.analysis, by=by, mode=view.mode, limit=limit)
                rows = [_jsonable(r) for r in expr.to_pyarrow().to_pylist()]
        return {**_meta(view), "by": by, "rows": rows}

    @app.get("/api/families/{family}", tags=["api"])
    def api_family(family: FamilyP, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
        """A family: ranking row, official models, derivatives, lineage tree, monthly trend."""
        view = board.view(date, mode)
        return view.remember(("family", family.lower()), lambda: family_detail(view, family))

    @app.get("/api/compare", tags=["api"])
    def api_compare(
        family: Annotated[str, Query(min_length=1, max_length=80)] = "Qwen",
        next_n: NextQ = 8,
        month: MonthQ = None,
        mode: ModeQ = None,
        date: DateQ = None,
    ) -> dict[str, Any]:
        """Does FAMILY out-download the next N combined? 30 days to the snapshot, and the
        calendar month with bounds (as ``hubpulse compare``)."""
        return _compare(board.view(date, mode), family, next_n, month)

    @app.get("/api/monthly", tags=["api"])
    def api_monthly(mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
        """Monthly estimates per family with bounds (as ``hubpulse monthly``)."""
        view = board.view(date, mode)
        return {**_meta(view), "rows": view.report.data["monthly"]}

    @app.get("/api/concentration", tags=["api"])
    def api_concentration(mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
        """Top-1/top-5 share, HHI and Gini of monthly family downloads."""
        view = board.view(date, mode)
        return {**_meta(view), "rows": view.report.data["concentration"]}

    @app.get("/api/models/{model_id:path}", tags=["api"])
    def api_model(model_id: ModelP, mode: ModeQ = None, date: DateQ = None) -> dict[str, Any]:
        """A model's ancestry and descendants (as ``hubpulse lineage``)."""
        view = board.view(date, mode)
        return view.remember(("model", model_id), lambda: model_detail(view, model_id))

    @app.get("/api/search", tags=["api"])
    def api_search(
        q: SearchQ, limit: LimitQ = 50, mode: ModeQ = None, date: DateQ = None
    ) -> dict[str, Any]:
        """Models whose id contains ``q``, most downloaded first."""
        view = board.view(date, mode)
        return {**_meta(view), "q": q, "rows": search_models(view, q, limit)}

    # ---- HTML pages -----------------------------------------------------------------------

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def static_plotly() -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(plotly_js(), media_type="text/javascript", headers=headers)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(mode: ModeQ = None, date: DateQ = None) -> HTMLResponse:
        view = board.view(date, mode)
        report = view.report
        charts = view.remember(
            "overview",
            lambda: [chart_html(c) for c in report.charts if not c.name.endswith("comparison")],
        )
        return render("overview.html", view=view, meta=_meta(view), report=report, charts=charts)

    @app.get("/family/{family}", response_class=HTMLResponse, include_in_schema=False)
    def family_page(family: FamilyP, mode: ModeQ = None, date: DateQ = None) -> HTMLResponse:
        view = board.view(date, mode)
        detail = view.remember(("family", family.lower()), lambda: family_detail(view, family))
        charts = view.remember(
            ("family-charts", family.lower()),
            lambda: [chart_html(c) for c in _family_charts(detail)],
        )
        return render("family.html", meta=_meta(view), d=detail, charts=charts)

    @app.get("/model/{model_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def model_page(model_id: ModelP, mode: ModeQ = None, date: DateQ = None) -> HTMLResponse:
        view = board.view(date, mode)
        detail = view.remember(("model", model_id), lambda: model_detail(view, model_id))
        return render("model.html", meta=_meta(view), d=detail, tree=_ancestry_tree(detail))

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(
        family: Annotated[str | None, Query(max_length=80)] = None,
        next_n: NextQ = 8,
        month: MonthQ = None,
        mode: ModeQ = None,
        date: DateQ = None,
    ) -> HTMLResponse:
        view = board.view(date, mode)
        names = [r["family"] for r in view.report.data["families"] if r["family"] != UNATTRIBUTED]
        name = family or view.report.meta["family"]
        result = _compare(view, name, next_n, month)
        months = sorted({r["month"] for r in view.report.data["monthly"]}, reverse=True)
        charts = view.remember(
            ("compare-charts", name.lower(), next_n, month),
            lambda: [chart_html(c) for c in _compare_charts(result)],
        )
        return render(
            "compare.html", meta=_meta(view), r=result, families=names, months=months, charts=charts
        )

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        q: Annotated[str, Query(max_length=100)] = "", mode: ModeQ = None, date: DateQ = None
    ) -> HTMLResponse:
        view = board.view(date, mode)
        rows = search_models(view, q, 100) if len(q) >= 2 else []
        names = [r["family"] for r in view.report.data["families"]]
        families = [f for f in names if q and q.lower() in f.lower() and f != UNATTRIBUTED]
        return render("search.html", meta=_meta(view), q=q, rows=rows, families=families)

    return app


def _meta(view: View) -> dict[str, Any]:
    return {
        "snapshot_date": view.analysis.snapshot_date.isoformat(),
        "mode": view.mode,
        "method": MODE_NOTE[view.mode],
        "months": view.report.meta["months"],
    }


def _compare(view: View, family: str, next_n: int, month: str | None) -> dict[str, Any]:
    name = view.analysis.registry.get(family).name
    data = view.report.data
    snapshot = compare_families(
        data["families"],
        name,
        next_n,
        mode=view.mode,
        metric="downloads_30d",
        snapshot_date=view.analysis.snapshot_date,
    ).to_dict()
    monthly = None
    month = month or view.report.meta["month"]
    if month is not None:
        known = {r["month"] for r in data["monthly"]}
        if month not in known:
            held = f"it holds {min(known)} … {max(known)}" if known else "it holds none"
            raise MonthNotHeldError(f"no monthly estimates for {month}; {held}")
        monthly = compare_month(
            data["monthly"], name, next_n, mode=view.mode, month=month
        ).to_dict()
    return {**_meta(view), "snapshot": snapshot, "month": monthly}


class MonthNotHeldError(LookupError, HubpulseError):
    """A month the dashboard holds no estimates for (404)."""


def _compare_charts(result: dict[str, Any]) -> list[Chart]:
    charts = []
    snap = result["snapshot"]
    charts.append(
        Chart(
            "compare_snapshot",
            f"30 days to {snap['snapshot_date']}: {snap['verdict']}",
            "bar",
            [r["family"] for r in snap["families"]],
            [Series("downloads_30d", [r["downloads_30d"] for r in snap["families"]])],
            "30-day downloads",
        )
    )
    month = result["month"]
    if month:
        rows = month["families"]
        charts.append(
            Chart(
                "compare_month",
                f"{month['month']}: claim {month['verdict']}",
                "bar",
                [r["family"] for r in rows],
                [
                    Series(
                        "estimate",
                        [r["estimate"] for r in rows],
                        lower=[r["lower"] for r in rows],
                        upper=[r["upper"] for r in rows],
                    )
                ],
                "estimated downloads in the month",
                notes=["whiskers: hard bounds; to the top = unbounded"],
            )
        )
    return charts


def _family_charts(detail: dict[str, Any]) -> list[Chart]:
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
                    )
                ],
                "downloads per month",
                notes=["band: hard bounds; to the top = unbounded"],
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


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v for k, v in row.items()}
