"""The public sources of history ``hubpulse pull`` knows, with the days each covers, so that an
answer with no evidence for a month can say which command would fetch some (``route``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa


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
        if self.first and self.last:
            span = f"{self.first} … {self.last}"
        else:
            span = f"from {self.first}" if self.first else "dated revisions"
        note = f"; {self.note}" if self.note else ""
        return f"`{self.command}` ({self.dataset}, {self.licence}: {self.evidence}, {span}{note})"


HUB_STATS = "cfahlgren1/hub-stats"
CHARACTERIZATION = "harvardMadsys/hf-hub-characterization"
WEEKLY = "hfmlsoc/hub_weekly_snapshots"

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
        WEEKLY,
        "ODbL-1.0",
        "weekly copies of hub-stats: every model's 30-day and all-time downloads",
        "hubpulse pull weekly --from YYYY-MM-DD --to YYYY-MM-DD",
        dt.date(2024, 7, 24),
    ),
    Source(
        HUB_STATS,
        "licence not stated",
        "a daily dump of every model's 30-day and all-time downloads",
        "hubpulse pull hub-stats --date YYYY-MM-DD",
        note="reported taken down in August 2026",
    ),
)


@dataclass(frozen=True)
class Origin:
    """Where a load came from when it is a public dataset's file: the dataset, the file's path
    in it, the revision (commit) read and the dataset's licence, kept in the load log so that
    every output using the load can name them (CC-BY and ODbL require attribution)."""

    dataset: str
    file: str
    revision: str
    licence: str

    def cite(self) -> str:
        return f"{self.dataset} @ {self.revision[:7]} ({self.licence})"


def licence_of(dataset: str) -> str:
    """The licence of a known public ``dataset``."""
    (source,) = (s for s in PUBLIC_HISTORY if s.dataset == dataset)
    return source.licence


def origin(dataset: str, file: str, revision: str) -> Origin:
    """The origin of ``file`` of a known public ``dataset`` at ``revision``."""
    return Origin(dataset, file, revision, licence_of(dataset))


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


_AREA_LOAD_COLUMNS = [
    ("load_id", pa.string()),
    ("first_day", pa.date32()),
    ("last_day", pa.date32()),
    ("file", pa.string()),
    ("file_sha256", pa.string()),
    ("options", pa.string()),
    ("complete", pa.bool_()),
    ("rows", pa.int64()),
    ("rejects", pa.int64()),
    ("dataset", pa.string()),
    ("dataset_file", pa.string()),
    ("revision", pa.string()),
    ("licence", pa.string()),
    ("hubpulse_version", pa.string()),
    ("loaded_at", pa.timestamp("us")),
]
AREA_LOAD_SCHEMA = pa.schema(_AREA_LOAD_COLUMNS)
"""The load log of a load of the Spaces, providers or router area (``store.areas``)."""
