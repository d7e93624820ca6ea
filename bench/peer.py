"""The usual approach, written reasonably: pandas for the table, networkx for the graph.

The same job as hubpulse's pipeline on a hub-stats ``models.parquet``: read it, take each
model's parents (``baseModels``, else ``base_model:<relation>:`` tags, else the card), resolve
renames seen in cards, build the graph, find every model's roots and the first-party families
above it by dynamic programming in topological order (no per-node graph searches), then family
totals under both attribution modes and derivative counts per family. ``tests/test_bench.py``
checks that it gives hubpulse's numbers, so the comparison is like for like.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from hubpulse.registry import UNATTRIBUTED, Registry, load_registry

RELATIONS = {"finetune", "adapter", "quantized", "merge"}


def parents_of(row: dict[str, Any]) -> tuple[list[str], str | None]:
    """(parents, the card's single parent when it names one) of one raw row."""
    card = json.loads(row["cardData"]) if row["cardData"] else {}
    base = card.get("base_model") if isinstance(card, dict) else None
    card_ids = [base] if isinstance(base, str) else [b for b in base or [] if isinstance(b, str)]
    models = (row["baseModels"] or {}).get("models")
    api = [m["id"] for m in (models if models is not None else [])]
    tagged = [
        t.split(":", 2)[2]
        for t in row["tags"]
        if t.startswith("base_model:") and t.split(":")[1] in RELATIONS
    ]
    chosen = list(dict.fromkeys(api or tagged)) or [c.strip() for c in card_ids if c.strip()]
    single = card_ids[0] if (api or tagged) and len(card_ids) == 1 and len(chosen) == 1 else None
    return chosen, single


class Publisher:
    """org → family rules of the registry, with fnmatch patterns, cached per repo id."""

    def __init__(self, registry: Registry) -> None:
        self.rules: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
        for position, family in enumerate(registry.families):
            for org in family.orgs:
                for pattern in family.patterns or ["*"]:
                    priority = 0 if family.patterns else 1
                    self.rules[org.lower()].append((priority, position, pattern, family.name))
            for repo in family.repos:
                org, _, pattern = repo.partition("/")
                self.rules[org.lower()].append((0, position, pattern, family.name))
        self.cache: dict[str, str] = {}

    def __call__(self, model_id: str) -> str:
        if model_id not in self.cache:
            org, _, name = model_id.partition("/")
            hits = [
                (p, pos, fam)
                for p, pos, pat, fam in self.rules.get(org.lower(), [])
                if fnmatch.fnmatchcase(name.lower(), pat.lower())
            ]
            self.cache[model_id] = min(hits)[2] if hits else UNATTRIBUTED
        return self.cache[model_id]


def run(path: Path) -> dict[str, Any]:
    """Family totals (both modes) and derivatives per family, the pandas + networkx way."""
    frame = pd.read_parquet(path, columns=["id", "downloads", "tags", "cardData", "baseModels"])
    frame["tags"] = frame["tags"].map(lambda t: list(t) if t is not None else [])
    parsed = [parents_of(row) for row in frame.to_dict("records")]
    frame["parents"] = [p for p, _ in parsed]
    live = set(frame["id"])
    aliases = {old: p[0] for (p, old) in parsed if old and old != p[0]}
    for line in _bundled_aliases():
        aliases.setdefault(*line)

    def resolve(parent: str) -> str:
        for _ in range(16):
            if parent in live or parent not in aliases:
                break
            parent = aliases[parent]
        return parent

    graph = nx.DiGraph()  # parent → child
    graph.add_nodes_from(frame["id"])
    for child, ps in zip(frame["id"], frame["parents"], strict=True):
        for p in {resolve(p) for p in ps}:
            if p != child:
                graph.add_edge(p, child)
    while not nx.is_directed_acyclic_graph(graph):  # the rare cycle: drop one edge
        graph.remove_edge(*nx.find_cycle(graph)[0][:2])
    publisher = Publisher(load_registry())
    roots: dict[str, frozenset[str]] = {}
    above: dict[str, frozenset[str]] = {}  # first-party families among the ancestors
    for node in nx.topological_sort(graph):
        ps = list(graph.predecessors(node))
        roots[node] = frozenset().union(*(roots[p] for p in ps)) if ps else frozenset([node])
        above[node] = frozenset().union(*(above[p] | {publisher(p)} for p in ps))
    downloads = dict(zip(frame["id"], frame["downloads"].fillna(0), strict=True))
    publisher_mode = (
        pd.Series(downloads).groupby(pd.Series({m: publisher(m) for m in downloads})).sum()
    )
    shares: dict[str, float] = defaultdict(float)
    derivatives: dict[str, int] = defaultdict(int)
    for model, count in downloads.items():
        families = sorted({publisher(r) for r in roots[model]})
        whole, left = divmod(int(count), len(families))  # whole downloads, as hubpulse splits
        for i, family in enumerate(families):
            shares[family] += whole + (1 if i < left else 0)
        for family in above[model] - {publisher(model), UNATTRIBUTED}:
            derivatives[family] += 1
    return {
        "publisher": {k: int(v) for k, v in publisher_mode.items()},
        "lineage": dict(shares),
        "derivatives": dict(derivatives),
        "models": len(frame),
        "edges": graph.number_of_edges(),
    }


def _bundled_aliases() -> list[tuple[str, str]]:
    from importlib import resources

    lines = resources.files("hubpulse").joinpath("data", "aliases.csv").read_text().splitlines()
    return [tuple(line.split(",", 2)[:2]) for line in lines[3:] if line]  # type: ignore[misc]
