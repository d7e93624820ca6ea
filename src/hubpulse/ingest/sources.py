"""The public sources of history ``hubpulse pull`` knows, with the days each covers, so that an
answer with no evidence for a month can say which command would fetch some (``route``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A public dataset of Hub history: what it holds, the days it covers (None: not known or
    not limited) and the command that pulls it."""

    dataset: str
    licence: str
    evidence: str
    command: str
    first: dt.date | None = None
    last: dt.date | None = None
    note: str = ""

    def covers(self, first: dt.date, last: dt.date) -> bool:
        """Whether the source holds any day from ``first`` to ``last``."""
        return (self.first is None or self.first <= last) and (
            self.last is None or first <= self.last
        )

    def describe(self) -> str:
        span = f"{self.first} … {self.last}" if self.first and self.last else "dated revisions"
        note = f"; {self.note}" if self.note else ""
        return f"`{self.command}` ({self.dataset}, {self.licence}: {self.evidence}, {span}{note})"


HUB_STATS = "cfahlgren1/hub-stats"
CHARACTERIZATION = "harvardMadsys/hf-hub-characterization"

PUBLIC_HISTORY = (
    Source(
        CHARACTERIZATION,
        "CC-BY-4.0",
        "daily downloads per repo",
        "hubpulse pull characterization",
        dt.date(2025, 2, 28),
        dt.date(2026, 8, 31),
    ),
    Source(
        HUB_STATS,
        "licence not stated",
        "a daily dump of every model's 30-day and all-time downloads",
        "hubpulse pull hub-stats --date YYYY-MM-DD",
        note="reported taken down in August 2026",
    ),
)
OWN_SERIES = "your own daily counts: `hubpulse import-series FILE`"


def snapshot_sources() -> list[str]:
    """The public sources of a dated snapshot (30-day and all-time counts), described."""
    return [s.describe() for s in PUBLIC_HISTORY if "all-time" in s.evidence]


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM`` (already checked by the caller)."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def route(month: str) -> str:
    """The commands that would fetch evidence for ``month``: the public sources covering any
    of its days, then one's own series."""
    first, last = month_days(month)
    found = [s.describe() for s in PUBLIC_HISTORY if s.covers(first, last)]
    return f"evidence for {month} could come from " + "; or ".join([*found, OWN_SERIES])
