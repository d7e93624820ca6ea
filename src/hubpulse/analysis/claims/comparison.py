"""Claims: does a family (or vendor) out-download a comparison set combined — the next N
groups below it, or named groups (``--against``, a named set of ``comparisons.toml``)? Over one
snapshot's 30 days (``compare_family``) here; with hard bounds, in one calendar month, in
``month_claims``.

Every result names what it compared: the grouping, the subject's rank, the groups ranked above
it, the groups compared with (their ranks), those left unranked for want of data, those of the
set with no models, the snapshot or month, the mode and the selection of models counted, in its
``sentence`` and in ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.errors import UnknownFamilyError
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import Metric, Mode


@dataclass(frozen=True)
class Against:
    """What a subject is compared with: the ``next`` N groups ranked below it, or the named
    ``groups`` (a named set when ``name`` is given)."""

    next: int = 8
    groups: tuple[str, ...] = ()
    name: str | None = None

    def label(self) -> str:
        if not self.groups:
            return f"the next {self.next}" + (f" ({self.name} set)" if self.name else "")
        shown = ", ".join(self.groups)
        return f"{shown} ({self.name} set)" if self.name else shown

    def describe(
        self, rows: list[dict[str, Any]], next_n: int, absent: list[str], missing: str
    ) -> str:
        """The comparison set in words, with the ranks it covers."""
        ranks = [r["rank"] for r in rows if r["role"] != "subject" and r["rank"]]
        if not self.groups:
            span = f"ranks {ranks[0]}–{ranks[-1]}" if ranks else "no group below"
            return f"the next {next_n} ({span})"
        where = f"ranks {', '.join(map(str, ranks))}" if ranks else "none ranked"
        gaps = f"; {missing}: {', '.join(absent)}" if absent else ""
        return f"{self.label()} ({where}{gaps})"

    def pick(
        self, ordered: list[dict[str, Any]], at: int, key: str
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
        """(rank, row) of each compared group and the set's groups with no row."""
        if not self.groups:
            return [(at + 2 + i, r) for i, r in enumerate(ordered[at + 1 : at + 1 + self.next])], []
        where = {r[key].lower(): (i + 1, r) for i, r in enumerate(ordered)}
        found = [where[g.lower()] for g in self.groups if g.lower() in where]
        return sorted(found, key=lambda p: p[0]), [g for g in self.groups if g.lower() not in where]


@dataclass(frozen=True)
class Comparison:
    """A group's downloads against the combined total of a comparison set."""

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
    by: str = "family"
    against: Against = field(default_factory=Against)
    absent: list[str] = field(default_factory=list)
    selection: Selection = field(default_factory=Selection)

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
    def compared(self) -> str:
        """The comparison set in words, with the ranks it covers."""
        return self.against.describe(self.rows, self.next_n, self.absent, "no models")

    @property
    def sentence(self) -> str:
        """The comparison in one sentence that names what it compared."""
        ratio = f" ({self.ratio:.2f}×)" if self.ratio is not None else ""
        scope = "" if self.selection.everything else f"; {self.selection.describe()}"
        return (
            f"{self.family} ({standing(self.rank, self.above, self.unranked)}) "
            f"{self.metric} {self.value:,} {self.verdict} {self.compared} combined "
            f"{self.combined:,}: margin {self.margin:+,}{ratio} "
            f"[snapshot {self.snapshot_date}, by {self.by}, {self.mode} mode{scope}]"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            self.by: self.family,
            "mode": self.mode,
            "metric": self.metric,
            "snapshot_date": self.snapshot_date.isoformat(),
            "next_n": self.next_n,
            **set_fields(self.against, self.absent, self.selection),
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


def set_fields(against: Against, absent: list[str], selection: Selection) -> dict[str, Any]:
    return {
        "against": list(against.groups) or None,
        "against_set": against.name,
        "absent": absent,
        "selection": selection.to_dict(),
    }


def standing(rank: int, above: list[dict[str, Any]], unranked: list[str]) -> str:
    """Where a compared group stands, in words: "ranked 3rd, below Mistral and Llama"."""
    names = [str(a.get("family") or a.get("vendor")) for a in above]
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


def missing_group(by: str, name: str, why: str) -> UnknownFamilyError:
    return UnknownFamilyError(f"{by} {name!r} {why}")


def compare_families(
    ranking: list[dict[str, Any]],
    family: str,
    next_n: int,
    *,
    mode: Mode,
    metric: Metric,
    snapshot_date: dt.date,
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
) -> Comparison:
    """Compare ``family`` (a group of ``by``) with the ``next_n`` attributed groups ranked just
    below it by ``metric``, or with ``against``'s groups. ``ranking`` is an executed ranking
    (``rank_models(by=by)``)."""
    against = against or Against(next=next_n)
    attributed = [r for r in ranking if r[by] != UNATTRIBUTED]
    ordered = sorted(
        (r for r in attributed if r[metric] is not None), key=lambda r: (-r[metric], r[by])
    )
    names = [r[by].lower() for r in ordered]
    if family.lower() not in names:
        held = any(r[by].lower() == family.lower() for r in attributed)
        what = f"has no {metric} figure" if held else "has no models"
        raise missing_group(by, family, f"{what} in the {snapshot_date} snapshot under {mode} mode")
    at = names.index(family.lower())
    subject = ordered[at]
    compared, absent = against.pick(ordered, at, by)
    rows = [{"role": "subject", "rank": at + 1, by: subject[by], metric: int(subject[metric])}]
    rows += [
        {
            "role": "compared" if against.groups else "next",
            "rank": rank,
            by: r[by],
            metric: int(r[metric]),
        }
        for rank, r in compared
    ]
    return Comparison(
        family=subject[by],
        mode=mode,
        metric=metric,
        next_n=len(compared),
        snapshot_date=snapshot_date,
        rank=at + 1,
        value=int(subject[metric]),
        combined=sum(int(r[metric]) for _, r in compared),
        rows=rows,
        above=[{"rank": i + 1, by: r[by], metric: r[metric]} for i, r in enumerate(ordered[:at])],
        unranked=sorted(r[by] for r in attributed if r[metric] is None),
        by=by,
        against=against,
        absent=absent,
        selection=selection or Selection(),
    )


def compare_family(
    analysis: Analysis,
    family: str,
    next_n: int,
    *,
    mode: Mode,
    metric: Metric = "downloads_30d",
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
) -> Comparison:
    """Rank the snapshot's groups under ``mode`` and ``selection`` and compare ``family``
    (a family, or a vendor with ``by="vendor"``) with the next N or ``against``."""
    name = analysis.registry.group(by, family)
    ranking = rank_models(analysis, by=by, mode=mode, selection=selection)  # type: ignore[arg-type]
    return compare_families(
        ranking.to_pyarrow().to_pylist(),
        name,
        next_n,
        mode=mode,
        metric=metric,
        snapshot_date=analysis.snapshot_date,
        by=by,
        against=against,
        selection=selection,
    )
