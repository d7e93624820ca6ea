"""The dashboard's request parameters, validated by FastAPI before any route runs (a bad value
answers 422 naming it), and the dependency that hands a route the app's ``Dashboard``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.settings import Mode
from hubpulse.web.views import Dashboard

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (a NUL cannot reach the engine)
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
AgainstQ = Annotated[
    str | None,
    Query(
        max_length=300,
        pattern=PRINTABLE,
        description="Comparison set: comma-separated families or vendors, or a named set "
        "(qwen-team); default: the next N",
    ),
]
TICKER = r"^([A-Za-z0-9^][A-Za-z0-9.\-=^]{0,19})?$"  # empty: a form's blank field
TickerQ = Annotated[
    str | None,
    Query(pattern=TICKER, description="A ticker, e.g. BABA or 9988.HK (default: the registry's)"),
]
BenchmarkQ = Annotated[
    str | None,
    Query(pattern=TICKER, description="A benchmark ticker for excess returns, e.g. SPY"),
]
SearchQ = Annotated[str, Query(min_length=2, max_length=100, description="Part of a model id")]
LimitQ = Annotated[int, Query(ge=1, le=500, description="Most rows to return")]


class Problem(BaseModel):
    """An error answer: one sentence naming what was wrong."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem}, 422: {"model": Problem}}


def board(request: Request) -> Dashboard:
    """The app's dashboard (``app.state.board``), for ``Depends``."""
    dashboard: Dashboard = request.app.state.board
    return dashboard


Board = Annotated[Dashboard, Depends(board)]  # a route's parameter: the app's dashboard


def selection(
    task: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=r"^[A-Za-z0-9,._ -]*$",
            description="Only models of these pipeline tags, comma-separated",
        ),
    ] = None,
    llm: Annotated[bool, Query(description="Only LLMs (the documented pipeline tags)")] = False,
    exclude: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=PRINTABLE,
            description="Leave out these families or vendors, comma-separated",
        ),
    ] = None,
    count: Annotated[
        Literal["raw", "robust"], Query(description="raw, or robust: flagged models left out")
    ] = "raw",
) -> Selection:
    """The models a question counts (as the CLI's --task, --llm, --exclude, --count)."""

    def names(value: str | None) -> tuple[str, ...]:
        return tuple(n.strip() for n in (value or "").split(",") if n.strip())

    return Selection(tasks=names(task), llm=llm, exclude=names(exclude), count=count)


Picked = Annotated[
    Selection, Depends(selection)
]  # a route's parameter: the selection  # a route's parameter: the app's dashboard
