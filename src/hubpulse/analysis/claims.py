"""Claims: does a family out-download the next N families combined? Over one snapshot's 30
days (``compare_family``) or, with hard bounds, in one calendar month (``compare_family_month``).

Every result names what it compared: the subject's rank, the families ranked above it, the
families compared with (their ranks), the families left unranked for want of data, the snapshot
or month and the mode, in its ``sentence`` and in ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hubpulse.analysis.history import History
from hubpulse.analysis.metrics import rank_models
from hubpulse.analysis.snapshot import Analysis
from hubpulse.errors import UnknownFamilyError
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import Metric, Mode


@dataclass(frozen=True)
class Comparison:
    """A family's downloads against the combined total of the next N families."""

    family: str
    mode: Mode
    metric: Metric
    next_n: int
    snapshot_date: dt.date
    rank: int
    value: int
    combined: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    above: list[dict[str, Any]] = field(default_factory=list)
    unranked: list[str] = field(default_factory=list)

    @property
    def margin(self) -> int:
        return self.value - self.combined

    @property
    def ratio(self) -> float | None:
        return self.value / self.combined if self.combined else None

    @property
    def verdict(self) -> str:
        return "exceeds" if self.value > self.combined else "does not exceed"

    @property
    def sentence(self) -> str:
        """The comparison in one sentence that names what it compared."""
        ratio = f" ({self.ratio:.2f}×)" if self.ratio is not None else ""
        first, last = self.rank + 1, self.rank + self.next_n
        return (
            f"{self.family} ({standing(self.rank, self.above, self.unranked)}) "
            f"{self.metric} {self.value:,} {self.verdict} the next {self.next_n} "
            f"(ranks {first}–{last}) combined {self.combined:,}: margin {self.margin:+,}{ratio} "
            f"[snapshot {self.snapshot_date}, {self.mode} mode]"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "mode": self.mode,
            "metric": self.metric,
            "snapshot_date": self.snapshot_date.isoformat(),
            "next_n": self.next_n,
            "rank": self.rank,
            "value": self.value,
            "combined_next": self.combined,
            "verdict": self.verdict,
            "margin": self.margin,
            "ratio": self.ratio,
            "sentence": self.sentence,
            "above": self.above,
            "unranked": self.unranked,
            "families": self.rows,
        }


def standing(rank: int, above: list[dict[str, Any]], unranked: list[str]) -> str:
    """Where a compared family stands, in words: "ranked 3rd, below Mistral and Llama"."""
    names = [a["family"] for a in above]
    where = f"ranked {_ordinal(rank)}"
    if names:
        shown = names if len(names) <= 4 else [*names[:4], f"{len(names) - 4} more"]
        last = shown.pop()
        where += ", below " + (f"{', '.join(shown)} and {last}" if shown else last)
    if unranked:
        where += f"; {len(unranked)} with no data not ranked"
    return where


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def compare_families(
    ranking: list[dict[str, Any]],
    family: str,
    next_n: int,
    *,
    mode: Mode,
    metric: Metric,
    snapshot_date: dt.date,
) -> Comparison:
    """Compare ``family`` with the ``next_n`` attributed families ranked just below it by
    ``metric``. ``ranking`` is an executed family ranking (``rank_models(by="family")``)."""
    attributed = [r for r in ranking if r["family"] != UNATTRIBUTED]
    ordered = sorted(
        (r for r in attributed if r[metric] is not None),
        key=lambda r: (-r[metric], r["family"]),
    )
    names = [r["family"].lower() for r in ordered]
    if family.lower() not in names:
        held = any(r["family"].lower() == family.lower() for r in attributed)
        raise UnknownFamilyError(
            f"family {family!r} has no {metric} figure in the {snapshot_date} snapshot "
            f"under {mode} mode"
            if held
            else f"family {family!r} has no models in the {snapshot_date} snapshot "
            f"under {mode} mode"
        )
    at = names.index(family.lower())
    subject, following = ordered[at], ordered[at + 1 : at + 1 + next_n]
    rows = [
        {
            "role": "subject" if i == 0 else "next",
            "rank": at + 1 + i,
            "family": r["family"],
            metric: int(r[metric]),
        }
        for i, r in enumerate([subject, *following])
    ]
    return Comparison(
        family=subject["family"],
        mode=mode,
        metric=metric,
        next_n=len(following),
        snapshot_date=snapshot_date,
        rank=at + 1,
        value=int(subject[metric]),
        combined=sum(int(r[metric]) for r in following),
        rows=rows,
        above=[
            {"rank": i + 1, "family": r["family"], metric: r[metric]}
            for i, r in enumerate(ordered[:at])
        ],
        unranked=sorted(r["family"] for r in attributed if r[metric] is None),
    )


def compare_family(
    analysis: Analysis, family: str, next_n: int, *, mode: Mode, metric: Metric = "downloads_30d"
) -> Comparison:
    """Rank the snapshot's families under ``mode`` and compare ``family`` with the next N."""
    name = analysis.registry.get(family).name
    ranking = rank_models(analysis, by="family", mode=mode).to_pyarrow().to_pylist()
    return compare_families(
        ranking, name, next_n, mode=mode, metric=metric, snapshot_date=analysis.snapshot_date
    )


@dataclass(frozen=True)
class MonthlyComparison:
    """A family's estimated downloads in one calendar month against the next N combined.

    Only families with an estimate that month are ranked; ``above`` lists those ranked above the
    subject and ``unranked`` those with models but no estimate (no data, not zero)."""

    family: str
    mode: Mode
    month: str
    next_n: int
    rank: int
    value: dict[str, Any]
    combined: dict[str, int | None]
    rows: list[dict[str, Any]] = field(default_factory=list)
    above: list[dict[str, Any]] = field(default_factory=list)
    unranked: list[str] = field(default_factory=list)
    through: dt.date | None = None

    @property
    def verdict(self) -> str:
        """``holds`` when even the family's lower bound beats the others' upper bound,
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
    def sentence(self) -> str:
        """The claim in one sentence that names what it compared and how well it is covered."""

        def span(figures: dict[str, Any]) -> str:
            upper = f"{figures['upper']:,}" if figures["upper"] is not None else "unbounded"
            estimate = f"{figures['estimate']:,}" if figures["estimate"] is not None else "—"
            return f"{estimate} [{figures['lower'] or 0:,} – {upper}]"

        first, last = self.rank + 1, self.rank + self.next_n
        month = self.month + (f" (through {self.through})" if self.through else "")
        coverage = self.value.get("coverage")
        covered = f", {coverage:.0%} covered" if coverage is not None else ""
        return (
            f"{month}: {self.family} ({standing(self.rank, self.above, self.unranked)}"
            f"{covered}) {span(self.value)} vs the next {self.next_n} (ranks {first}–{last}) "
            f"combined {span(self.combined)}: claim {self.verdict} "
            f"(point estimates: {self.point_verdict}) [{self.mode} mode]"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "mode": self.mode,
            "month": self.month,
            "through": self.through,
            "next_n": self.next_n,
            "rank": self.rank,
            "above": self.above,
            "value": self.value,
            "combined_next": self.combined,
            "verdict": self.verdict,
            "point_estimate_verdict": self.point_verdict,
            "sentence": self.sentence,
            "unranked": self.unranked,
            "families": self.rows,
        }


def compare_month(
    monthly_rows: list[dict[str, Any]], family: str, next_n: int, *, mode: Mode, month: str
) -> MonthlyComparison:
    """Compare ``family`` with the ``next_n`` families ranked below it by estimate in
    ``month``; ``monthly_rows`` are executed ``monthly_downloads(by="family")`` rows.

    Families with no model yet are left out, families with models but no estimate are
    ``unranked``; a subject without an estimate is an error (no data is not zero)."""
    held = [
        r
        for r in monthly_rows
        if r["month"] == month and r["family"] != UNATTRIBUTED and r.get("models") != 0
    ]
    ordered = sorted(
        (r for r in held if r["estimate"] is not None),
        key=lambda r: (-r["estimate"], r["family"]),
    )
    names = [r["family"].lower() for r in ordered]
    if family.lower() not in names:
        mine = [r for r in held if r["family"].lower() == family.lower()]
        why = (
            f"none of its {mine[0]['models']:,} models has an estimate (no data, not zero)"
            if mine
            else "it has no models then"
        )
        raise UnknownFamilyError(f"family {family!r} has no estimate for {month}: {why}")
    at = names.index(family.lower())
    subject, following = ordered[at], ordered[at + 1 : at + 1 + next_n]
    figures = ("estimate", "lower", "upper")
    rows = [
        {"role": "subject" if i == 0 else "next", "rank": at + 1 + i, "family": r["family"]}
        | {k: r[k] for k in figures}
        | {"coverage": r.get("coverage"), "flags": r.get("flags"), "methods": r["methods"]}
        for i, r in enumerate([subject, *following])
    ]
    combined: dict[str, int | None] = {
        k: sum(r[k] for r in following) if all(r[k] is not None for r in following) else None
        for k in figures
    }
    return MonthlyComparison(
        family=subject["family"],
        mode=mode,
        month=month,
        next_n=len(following),
        rank=at + 1,
        value={k: subject[k] for k in figures} | {"coverage": subject.get("coverage")},
        combined=combined,
        rows=rows,
        above=[
            {"rank": i + 1, "family": r["family"], "estimate": r["estimate"]}
            for i, r in enumerate(ordered[:at])
        ],
        unranked=sorted(r["family"] for r in held if r["estimate"] is None),
        through=subject.get("through"),
    )


def compare_family_month(
    history: History, family: str, next_n: int, month: str
) -> MonthlyComparison:
    """Rank ``history``'s families in ``month`` and compare ``family`` with the next N."""
    name = history.registry.get(family).name
    rows = history.monthly("family").to_pyarrow().to_pylist()
    return compare_month(rows, name, next_n, mode=history.mode, month=month)
