"""History: a warehouse's monthly estimates (``estimator``) over a month range, with every model
attributed to families under one mode — the ``History`` that questions over time
(``trends``) and every surface read.

A group's figures, coverage and flags are ``monthly``'s. The estimates also cover the month
before the range, so a flag for a jump in the first month does not depend on where the range
starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.history.estimator import (
    HistoryError,
    estimate_monthly_downloads,
    month_table,
    parse_month,
)
from hubpulse.analysis.history.evidence import Evidence, evidence_months
from hubpulse.analysis.history.groups import StoredGroups, attribute_history, stored_groups
from hubpulse.analysis.history.monthly import (
    Checks,
    group_sums,
    month_drivers,
    monthly_figures,
    newest_counts,
    with_jumps,
)
from hubpulse.analysis.history.spikes import discount_spikes, find_spikes
from hubpulse.analysis.history.stored import (
    NO_HISTORY,
    StoredHistory,
    history_span,
    stored_history,
)
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.ingest.sources import route
from hubpulse.registry import Registry, load_registry
from hubpulse.settings import Settings
from hubpulse.store.engines import materialise
from hubpulse.store.warehouse import Warehouse, open_store
from hubpulse.terms import Mode, TrendBy


@dataclass(frozen=True)
class History:
    """Monthly estimates of a month range, attributed under one mode: ready for questions."""

    estimates: ir.Table
    shares: ir.Table
    registry: Registry
    mode: Mode
    first: str
    last: str
    lineage_date: dt.date | None
    basis: ir.Table | None = None
    checks: Checks = field(default_factory=Checks)
    selection: Selection = field(default_factory=Selection)
    groups: dict[str, ir.Table] = field(default_factory=dict)  # stored group sums, all months
    held: Callable[[], list[str]] = field(default=lambda: [], compare=False, repr=False)
    full: ir.Table | None = None  # the stored estimates of every month (spikes need neighbours)
    spikes: ir.Table | None = None  # the spikes robust counting discounted (``spikes``)
    found: dict[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)

    def route(self, month: str) -> str:
        """Where evidence for ``month`` is (the months that have some) and where more could
        come from: what an answer with no data for ``month`` adds to its error."""
        return route_to_evidence(self.held(), month)

    def monthly(
        self, by: TrendBy = "family", families: list[str] | None = None, limit: int = 0
    ) -> ir.Table:
        """Monthly figures per group; with ``families``, only the groups (models, authors,
        vendors, countries) those families' models belong to — shares stay of the whole; with
        ``limit``, the ``limit`` largest groups of each month."""
        if by in self.groups:  # stored: the month range's rows
            sums = self.groups[by]
            sums = sums.filter((sums.month >= self.first) & (sums.month <= self.last))
        else:
            sums = group_sums(self.estimates, self.shares, self.registry, by, self.basis)
        table = monthly_figures(sums, by, self.checks)
        key = "model_id" if by == "model" else by
        if families:
            table = self._members(table, by, families)
        if limit:
            order = ibis.window(group_by=table.month, order_by=[ibis.desc(table.estimate), key])
            table = table.filter(ibis.row_number().over(order) < limit)
        return table.order_by(["month", ibis.desc("estimate"), key])

    def _members(self, table: ir.Table, by: TrendBy, families: list[str]) -> ir.Table:
        key = "model_id" if by == "model" else by
        members = self.shares.filter(self.shares.family.isin(families)).join(
            self.registry.table(), "family"
        )
        members = members.select(
            key=members.model_id.split("/")[0] if by == "author" else members[key]
        )
        return table.semi_join(members.distinct(), table[key] == members.key)

    def restricted(self, selection: Selection, analysis: Analysis | None) -> History:
        """The history counting only ``selection``'s models (``analysis``, the newest
        snapshot, supplies their tasks and flags); robust counting also discounts spikes
        (``spikes.discount_spikes``) and keeps them in ``spikes`` to name."""
        if selection.everything:
            return self
        if analysis is None:
            raise HistoryError(
                "--task, --llm and --count robust need a snapshot (each model's task and "
                "flags come from the newest one): ingest one first"
            )
        shares = materialise(selection.restrict(self.shares, analysis))
        if selection.count != "robust" or "jump" not in self.estimates.columns:
            return replace(self, shares=shares, selection=selection, groups={})
        if "spikes" not in self.found:  # one search per history, whatever the selection
            every = self.full if self.full is not None else self.estimates
            self.found["spikes"] = materialise(find_spikes(every))
        spikes = materialise(self.found["spikes"].semi_join(shares, "model_id"))
        estimates = discount_spikes(self.estimates, spikes)
        return replace(
            self, shares=shares, selection=selection, groups={}, estimates=estimates, spikes=spikes
        )

    def drivers(self, by: TrendBy, group: str, month: str) -> ir.Table:
        """The models behind one group-month figure (``monthly.month_drivers``)."""
        return month_drivers(self.estimates, self.shares, self.registry, by, group, month)


def prepare_history(
    evidence: Evidence,
    registry: Registry,
    *,
    mode: Mode,
    analysis: Analysis | None,
    first: str | None = None,
    last: str | None = None,
    max_gap_days: int = 31,
    deconvolve: bool = True,
    checks: Checks | None = None,
) -> History:
    """Estimate every model-month from ``first`` to ``last`` (default: the months the evidence
    spans) and attribute the models; ``analysis`` supplies the lineage graph. (Questions read
    the stored estimates instead: ``history_of_stored``; this computes them from scratch.)"""
    for given in (first, last):
        if given is not None:
            parse_month(given)  # a month is refused before it is compared with the evidence
    if evidence.daily is not None:  # every step below reads the daily sums: build them once
        evidence = replace(evidence, daily=materialise(evidence.daily))
    span = evidence_months(evidence)
    if span is None:
        raise HistoryError(NO_HISTORY)
    first, last = _range(span, first, last)
    checks = checks or Checks()
    # the month before the range too, so a jump in its first month can be flagged (none is
    # needed before the first month with evidence: nothing was observed there)
    lead_in = (parse_month(first) - dt.timedelta(days=1)).strftime("%Y-%m")
    months = month_table(lead_in if first > span[0] else first, last)
    estimates = estimate_monthly_downloads(
        evidence, months, max_gap_days=max_gap_days, deconvolve=deconvolve, keyed=True
    )
    estimates = with_jumps(estimates, checks.spike_factor)
    basis = materialise(newest_counts(evidence))
    return _history(estimates, basis, registry, mode, analysis, first, last, checks)


def history_of_stored(
    stored: StoredHistory,
    registry: Registry,
    *,
    mode: Mode,
    analysis: Analysis | None,
    first: str | None = None,
    last: str | None = None,
    checks: Checks | None = None,
    groups: StoredGroups | None = None,
) -> History:
    """The months ``first`` to ``last`` of the stored estimates, the models attributed under
    ``mode`` (read from ``groups``, the stored groups of the same mode and analysis, with their
    group sums; else attributed now): what every history question reads (nothing is estimated
    here)."""
    for given in (first, last):
        if given is not None:
            parse_month(given)
    first, last = _range(stored.span, first, last)
    every = stored.estimates
    estimates = every.filter((every.month >= first) & (every.month <= last))
    history = _history(
        estimates, stored.basis, registry, mode, analysis, first, last, checks, groups
    )
    return replace(history, held=lambda: months_held(every), full=every)


def _range(span: tuple[str, str], first: str | None, last: str | None) -> tuple[str, str]:
    """The asked months clipped to the evidence; a clear error when none of them has any."""
    first, last = first or span[0], min(last or span[1], span[1])
    if first > span[1]:
        raise HistoryError(
            f"no download evidence in or after {first}: the newest observation is in "
            f"{span[1]}; {route(first)}"
        )
    if last < span[0]:
        raise HistoryError(
            f"no download evidence in or before {last}: the oldest observation is in "
            f"{span[0]}; {route(last)}"
        )
    return first, last


def months_held(estimates: ir.Table) -> list[str]:
    """The months in which any model has an estimate from evidence (not the exact 0 of a
    model not yet created): a scan of the stored estimates, made only when an answer has no
    data to explain."""
    observed = estimates.estimate.notnull() & ~estimates.method.isin(["not_created", "none"])
    known = estimates.filter(observed).select("month").distinct()
    return sorted(known.to_pyarrow().column(0).to_pylist())


def route_to_evidence(held: list[str], month: str) -> str:
    """ "months with estimates: 2024-07 … 2025-02, 2026-04 … 2026-05; evidence for 2025-12
    could come from …" (runs of consecutive months joined)."""
    runs: list[list[str]] = []
    for m in held:
        if runs and _next_month(runs[-1][-1]) == m:
            runs[-1].append(m)
        else:
            runs.append([m])
    shown = ", ".join(r[0] if len(r) == 1 else f"{r[0]} … {r[-1]}" for r in runs) or "none"
    return f"months with estimates: {shown}; {route(month)}"


def _next_month(month: str) -> str:
    return (parse_month(month) + dt.timedelta(days=32)).strftime("%Y-%m")


def _history(
    estimates: ir.Table,
    basis: ir.Table,
    registry: Registry,
    mode: Mode,
    analysis: Analysis | None,
    first: str,
    last: str,
    checks: Checks | None,
    groups: StoredGroups | None = None,
) -> History:
    estimates = estimates.filter(estimates.month >= first)
    if groups is not None:
        shares, sums = groups.shares, dict(groups.sums)
    else:
        ids = estimates.select("model_id")
        shares, sums = materialise(attribute_history(ids, registry, mode, analysis)), {}
    date = analysis.snapshot_date if analysis is not None and mode == "lineage" else None
    checks = checks or Checks()
    return History(estimates, shares, registry, mode, first, last, date, basis, checks, groups=sums)


def load_history(
    settings: Settings,
    first: str | None,
    last: str | None,
    warehouse: Warehouse | None = None,
    analysis: Analysis | None = None,
    selection: Selection | None = None,
) -> History:
    """Monthly estimates for the month range, counting ``selection``'s models; lineage mode
    uses the newest snapshot's graph (and a selection its tasks and flags)."""
    store = warehouse or open_store(settings)
    dates = store.snapshot_dates()
    selection = selection or Selection()
    if (
        (settings.mode == "lineage" or not selection.everything)
        and dates
        and (analysis is None or analysis.snapshot_date != dates[-1])
    ):
        analysis = load_analysis(settings, None, store)
    stored, registry = stored_history(store, settings), load_registry(settings.families_file)
    graph = analysis if settings.mode == "lineage" and dates else None
    history = history_of_stored(
        stored,
        registry,
        mode=settings.mode,
        analysis=graph,
        first=first,
        last=last,
        checks=Checks.from_settings(settings),
        groups=stored_groups(store, settings, stored, registry, settings.mode, graph),
    )
    return history.restricted(selection, analysis if dates else None)


def month_range(
    warehouse: Warehouse, settings: Settings, month: str | None, months: int
) -> tuple[str, str] | None:
    """The ``months`` months ending at ``month`` (default: the last month with data), clipped
    to the months the warehouse's evidence spans (``history_span``: builds nothing); None when
    it holds no history."""
    span = history_span(warehouse, settings)
    if span is None:
        return None
    last = parse_month(month or span[1])
    first = last
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    first = min(max(first, parse_month(span[0])), last)
    return first.strftime("%Y-%m"), last.strftime("%Y-%m")
