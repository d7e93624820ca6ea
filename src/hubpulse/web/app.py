"""The web dashboard: a read-only FastAPI app over a warehouse, with a documented JSON API
(``web.api``; OpenAPI at ``/openapi.json``, browsable at ``/docs``) and HTML pages
(``web.pages``): overview, family, model (lineage), compare and search.

Only GET routes exist; no parameter reaches the engine as SQL. Every parameter is validated:
an unknown family, model or snapshot answers 404 with a message naming it, a malformed month,
date or mode 422 (one handler each, for both the API and the pages). Figures come from
``web.views.Dashboard`` (precomputed per snapshot).
"""

from __future__ import annotations

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from hubpulse._version import __version__
from hubpulse.errors import HubpulseError, one_line
from hubpulse.present.render import environment
from hubpulse.present.tables import MODE_NOTE
from hubpulse.settings import Settings
from hubpulse.web import api, pages
from hubpulse.web.params import ERRORS
from hubpulse.web.views import Dashboard

TEMPLATES = jinja2.ChoiceLoader(
    [
        jinja2.PackageLoader("hubpulse.web", "templates"),
        jinja2.PackageLoader("hubpulse.present", "templates"),  # macros and CSS shared
    ]
)


def create_app(settings: Settings, *, dashboard: Dashboard | None = None) -> FastAPI:
    """The app for ``settings.warehouse``; the newest snapshot's stored analysis is opened at
    once (building it if missing), the pages' figures on first use."""
    board = dashboard or Dashboard(settings)
    board.view()
    app = FastAPI(
        title="hubpulse",
        version=__version__,
        description="Adoption of open-weight models on the Hugging Face Hub: rankings, "
        "monthly estimates with bounds, derivatives and lineage, read-only.",
        responses=ERRORS,
    )
    app.state.board = board
    app.state.pages = environment(TEMPLATES)
    app.state.pages.globals.update(version=__version__, mode_note=MODE_NOTE)
    app.add_exception_handler(HubpulseError, _hubpulse_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.include_router(api.router)
    app.include_router(pages.router)
    return app


async def _hubpulse_error(request: Request, exc: HubpulseError) -> Response:
    """A known failure: 404 for what does not exist (a ``LookupError``), else 422."""
    return _problem(request, 404 if isinstance(exc, LookupError) else 422, str(exc))


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """A parameter FastAPI refused: 422 naming each parameter and what was wrong."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()
    ]
    return _problem(request, 422, "; ".join(parts))


def _problem(request: Request, status: int, message: str) -> Response:
    message = one_line(message)
    if request.url.path.startswith("/api"):
        return JSONResponse({"detail": message}, status_code=status)
    html = request.app.state.pages.get_template("error.html").render(status=status, message=message)
    return HTMLResponse(html, status_code=status)
