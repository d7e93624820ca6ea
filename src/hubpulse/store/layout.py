"""What a warehouse has published, surveyed: its snapshot links (``snapshots/date=…``) and
series loads, each readable or with what is wrong, and the loads a reader reads, pinned
(``pins``) so that a ``--replace`` or a sweep never removes them under a running question.

A reader's views name the pinned load's files (``loads/<load_id>/…``), never the link: a
snapshot replaced while a question runs is read old or new, whole, never a mix.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from hubpulse.store.health import (
    MODELSCOPE_FILES,
    PRICE_FILES,
    PROVIDER_FILES,
    ROUTER_FILES,
    SERIES_FILES,
    SPACE_FILES,
    published_problem,
)
from hubpulse.store.pins import pin, unpin

LOAD_LOG = "loads.parquet"  # the file a reader pins: every published load has one
AREAS = {
    "series": SERIES_FILES,
    "spaces": SPACE_FILES,
    "router": ROUTER_FILES,
    "providers": PROVIDER_FILES,
    "modelscope": MODELSCOPE_FILES,
    "prices": PRICE_FILES,
}
"""Directories of loads published by renaming (``<area>/<load_id>/``), each with its files."""


def published(root: Path) -> list[Path]:
    """Every ``snapshots/date=YYYY-MM-DD`` link, readable or not (``strays``: the rest)."""
    base = root / "snapshots"
    return [p for p in sorted(base.glob("date=*")) if _dated(p)] if base.is_dir() else []


def strays(root: Path) -> list[str]:
    """Entries of ``snapshots/`` that are no snapshot (``date=garbage``, ``date=2026-13-01``):
    never read, named by ``check``."""
    base = root / "snapshots"
    found = base.iterdir() if base.is_dir() else []
    return sorted(p.name for p in found if not p.name.startswith(".") and not _dated(p))


def version(root: Path) -> tuple[str, ...]:
    """What is published: snapshot links with their loads, series loads, and the builds of the
    published loads' derived tables (an ``analyse --rebuild`` changes it); reads no file."""
    names = [
        f"{area}/{d.name}"
        for area in AREAS
        if (root / area).is_dir()
        for d in sorted((root / area).iterdir())
    ]
    links = [(p.name, Path(os.readlink(p)).name) for p in published(root)]
    links.append(("", "warehouse"))  # the warehouse's own stages (its history)
    builds = [
        f"{load}/{b.name}"
        for _, load in links
        for b in sorted((root / "derived" / load).glob("[!.]*"))
    ]
    return (*(f"{name}>{load}" for name, load in links if name), *names, *builds)


def _dated(link: Path) -> bool:
    if not link.name.startswith("date="):
        return False
    try:
        dt.date.fromisoformat(link.name[5:])
    except ValueError:
        return False
    return True


class Survey:
    """The published snapshots and series loads of ``root`` as of the last ``refresh``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.health: dict[Path, str | None] = {}
        self.area_health: dict[str, dict[Path, str | None]] = {area: {} for area in AREAS}
        self.targets: dict[Path, Path] = {}  # readable link → the load it pointed to, pinned

    def refresh(self) -> None:
        """Survey again (readable or what is wrong) and pin the loads the links point to now,
        letting go of those no longer read."""
        self.health = {p: published_problem(p, self.root) for p in published(self.root)}
        for area, files in AREAS.items():
            base = self.root / area
            loads = sorted(base.glob("[!.]*")) if base.is_dir() else []  # .tmp-… in progress
            self.area_health[area] = {d: published_problem(d, self.root, files) for d in loads}
        before = self.targets
        self.targets = {p: t for p in self.partitions() if (t := self._pinned(p)) is not None}
        for target in set(before.values()) - set(self.targets.values()):
            unpin(target / LOAD_LOG, self)

    def _pinned(self, link: Path) -> Path | None:
        """The load ``link`` points to, pinned (looked up again if a --replace swapped it
        meanwhile); None if it went."""
        for _ in range(5):
            target = link.resolve()
            if target in self.targets.values():
                return target  # pinned already
            if pin(target / LOAD_LOG, self):
                if link.resolve() == target:
                    return target
                unpin(target / LOAD_LOG, self)
        return None

    def release(self) -> None:
        """Let go of every pinned load."""
        for target in self.targets.values():
            unpin(target / LOAD_LOG, self)
        self.targets = {}

    def partitions(self) -> list[Path]:
        """The published snapshot links that can be read."""
        return [p for p, problem in self.health.items() if problem is None]

    @property
    def series_health(self) -> dict[Path, str | None]:
        return self.area_health["series"]

    def series_dirs(self, area: str = "series") -> list[Path]:
        """The loads of ``area`` (series, or spaces) that can be read."""
        return [d for d, problem in self.area_health[area].items() if problem is None]

    def damaged(self) -> list[tuple[dt.date, str]]:
        return [(dt.date.fromisoformat(p.name[5:]), e) for p, e in self.health.items() if e]

    def damaged_series(self) -> list[tuple[str, str]]:
        return [(d.name, e) for d, e in self.series_health.items() if e]

    def left_out(self) -> list[str]:
        """What is damaged and left out, a warning each."""
        return (
            [
                f"snapshot {date} in {self.root} is damaged and left out: {problem} "
                "(`hubpulse check` lists every problem)"
                for date, problem in self.damaged()
            ]
            + [
                f"series load {load_id} in {self.root} is damaged and left out of every history: "
                f"{problem} (remove it with `hubpulse series --remove {load_id}` and import its "
                "file again)"
                for load_id, problem in self.damaged_series()
            ]
            + [
                f"spaces load {d.name} in {self.root} is damaged and left out: {problem} "
                f"(remove the directory {d} and import its file again)"
                for d, problem in self.area_health["spaces"].items()
                if problem
            ]
        )

    def views(
        self, tables: tuple[str, ...], area_tables: dict[str, dict[str, object]]
    ) -> list[tuple[str, list[str]]]:
        """(view name, its Parquet files; none when there is nothing to show) for every table:
        the pinned loads' files, and the readable loads' of each area (series, spaces)."""
        loads = [self.targets[p] for p in self.partitions() if p in self.targets]
        found = [(n, [str(p / f"{n}.parquet") for p in loads]) for n in tables]
        for area, names in area_tables.items():
            dirs = self.series_dirs(area)
            found += [(n, [str(d.absolute() / f"{n}.parquet") for d in dirs]) for n in names]
        return found
