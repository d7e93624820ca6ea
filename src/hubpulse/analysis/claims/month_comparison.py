"""Claims over one calendar month: does a family (or vendor) out-download a comparison set
combined, with hard bounds — holds, fails or undecided within error (``compare_month``).

Only groups with an estimate that month are ranked; the result names what it compared as the
snapshot claims do (``comparison.Comparison``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from hubpulse.analysis.claims.comparison import (
    Against,
    Comparison,
    missing_group,
    nothing_to_compare,
    standing,
)
from hubpulse.analysis.history.history import History
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.errors import NoEvidenceError, NotComparableError
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import Mode


@dataclass(frozen=True, kw_only=True)
class MonthComparison(Comparison):
    """A group's estimated downloads in one calendar month against a comparison set combined.

    Only groups with an estimate covering ``min_coverage`` that month are ranked; ``above``
    lists those ranked above the subject, ``thin`` those with an estimate covered too thinly to
    rank, ``unranked`` those with models but no estimate (no data, not zero). Of a named set,
    ``unestimated`` groups count by their bounds alone and ``absent`` ones (no models) as an
    exact 0."""

    month: str
    value: dict[str, Any]
    combined: dict[str, int | None]
    through: dt.date | None = None
    min_coverage: float = 0.0
    unestimated: list[str] = field(default_factory=list)
    discounted: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``holds`` when even the subject's lower bound beats the others' upper bound,
        ``fails`` when its upper bound is below their lower bound, else undecided."""
        own_lo, own_hi = self.value["lower"], self.value["upper"]
        other_lo, other_hi = self.combined["lower"], self.combined["upper"]
        if other_hi is not None and own_lo is not None and own_lo > other_hi:
            return "holds"
        if own_hi is not None and other_lo is not None and own_hi < other_lo:
            return "fails"
        return "undecided within error"

    @property
    def point_verdict(self) -> str:
        value, other = self.value["estimate"], self.combined["estimate"]
        if value is None or other is None:
            return "no point estimate"
        return "exceeds" if value > other else "does not exceed"

    @property
    def compared(self) -> str:
        ranks = [r["rank"] for r in self.rows if r["role"] != "subject"]
        gaps = {"no estimate, bounds counted": self.unestimated, "no models (0)": self.absent}
        return self.against.describe(ranks, self.next_n, gaps)

    @property
    def sentence(self) -> str:
        """The claim in one sentence that names what it compared and how well it is covered."""

        def span(figures: dict[str, Any]) -> str:
            upper = f"{figures['upper']:,}" if figures["upper"] is not None else "unbounded"
            estimate = f"{figures['estimate']:,}" if figures["estimate"] is not None else "—"
            return f"{estimate} [{figures['lower'] or 0:,} – {upper}]"

        month = self.month + (f" (through {self.through})" if self.through else "")
        coverage = self.value.get("coverage")
        covered = f", {coverage:.0%} covered" if coverage is not None else ""
        where = standing(
            self.rank, self.above, self.unranked, self.thin, self.min_coverage, coverage
        )
        if self.rank is None:
            covered = ""
        return (
            f"{month}: {self.subject} ({where}"
            f"{covered}) {span(self.value)} vs {self.compared} "
            f"combined {span(self.combined)}: claim {self.verdict} "
            f"(point estimates: {self.point_verdict}) [by {self.by}, {self.mode} mode{self.scope}"
            f"{self.spikes}]"
        )

    @property
    def spikes(self) -> str:
        """The spikes robust counting discounted, for the verdict line ("" when none)."""
        if not self.discounted:
            return ""
        shown = ", ".join(self.discounted[:3])
        more = f" and {len(self.discounted) - 3} more" if len(self.discounted) > 3 else ""
        return (
            f"; robust counting discounted {len(self.discounted)} spike(s) that reversed the "
            f"next month to the level around them: {shown}{more}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.common_fields(month=self.month, through=self.through),
            "above": self.above,
            "value": self.value,
            "combined_next": self.combined,
            "verdict": self.verdict,
            "point_estimate_verdict": self.point_verdict,
            "sentence": self.sentence,
            "unranked": self.unranked,
            "unestimated": self.unestimated,
            "discounted_spikes": self.discounted,
            "min_coverage": self.min_coverage,
            "families": self.rows,
        }


@dataclass
class _Month:
    """One month's groups of ``by`` for a comparison: ``held`` (with models), ``ranked`` (an
    estimate covering ``minimum``, largest first) and the subject ``own`` placed among them in
    ``line`` (a thin subject at its estimate, unranked)."""

    held: list[dict[str, Any]]
    by: str
    minimum: float
    subject: str

    def __post_init__(self) -> None:
        estimated = [r for r in self.held if r["estimate"] is not None]
        self.ranked = sorted((r for r in estimated if not self.thin(r)), key=self.order)
        self.rank_of = {r[self.by].lower(): i + 1 for i, r in enumerate(self.ranked)}
        name = self.subject.lower()
        self.own = next((r for r in estimated if r[self.by].lower() == name), None)
        own = self.own
        self.line: list[dict[str, Any]] = self.ranked
        if own is not None and self.thin(own):
            self.line = sorted([*self.ranked, own], key=self.order)
        self.thinly = [
            {"name": r[self.by], "estimate": r["estimate"], "coverage": r["coverage"]}
            for r in sorted(estimated, key=self.order)
            if self.thin(r) and r is not own
        ]

    def thin(self, r: dict[str, Any]) -> bool:
        coverage = r.get("coverage")
        return coverage is not None and coverage < self.minimum

    def order(self, r: dict[str, Any]) -> tuple[int, str]:
        return -r["estimate"], r[self.by]

    def rank(self, r: dict[str, Any]) -> int | None:
        return self.rank_of.get(r[self.by].lower())


def compare_month_rows(
    monthly_rows: list[dict[str, Any]],
    subject: str,
    next_n: int,
    *,
    mode: Mode,
    month: str,
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
    min_coverage: float = 0.0,
) -> MonthComparison:
    """Compare ``subject`` (a group of ``by``) with the ``next_n`` groups ranked below it by
    estimate in ``month``, or with ``against``'s, from ``monthly_downloads(by=by)`` rows.

    Only groups whose estimate covers ``min_coverage`` are ranked: one covered more thinly is
    named with its coverage, never ranked above a covered one nor counted in the next N (a
    thin subject is compared unranked, at its estimate). A subject without an estimate is an
    error (no data is not zero); so is an empty comparison set. A named group without an
    estimate makes the combined estimate unknown, its bounds still count; one with no models
    counts as an exact 0."""
    against = against or Against(next=next_n)
    m = _Month(_held(monthly_rows, month, by), by, min_coverage, subject)
    own, held = m.own, m.held
    if own is None:
        raise _no_estimate(held, by, subject, month)
    at = m.line.index(own)
    if against.groups:
        compared, absent = against.pick(held, held.index(own), by)
    else:
        compared, absent = against.pick(m.line, at, by)
    compared.sort(key=lambda r: (m.rank(r) or len(held) + 1, r[by]))
    if not compared:
        raise nothing_to_compare(own[by], month, against, _empty(m, against, absent))
    role = "compared" if against.groups else "next"
    return MonthComparison(
        subject=own[by],
        mode=mode,
        month=month,
        next_n=len(compared),
        rank=m.rank(own),
        value={k: own[k] for k in FIGURES} | {"coverage": own.get("coverage")},
        combined={
            k: sum(r[k] for r in compared) if all(r[k] is not None for r in compared) else None
            for k in FIGURES
        },
        rows=_rows([(m.rank(own), own), *[(m.rank(r), r) for r in compared]], by, role),
        above=[{"rank": m.rank(r), by: r[by], "estimate": r["estimate"]} for r in m.line[:at]],
        unranked=sorted(r[by] for r in held if r["estimate"] is None),
        thin=m.thinly,
        through=own.get("through"),
        by=by,
        against=against,
        absent=absent,
        unestimated=[r[by] for r in compared if r["estimate"] is None],
        selection=selection or Selection(),
        min_coverage=min_coverage,
    )


def _held(monthly_rows: list[dict[str, Any]], month: str, by: str) -> list[dict[str, Any]]:
    """``month``'s attributed groups with models."""
    return [
        r
        for r in monthly_rows
        if r["month"] == month and r[by] != UNATTRIBUTED and r.get("models") != 0
    ]


def _empty(m: _Month, against: Against, absent: list[str]) -> str:
    """Why a comparison set is empty."""
    if against.groups:
        return f"none of its groups has models then ({', '.join(absent)})"
    below = f" ({len(m.thinly)} covered below {m.minimum:.0%} not ranked)" if m.thinly else ""
    return f"no group is ranked below it{below}"


FIGURES = ("estimate", "lower", "upper")


def _no_estimate(held: list[dict[str, Any]], by: str, name: str, month: str) -> Exception:
    """No data for the subject: the month holds no estimate at all, or none of the subject's
    models has one (both ``NoEvidenceError``), or the subject has no models then."""
    mine = [r for r in held if r[by].lower() == name.lower()]
    if not any(r["estimate"] is not None for r in held):
        return NoEvidenceError(
            f"{by} {name!r} has no estimate for {month}: no {by} has one that month "
            "(no data, not zero)"
        )
    if mine:
        return NoEvidenceError(
            f"{by} {name!r} has no estimate for {month}: none of its {mine[0]['models']:,} "
            "models has an estimate (no data, not zero)"
        )
    return missing_group(by, name, f"has no estimate for {month}: it has no models then")


def _rows(
    ranked: list[tuple[int | None, dict[str, Any]]], by: str, role: str
) -> list[dict[str, Any]]:
    """The table of a monthly comparison: the subject first, then the compared groups."""
    return [
        {"role": "subject" if i == 0 else role, "rank": rank or None, by: r[by]}
        | {k: r[k] for k in FIGURES}
        | {"coverage": r.get("coverage"), "caveats": r.get("caveats"), "methods": r["methods"]}
        for i, (rank, r) in enumerate(ranked)
    ]


def compare_month(
    history: History,
    subject: str,
    next_n: int,
    month: str,
    *,
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
) -> MonthComparison:
    """Rank ``history``'s groups in ``month`` and compare ``family`` with the next N or
    ``against`` (``history`` already restricted to ``selection``, which is only named)."""
    name = history.registry.group(by, subject)
    rows = history.monthly(by).to_pyarrow().to_pylist()  # type: ignore[arg-type]
    try:
        found = _compare(history, rows, name, next_n, month, by, against, selection)
    except NoEvidenceError as exc:
        raise NoEvidenceError(f"{exc}; {history.route(month)}") from None
    groups = [r[by] for r in found.rows]
    return replace(found, discounted=_discounted(history, month, by, groups))


def _discounted(history: History, month: str, by: str, groups: list[str]) -> list[str]:
    """The spikes robust counting discounted in ``month`` among ``groups``' models:
    "model ×24 (group)"."""
    if history.spikes is None:
        return []
    spikes = history.spikes.filter(history.spikes.month == month)
    credited = spikes.join(history.shares, "model_id").join(history.registry.table(), "family")
    rows = credited.select("model_id", "jump", group=credited[by]).distinct()
    return sorted(
        f"{r['model_id']} ×{round(r['jump'])} ({r['group']})"
        for r in rows.to_pyarrow().to_pylist()
        if r["group"] in groups
    )


def _compare(
    history: History,
    rows: list[dict[str, Any]],
    name: str,
    next_n: int,
    month: str,
    by: str,
    against: Against | None,
    selection: Selection | None,
) -> MonthComparison:
    return compare_month_rows(
        rows,
        name,
        next_n,
        mode=history.mode,
        month=month,
        by=by,
        against=against,
        selection=selection,
        min_coverage=history.checks.min_coverage,
    )


def month_verdicts(
    history: History, nexts: tuple[int, ...] = (1, 8), by: str = "family"
) -> dict[tuple[str, str, int], str]:
    """The verdict of ``compare GROUP --next N --month M`` for every month of ``history``,
    every group ranked that month and every N of ``nexts``, keyed (month, group, N)."""
    rows = history.monthly(by).to_pyarrow().to_pylist()  # type: ignore[arg-type]
    minimum = history.checks.min_coverage
    verdicts = {}
    for month in sorted({r["month"] for r in rows}):
        ranked = [
            r[by]
            for r in rows
            if r["month"] == month
            and r["estimate"] is not None
            and r[by] != UNATTRIBUTED
            and r.get("models") != 0
        ]
        for group in ranked:
            for n in nexts:
                try:
                    claim = compare_month_rows(
                        rows, group, n, mode=history.mode, month=month, by=by, min_coverage=minimum
                    )
                except NotComparableError:
                    continue
                verdicts[(month, group, n)] = claim.verdict
    return verdicts
