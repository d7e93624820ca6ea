"""Claims over one calendar month: does a family (or vendor) out-download a comparison set
combined, with hard bounds — holds, fails or undecided within error (``compare_month``).

Only groups with an estimate that month are ranked; the result names what it compared as the
snapshot claims do (``comparison.Comparison``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hubpulse.analysis.claims.comparison import Against, Comparison, missing_group, standing
from hubpulse.analysis.history.history import History
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import Mode


@dataclass(frozen=True, kw_only=True)
class MonthComparison(Comparison):
    """A group's estimated downloads in one calendar month against a comparison set combined.

    Only groups with an estimate that month are ranked; ``above`` lists those ranked above the
    subject and ``unranked`` those with models but no estimate (no data, not zero)."""

    month: str
    value: dict[str, Any]
    combined: dict[str, int | None]
    through: dt.date | None = None

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
        return self.against.describe(self.rows, self.next_n, self.absent, "no estimate")

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
        return (
            f"{month}: {self.subject} ({standing(self.rank, self.above, self.unranked)}"
            f"{covered}) {span(self.value)} vs {self.compared} "
            f"combined {span(self.combined)}: claim {self.verdict} "
            f"(point estimates: {self.point_verdict}) [by {self.by}, {self.mode} mode{self.scope}]"
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
            "families": self.rows,
        }


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
) -> MonthComparison:
    """Compare ``family`` (a group of ``by``) with the ``next_n`` groups ranked below it by
    estimate in ``month``, or with ``against``'s, from ``monthly_downloads(by=by)`` rows.
    Groups with no model yet are left out, with models but no estimate ``unranked``; a
    subject without an estimate is an error (no data is not zero). A named group without an
    estimate makes the combined estimate unknown; its bounds still count."""
    against = against or Against(next=next_n)
    held = [
        r
        for r in monthly_rows
        if r["month"] == month and r[by] != UNATTRIBUTED and r.get("models") != 0
    ]
    ordered = sorted(
        (r for r in held if r["estimate"] is not None), key=lambda r: (-r["estimate"], r[by])
    )
    names = [r[by].lower() for r in ordered]
    if subject.lower() not in names:
        raise _no_estimate(held, by, subject, month)
    at = names.index(subject.lower())
    own = ordered[at]
    compared, absent = against.pick(ordered, at, by)
    if against.groups:  # named groups with models but no estimate: their bounds still count
        unestimated = {r[by].lower(): r for r in held if r["estimate"] is None}
        compared += [(0, unestimated[g.lower()]) for g in absent if g.lower() in unestimated]
    rows = _rows([(at + 1, own), *compared], by, "compared" if against.groups else "next")
    combined: dict[str, int | None] = {
        k: sum(r[k] for _, r in compared) if all(r[k] is not None for _, r in compared) else None
        for k in FIGURES
    }
    return MonthComparison(
        subject=own[by],
        mode=mode,
        month=month,
        next_n=len(compared),
        rank=at + 1,
        value={k: own[k] for k in FIGURES} | {"coverage": own.get("coverage")},
        combined=combined,
        rows=rows,
        above=[
            {"rank": i + 1, by: r[by], "estimate": r["estimate"]}
            for i, r in enumerate(ordered[:at])
        ],
        unranked=sorted(r[by] for r in held if r["estimate"] is None),
        through=own.get("through"),
        by=by,
        against=against,
        absent=absent,
        selection=selection or Selection(),
    )


FIGURES = ("estimate", "lower", "upper")


def _no_estimate(held: list[dict[str, Any]], by: str, name: str, month: str) -> Exception:
    mine = [r for r in held if r[by].lower() == name.lower()]
    why = (
        f"none of its {mine[0]['models']:,} models has an estimate (no data, not zero)"
        if mine
        else "it has no models then"
    )
    return missing_group(by, name, f"has no estimate for {month}: {why}")


def _rows(ranked: list[tuple[int, dict[str, Any]]], by: str, role: str) -> list[dict[str, Any]]:
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
    return compare_month_rows(
        rows,
        name,
        next_n,
        mode=history.mode,
        month=month,
        by=by,
        against=against,
        selection=selection,
    )


def month_verdicts(
    history: History, nexts: tuple[int, ...] = (1, 8), by: str = "family"
) -> dict[tuple[str, str, int], str]:
    """The verdict of ``compare GROUP --next N --month M`` for every month of ``history``,
    every group ranked that month and every N of ``nexts``, keyed (month, group, N)."""
    rows = history.monthly(by).to_pyarrow().to_pylist()  # type: ignore[arg-type]
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
                claim = compare_month_rows(rows, group, n, mode=history.mode, month=month, by=by)
                if claim.next_n:
                    verdicts[(month, group, n)] = claim.verdict
    return verdicts
