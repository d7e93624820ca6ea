"""Selection: which models a question counts — by task, by group, raw or robust.

- ``tasks``: only models whose task is one of these pipeline tags (a model without a tag takes
  its root's; ``llm`` adds ``flags.LLM_TASKS``). Models the snapshot does not hold have no known
  task and are left out of a task selection.
- ``exclude``: credits of these families, or of every family of these vendors, are left out
  (the groups leave the ranking and its total).
- ``count``: ``raw`` counts every download; ``robust`` leaves out the models ``flags`` flags
  under ``thresholds`` and reports what it removed (``removed``), intermediaries (quantized and
  repackaged copies) apart from the rest.

A selection restricts any table of (model_id, family) rows — a snapshot's credits or a
history's shares — so every question applies it the same way (``restrict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import ibis.expr.types as ir

from hubpulse.analysis.snapshot.flags import FLAGS, Thresholds, flag_marks, model_signals
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.errors import UnknownFamilyError
from hubpulse.registry import Registry
from hubpulse.terms import LLM_TASKS

Count = Literal["raw", "robust"]
COUNTS: tuple[Count, ...] = ("raw", "robust")


@dataclass(frozen=True)
class Selection:
    """Which models a question counts (see the module docstring)."""

    tasks: tuple[str, ...] = ()
    llm: bool = False
    exclude: tuple[str, ...] = ()
    count: Count = "raw"
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def task_set(self) -> tuple[str, ...]:
        return tuple(sorted({*self.tasks, *(LLM_TASKS if self.llm else ())}))

    @property
    def everything(self) -> bool:
        return not self.task_set and not self.exclude and self.count == "raw"

    @property
    def scope(self) -> str:
        """The models counted, in words."""
        if self.llm and not self.tasks:
            scope = "LLM models (" + ", ".join(LLM_TASKS) + ")"
        elif self.task_set:
            scope = "models of task " + ", ".join(self.task_set)
        else:
            scope = "all models"
        if self.exclude:
            scope += " except " + ", ".join(self.exclude)
        return scope

    @property
    def brief(self) -> str:
        """The selection in a few words, for titles: "LLM models except CLIP; robust counts"."""
        if self.llm and not self.tasks:
            scope = "LLM models"
        elif self.task_set:
            scope = "models of task " + ", ".join(self.task_set)
        else:
            scope = "all models" if self.exclude else ""
        if self.exclude:
            scope += " except " + ", ".join(self.exclude)
        robust = "robust counts" if self.count == "robust" else ""
        return "; ".join(part for part in (scope, robust) if part)

    @property
    def counting(self) -> str:
        if self.count == "raw":
            return "raw counts (every download)"
        return f"robust counts (flagged models left out: {self.thresholds.describe()})"

    def describe(self) -> str:
        return f"{self.scope}; {self.counting}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": list(self.task_set) or None,
            "llm": self.llm,
            "exclude": list(self.exclude) or None,
            "count": self.count,
            "description": self.describe(),
        }

    def spelled(self, registry: Registry) -> list[str]:
        """``exclude`` in the registry's spelling (families, then vendors)."""
        self.excluded_families(registry)  # an unknown name is an error
        names = {f.name.lower(): f.name for f in registry.families}
        names |= {
            f.vendor.lower(): f.vendor for f in registry.families if f.vendor.lower() not in names
        }
        return [names[n.lower()] for n in self.exclude]

    def excluded_families(self, registry: Registry) -> list[str]:
        """The registry's families ``exclude`` names, by family or vendor (an unknown name is
        an error naming the known ones)."""
        out: list[str] = []
        for name in self.exclude:
            hits = [
                f.name
                for f in registry.families
                if name.lower() in (f.name.lower(), f.vendor.lower())
            ]
            if not hits:
                known = sorted({f.name for f in registry.families})
                raise UnknownFamilyError(
                    f"--exclude {name!r} is neither a family nor a vendor; families: "
                    + ", ".join(known)
                )
            out.extend(hits)
        return out

    def restrict(self, rows: ir.Table, analysis: Analysis) -> ir.Table:
        """``rows`` (with model_id and family) without what this selection leaves out;
        ``analysis`` (the snapshot) supplies each model's task and flags."""
        if self.everything:
            return rows
        if self.exclude:
            rows = rows.filter(~rows.family.isin(self.excluded_families(analysis.registry)))
        return self.keep_models(rows, analysis)

    def keep_models(self, rows: ir.Table, analysis: Analysis) -> ir.Table:
        """``rows`` (with model_id) of the models this selection's tasks and counting keep."""
        if self.task_set:
            signals = model_signals(analysis)
            tasks = signals.filter(signals.task.isin(self.task_set)).select("model_id")
            rows = rows.semi_join(tasks, "model_id")
        if self.count == "robust":
            rows = rows.anti_join(flag_marks(analysis, self.thresholds), "model_id")
        return rows

    def removed(self, rows: ir.Table, analysis: Analysis) -> list[dict[str, Any]]:
        """What robust counting removed from ``rows`` (credits with model_id, dl30, dlall):
        per flag, the models and their credited 30-day and all-time downloads (a model with
        two flags counts under each); empty under raw counting."""
        if self.count == "raw":
            return []
        scoped = Selection(self.tasks, self.llm, self.exclude).restrict(rows, analysis)
        hit = scoped.join(flag_marks(analysis, self.thresholds), "model_id")
        sums: dict[str, Any] = {}
        for kind in FLAGS:
            sums[f"{kind}_models"] = hit.model_id.nunique(where=hit[kind])
            sums[f"{kind}_30d"] = hit.dl30.sum(where=hit[kind]).cast("int64")
            sums[f"{kind}_all"] = hit.dlall.sum(where=hit[kind]).cast("int64")
        found = hit.aggregate(**sums).to_pyarrow().to_pylist()[0]
        removed = [
            {
                "flag": kind,
                "models": found[f"{kind}_models"],
                "downloads_30d": found[f"{kind}_30d"] or 0,
                "downloads_all_time": found[f"{kind}_all"],
            }
            for kind in FLAGS
            if found[f"{kind}_models"]
        ]
        return sorted(removed, key=lambda r: (-r["downloads_30d"], r["flag"]))
