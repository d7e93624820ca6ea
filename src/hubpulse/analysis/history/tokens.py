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
  weights)`` marks an open family's vendor's model whose weights are not published;
- a ``[[model]]`` entry links one router name (exactly, its ``:variant`` dropped) to the Hub
  repo whose weights it serves; ``--by model`` counts tokens per Hub model, a name without a
  link under ``FAMILY: no Hub model named``.
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
TOKEN_GROUPS = ("family", "vendor", "country", "model", "permaslug")
NO_MODEL = ": no Hub model named"


@dataclass(frozen=True)
class Route:
    pattern: str
    family: str


@dataclass(frozen=True)
class Routes:
    """The family routes in order, and the links of router names to Hub models."""

    routes: list[Route]
    models: dict[str, str]


def load_routes(path: Path | None, registry: Registry) -> Routes:
    """The routes of ``path`` (default: the bundled ``data/routes.toml``), in order (the first
    match wins), and its model links; a route to a family the registry lacks, or a model link
    without a name and an ``org/name`` model, is an error naming it."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("hubpulse").joinpath("data", "routes.toml").read_text()
    )
    where = str(path) if path is not None else "data/routes.toml"
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"{where}: not TOML ({exc})") from None
    entries = parsed.get("route", [])
    known = {f.name for f in registry.families} | {CLOSED}
    routes = []
    for number, entry in enumerate(entries, start=1):
        pattern, family = entry.get("pattern"), entry.get("family")
        if not isinstance(pattern, str) or not isinstance(family, str):
            raise OptionError(f"{where}: route {number} needs a pattern and a family")
        if family not in known:
            raise OptionError(f"{where}: route {number} ({pattern}) names no family {family!r}")
        routes.append(Route(pattern.lower(), family))
    return Routes(routes, _model_links(parsed.get("model", []), where))


def _model_links(entries: list[dict[str, object]], where: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        name, model = entry.get("name"), entry.get("model")
        if not isinstance(name, str) or not isinstance(model, str) or model.count("/") != 1:
            raise OptionError(f"{where}: model {number} needs a name and a model org/name")
        if name.lower() in links:
            raise OptionError(f"{where}: model {number} links {name!r} a second time")
        links[name.lower()] = model
    return links


def routed(rows: ir.Table, routes: Routes) -> ir.Table:
    """``rows`` (``permaslug``) with ``family``: the first route whose pattern matches the
    name (its ``:variant`` suffix dropped), ``(outside the top 50)`` for ``other``, else
    ``(unmapped)``; and ``model``: the linked Hub model, else ``FAMILY: no Hub model named``
    (``family`` itself for the outside, unmapped and closed-weight rows)."""
    ordered = routes.routes
    table = ibis.memtable(
        pa.table(
            {
                "regex": ["^" + re.escape(r.pattern).replace(r"\*", ".*") + "$" for r in ordered],
                "route_family": [r.family for r in ordered],
                "order": list(range(len(ordered))),
            }
        )
    )
    names = rows.select("permaslug").distinct()
    bare = names.permaslug.split(":")[0].lower()
    names = names.mutate(bare=bare)
    hits = names.join(table, names.bare.re_search(table.regex))
    first = hits.order.min().over(ibis.window(group_by=hits.permaslug))
    chosen = hits.filter(hits.order == first).select("permaslug", "route_family")
    links = ibis.memtable(
        pa.table(
            {"link_name": list(routes.models), "link_model": list(routes.models.values())},
            schema=pa.schema([("link_name", pa.string()), ("link_model", pa.string())]),
        )
    )
    linked = names.left_join(links, names.bare == links.link_name).select("permaslug", "link_model")
    joined = rows.left_join(chosen, "permaslug").left_join(linked.view(), "permaslug")
    family = ibis.cases(
        (joined.permaslug == "other", OUTSIDE),
        else_=joined.route_family.fill_null(UNMAPPED),
    )
    plain = family.isin([OUTSIDE, UNMAPPED, CLOSED])
    model = joined.link_model.fill_null(ibis.ifelse(plain, family, family.concat(NO_MODEL)))
    return joined.select(*(joined[c] for c in rows.columns), family=family, model=model)


def token_shares(
    store: Warehouse,
    registry: Registry,
    routes: Routes,
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
