"""Download claims with a second hub: "SUBJECT out-downloads the next N combined" or "SUBJECT
passed X downloads", by all-time downloads on ModelScope (``hub="modelscope"``) or on both
hubs (``"both"``), under grouping (family, vendor) × attribution (publisher, lineage). Scope and
counting stay "all" and "raw": ModelScope serves neither the task tags of the models Hugging
Face lacks nor daily counts, so an LLM scope or robust counting has nothing to read there.

A ModelScope listing covers the owners crawled, so a group's count is exact only in publisher
mode (lineage also counts derivatives under owners never crawled), when every organisation of
the group was crawled and none was cut at the query cap, and, for both hubs, when the Hugging
Face snapshot is not a partial extract. Otherwise it is a lower bound. Hence:

- "at least X": holds when the count reaches X; below it, fails only for an exact count, else
  cannot refute;
- "out-downloads": holds when the subject exceeds a comparison set whose counts are all exact
  (for "the next N", every group's: an undercounted group might belong in the set), else
  undecided; does not exceed: fails only when the subject's count is exact (and, for the next N,
  every group's), else cannot refute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubpulse.analysis.claims.audit import (
    GROUPINGS,
    Audit,
    Definition,
    against_in,
    count_verdict,
    empty_row,
    known_group,
    subject_in,
)
from hubpulse.analysis.claims.comparison import Against
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.analysis.snapshot.hubs import rank_hubs
from hubpulse.errors import NoEvidenceError, NotComparableError, UnknownFamilyError
from hubpulse.registry import UNATTRIBUTED, Registry
from hubpulse.terms import MODES

if TYPE_CHECKING:
    import datetime as dt

    import ibis.expr.types as ir

    from hubpulse.analysis.snapshot.snapshot import Analysis


@dataclass(frozen=True)
class Listing:
    """The ModelScope models of one day, and which owners (lower case) its crawls listed and
    which of them the query cap cut short."""

    rows: ir.Table
    day: dt.date
    owners: frozenset[str]
    cut: frozenset[str]

    def exact(self, registry: Registry, by: str, group: str, mode: str, hf_partial: bool) -> bool:
        """Whether ``group``'s count is exact (see the module docstring)."""
        if mode != "publisher" or group == UNATTRIBUTED or hf_partial:
            return False
        field = "name" if by == "family" else by
        families = [f for f in registry.families if getattr(f, field) == group]
        need = {o.lower() for f in families for o in f.owners("modelscope")}
        need |= {r.split("/")[0].lower() for f in families for r in f.repos}
        return bool(families) and need <= self.owners and not need & self.cut

    def describe(self) -> str:
        cut = f"; cut at the query cap: {', '.join(sorted(self.cut))}" if self.cut else ""
        if not self.owners:
            return f"ModelScope of {self.day} names no owner it lists in full"
        return f"ModelScope of {self.day} lists the owners {', '.join(sorted(self.owners))}{cut}"


def audit_hubs(
    analysis: Analysis,
    listing: Listing,
    subject: str,
    hub: str,
    *,
    against: Against | None = None,
    milestone: int | None = None,
) -> Audit:
    """The claim under the 4 definitions (grouping × attribution), by all-time downloads on
    ``hub`` (modelscope or both); ``milestone``: "passed X", else out-downloads ``against``."""
    registry = analysis.registry
    subject = known_group(registry, subject)
    column = "all_time" if hub == "both" else "ms_all_time"
    what = "Hugging Face + ModelScope" if hub == "both" else "ModelScope"
    hf_partial = hub == "both" and analysis.partial
    rows: list[dict[str, Any]] = []
    for by in GROUPINGS:
        name = subject_in(registry, subject, by)
        for mode in MODES:
            d = Definition(by, mode)
            row: dict[str, Any] = {"definition": d.label, **d.__dict__, "subject": name}
            if name is None:
                rows.append(row | empty_row("not applicable", f"no single family of {subject}"))
                continue
            ranked = rank_hubs(analysis, listing.rows, hub=hub, by=by, mode=mode)  # type: ignore[arg-type]
            ranking = [
                r | {"downloads_all_time": r[column]} for r in ranked.to_pyarrow().to_pylist()
            ]

            def exact(group: str, by: str = by, mode: str = mode) -> bool:
                return listing.exact(registry, by, group, mode, hf_partial)

            if milestone is not None:
                rows.append(row | _milestone_row(ranking, by, name, milestone, exact(name)))
                continue
            vs = against_in(registry, against or Against(), by, name)
            facts = {"mode": mode, "snapshot_date": analysis.snapshot_date, "hub": what}
            rows.append(row | _exceeds_row(ranking, registry, by, name, vs, exact, facts))
    window = (
        f"snapshot {analysis.snapshot_date} + ModelScope of {listing.day} "
        f"(all-time downloads on {what})"
    )
    notes = [
        "ModelScope's download count is treated as all-time (its window is undocumented) and "
        "never added to a 30-day figure",
        listing.describe() + ": a group's count is exact only in publisher mode with all its "
        "organisations listed, else a lower bound that can confirm a claim but not refute it",
        "scope all and raw counting only: ModelScope serves no task tags for the models Hugging "
        "Face lacks and no daily counts",
    ]
    if milestone is not None:
        claim = f"{subject} passed {milestone:,} all-time downloads on {what}"
        return Audit(claim, "milestone", window, rows, notes)
    claim = f"{subject} out-downloads {(against or Against()).label()} combined on {what}"
    return Audit(claim, "exceeds", window, rows, notes)


def _exceeds_row(
    ranking: list[dict[str, Any]],
    registry: Registry,
    by: str,
    name: str,
    vs: Against,
    exact: Callable[[str], bool],
    facts: dict[str, Any],
) -> dict[str, Any]:
    """One definition's row of an out-downloads claim (verdicts: the module docstring)."""
    try:
        found = compare_snapshot_rows(
            ranking, name, vs.next, mode=facts["mode"], metric="downloads_all_time",
            snapshot_date=facts["snapshot_date"], by=by, against=vs,
            hub=f"all-time downloads on {facts['hub']}",
        )  # fmt: skip
    except (UnknownFamilyError, NoEvidenceError) as exc:
        return empty_row("no data", str(exc))
    except NotComparableError as exc:
        return empty_row("not comparable", str(exc))
    others = [r[by] for r in found.rows if r["role"] != "subject"]
    # the next N: any group of the registry may hold models no crawl listed
    everyone = {f.name if by == "family" else getattr(f, by) for f in registry.families}
    settled = all(exact(g) for g in (others if vs.groups else everyone))
    if found.verdict == "exceeds":
        verdict = "holds" if settled else "undecided"
    else:
        verdict = "fails" if exact(name) and settled else "cannot refute"
    return (
        empty_row(verdict, found.sentence)
        | {"rank": found.rank, "value": found.value, "lower": found.value}
        | {"compared": ", ".join(others), "combined": found.combined}
        | {"combined_lower": found.combined, "ratio": found.ratio}
    )


def _milestone_row(
    ranking: list[dict[str, Any]], by: str, name: str, threshold: int, exact: bool
) -> dict[str, Any]:
    found = [r for r in ranking if r[by] == name]
    value = found[0]["downloads_all_time"] if found else None
    if value is None:
        return empty_row("no data", f"{name}: no all-time downloads known on this hub")
    verdict = count_verdict(value, threshold, partial=not exact)
    bound = "" if exact else " (a lower bound)"
    return empty_row(verdict, f"{name} all-time downloads {value:,}{bound} vs {threshold:,}") | {
        "value": value,
        "lower": value,
        "combined": threshold,
        "ratio": value / threshold,
    }
