"""Audit: one claim checked under every reasonable definition, so a reader sees which
definitions it holds under and which it does not.

Three kinds of claim, each over a grid of definitions:

- **exceeds** — "SUBJECT's downloads exceeded the next N (or these groups) combined", over a
  snapshot's 30 days or a calendar month: grouping (family, vendor) × attribution (publisher,
  lineage) × scope (all models, LLMs only) × counting (raw, robust) — 16 definitions;
- **milestone** — "SUBJECT passed X all-time downloads" by the snapshot: the same 16;
- **derivatives** — "SUBJECT has X+ derivatives": grouping × depth (direct: a child of a
  first-party repo; transitive: any descendant) × quantized copies (with, without) × download
  floor (none, ``floor``) — 16, each with its count by relation.

A subject named as a family is its vendor under vendor grouping; a vendor is its family under
family grouping when it has exactly one (otherwise those definitions are not applicable). A
named set of vendors becomes their families under family grouping, and a set of families their
vendors under vendor grouping.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubpulse.analysis.claims.comparison import Against
from hubpulse.analysis.claims.month_comparison import compare_month
from hubpulse.analysis.claims.snapshot_comparison import compare_snapshot_rows
from hubpulse.analysis.snapshot.ranking import audit_rankings
from hubpulse.analysis.snapshot.selection import COUNTS, Selection
from hubpulse.errors import NoEvidenceError, NotComparableError, UnknownFamilyError
from hubpulse.ingest.sources import snapshot_sources
from hubpulse.registry import MODES, Registry
from hubpulse.terms import Mode

if TYPE_CHECKING:
    from hubpulse.analysis.history.history import History
    from hubpulse.analysis.snapshot.snapshot import Analysis

GROUPINGS = ("family", "vendor")
VERDICTS = (
    "holds",
    "fails",
    "cannot refute",
    "undecided within error",
    "undecided",
    "not comparable",
    "no data",
    "not applicable",
)
"""Every verdict an audit row can carry: *cannot refute* is a count below the claim on a
partial extract (a lower bound, which confirms "at least N" but never refutes it); *not
comparable*, a comparison with nothing to compare against."""
SCOPES = ("all", "llm")


@dataclass(frozen=True)
class Definition:
    """One way to read a claim."""

    by: str
    mode: Mode = "lineage"
    scope: str = "all"
    count: str = "raw"

    def selection(self, base: Selection) -> Selection:
        return Selection(
            tasks=base.tasks,
            llm=self.scope == "llm",
            exclude=base.exclude,
            count=self.count,  # type: ignore[arg-type]
            thresholds=base.thresholds,
        )

    @property
    def label(self) -> str:
        return f"{self.by}/{self.mode}/{self.scope}/{self.count}"


def grid() -> list[Definition]:
    """The 16 definitions of an exceeds or milestone claim."""
    return [Definition(*d) for d in itertools.product(GROUPINGS, MODES, SCOPES, COUNTS)]


@dataclass(frozen=True)
class Audit:
    """A claim, and its figures and verdict under each definition."""

    claim: str
    kind: str
    window: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tally(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for row in self.rows:
            out.setdefault(row["verdict"], []).append(row["definition"])
        return out

    @property
    def headline(self) -> str:
        """The tally alone: "holds under 6 of 16 definitions, fails under 10"."""
        total = len(self.rows)
        parts = [f"{v} under {len(w)}" for v, w in self.tally.items()]
        return f"{self.claim}: " + ", ".join(parts) + f" of {total} definitions"

    @property
    def summary(self) -> str:
        """ "holds under 5 of 16 definitions: …; fails under …"."""
        total = len(self.rows)
        parts = []
        for verdict in VERDICTS:
            where = self.tally.get(verdict)
            if where:
                parts.append(f"{verdict} under {len(where)} of {total}: {', '.join(where)}")
        return f"{self.claim} [{self.window}] — " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "kind": self.kind,
            "window": self.window,
            "summary": self.summary,
            "headline": self.headline,
            "tally": {k: len(v) for k, v in self.tally.items()},
            "definitions": self.rows,
            "notes": self.notes,
        }


def subject_in(registry: Registry, subject: str, by: str) -> str | None:
    """``subject`` (a family or vendor name) under grouping ``by``; None: not applicable."""
    families = {f.name.lower(): f for f in registry.families}
    if by == "vendor":
        if subject.lower() in families:
            return families[subject.lower()].vendor
        return registry.group("vendor", subject)
    if subject.lower() in families:
        return families[subject.lower()].name
    vendor = registry.group("vendor", subject)
    own = [f.name for f in registry.families if f.vendor == vendor]
    return own[0] if len(own) == 1 else None


def against_in(registry: Registry, against: Against, by: str, subject: str) -> Against:
    """``against`` translated to grouping ``by`` (see the module docstring)."""
    if not against.groups:
        return against
    groups: list[str] = []
    for name in against.groups:
        for f in registry.families:
            if name in (f.name, f.vendor):
                value = f.name if by == "family" else f.vendor
                if value not in groups and value != subject:
                    groups.append(value)
    return Against(next=against.next, groups=tuple(groups), name=against.name)


def known_group(registry: Registry, subject: str) -> str:
    """``subject`` in the registry's spelling (a family, else a vendor); an error naming the
    known families when it is neither."""
    for f in registry.families:
        if subject.lower() == f.name.lower():
            return f.name
    for f in registry.families:
        if subject.lower() == f.vendor.lower():
            return f.vendor
    raise UnknownFamilyError(
        f"{subject!r} is neither a family nor a vendor; families: "
        + ", ".join(f.name for f in registry.families)
    )


def audit_exceeds(
    analyses: dict[Mode, Analysis],
    subject: str,
    against: Against,
    *,
    histories: dict[Mode, History] | None = None,
    month: str | None = None,
    base: Selection | None = None,
    rankings: Rankings | None = None,
) -> Audit:
    """The claim "``subject`` exceeded ``against`` combined" under the 16 definitions, over
    the snapshot (``analyses``: one per mode, same snapshot) or, with ``month`` and
    ``histories`` (one per mode, unrestricted), over that calendar month. ``rankings`` keeps
    each definition's snapshot ranking for the next audit of the same snapshot."""
    rankings = {} if rankings is None else rankings
    base = base or Selection()
    analysis = next(iter(analyses.values()))
    registry = analysis.registry
    subject = known_group(registry, subject)
    against.refuse(subject)
    window = f"month {month}" if month else f"snapshot {analysis.snapshot_date} (30 days)"
    rows: list[dict[str, Any]] = []
    for d, name, row in _definitions(registry, subject, rows):
        vs_d = against_in(registry, against, d.by, name)
        selection = d.selection(base)
        try:
            if month and histories is not None:
                history = histories[d.mode].restricted(selection, analysis)
                monthly = compare_month(
                    history, name, against.next, month, by=d.by, against=vs_d, selection=selection
                )
                rows.append(row | _monthly_row(monthly))
            else:
                snapshot = compare_snapshot_rows(
                    _ranking(rankings, analyses, d, base),
                    name,
                    against.next,
                    mode=d.mode,
                    metric="downloads_30d",
                    snapshot_date=analysis.snapshot_date,
                    by=d.by,
                    against=vs_d,
                    selection=selection,
                )
                rows.append(row | _snapshot_row(snapshot, analysis.partial))
        except (UnknownFamilyError, NoEvidenceError) as exc:
            rows.append(row | empty_row("no data", str(exc)))
        except NotComparableError as exc:
            rows.append(row | empty_row("not comparable", str(exc)))
    claim = f"{subject} out-downloads {against.label()} combined"
    notes = [f"robust thresholds: {base.thresholds.describe()}"]
    if month and histories is not None and any(r["verdict"] == "no data" for r in rows):
        history = next(iter(histories.values()))
        if month not in history.held():
            notes.append(history.route(month))
    if not month and analysis.partial:
        notes.append(PARTIAL_NOTE)
    return Audit(claim, "exceeds", window, rows, notes)


PARTIAL_NOTE = (
    "partial extract: its counts are lower bounds of the Hub's, so a count below the claim "
    "cannot refute it (cannot refute), only one above can confirm it"
)


def count_verdict(value: int, threshold: int, partial: bool) -> str:
    """A count against a claimed "at least ``threshold``": holds when it reaches it; below it,
    fails on a full snapshot but only "cannot refute" on a partial extract (a lower bound)."""
    if value >= threshold:
        return "holds"
    return "cannot refute" if partial else "fails"


Rankings = dict[Any, list[dict[str, Any]]]


def _ranking(
    rankings: Rankings, analyses: dict[Mode, Analysis], d: Definition, base: Selection
) -> list[dict[str, Any]]:
    """The snapshot's ranking under definition ``d``, computed once per audit run, with the
    seven others of its mode in one query (``audit_rankings``)."""
    key = (d.mode, d.by, d.selection(base))
    if key not in rankings:
        selections = {e.selection(base) for e in grid() if e.mode == d.mode}
        found = audit_rankings(analyses[d.mode], d.mode, selections)
        rankings.update({(d.mode, b, s): rows for (b, s), rows in found.items()})
    return rankings[key]


def _definitions(
    registry: Registry, subject: str, rows: list[dict[str, Any]]
) -> Iterator[tuple[Definition, str, dict[str, Any]]]:
    """Each definition of the grid with the subject's name under it and the start of its row;
    a definition the subject has no group under gets its "not applicable" row in ``rows``."""
    for d in grid():
        name = subject_in(registry, subject, d.by)
        row: dict[str, Any] = {"definition": d.label, **d.__dict__, "subject": name}
        if name is None:
            rows.append(row | empty_row("not applicable", f"no single family of {subject}"))
        else:
            yield d, name, row


def empty_row(verdict: str, reason: str) -> dict[str, Any]:
    return {
        "rank": None,
        "value": None,
        "lower": None,
        "upper": None,
        "compared": None,
        "combined": None,
        "combined_lower": None,
        "combined_upper": None,
        "ratio": None,
        "verdict": verdict,
        "sentence": reason,
    }


def _snapshot_row(result: Any, partial: bool) -> dict[str, Any]:
    refuted = partial and result.verdict != "exceeds"
    verdict = "holds" if result.verdict == "exceeds" else "cannot refute" if partial else "fails"
    compared = [r[result.by] for r in result.rows if r["role"] != "subject"]
    return {
        "value": result.value,
        "lower": result.value,
        "upper": result.value,
        "rank": result.rank,
        "compared": ", ".join(compared),
        "combined": result.combined,
        "combined_lower": result.combined,
        "combined_upper": result.combined,
        "ratio": result.ratio,
        "verdict": verdict,
        "sentence": result.sentence + (" (partial extract: cannot refute)" if refuted else ""),
    }


def _monthly_row(result: Any) -> dict[str, Any]:
    compared = [r[result.by] for r in result.rows if r["role"] != "subject"]
    value, combined = result.value, result.combined
    ratio = (
        value["estimate"] / combined["estimate"]
        if value["estimate"] is not None and combined["estimate"]
        else None
    )
    return {
        "value": value["estimate"],
        "lower": value["lower"],
        "upper": value["upper"],
        "rank": result.rank,
        "compared": ", ".join(compared),
        "combined": combined["estimate"],
        "combined_lower": combined["lower"],
        "combined_upper": combined["upper"],
        "ratio": ratio,
        "verdict": result.verdict,
        "sentence": result.sentence,
    }


def audit_milestone(
    analyses: dict[Mode, Analysis],
    subject: str,
    threshold: int,
    base: Selection | None = None,
    as_of: str | None = None,
) -> Audit:
    """The claim "``subject`` passed ``threshold`` all-time downloads" by the snapshot (for a
    claim dated ``as_of`` a month, the newest snapshot on or before its end), under the 16
    definitions (all-time counts the source did not serve are no data; on a partial extract
    a count below the threshold cannot refute the claim)."""
    base = base or Selection()
    analysis = next(iter(analyses.values()))
    registry = analysis.registry
    subject = known_group(registry, subject)
    rows: list[dict[str, Any]] = []
    rankings: Rankings = {}
    for d, name, row in _definitions(registry, subject, rows):
        ranking = _ranking(rankings, analyses, d, base)
        found = [r for r in ranking if r[d.by] == name]
        value = found[0]["downloads_all_time"] if found else None
        if value is None:
            rows.append(row | empty_row("no data", f"{name}: no all-time downloads known"))
            continue
        verdict = count_verdict(value, threshold, analysis.partial)
        bound = " (a partial extract's lower bound)" if verdict == "cannot refute" else ""
        rows.append(
            row
            | empty_row(verdict, f"{name} all-time downloads {value:,}{bound} vs {threshold:,}")
            | {"value": value, "lower": value, "upper": value, "combined": threshold}
            | {"ratio": value / threshold}
        )
    window = f"snapshot {analysis.snapshot_date} (all-time counts)"
    if as_of:
        window += f", the newest on or before the end of {as_of}"
    notes = [f"robust thresholds: {base.thresholds.describe()}"]
    return Audit(_milestone_claim(subject, threshold, as_of), "milestone", window, rows, notes)


def undecided_milestone(
    registry: Registry, subject: str, threshold: int, as_of: str, end: str, held: list[str]
) -> Audit:
    """A milestone claim dated ``as_of`` (ending ``end``) with no snapshot on or before that
    date: undecided under every definition, naming the snapshots ``held`` and what evidence
    would settle it."""
    subject = known_group(registry, subject)
    rows: list[dict[str, Any]] = []
    later = f"the warehouse's snapshots ({', '.join(held)}) are all later" if held else "none"
    why = (
        f"no snapshot on or before {end}: {later}, and a later all-time count cannot date the "
        "crossing"
    )
    for _, _, row in _definitions(registry, subject, rows):
        rows.append(row | empty_row("undecided", why))
    settle = f"a snapshot dated on or before {end} would settle it: " + "; or ".join(
        [*snapshot_sources(), "`hubpulse ingest FILE --date YYYY-MM-DD` of a dump"]
    )
    claim = _milestone_claim(subject, threshold, as_of)
    return Audit(claim, "milestone", f"as of {end} (no snapshot)", rows, [why, settle])


def _milestone_claim(subject: str, threshold: int, as_of: str | None) -> str:
    when = f" by the end of {as_of}" if as_of else ""
    return f"{subject} passed {threshold:,} all-time downloads{when}"
