"""Router tokens per family, vendor and country per month: OpenRouter's daily top 50 models,
mapped to the registry's families by ``data/routes.toml`` (editable: ``--routes FILE``).

Definitions (``docs/inference.md`` says the same to users):

- a day's tokens are ``prompt_tokens + completion_tokens`` of the models in that day's top 50,
  plus one ``other`` row for every model outside it: a family's tokens count only the days its
  models were in the top 50, so they are lower bounds, and so are its shares;
- ``share`` is of every token routed that month (``other`` included);
- tokens are counted by each model's own tokenizer: a token of one model is not a token of
  another, so shares say where routed traffic goes, not how much text each model read;
- ``days`` is how many days of the month have rankings; a month with none is no data;
- a name no route matches is *unmapped*, listed with its tokens; a route to ``(closed
  weights)`` marks an open family's vendor's model whose weights are not published.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.errors import OptionError
from hubpulse.registry import Registry

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse

CLOSED = "(closed weights)"
UNMAPPED = "(unmapped)"
OUTSIDE = "(outside the top 50)"
TOKEN_GROUPS = ("family", "vendor", "country", "permaslug")


@dataclass(frozen=True)
class Route:
    pattern: str
    family: str


def load_routes(path: Path | None, registry: Registry) -> list[Route]:
    """The routes of ``path`` (default: the bundled ``data/routes.toml``), in order (the first
    match wins); a route to a family the registry lacks is an error naming it."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("hubpulse").joinpath("data", "routes.toml").read_text()
    )
    where = str(path) if path is not None else "data/routes.toml"
    try:
        entries = tomllib.loads(text).get("route", [])
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"{where}: not TOML ({exc})") from None
    known = {f.name for f in registry.families} | {CLOSED}
    routes = []
    for number, entry in enumerate(entries, start=1):
        pattern, family = entry.get("pattern"), entry.get("family")
        if not isinstance(pattern, str) or not isinstance(family, str):
            raise OptionError(f"{where}: route {number} needs a pattern and a family")
        if family not in known:
            raise OptionError(f"{where}: route {number} ({pattern}) names no family {family!r}")
        routes.append(Route(pattern.lower(), family))
    return routes


def routed(rows: ir.Table, routes: list[Route]) -> ir.Table:
    """``rows`` (``permaslug``) with ``family``: the first route whose pattern matches the
    name (its ``:variant`` suffix dropped), ``(outside the top 50)`` for ``other``, else
    ``(unmapped)``."""
    table = ibis.memtable(
        pa.table(
            {
                "regex": ["^" + re.escape(r.pattern).replace(r"\*", ".*") + "$" for r in routes],
                "route_family": [r.family for r in routes],
                "order": list(range(len(routes))),
            }
        )
    )
    names = rows.select("permaslug").distinct()
    bare = names.permaslug.split(":")[0].lower()
    names = names.mutate(bare=bare)
    hits = names.join(table, names.bare.re_search(table.regex))
    first = hits.order.min().over(ibis.window(group_by=hits.permaslug))
    chosen = hits.filter(hits.order == first).select("permaslug", "route_family")
    joined = rows.left_join(chosen, "permaslug")
    family = ibis.cases(
        (joined.permaslug == "other", OUTSIDE),
        else_=joined.route_family.fill_null(UNMAPPED),
    )
    return joined.select(*(joined[c] for c in rows.columns), family=family)


def token_shares(
    store: Warehouse,
    registry: Registry,
    routes: list[Route],
    *,
    by: str = "family",
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> ir.Table:
    """month (YYYY-MM), the group (``by``), tokens, share (of the month's tokens), days (of the
    month with rankings), as_of (the newest figures' time)."""
    from hubpulse.store.router import current_tokens

    if by not in TOKEN_GROUPS:
        raise OptionError(f"--by {by!r}: choose one of {', '.join(TOKEN_GROUPS)}")
    rows = current_tokens(store)
    if first is not None:
        rows = rows.filter(rows.day >= first)
    if last is not None:
        rows = rows.filter(rows.day <= last)
    rows = routed(rows, routes).mutate(month=rows.day.truncate("M"))
    if by in ("vendor", "country"):
        groups = registry.table().select("family", by)
        rows = rows.left_join(groups, "family").drop("family_right")
        rows = rows.mutate(**{by: rows[by].fill_null(rows.family)})
    totals = rows.group_by("month").aggregate(
        total=rows.tokens.sum(), days=rows.day.nunique(), as_of=rows.as_of.max()
    )
    grouped = rows.group_by(["month", by]).aggregate(tokens=rows.tokens.sum())
    joined = grouped.join(totals, "month")
    return joined.select(
        month=joined.month.strftime("%Y-%m"),
        **{by: joined[by]},
        tokens=joined.tokens,
        share=joined.tokens / joined.total,
        days=joined.days,
        as_of=joined.as_of,
    ).order_by(["month", ibis.desc("tokens"), by])
