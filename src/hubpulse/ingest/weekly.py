"""The weekly public history: ``hfmlsoc/hub_weekly_snapshots`` (ODbL-1.0), weekly copies of
the hub-stats dump since 2024-07-24, listed and checked with huggingface_hub.

Layout (its builder, ``hub_download.py``): ``models/<YYYY-MM-DD>/models.parquet``, where the date
labels a week starting that day and the file is the newest hub-stats ``models.parquet`` committed
before the next week starts. So a file is the dump of some day up to six days after its label —
or earlier, when no dump was committed that week and the builder reused an older one. The dump's
own day is read from the file (its newest ``lastModified``, as for any hub-stats dump) and checked
against the label: a dump dated after its week ended contradicts the layout and is not loaded.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hubpulse.ingest.connection import Limits, connect
from hubpulse.ingest.hub import Hub, HubError, dataset_gone
from hubpulse.ingest.sources import WEEKLY

WEEK_FILE = re.compile(r"^models/(\d{4}-\d{2}-\d{2})/models\.parquet$")
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Week:
    """One week's models file: its label (the week's first day), path in the dataset, size in
    bytes and SHA-256 (the LFS object id; None for a file kept in git)."""

    label: dt.date
    path: str
    size: int | None = None
    sha256: str | None = None

    @property
    def last_day(self) -> dt.date:
        return self.label + WEEK - dt.timedelta(days=1)


def list_weeks(hub: Hub, revision: str) -> list[Week]:
    """Every week's models file at ``revision``, oldest first (one paginated tree listing)."""
    try:
        entries = list(
            hub.api.list_repo_tree(
                WEEKLY, "models", recursive=True, revision=revision, repo_type="dataset"
            )
        )
    except (RepositoryNotFoundError, HfHubHTTPError) as exc:
        raise dataset_gone(hub, WEEKLY, exc) from None
    weeks = []
    for entry in entries:
        found = WEEK_FILE.match(entry.path)
        if found is None or not hasattr(entry, "size"):
            continue
        lfs = getattr(entry, "lfs", None)
        sha = lfs.sha256 if lfs is not None else None
        weeks.append(Week(dt.date.fromisoformat(found[1]), entry.path, entry.size, sha))
    if not weeks:
        raise HubError(f"{WEEKLY} at {revision[:7]} holds no models/<YYYY-MM-DD>/models.parquet")
    return sorted(weeks, key=lambda w: w.label)


def choose_weeks(
    weeks: list[Week], first: dt.date | None, last: dt.date | None
) -> tuple[list[Week], list[dt.date]]:
    """The weeks whose files cover ``first`` … ``last`` (default: all), with the week before and
    the week after, so that the range's first and last days are bracketed by counters on both
    sides; and the labels missing from the dataset in between (a gap in the weekly cadence)."""
    first = first or weeks[0].label
    last = last or weeks[-1].last_day
    inside = [i for i, w in enumerate(weeks) if w.last_day >= first and w.label <= last]
    if not inside:
        held = f"{weeks[0].label} … {weeks[-1].label}"
        raise HubError(f"{WEEKLY} has no week between {first} and {last} (weeks {held})")
    chosen = weeks[max(inside[0] - 1, 0) : inside[-1] + 2]
    missing = []
    for before, after in itertools.pairwise(chosen):
        label = before.label + WEEK
        while label < after.label:
            missing.append(label)
            label += WEEK
    return chosen, missing


def dump_day(path: Path, limits: Limits | None = None) -> dt.date | None:
    """The day a hub-stats dump was taken: its newest ``lastModified`` (None if it has none),
    read from that one column."""
    con = connect(limits)
    try:
        (newest,) = con.execute(
            "select max(lastModified) from read_parquet(?)", [str(path)]
        ).fetchone()  # type: ignore[misc]
    except Exception as exc:  # the engine's own error types are not part of our API
        raise HubError(f"{path}: cannot read lastModified ({exc})") from None
    finally:
        con.close()
    return newest.date() if newest is not None else None


def week_problem(week: Week, day: dt.date | None) -> str | None:
    """Why a week's file cannot be the dump its label says (None when it can)."""
    if day is None:
        return f"{week.path}: no lastModified, so the dump's day is unknown"
    if day > week.last_day:
        return (
            f"{week.path}: its newest lastModified is {day}, after the week it is filed under "
            f"ended ({week.last_day})"
        )
    return None
