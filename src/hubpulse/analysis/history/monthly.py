"""Monthly figures per group: the model-month estimates (``estimator``) credited to families,
vendors, countries, authors or models and summed, with the coverage that says how much of each
group the sum holds and the caveats that name a figure's outliers (caveats of a figure, not
the model flags of ``snapshot.flags``).

- ``models`` counts a group's models that existed in the month, ``estimated`` those with an
  estimate; ``coverage`` is the part of the group's newest 30-day downloads (``basis``, the
  30-day counts on the newest day any was observed) held by the estimated ones — by model count
  where no such downloads are known — and ``month_coverage`` the same over every group.
- ``estimate`` sums the estimated models and is null (no data, never 0) when none was
  estimated; ``lower``/``upper`` stay the rigorous bounds of the whole group (null upper:
  unbounded).
- ``share`` of the month's total is given only where both the group and the month reach
  ``Checks.min_coverage``; ``through`` is the last day counted when the newest month is cut at
  the newest observation.
- ``caveats``: ``one model N%`` where one model makes more than ``Checks.driver_share`` of the
  figure, and ``jump ×N`` / ``collapse ÷N`` where a model that makes at least a tenth of the
  figure (either month) rose or fell by more than ``Checks.spike_factor`` since the month
  before; each names the model. ``month_drivers`` lists the models behind one figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.estimator import METHODS
from hubpulse.analysis.snapshot.dimensions import exact
from hubpulse.registry import Registry
from hubpulse.terms import TrendBy

if TYPE_CHECKING:
    from hubpulse.analysis.history.evidence import Evidence
    from hubpulse.settings import Settings

RELEVANT = 0.1  # a jump is flagged when the model makes at least this part of the figure


@dataclass(frozen=True)
class Checks:
    """The thresholds that decide what a monthly figure may be used for and what is flagged."""

    min_coverage: float = 0.8
    driver_share: float = 0.5
    spike_factor: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Checks:
        return cls(settings.min_coverage, settings.driver_share, settings.spike_factor)


def newest_counts(evidence: Evidence) -> ir.Table:
    """model_id, basis: each model's 30-day count on the newest day any was observed."""
    obs = evidence.observations
    rolling = obs.filter(obs.kind == "rolling30")
    newest = rolling.filter(rolling.day == rolling.day.max().as_scalar())
    return newest.select("model_id", basis=newest.value)


def with_jumps(estimates: ir.Table, factor: float) -> ir.Table:
    """``estimates`` plus ``jump`` (a model-month's estimate over the month before, where it
    rose or fell by more than ``factor``; else null) and ``jump_size`` (the larger of the two
    months, where a jump). A month without an estimate compares with nothing, and a model's
    first month — only part of a month — is neither flagged nor compared with.

    The month before is the row before (every model has a row in every month of the range),
    found by a window over three columns, partitioned by ``mid`` (the estimator's integer per
    model) where present; the few jumps then meet the model-months in a join on a small table
    (a window or a self-join over every column cost a minute at Hub scale)."""
    newborn = estimates.created.notnull() & (
        estimates.created.truncate("M") >= estimates.month_start
    )
    counted = (estimates.method != "not_created") & ~newborn.fill_null(False)
    value = ibis.ifelse(counted, estimates.estimate, ibis.null("float64"))
    key = "mid" if "mid" in estimates.columns else "model_id"
    t = estimates.select(j_key=estimates[key], j_month=estimates.month_start, now=value)
    t = t.mutate(before=t.now.lag().over(group_by=t.j_key, order_by=t.j_month))
    known = t.now.notnull() & t.before.notnull()
    rise = known & (t.now > factor * ibis.greatest(t.before, 1.0))
    fall = known & (t.now * factor < t.before)
    grew = t.now / ibis.greatest(t.before, 1.0)
    marks = t.filter(rise | fall).select(
        "j_key",
        "j_month",
        jump=ibis.ifelse(rise, grew, ibis.greatest(t.now, 1.0) / t.before),
        jump_size=ibis.greatest(t.now, t.before),
    )
    joined = estimates.left_join(
        marks, (estimates[key] == marks.j_key) & (estimates.month_start == marks.j_month)
    )
    return joined.drop("j_key", "j_month", *(["mid"] if key == "mid" else []))


def change(jump: ir.FloatingValue) -> ir.StringValue:
    """``jump ×N`` or ``collapse ÷N`` for a ratio to the month before (null: neither)."""
    times = ibis.greatest(jump, 1 / jump).round().cast("int64").cast("string")
    return ibis.ifelse(jump > 1, "jump ×" + times, "collapse ÷" + times)


def credited_estimates(
    estimates: ir.Table, shares: ir.Table, registry: Registry, basis: ir.Table | None = None
) -> ir.Table:
    """One row per (model, month, family share) with the group keys and the model's basis."""
    joined = estimates.join(shares, "model_id").join(registry.table(), "family")
    if basis is not None:
        joined = joined.left_join(basis, "model_id").drop("model_id_right")
    has_jumps = "jump" in estimates.columns
    return joined.select(
        "model_id",
        "month",
        "month_start",
        "month_end",
        "complete",
        "method",
        "created",
        "estimate",
        "lower",
        "upper",
        "weight",
        "family",
        "vendor",
        "country",
        author=joined.model_id.split("/")[0],
        basis=joined.basis if basis is not None else ibis.null("int64"),
        jump=joined.jump if has_jumps else ibis.null("float64"),
        jump_size=joined.jump_size if has_jumps else ibis.null("float64"),
    )


def monthly_downloads(
    estimates: ir.Table,
    shares: ir.Table,
    registry: Registry,
    by: TrendBy = "family",
    basis: ir.Table | None = None,
    checks: Checks = Checks(),
) -> ir.Table:
    """month, <by>, through, estimate, lower, upper, share, coverage, month_coverage, models,
    estimated, top_model, top_share, caveats, methods (see the module docstring)."""
    return monthly_figures(group_sums(estimates, shares, registry, by, basis), by, checks)


def group_sums(
    estimates: ir.Table,
    shares: ir.Table,
    registry: Registry,
    by: TrendBy = "family",
    basis: ir.Table | None = None,
) -> ir.Table:
    """The per group-month sums ``monthly_figures`` reads (one pass over the model-months;
    what the stored ``groups`` stage holds for the registry's groups)."""
    key = "model_id" if by == "model" else by
    credited = credited_estimates(estimates, _once_per_group(shares, registry, by), registry, basis)
    return finish_sums(partial_sums(credited, ["month", key]))


def _once_per_group(shares: ir.Table, registry: Registry, by: TrendBy) -> ir.Table:
    """``shares`` with each model once per group of ``by``: a model split between two
    families of one vendor counts once for the vendor, with the two weights summed (exactly),
    so groups count models by counting rows (no distinct count over model-months) and a
    model's figure in the group is its whole credit there. Each row keeps one of its families
    (the first by name), which belongs to the same group."""
    if by == "family":
        return shares
    if by in ("vendor", "country"):
        keyed = shares.join(registry.table().select("family", by), "family")
        keys = ["model_id", by]
    else:  # an author's or a model's group is the model's own
        keyed, keys = shares, ["model_id"]
    once = keyed.group_by(keys).aggregate(
        family=keyed.family.min(), weight=exact(keyed.weight).sum()
    )
    return once.select("model_id", "family", "weight")


def monthly_figures(g: ir.Table, by: TrendBy, checks: Checks = Checks()) -> ir.Table:
    """``monthly_downloads`` from a month range's ``group_sums``: shares, coverage and caveats
    (cheap: a few rows per group-month)."""
    key = "model_id" if by == "model" else by
    month = ibis.window(group_by="month")
    unknown = (g.estimated == 0) & (g.models > 0)
    # the month's total summed exactly (decimals), so a share is the same on every run
    total = ibis.ifelse(unknown, None, g.estimate).sum().over(month)
    g = g.mutate(
        share_exact=ibis.ifelse(unknown | (total <= 0), None, g.estimate / total),
        estimate=ibis.ifelse(unknown, ibis.null("float64"), g.estimate.cast("float64")),
        coverage=_coverage(g.basis_known, g.basis_all, g.estimated, g.models),
        month_coverage=_coverage(
            g.basis_known.sum().over(month),
            g.basis_all.sum().over(month),
            g.estimated.sum().over(month),
            g.models.sum().over(month),
        ),
    )
    usable = (g.coverage >= checks.min_coverage) & (g.month_coverage >= checks.min_coverage)
    g = g.mutate(top_share=ibis.ifelse(g.estimate > 0, g.top_value / g.estimate, None))
    return g.select(
        "month",
        key,
        through=ibis.ifelse(g.complete, ibis.null("date"), g.month_end),
        estimate=g.estimate.round().cast("int64"),
        lower=g.lower.round().cast("int64"),
        upper=ibis.ifelse(g.open_ended, None, g.upper.round()).cast("int64"),
        share=ibis.ifelse(usable, g.share_exact.cast("float64"), ibis.null("float64")),
        coverage=g.coverage.round(4),
        month_coverage=g.month_coverage.round(4),
        models=g.models,
        estimated=g.estimated,
        top_model=ibis.ifelse(g.estimate > 0, g.top_model, ibis.null("string")),
        top_share=g.top_share.round(4),
        caveats=_caveats(g, checks),
        methods=g.methods,
    ).order_by(["month", ibis.desc("estimate"), key])


def partial_sums(credited: ir.Table, keys: list[str]) -> ir.Table:
    """Per group-month: weighted sums (exact decimals), model counts, coverage weights, the top
    model and the largest jump, and a count per method — in one pass over the model-months,
    each model once per group (``_once_per_group``), so counting rows counts models. Sums a
    group of groups adds up again (``roll_up``); ``finish_sums`` makes them what is stored.
    A tie for the top model or the largest jump goes to the greater id, so the pick does not
    depend on how the engine split the rows."""
    existing = credited.method != "not_created"
    known = existing & credited.estimate.notnull()
    weight = credited.basis.cast("float64") * credited.weight.cast("float64")
    value = exact(credited.estimate) * exact(credited.weight)
    odd = credited.jump.notnull()
    top = ibis.struct({"v": value, "m": credited.model_id})
    largest = ibis.struct({"s": credited.jump_size, "m": credited.model_id})

    def models(where: ir.BooleanValue) -> ir.IntegerScalar:
        return credited.model_id.count(where=where)

    return credited.group_by(keys).aggregate(
        estimate=value.sum(),
        lower=(exact(credited.lower) * exact(credited.weight)).sum(),
        upper=(exact(credited.upper) * exact(credited.weight)).sum(),
        open_ended=credited.upper.isnull().any(),
        models=models(existing),
        estimated=models(known),
        basis_all=weight.sum(where=existing),
        basis_known=weight.sum(where=known).fill_null(0.0),
        top_model=credited.model_id.argmax(top, where=value.notnull()),
        top_exact=value.max(),
        odd_model=credited.model_id.argmax(largest, where=odd),
        odd_jump=credited.jump.argmax(largest, where=odd),
        odd_top=credited.jump_size.max(where=odd),
        odd_size=(credited.jump_size * credited.weight.cast("float64")).max(where=odd),
        complete=credited.complete.min(),
        month_end=credited.month_end.max(),
        **{f"n_{m}": models(credited.method == m) for m in METHODS},
    )


def roll_up(partials: ir.Table, groups: ir.Table, by: str) -> ir.Table:
    """``partial_sums`` of the groups ``by`` from those of smaller groups (``groups`` maps
    ``partials``' group column to ``by``): exact where no model counts in two of the smaller
    groups of one ``by`` group — such a model would count twice, where ``_once_per_group``
    counts it once."""
    small = next(c for c in groups.columns if c != by)
    t = partials.join(groups.select(small, by), small)
    top = ibis.struct({"v": t.top_exact, "m": t.top_model})
    largest = ibis.struct({"s": t.odd_top, "m": t.odd_model})
    odd = t.odd_model.notnull()
    return t.group_by(["month", by]).aggregate(
        estimate=t.estimate.sum(),
        lower=t.lower.sum(),
        upper=t.upper.sum(),
        open_ended=t.open_ended.any(),
        models=t.models.sum().cast("int64"),
        estimated=t.estimated.sum().cast("int64"),
        basis_all=t.basis_all.sum(),
        basis_known=t.basis_known.sum(),
        top_model=t.top_model.argmax(top, where=t.top_exact.notnull()),
        top_exact=t.top_exact.max(),
        odd_model=t.odd_model.argmax(largest, where=odd),
        odd_jump=t.odd_jump.argmax(largest, where=odd),
        odd_top=t.odd_top.max(),
        odd_size=t.odd_size.max(),
        complete=t.complete.min(),
        month_end=t.month_end.max(),
        **{f"n_{m}": t[f"n_{m}"].sum().cast("int64") for m in METHODS},
    )


def finish_sums(grouped: ir.Table) -> ir.Table:
    """``partial_sums`` as ``monthly_figures`` reads them: the top value as a float and the
    method counts as one text, ``method:count`` by count, most first, then by name."""
    # sorted on a key that holds both (a few hundred group-months, so lists are cheap here)
    entries = [
        ibis.ifelse(
            grouped[f"n_{m}"] > 0,
            (10**12 - grouped[f"n_{m}"]).cast("string").lpad(13, "0")
            + "|"
            + m
            + ":"
            + grouped[f"n_{m}"].cast("string"),
            None,
        )
        for m in METHODS
    ]
    listed = ibis.array(entries).filter(lambda e: e.notnull()).sort()
    # past the 13-digit sort key and "|" (by position: Spark's split reads "|" as a regex)
    text = listed.map(lambda e: e.substr(14)).join(" ")
    finished = grouped.mutate(methods=text, top_value=grouped.top_exact.cast("float64"))
    return finished.drop("top_exact", "odd_top", *[f"n_{m}" for m in METHODS])


def _coverage(
    known: ir.FloatingValue,
    held: ir.FloatingValue,
    estimated: ir.IntegerValue,
    models: ir.IntegerValue,
) -> ir.FloatingValue:
    """Downloads-weighted coverage where the weights are known, else by model count."""
    return ibis.cases(
        (held > 0, known / held),
        (models > 0, estimated / models.cast("float64")),
        else_=ibis.null("float64"),
    )


def _caveats(g: ir.Table, checks: Checks) -> ir.StringValue:
    percent = (g.top_share * 100).round().cast("int64").cast("string")
    driver = (g.estimated > 1) & (g.top_share > checks.driver_share)
    odd = g.odd_model.notnull() & (g.odd_size >= RELEVANT * g.estimate)
    caveats = ibis.array(
        [
            ibis.ifelse(driver, "one model " + percent + "%: " + g.top_model, None),
            ibis.ifelse(odd, change(g.odd_jump) + ": " + g.odd_model, None),
        ]
    ).filter(lambda f: f.notnull())
    return ibis.ifelse(caveats.length() > 0, caveats.join("; "), ibis.null("string"))


def month_drivers(
    estimates: ir.Table, shares: ir.Table, registry: Registry, by: TrendBy, group: str, month: str
) -> ir.Table:
    """The models behind one group-month figure, largest first: model_id, weight, method,
    estimate, lower, upper (as credited to the group), group_share (of the group's estimate)
    and change (against the model's month before, where it jumped or collapsed)."""
    credited = credited_estimates(estimates, shares, registry)
    key = "model_id" if by == "model" else by
    rows = credited.filter((credited[key] == group) & (credited.month == month))
    rows = rows.filter(rows.method != "not_created")
    weight = rows.weight.cast("float64")
    value = rows.estimate * weight
    # the group's total summed exactly (decimals), so a share is the same on every run
    credit = exact(rows.estimate) * exact(rows.weight)
    total = credit.sum().over(ibis.window())
    return rows.select(
        "model_id",
        weight=rows.weight,
        method=rows.method,
        estimate=value.round().cast("int64"),
        lower=(rows.lower * weight).round().cast("int64"),
        upper=(rows.upper * weight).round().cast("int64"),
        group_share=ibis.ifelse(total > 0, (credit / total).cast("float64"), None),
        change=change(rows.jump),
    ).order_by([ibis.desc("estimate"), "model_id"])
