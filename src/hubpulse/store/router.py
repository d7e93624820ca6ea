"""Router tokens in the warehouse: each saved rankings-daily response one load of the
``router`` area (``router_tokens``, ``router_rejects``, ``router_loads``), covering the days of
its window. A later pull over the same days replaces them (figures may be restated); a reader
reads each day from the newest load covering it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from hubpulse.ingest.openrouter import ENDPOINT, RouterPoliteness, fetch_rankings
from hubpulse.ingest.router import ROUTER, ROUTER_AREA, ROUTER_LICENCE, read_rankings
from hubpulse.ingest.sources import Origin
from hubpulse.store.areas import AreaData, AreaLoad, newest_per_day, store_area

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


def import_rankings(
    store: Warehouse, path: Path | str, *, replace: bool = False, origin: Origin | None = None
) -> AreaLoad:
    """Store one saved rankings-daily response as the router tokens of its window."""
    tokens, rejects, found = read_rankings(path)
    as_of = found["as_of"].isoformat(timespec="seconds")
    data = AreaData(
        area=ROUTER_AREA,
        path=Path(path),
        file_sha256=found["sha256"],
        options=f"as_of={as_of}",
        first_day=found["first_day"],
        last_day=found["last_day"],
        complete=True,
        tables={"router_tokens": tokens, "router_rejects": rejects},
        rows=tokens.num_rows,
        rejects=rejects.num_rows,
        origin=origin
        or Origin(ROUTER, "rankings-daily", found["as_of"].isoformat(), ROUTER_LICENCE),
    )
    with store.lock():
        return store_area(store, data, replace=replace, what="the router tokens of")


def pull_rankings(
    store: Warehouse,
    first: dt.date,
    last: dt.date,
    *,
    endpoint: str = ENDPOINT,
    politeness: RouterPoliteness | None = None,
    progress: Callable[[dt.date, dt.date], None] | None = None,
) -> list[AreaLoad]:
    """Fetch OpenRouter's rankings for ``first`` … ``last`` (30-day windows) and store each
    window, replacing the days it covers (restated figures win)."""
    saved = fetch_rankings(
        first,
        last,
        store.work_dir(ROUTER_AREA),
        endpoint=endpoint,
        politeness=politeness,
        progress=progress,
    )
    return [import_rankings(store, path, replace=True) for path in saved]


def current_tokens(store: Warehouse) -> ir.Table:
    """day, permaslug, tokens, as_of: each day from the newest load covering it."""
    rows = store.series_table("router_tokens")
    loads = store.series_table("router_loads")
    return newest_per_day(rows, loads, "day").drop("load_id")
