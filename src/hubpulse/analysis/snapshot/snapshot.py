"""The per-snapshot analysis that every surface (CLI, report, dashboard) loads: a snapshot's
models with their lineage resolved and the family registry, plus the monthly history built on
it. Questions (``ranking``, ``history.trends``) take an ``Analysis`` or a ``History``.

``analyse_snapshot`` computes an analysis from scratch; ``stored.load_analysis`` reads the one
stored beside the snapshot (what every surface uses).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis.expr.types as ir

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
        """``model_id`` if the snapshot holds it; else a clear error suggesting the model of the
        same name in another case (ids are case-sensitive)."""
        models = self.models
        if int(models.filter(models.model_id == model_id).count().execute()):
            return model_id
        alike = models.filter(models.model_id.lower() == model_id.lower()).model_id
        found = alike.to_pyarrow().to_pylist()[:3]
        hint = f"; did you mean {' or '.join(repr(m) for m in found)}?" if found else ""
        raise ModelNotFoundError(
            f"model {model_id!r} is not in the {self.snapshot_date} snapshot{hint}"
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
