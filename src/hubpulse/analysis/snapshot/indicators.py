"""Derivative credit, the snapshot's adoption indicator beside raw download totals
(``history.adoption`` has the relative adoption over time).

- **derivative credit** (``derivative_credit``): of the 30-day downloads of a model's subtree
  (the model and every descendant) — or of a family's (its first-party repos and their
  derivatives) — the part that goes to derivatives. High credit: the weights mostly travel as
  fine-tunes, merges and quantizations of other publishers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubpulse.analysis.snapshot.dimensions import derivative_pairs, first_party, model_dimensions
from hubpulse.analysis.snapshot.flags import Thresholds, model_flags

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis


def derivative_credit(analysis: Analysis, target: str) -> dict[str, Any]:
    """own_30d (the model's, or the family's first-party repos'), derivatives_30d, credit
    (derivatives' part of the two; null when both are 0) for a model id or a family."""
    dims = model_dimensions(analysis)
    dl = dims.select("model_id", dl30=dims.downloads_30d.fill_null(0))
    if "/" in target:
        closure = analysis.lineage.below
        below = closure.filter(closure.ancestor_id == target).select("model_id").distinct()
        own = dl.filter(dl.model_id == target)
    else:
        name = analysis.registry.get(target).name
        pairs = derivative_pairs(analysis, "family")
        below = pairs.filter(pairs.key == name).select(model_id=pairs.descendant).distinct()
        mine = first_party(analysis, "family")
        own = dl.semi_join(mine.filter(mine.key == name), "model_id")
    own_30d = int(own.dl30.sum().fill_null(0).to_pyarrow().as_py())
    derived = int(dl.semi_join(below, "model_id").dl30.sum().fill_null(0).to_pyarrow().as_py())
    total = own_30d + derived
    return {
        "target": target,
        "own_30d": own_30d,
        "derivatives_30d": derived,
        "credit": derived / total if total else None,
    }


def model_extras(analysis: Analysis, model_id: str, thresholds: Thresholds) -> dict[str, Any]:
    """What ``lineage`` adds about one model: its size bucket, its flags with reasons (under
    ``thresholds``) and its derivative credit."""
    dims = model_dimensions(analysis)
    found = dims.filter(dims.model_id == model_id).select("size").to_pyarrow().to_pylist()
    mine = model_flags(analysis, thresholds, model_id).order_by(["flag", "reason"])
    return {
        "size": found[0]["size"] if found else None,
        "flags": mine.select("flag", "reason").to_pyarrow().to_pylist(),
        "derivative_credit": derivative_credit(analysis, model_id),
    }
