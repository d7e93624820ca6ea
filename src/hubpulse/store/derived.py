"""Derived tables: what a snapshot implies, stored beside it so that questions only read.

The store knows where derived tables live and how they are published; the analysis modules
know what they hold and how they are computed. ``ensure_stage`` is the one way a stage is had:
find it → take the build lock → look again (another process may have built it meanwhile) →
build and publish; ``load_stage`` adds reading it, and building it again once when a stored
table cannot be read. Layout::

    <root>/derived/<load_id>/<stage>-<key>-<build>/<table>.parquet   one build of a stage
    <root>/derived/<load_id>/<stage>-<key>-<build>/meta.json         what it was built from, when
    <root>/derived/<load_id>/.build.lock                      one builder per snapshot at a time

``key`` is a digest of everything the stage depends on (the snapshot's load, the family
registry's content, the rules' version, ...), so a changed input is simply a different directory.
A stage is written under ``.tmp-…`` and published by renaming the directory, so a build killed at
any point leaves nothing half-written in view; leftovers are swept by the next holder of the
build lock. ``build`` is the time of the build, so a forced rebuild is a new directory and the
newest build of a key is the one read. The ``KEEP`` most recent builds of each stage are kept
(switching between two registries does not rebuild every time), and older ones are removed
unless a reader pins them (``pins``); a snapshot's derived tables go when its load is swept.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow.parquet as pq

from hubpulse.errors import DerivedDamagedError, first_line
from hubpulse.ingest.files import bundled_aliases_text
from hubpulse.store.durable import fsync_dir, staged
from hubpulse.store.engines import register_views
from hubpulse.store.names import DERIVED, META
from hubpulse.store.pins import claimed, pin, unpin
from hubpulse.store.writers import Writer

KEEP = 3
log = logging.getLogger("hubpulse")


def digest(parts: Any) -> str:
    """A short stable digest of JSON-serialisable ``parts``."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Stage:
    """One published stage: its directory and what ``meta.json`` says about it."""

    directory: Path
    meta: dict[str, Any]

    def path(self, table: str) -> Path:
        return self.directory / f"{table}.parquet"

    def files(self, table: str) -> list[Path]:
        """The Parquet files holding ``table``: its file, or those in its directory (a table
        written in parts, ``writers.partitioned_writer``), in name order."""
        path = self.path(table)
        return sorted(path.glob("*.parquet")) if path.is_dir() else [path]

    def holds(self, table: str) -> bool:
        """Whether ``table`` was written (a file, or a directory of at least one file)."""
        path = self.path(table)
        return path.is_file() or (path.is_dir() and any(path.glob("*.parquet")))


@dataclass(frozen=True)
class StageSpec:
    """What a stage is and how it is built: its name, key and tables, and ``build`` — called
    under the build lock only when the stage is missing — returning a writer per table (each
    computed in its turn) and what ``meta.json`` records beside the key and build time.
    ``subject`` names what it is of ("snapshot 2026-01-01"), ``inputs`` what a changed key
    means and ``label`` the stage in words, for the one line that says why a build happens;
    ``meta_types`` the fields of ``meta.json`` its readers use, with their types."""

    name: str
    key: str
    tables: tuple[str, ...]
    build: Callable[[], tuple[dict[str, Writer], dict[str, Any]]] = field(compare=False)
    subject: str = ""
    inputs: str = "its inputs"
    label: str = ""
    meta_types: tuple[tuple[str, type], ...] = ()  # what its readers take from meta.json

    @property
    def called(self) -> str:
        """The stage in words ("the flag signals"; by default its name)."""
        return self.label or self.name


def aliases_digest(con: Any, table: str = "aliases") -> str:
    """A digest of the known renames (the observed ``table`` of DuckDB backend ``con`` plus the
    bundled list): what a stored lineage depends on. Plain SQL, so it costs milliseconds."""
    observed = None
    if table in con.list_tables():
        pairs = f'SELECT DISTINCT old_id || chr(31) || new_id AS p FROM "{table}"'
        query = f"SELECT md5(coalesce(string_agg(p, chr(30) ORDER BY p), '')) FROM ({pairs})"
        observed = con.raw_sql(query).fetchone()[0]
    return digest([observed, bundled_aliases_text()])


def load_dir(root: Path, load_id: str) -> Path:
    return root / DERIVED / load_id


def find_stage(root: Path, load_id: str, spec: StageSpec) -> Stage | None:
    """The newest published build of ``spec`` (its name and key) for the load, or None; a build
    that lacks one of its tables (written by a version of hubpulse that stored other tables)
    or whose ``meta.json`` is not what a build writes counts as missing."""
    base = load_dir(root, load_id)
    builds = sorted(base.glob(f"{spec.name}-{spec.key}-*"), reverse=True) if base.is_dir() else []
    for directory in builds:  # the newest build first (build ids grow with time)
        try:
            meta = json.loads((directory / META).read_text())
        except (OSError, ValueError):
            continue
        found = Stage(directory, meta)
        if _sound(meta, spec) and all(found.holds(t) for t in spec.tables):
            return found
    return None


def _sound(meta: Any, spec: StageSpec) -> bool:
    """Whether ``meta`` is what a build of ``spec`` writes: an object naming the stage and its
    key, with each of ``spec.meta_types`` of its type."""
    return (
        isinstance(meta, dict)
        and meta.get("stage") == spec.name
        and meta.get("key") == spec.key
        and all(isinstance(meta.get(f), kind) for f, kind in spec.meta_types)
    )


def other_builds(root: Path, load_id: str, stage: str, key: str) -> list[Path]:
    """Published builds of ``stage`` for the load under another key."""
    base = load_dir(root, load_id)
    found = base.glob(f"{stage}-*") if base.is_dir() else []
    return [d for d in found if not d.name.startswith(f"{stage}-{key}-")]


_held = threading.local()


@contextlib.contextmanager
def build_lock(root: Path, load_id: str) -> Iterator[None]:
    """One builder per snapshot: a second process asking for the same tables waits here, then
    finds them published. Whoever takes it sweeps what a killed build left (``.tmp-*``: no
    builder can hold them then). Re-entrant within a thread, so a caller that builds several stages
    as one (``analyse``) holds it across them and a racer finds them all published."""
    base = load_dir(root, load_id)
    held: set[Path] = _held.__dict__.setdefault("paths", set())
    if base in held:
        yield
        return
    base.mkdir(parents=True, exist_ok=True)
    with (base / ".build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        for stale in base.glob(".tmp-*"):  # left by a killed build: no builder holds them now
            shutil.rmtree(stale, ignore_errors=True)
        held.add(base)
        try:
            yield
        finally:
            held.discard(base)
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_stage(
    root: Path, load_id: str, spec: StageSpec, *, rebuild: bool = False
) -> tuple[Stage, bool]:
    """The published stage of ``spec`` for the load and whether this call built it: found as
    published, or built under the build lock after looking again (a second process asking for
    the same stage waits, then finds it). ``rebuild`` builds it even when it is published."""
    if not rebuild and (found := find_stage(root, load_id, spec)):
        return found, False
    with build_lock(root, load_id):
        if not rebuild and (found := find_stage(root, load_id, spec)):
            return found, False
        _announce(root, load_id, spec, rebuild)
        began = time.perf_counter()
        writers, meta = spec.build()
        meta["stage"] = spec.name  # the build's own dict: a writer may record what it learns
        return publish_stage(root, load_id, spec.name, spec.key, writers, meta, began), True


def _announce(root: Path, load_id: str, spec: StageSpec, rebuild: bool) -> None:
    of = f" of {spec.subject}" if spec.subject else ""
    if rebuild:
        log.info("rebuilding the %s%s (asked for)", spec.called, of)
    elif list(load_dir(root, load_id).glob(f"{spec.name}-{spec.key}-*")):
        log.warning(
            "the stored %s%s is damaged (a table or meta.json is not what a build writes): "
            "building it again",
            spec.called,
            of,
        )
    elif other_builds(root, load_id, spec.name, spec.key):
        log.info(
            "%s changed since the %s%s was stored: rebuilding it", spec.inputs, spec.called, of
        )
    else:
        log.info("building the %s%s (once; later questions read it)", spec.called, of)


def load_stage(
    root: Path, load_id: str, backend: Any, spec: StageSpec, *, rebuild: bool = False
) -> tuple[Stage, dict[str, ir.Table], bool]:
    """``ensure_stage``, pinned for ``backend`` (no pruning removes it while ``backend`` reads
    it), then the stage's tables read as views of ``backend``; a stored table that cannot be
    read is built again once (one warning line) instead of failing."""
    stage, built = pinned_stage(root, load_id, spec, backend, rebuild)
    try:
        return stage, read_stage(backend, stage, list(spec.tables)), built
    except DerivedDamagedError as exc:
        log.warning("the stored %s is damaged (%s): building it again", spec.called, exc)
        unpin(stage.directory / META, backend)
        damaged, (stage, _) = stage, pinned_stage(root, load_id, spec, backend, True)
        remove_unpinned(damaged.directory / META, damaged.directory)
        return stage, read_stage(backend, stage, list(spec.tables)), True


def pinned_stage(
    root: Path, load_id: str, spec: StageSpec, owner: object, rebuild: bool
) -> tuple[Stage, bool]:
    """``ensure_stage`` and a pin of the build for ``owner``; a build pruned between being
    found and being pinned is looked up (or built) again."""
    for _ in range(5):
        stage, built = ensure_stage(root, load_id, spec, rebuild=rebuild)
        if pin(stage.directory / META, owner):
            return stage, built
        rebuild = False  # what was built was pruned by a racer: find the newest again
    raise DerivedDamagedError(f"the {spec.called} kept disappearing while being read")


def stage_rows(stage: Stage, tables: Iterable[str]) -> dict[str, int]:
    """Rows of each of the stage's ``tables`` (read from the Parquet footers)."""
    return {t: sum(pq.read_metadata(f).num_rows for f in stage.files(t)) for t in tables}


def publish_stage(
    root: Path,
    load_id: str,
    stage: str,
    key: str,
    tables: dict[str, Writer],
    meta: dict[str, Any],
    began: float,
) -> Stage:
    """Write each table with its writer into a staging directory, then publish it atomically
    (the caller holds ``build_lock``); ``meta.json`` records the seconds since ``began``
    (``time.perf_counter``)."""
    base = load_dir(root, load_id)
    with staged(base / f".tmp-{stage}-{uuid.uuid4().hex[:8]}") as staging:
        for name, write in tables.items():
            write(staging / f"{name}.parquet")
        meta = {**meta, "key": key, "seconds": round(time.perf_counter() - began, 3)}
        (staging / META).write_text(json.dumps(meta, indent=1, default=str))
        fsync_dir(staging)
    # a build of its own: a forced rebuild never touches the build a reader may be reading
    final = base / f"{stage}-{key}-{time.time_ns():016x}"
    os.rename(staging, final)
    fsync_dir(base)
    _prune(base, stage, final)
    return Stage(final, json.loads((final / META).read_text()))


def _prune(base: Path, stage: str, newest: Path) -> None:
    """Remove the builds ``newest`` supersedes (older ones of its key: rebuilt, or damaged) and
    all but the ``KEEP`` newest builds of ``stage``, except those a reader pins."""
    key = newest.name.rsplit("-", 1)[0]
    for old in base.glob(f"{key}-*"):
        if old != newest:
            remove_unpinned(old / META, old)
    builds = sorted(base.glob(f"{stage}-*"), key=_built_at, reverse=True)
    for old in builds[KEEP:]:
        remove_unpinned(old / META, old)


def _built_at(directory: Path) -> float:
    try:
        return directory.stat().st_mtime
    except OSError:  # pruned by another process meanwhile
        return 0.0


def remove_unpinned(pinned: Path, *directories: Path) -> bool:
    """Remove ``directories`` (each renamed out of view first) unless a reader pins ``pinned``;
    whether they went. What a failed removal leaves is a ``.tmp-*`` the next sweep takes."""
    with claimed(pinned) as free:
        if not free:
            return False
        for directory in directories:
            gone = directory.with_name(f".tmp-removed-{directory.name}")
            try:
                os.rename(directory, gone)
            except FileNotFoundError:
                continue
            shutil.rmtree(gone, ignore_errors=True)
    return True


def sweep(root: Path, live_loads: set[str]) -> None:
    """Remove the derived tables of loads that are gone (the warehouse removes those of loads
    it sweeps, under the same claim; these are what a killed sweep left)."""
    base = root / DERIVED
    if base.is_dir():
        for directory in base.iterdir():
            if directory.name not in live_loads:
                shutil.rmtree(directory, ignore_errors=True)


def sweep_leftovers(root: Path) -> None:
    """Remove what killed builds left (``.tmp-*``) in every snapshot's derived tables whose
    build lock is free (a build in progress keeps its own)."""
    base = root / DERIVED
    for directory in base.iterdir() if base.is_dir() else []:
        lock = directory / ".build.lock"
        if not lock.is_file():
            continue
        with lock.open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            for stale in directory.glob(".tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)


def read_stage(backend: Any, stage: Stage, tables: list[str]) -> dict[str, ir.Table]:
    """The stage's tables as views of ``backend`` (named after the build, so two builds never
    share a view name)."""
    name = f"hp_{stage.directory.parent.name}_{stage.directory.name}"
    prefix = re.sub(r"[^0-9A-Za-z_]", "_", name)  # a name Spark accepts too (no "=" or "-")
    views = [(f"{prefix}_{t}", [str(f.absolute()) for f in stage.files(t)]) for t in tables]
    try:
        register_views(backend, views)  # reads each file's footer
    except Exception as exc:  # the engine's own error for an unreadable file
        raise DerivedDamagedError(f"{stage.directory}: {first_line(exc)}") from exc
    return {t: backend.table(name) for t, (name, _) in zip(tables, views, strict=True)}
