"""``hubpulse top --hub modelscope|both``: all-time downloads on Hugging Face and ModelScope per
family, vendor or country, with what each side is of."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from hubpulse.analysis.snapshot.hubs import HUB_GROUPS, HUBS, rank_hubs
from hubpulse.errors import OptionError
from hubpulse.present import tables
from hubpulse.present.tables import emit, rich_table
from hubpulse.settings import Settings
from hubpulse.store.warehouse import open_store

NOTES = [
    "ModelScope does not document the window of its download count; it looks lifetime, so it "
    "is compared with Hugging Face's all-time downloads only, never with a 30-day figure",
    "ModelScope: the models of the owners crawled (the families' organisations), not the whole "
    "hub: its figures are lower bounds; a model not on Hugging Face is attributed by its name, "
    "with the registry's ModelScope organisations (ZhipuAI for GLM); an owner the registry "
    "does not name there is unattributed",
]


def hubs_answer(
    settings: Settings, *, hub: str, by: str, date: dt.date | None, limit: int | None
) -> tuple[pa.Table, dict[str, Any]]:
    """The ranking of ``hub`` (modelscope, both) and its facts."""
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.store.modelscope import modelscope_day

    if hub not in HUBS:
        raise OptionError(f"--hub {hub!r}: choose one of {', '.join(HUBS)}")
    if by not in HUB_GROUPS:
        raise OptionError(f"--hub {hub} ranks by {', '.join(HUB_GROUPS)}, not {by!r}")
    store = open_store(settings)
    rows, day = modelscope_day(store)
    loads = store.execute(store.series_table("modelscope_loads"))
    analysis = load_analysis(settings, date, store)
    table = rank_hubs(analysis, rows, hub=hub, by=by, mode=settings.mode, limit=limit)  # type: ignore[arg-type]
    owners = sorted({o for row in loads.to_pylist() for o in str(row["options"]).split(",") if o})
    meta = tables.meta(analysis, None) | {
        "hub": hub,
        "modelscope_date": str(day),
        "modelscope_owners": owners,
        "mode": settings.mode,
        "notes": NOTES,
    }
    return store.execute(table), meta


def show_hubs(
    console: Console,
    settings: Settings,
    *,
    hub: str,
    by: str,
    date: dt.date | None,
    limit: int | None,
    fmt: Any,
) -> None:
    table, meta = hubs_answer(settings, hub=hub, by=by, date=date, limit=limit)
    title = f"Top {by} by all-time downloads on {'both hubs' if hub == 'both' else hub}"
    if fmt != "table" or table.num_rows == 0:
        emit(console, table, fmt, title=title, meta=meta)
        return
    tables.print_warning(console, meta)
    console.print(rich_table(table.to_pylist(), table.column_names, title=title))
    lines = [
        f"Hugging Face snapshot {meta['snapshot_date']} · ModelScope of {meta['modelscope_date']}"
        f" ({_owners(meta['modelscope_owners'])}) · {meta['mode']} mode",
        *meta["notes"],
    ]
    for line in lines:
        console.print(f"[dim]{escape(line)}[/]", highlight=False)


def _owners(owners: list[str]) -> str:
    return f"owners {', '.join(owners)}" if owners else "an imported listing"
