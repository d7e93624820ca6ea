"""Comparisons: does a family (or vendor) out-download a comparison set combined — the next N
groups below it, or named groups (``--against``, a named set of ``comparisons.toml``)? What
every comparison shares is here (``Comparison``, ``Against``, the words for a standing); over
one snapshot's 30 days in ``snapshot_comparison`` (``compare_snapshot``), with hard bounds in
one calendar month in ``month_comparison`` (``compare_month``).

Every result names what it compared: the grouping, the subject's rank, the groups ranked above
it, the groups compared with (their ranks), those left unranked for want of data, those of the
set with no models, the snapshot or month, the mode and the selection of models counted, in its
``sentence`` and in ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubpulse.analysis.snapshot.selection import Selection
from hubpulse.errors import NotComparableError, OptionError, UnknownFamilyError
from hubpulse.terms import Mode


@dataclass(frozen=True)
class Against:
    """What a subject is compared with: the ``next`` N groups ranked below it, or the named
    ``groups`` (a named set when ``name`` is given)."""

    next: int = 8
    groups: tuple[str, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        # A group named twice (in any case) is compared once, as an audit does.
        seen: dict[str, str] = {}
        for g in self.groups:
            seen.setdefault(g.lower(), g)
        object.__setattr__(self, "groups", tuple(seen.values()))

    def refuse(self, subject: str) -> None:
        """Refuse a set that holds its own ``subject``: a group cannot out-download itself."""
        if subject.lower() in (g.lower() for g in self.groups):
            raise OptionError(
                f"{subject!r} is the subject of the comparison; "
                f"--against must name other groups (it named {self.label()})"
            )

    def label(self) -> str:
        if not self.groups:
            return f"the next {self.next}" + (f" ({self.name} set)" if self.name else "")
        shown = ", ".join(self.groups)
        return f"{shown} ({self.name} set)" if self.name else shown

    def describe(self, ranks: list[int | None], found: int, gaps: dict[str, list[str]]) -> str:
        """The comparison set in words: the groups (or how many of the next N asked were found),
        the ranks they hold, and ``gaps``, the set's groups left out or counted apart, by
        reason ("no models (0)": an exact zero)."""
        shown = [str(r) for r in ranks if r]
        notes = [f"{why}: {', '.join(names)}" for why, names in gaps.items() if names]
        if not self.groups:
            span = f"ranks {shown[0]}–{shown[-1]}" if shown else "no group below"
            short = f"; {self.next} asked, only {found} ranked below" if found < self.next else ""
            return f"the next {found} ({span}{short})"
        where = f"ranks {', '.join(shown)}" if shown else "none ranked"
        return f"{self.label()} ({'; '.join([where, *notes])})"

    def pick(
        self, ordered: list[dict[str, Any]], at: int, key: str
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The rows compared with ``ordered[at]`` (the next N below it, or the set's groups
        found in ``ordered``) and the set's groups not found."""
        if not self.groups:
            return ordered[at + 1 : at + 1 + self.next], []
        self.refuse(ordered[at][key])
        where = {r[key].lower(): r for r in ordered}
        found = [where[g.lower()] for g in self.groups if g.lower() in where]
        return found, [g for g in self.groups if g.lower() not in where]


def nothing_to_compare(subject: str, when: str, against: Against, why: str) -> NotComparableError:
    """The error of a comparison with an empty set: which set, when, and why it is empty."""
    return NotComparableError(
        f"{subject} cannot be compared with {against.label()} in {when}: {why}; "
        "a comparison with nothing to compare against is not a verdict"
    )


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """What every comparison holds: its ``subject`` (a family, or a vendor under ``by="vendor"``),
    the mode and selection it counted under, the subject's rank and the groups ranked above it,
    the compared groups (``rows``, the subject first), those with no data left unranked, and the
    comparison set (``against``, ``next_n`` of its groups found, ``absent`` named groups not)."""

    subject: str
    mode: Mode
    next_n: int
    rank: int | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    above: list[dict[str, Any]] = field(default_factory=list)
    unranked: list[str] = field(default_factory=list)
    by: str = "family"
    against: Against = field(default_factory=Against)
    absent: list[str] = field(default_factory=list)
    selection: Selection = field(default_factory=Selection)
    thin: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scope(self) -> str:
        """The selection in words, for a sentence ("" when every model counts)."""
        return "" if self.selection.everything else f"; {self.selection.describe()}"

    def common_fields(self, **when: Any) -> dict[str, Any]:
        """``to_dict``'s fields every comparison has (the subject under its grouping's name),
        with ``when`` (the snapshot or month compared) after the mode."""
        return {
            "by": self.by,
            self.by: self.subject,
            "mode": self.mode,
            **when,
            "next_n": self.next_n,
            **set_fields(self.against, self.absent, self.selection),
            "asked": None if self.against.groups else self.against.next,
            "rank": self.rank,
            "low_coverage": self.thin,
        }


def set_fields(against: Against, absent: list[str], selection: Selection) -> dict[str, Any]:
    return {
        "against": list(against.groups) or None,
        "against_set": against.name,
        "absent": absent,
        "selection": selection.to_dict(),
    }


def standing(
    rank: int | None,
    above: list[dict[str, Any]],
    unranked: list[str],
    thin: list[dict[str, Any]] | None = None,
    minimum: float = 0.0,
    coverage: float | None = None,
) -> str:
    """Where a compared group stands, in words: "ranked 3rd, below Mistral and Llama"; groups
    covered below ``minimum`` (``thin``: name, estimate, coverage) are named apart, and a
    subject that is itself (``rank`` None, its ``coverage``) is "not ranked"."""
    names = [str(a.get("family") or a.get("vendor")) for a in above]
    if rank is None:
        where = f"not ranked: {coverage or 0:.0%} covered, below the {minimum:.0%} needed"
        if names:
            where += f"; {len(names)} ranked above it"
    else:
        where = f"ranked {_ordinal(rank or 0)}"
        if names:
            shown = names if len(names) <= 4 else [*names[:4], f"{len(names) - 4} more"]
            last = shown.pop()
            where += ", below " + (f"{', '.join(shown)} and {last}" if shown else last)
    if thin:
        listed = ", ".join(f"{t['name']} ({t['coverage']:.0%})" for t in thin[:4])
        more = f" and {len(thin) - 4} more" if len(thin) > 4 else ""
        where += f"; not ranked for coverage below {minimum:.0%}: {listed}{more}"
    if unranked:
        where += f"; {len(unranked)} with no data not ranked"
    return where


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def missing_group(by: str, name: str, why: str) -> UnknownFamilyError:
    return UnknownFamilyError(f"{by} {name!r} {why}")
