"""``hubpulse applications``: the Spaces built on each group's models, with what they are of."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from hubpulse.analysis.snapshot.applications import (
    APPLICATION_GROUPS,
    analysis_for_spaces,
    applications_over_time,
    count_applications,
    spaces_day,
)
from hubpulse.errors import OptionError
from hubpulse.present.tables import emit, rich_table
from hubpulse.settings import Settings
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import GroupBy, OutputFormat

MODE_RULE = {
    "publisher": "a Space counts for a group when it uses one of the group's own repos",
    "lineage": "a Space counts for a group when it uses the group's repos or their derivatives",
}


def applications_answer(
    store: Warehouse,
    settings: Settings,
    *,
    by: str = "family",
    day: dt.date | None = None,
    limit: int | None = 20,
    over_time: bool = False,
) -> tuple[pa.Table, dict[str, Any], str]:
    """The rows, their facts (``meta``) and a title: Spaces of ``day`` (default: the newest)
    per ``by`` under the settings' mode, or with ``over_time`` per stored day."""
    if by not in APPLICATION_GROUPS:
        raise OptionError(f"--by {by!r}: choose one of {', '.join(APPLICATION_GROUPS)}")
    group: GroupBy = by  # type: ignore[assignment]
    spaces = spaces_day(store, day)
    analysis = analysis_for_spaces(store, settings, spaces.date)
    result = count_applications(
        analysis, spaces, store.aliases(), by=group, mode=settings.mode, limit=limit
    )
    meta = result.meta() | {"rule": MODE_RULE[settings.mode]}
    if over_time:
        keys = store.execute(result.table)[by if by != "model" else "model_id"].to_pylist()
        table = applications_over_time(analysis, store, by=group, mode=settings.mode, keys=keys)
        meta = {k: v for k, v in meta.items() if k not in ("spaces", "spaces_with_models")}
        meta |= {"spaces_date": "every stored day", "coverage": "per day: see `complete`"}
        return store.execute(table), meta, f"Applications per {by}, every stored day of Spaces"
    return store.execute(result.table), meta, f"Applications (Spaces) per {by}"


def show_applications(
    console: Console,
    settings: Settings,
    *,
    by: str,
    day: dt.date | None,
    limit: int | None,
    over_time: bool,
    fmt: OutputFormat,
) -> None:
    """Print ``applications_answer`` in ``fmt``; on the terminal the coverage warning above the
    table and what it counts under it."""
    store = open_store(settings)
    table, meta, title = applications_answer(
        store, settings, by=by, day=day, limit=limit, over_time=over_time
    )
    if fmt != "table" or table.num_rows == 0:
        emit(console, table, fmt, title=title, meta=meta)
        return
    if meta["coverage"].startswith("a partial"):
        console.print(f"[yellow]warning:[/] {escape(meta['coverage'])}", highlight=False)
    console.print(rich_table(table.to_pylist(), table.column_names, title=title))
    for line in fine_print(meta):
        console.print(f"[dim]{escape(line)}[/]", highlight=False)


def fine_print(meta: dict[str, Any]) -> list[str]:
    """What an applications answer counts, in lines (the terminal, the report, the dashboard)."""
    counts = (
        f": {meta['spaces']:,} Spaces, {meta['spaces_with_models']:,} declaring models"
        if "spaces" in meta
        else ""
    )
    return [
        f"Spaces of {meta['spaces_date']}{counts} · models snapshot "
        f"{meta['models_snapshot']} · {meta['mode']} mode: {meta['rule']}",
        f"{meta['definition']}; a Space counts once per group, and for every group it uses",
        f"source: {', '.join(meta['sources'])}",
    ]
