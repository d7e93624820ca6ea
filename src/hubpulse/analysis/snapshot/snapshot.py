"""The per-snapshot analysis that every surface (CLI, report, dashboard) loads: a snapshot's
models with their lineage resolved and the family registry, plus the monthly history built on
it. Questions (``ranking``, ``history.trends``) take an ``Analysis`` or a ``History``.

``analyse_snapshot`` computes an analysis from scratch; ``stored.load_analysis`` reads the one
stored beside the snapshot (what every surface uses).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.analysis.snapshot.dimensions import publishers
from hubpulse.analysis.snapshot.families import assign_families
from hubpulse.analysis.snapshot.lineage import Lineage, resolve_lineage
from hubpulse.errors import ModelNotFoundError
from hubpulse.registry import Registry
from hubpulse.settings import Mode
from hubpulse.store.engines import materialise

FAMILIES = "families"
"""The name the registry's table is cached and stored under."""


def attribution_key(mode: Mode) -> str:
    """The name each model's families and weights under ``mode`` are cached under."""
    return f"attribution_{mode}"


@dataclass(frozen=True)
class Analysis:
    """One snapshot ready for questions: its models, lineage and the family registry."""

    snapshot_date: dt.date
    models: ir.Table
    lineage: Lineage
    registry: Registry
    stored: dict[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)
    lazy: dict[str, Callable[[], ir.Table]] = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def model_count(self) -> int:
        """How many models the snapshot holds."""
        return int(self.models.count().execute())

    @property
    def partial(self) -> bool:
        """Whether the snapshot is a partial extract (fewer models than the Hub has listed
        since 2024): its counts are lower bounds of the Hub's, which can confirm "at least N"
        but never refute it."""
        from hubpulse.store.queries import FULL_HUB_MODELS

        return self.model_count < FULL_HUB_MODELS

    def attribution(self, mode: Mode) -> ir.Table:
        """model_id, family, weight under ``mode`` (computed once per mode)."""
        return self.once(attribution_key(mode), lambda: self.attribute(mode))

    def attribute(self, mode: Mode) -> ir.Table:
        """``attribution`` as an expression, computed where it is read (not cached)."""
        if mode == "publisher":
            return assign_families(self.models, self.registry, self.lineage, mode)
        owners = publishers(self)  # the first-party models, named in their dimensions once
        return assign_families(self.models, self.registry, self.lineage, mode, owners)

    def families(self) -> ir.Table:
        """The registry as a table (``Registry.table``; stored with the analysis)."""
        if FAMILIES not in self.stored:  # in memory: nothing to materialise
            self.stored[FAMILIES] = self.registry.table()
        return self.stored[FAMILIES]

    def require_model(self, model_id: str) -> str:
        """``model_id`` as the snapshot holds it (``find_model``), which must be one of its own
        models (not only a parent its models name): a clear error otherwise."""
        found = self.find_model(model_id)
        models = self.models
        if not int(models.filter(models.model_id == found).count().execute()):
            raise ModelNotFoundError(
                f"model {found!r} is not in the {self.snapshot_date} snapshot: it is only "
                "named as a parent by its models (an external root), with no downloads of its own"
            )
        return found

    def find_model(self, model_id: str, run: Callable[[ir.Table], pa.Table] | None = None) -> str:
        """``model_id`` as the snapshot spells it. A model is present when the snapshot holds
        it or one of its models names it as a parent (an external root, as ``lineage`` shows
        it); ids are matched exactly, else case-insensitively when that names one model. A
        clear error otherwise, suggesting the ids that differ only in case. ``run`` runs each
        lookup (the dashboard passes a cursor of its own)."""
        run = run or (lambda table: table.to_pyarrow())
        models, edges = self.models, self.lineage.edges
        ids = models.select(id=models.model_id)
        named = ids.union(edges.select(id=edges.parent), distinct=False)
        if run(named.filter(named.id == model_id).limit(1)).num_rows:
            return model_id
        wanted = model_id.lower()
        found = run(named.filter(named.id.lower() == wanted).select("id").distinct().limit(4))
        alike = sorted(found.column("id").to_pylist())
        if len(alike) == 1:
            return str(alike[0])
        hint = f"; ids are case-sensitive: did you mean {' or '.join(map(repr, alike[:3]))}?"
        raise ModelNotFoundError(
            f"model {model_id!r} is neither in the {self.snapshot_date} snapshot nor a parent "
            f"of any model in it{hint if alike else ''}"
        )

    def once(self, key: str, make: Callable[[], ir.Table]) -> ir.Table:
        """``make()`` materialised in the engine the first time ``key`` is asked for: several
        questions (both rankings, derivative counts) share one attribution and one set of
        derivative pairs instead of recomputing them. A key with a ``lazy`` loader (a stored
        stage built on first use) is read from it instead."""
        if key not in self.stored:
            loader = self.lazy.get(key)
            self.stored[key] = loader() if loader is not None else materialise(make())
        return self.stored[key]


def analyse_snapshot(
    models: ir.Table,
    aliases: ir.Table,
    registry: Registry,
    snapshot_date: dt.date,
    *,
    max_depth: int = 256,
) -> Analysis:
    """Resolve lineage once for a snapshot so that several questions can share it."""
    models = materialise(models)
    lineage = resolve_lineage(models, aliases, max_depth=max_depth)
    lineage = dataclasses.replace(lineage, roots=materialise(lineage.roots))  # read many times
    return Analysis(snapshot_date, models, lineage, registry)
