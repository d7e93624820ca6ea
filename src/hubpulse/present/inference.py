"""Use through inference: ``hubpulse tokens`` (routed tokens per family, vendor or country per
month, beside downloads) and ``hubpulse inference`` (the models providers serve), with the
caveats that travel with them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from hubpulse.analysis.history.tokens import (
    UNMAPPED,
    Routes,
    load_routes,
    routed,
    token_shares,
)
from hubpulse.errors import OptionError, SnapshotNotFoundError
from hubpulse.ingest.providers import STATUSES
from hubpulse.ingest.router import cite
from hubpulse.ingest.sources import month_days
from hubpulse.present.tables import emit, plural, rich_table
from hubpulse.registry import load_registry
from hubpulse.settings import Settings
from hubpulse.store.router import current_tokens
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import OutputFormat

CAVEATS = [
    "tokens (prompt + completion) are counted by each model's own tokenizer: they are not "
    "comparable across tokenizers, so shares say where routed traffic goes, not how much text "
    "each model read",
    "only the daily top 50 models are named; the rest are one 'other' row, so a family's "
    "tokens and share are lower bounds",
    "OpenRouter is one router among many: its traffic is not all use through inference",
]


def tokens_answer(
    store: Warehouse,
    settings: Settings,
    *,
    by: str = "family",
    month: str | None = None,
    over_time: bool = False,
) -> tuple[pa.Table, dict[str, Any]]:
    """Rows and facts: the tokens of ``month`` (default: the newest with rankings) per ``by``
    beside the group's 30-day download share, or with ``over_time`` every month."""
    registry = load_registry(settings.families_file)
    routes = load_routes(settings.routes_file, registry)
    first, last = month_days(month) if month else (None, None)
    table = store.execute(token_shares(store, registry, routes, by=by, first=first, last=last))
    if table.num_rows == 0:
        span = f"for {month} " if month else ""
        raise SnapshotNotFoundError(
            f"warehouse {store.root} holds no router tokens {span}: run `hubpulse router pull "
            f"{'--month ' + month if month else '--from YYYY-MM-DD --to YYYY-MM-DD'}` "
            "(needs OPENROUTER_API_KEY)"
        )
    newest = max(table["month"].to_pylist())
    if not over_time:
        table = table.filter(pa.compute.equal(table["month"], pa.scalar(newest)))
        table = _beside_downloads(store, settings, table, by, newest)
    shown = (first, last) if month or over_time else month_days(newest)
    meta = {
        "months": month or ("every month" if over_time else newest),
        "by": by,
        "sources": sorted({cite(a) for a in table["as_of"].to_pylist()}),
        "caveats": CAVEATS,
        "unmapped": _unmapped(store, routes, *shown),
    }
    short = sorted(
        {
            (m, d)
            for m, d in zip(table["month"].to_pylist(), table["days"].to_pylist(), strict=True)
            if d < (month_days(m)[1] - month_days(m)[0]).days + 1
        }
    )
    meta["coverage"] = [
        f"{m}: only {d} of {month_days(m)[1].day} days have rankings; its figures are of those days"
        for m, d in short
    ]
    if "snapshot" in table.column_names:
        day = table["snapshot"][0].as_py()
        meta["downloads"] = (
            f"downloads_share: the {'model' if by == 'model' else 'group'}'s share of the 30-day "
            f"downloads of snapshot {day} "
            f"({settings.mode} mode)"
            + (", which is not of this month" if str(day)[:7] != newest else "")
        )
    return table, meta


def _beside_downloads(
    store: Warehouse, settings: Settings, table: pa.Table, by: str, month: str
) -> pa.Table:
    """``table`` with ``downloads_share``: the group's share of 30-day downloads at the newest
    snapshot on or before the month's end (else the oldest), and that snapshot's date; by
    model, also the Hub model's ``downloads_30d`` (a renamed id followed to its new one)."""
    from hubpulse.analysis.snapshot.ranking import rank_models
    from hubpulse.analysis.snapshot.stored import load_analysis

    dates = store.snapshot_dates()
    if by not in ("family", "vendor", "country", "model") or not dates:
        return table
    end = month_days(month)[1]
    before = [d for d in dates if d <= end]
    chosen = before[-1] if before else dates[0]
    analysis = load_analysis(settings, chosen, store)
    keys = table[by].to_pylist()
    ranking = rank_models(analysis, by=by, mode=settings.mode)  # type: ignore[arg-type]
    if by == "model":
        aliases = store.aliases()
        renamed = aliases.filter(aliases.old_id.isin(keys)).to_pyarrow().to_pylist()
        new_id = {r["old_id"]: r["new_id"] for r in renamed}
        keys = [new_id.get(k, k) for k in keys]
        ranking = ranking.filter(ranking.model_id.isin(keys)).mutate(model=ibis._.model_id)
    found = store.execute(ranking).to_pylist()
    rows = {r[by]: r for r in found}
    column = pa.array([rows.get(k, {}).get("share") for k in keys], pa.float64())
    if by == "model":
        counts = [rows.get(k, {}).get("downloads_30d") for k in keys]
        table = table.append_column("downloads_30d", pa.array(counts, pa.int64()))
    table = table.append_column("downloads_share", column)
    return table.append_column(
        "snapshot", pa.repeat(pa.scalar(chosen, pa.date32()), table.num_rows)
    )


def _unmapped(
    store: Warehouse, routes: Routes, first: dt.date | None, last: dt.date | None
) -> list[dict[str, Any]]:
    rows = current_tokens(store)
    if first is not None:
        rows = rows.filter(rows.day >= first)
    if last is not None:
        rows = rows.filter(rows.day <= last)
    found = routed(rows, routes)
    found = found.filter(found.family == UNMAPPED)
    counted = found.group_by("permaslug").aggregate(tokens=found.tokens.sum())
    return store.execute(counted.order_by([counted.tokens.desc(), "permaslug"])).to_pylist()


def token_notes(meta: dict[str, Any]) -> list[str]:
    """What a tokens answer says under its table (the terminal, the report, the dashboard)."""
    unmapped = meta["unmapped"]
    lines = [*meta["coverage"], *meta["caveats"]]
    lines += [meta["downloads"]] if "downloads" in meta else []
    if unmapped:
        names = ", ".join(u["permaslug"] for u in unmapped[:5])
        more = f" and {len(unmapped) - 5} more" if len(unmapped) > 5 else ""
        lines.append(
            f"unmapped (no route; `--format json` lists all): {plural(len(unmapped), 'name')}: "
            f"{names}{more}"
        )
    return [*lines, *meta["sources"]]


def show_tokens(
    console: Console,
    settings: Settings,
    *,
    by: str,
    month: str | None,
    over_time: bool,
    fmt: OutputFormat,
) -> None:
    """Print ``tokens_answer`` in ``fmt``; on the terminal the caveats and sources under it."""
    store = open_store(settings)
    table, meta = tokens_answer(store, settings, by=by, month=month, over_time=over_time)
    title = f"Routed tokens per {by}, {meta['months']}"
    if fmt != "table":
        emit(console, table.drop_columns(["as_of"]), fmt, title=title, meta=meta)
        return
    shown = table.drop_columns(["as_of"])
    console.print(rich_table(shown.to_pylist(), shown.column_names, title=title))
    for line in token_notes(meta):
        console.print(f"[dim]{escape(line)}[/]", highlight=False)


PROVIDER_NOTES = [
    "a provider serves a model when the Hub's inferenceProviderMapping lists it: an offer to "
    "serve, not a measure of use",
]


def providers_answer(
    store: Warehouse,
    settings: Settings,
    *,
    by: str = "family",
    day: dt.date | None = None,
    statuses: tuple[str, ...] = ("live",),
    limit: int | None = 20,
) -> tuple[pa.Table, dict[str, Any]]:
    """The models of each group the Hub's inference providers serve (``statuses``), from the
    providers stored for ``day`` (default: the newest), with what they are of."""
    from hubpulse.analysis.snapshot.applications import analysis_for_spaces
    from hubpulse.analysis.snapshot.providers import PROVIDER_GROUPS, count_served, providers_day

    if by not in PROVIDER_GROUPS:
        raise OptionError(f"--by {by!r}: choose one of {', '.join(PROVIDER_GROUPS)}")
    if not set(statuses) <= set(STATUSES):
        raise OptionError(f"--status {', '.join(statuses)}: choose among {', '.join(STATUSES)}")
    rows, log = providers_day(store, day)
    analysis = analysis_for_spaces(store, settings, log["first_day"])
    table = count_served(
        analysis,
        rows,
        store.aliases(),
        by=by,
        mode=settings.mode,
        statuses=statuses,  # type: ignore[arg-type]
    )
    if limit:
        table = table.limit(limit)
    coverage = (
        "every model a provider serves"
        if log["complete"]
        else "a partial listing (not every model a provider serves): counts are lower bounds"
    )
    meta = {
        "providers_date": str(log["first_day"]),
        "models_snapshot": str(analysis.snapshot_date),
        "mode": settings.mode,
        "statuses": list(statuses),
        "coverage": coverage,
        "notes": PROVIDER_NOTES,
    }
    return store.execute(table), meta


def show_providers(
    console: Console,
    settings: Settings,
    *,
    by: str,
    day: dt.date | None,
    statuses: tuple[str, ...],
    limit: int | None,
    fmt: OutputFormat,
) -> None:
    """Print ``providers_answer`` in ``fmt``, its facts under the table."""
    store = open_store(settings)
    table, meta = providers_answer(store, settings, by=by, day=day, statuses=statuses, limit=limit)
    title = f"Models served by inference providers per {by} ({', '.join(statuses)})"
    if fmt != "table" or table.num_rows == 0:
        emit(console, table, fmt, title=title, meta=meta)
        return
    if not meta["coverage"].startswith("every"):
        console.print(f"[yellow]warning:[/] {escape(meta['coverage'])}", highlight=False)
    console.print(rich_table(table.to_pylist(), table.column_names, title=title))
    for line in provider_notes(meta)[1:]:
        console.print(f"[dim]{escape(line)}[/]", highlight=False)


def provider_notes(meta: dict[str, Any]) -> list[str]:
    """What a providers answer counts, in lines (its coverage first)."""
    return [
        meta["coverage"],
        f"providers of {meta['providers_date']} ({', '.join(meta['statuses'])}) · models "
        f"snapshot {meta['models_snapshot']} · {meta['mode']} mode",
        *meta["notes"],
    ]
