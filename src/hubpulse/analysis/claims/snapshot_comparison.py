"""Claims over one snapshot's 30 days: does a family (or vendor) out-download a comparison set
combined (``compare_snapshot``)? Every result names what it compared: the grouping, the
subject's rank, the groups ranked above it, the groups compared with (their ranks), those left
unranked for want of data, those of the set with no models, the snapshot, the mode and the
selection of models counted, in its ``sentence`` and in ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hubpulse.analysis.claims.comparison import (
    Against,
    Comparison,
    missing_group,
    nothing_to_compare,
    standing,
)
from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.registry import UNATTRIBUTED
from hubpulse.terms import Metric, Mode


@dataclass(frozen=True, kw_only=True)
class SnapshotComparison(Comparison):
    """A group's downloads in one snapshot against the combined total of a comparison set."""

    metric: Metric
    snapshot_date: dt.date
    value: int
    combined: int
    hub: str = ""  # "" for Hugging Face alone; else what the all-time counts add up

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
        ranks = [r["rank"] for r in self.rows if r["role"] != "subject"]
        blank = [a for a in self.absent if a in self.unranked]
        gaps = {
            f"no {self.metric} figure, left out": blank,
            "no models (0)": [a for a in self.absent if a not in blank],
        }
        return self.against.describe(ranks, self.next_n, gaps)

    @property
    def sentence(self) -> str:
        """The comparison in one sentence that names what it compared."""
        ratio = f" ({self.ratio:.2f}×)" if self.ratio is not None else ""
        return (
            f"{self.subject} ({standing(self.rank, self.above, self.unranked)}) "
            f"{self.metric} {self.value:,} {self.verdict} {self.compared} combined "
            f"{self.combined:,}: margin {self.margin:+,}{ratio} "
            f"[snapshot {self.snapshot_date}, by {self.by}, {self.mode} mode{self.scope}"
            f"{'; ' + self.hub if self.hub else ''}]"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.common_fields(metric=self.metric, snapshot_date=self.snapshot_date.isoformat()),
            "value": self.value,
            "hub": self.hub or "Hugging Face",
            "combined_next": self.combined,
            "verdict": self.verdict,
            "margin": self.margin,
            "ratio": self.ratio,
            "sentence": self.sentence,
            "above": self.above,
            "unranked": self.unranked,
            "families": self.rows,
        }


def compare_snapshot_rows(
    ranking: list[dict[str, Any]],
    subject: str,
    next_n: int,
    *,
    mode: Mode,
    metric: Metric,
    snapshot_date: dt.date,
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
    hub: str = "",
) -> SnapshotComparison:
    """Compare ``family`` (a group of ``by``) with the ``next_n`` groups ranked below it by
    ``metric``, or ``against``'s; ``ranking``: ``rank_models(by=by)`` (or ``rank_hubs``)."""
    against = against or Against(next=next_n)
    attributed = [r for r in ranking if r[by] != UNATTRIBUTED]
    known = (r for r in attributed if r[metric] is not None)
    ordered = sorted(known, key=lambda r: (-r[metric], r[by]))
    names = [r[by].lower() for r in ordered]
    if subject.lower() not in names:
        held = any(r[by].lower() == subject.lower() for r in attributed)
        what = f"has no {metric} figure" if held else "has no models"
        raise missing_group(
            by, subject, f"{what} in the {snapshot_date} snapshot under {mode} mode"
        )
    at = names.index(subject.lower())
    own = ordered[at]
    compared, absent = against.pick(ordered, at, by)
    if not compared:
        why = f"none of its groups has models ({', '.join(absent)})" if against.groups else ""
        raise nothing_to_compare(
            own[by], f"the {snapshot_date} snapshot", against, why or "no group is ranked below it"
        )
    rank_of = {r[by].lower(): i + 1 for i, r in enumerate(ordered)}
    compared.sort(key=lambda r: rank_of[r[by].lower()])
    role = "compared" if against.groups else "next"
    rows = [
        {"role": role if i else "subject", "rank": rank_of[r[by].lower()], by: r[by]}
        | {metric: int(r[metric])}
        for i, r in enumerate([own, *compared])
    ]
    return SnapshotComparison(
        subject=own[by],
        mode=mode,
        metric=metric,
        next_n=len(compared),
        snapshot_date=snapshot_date,
        rank=at + 1,
        value=int(own[metric]),
        combined=sum(int(r[metric]) for r in compared),
        rows=rows,
        above=[{"rank": i + 1, by: r[by], metric: r[metric]} for i, r in enumerate(ordered[:at])],
        unranked=sorted(r[by] for r in attributed if r[metric] is None),
        by=by,
        against=against,
        absent=absent,
        selection=selection or Selection(),
        hub=hub,
    )


def compare_snapshot(
    analysis: Analysis,
    subject: str,
    next_n: int,
    *,
    mode: Mode,
    metric: Metric = "downloads_30d",
    by: str = "family",
    against: Against | None = None,
    selection: Selection | None = None,
) -> SnapshotComparison:
    """Rank the snapshot's groups under ``mode`` and ``selection`` and compare ``family``
    (a subject, or a vendor with ``by="vendor"``) with the next N or ``against``."""
    name = analysis.registry.group(by, subject)
    ranking = rank_models(analysis, by=by, mode=mode, selection=selection)  # type: ignore[arg-type]
    return compare_snapshot_rows(
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
