"""A deterministic synthetic Hub in the real hub-stats layout, for benchmarks and scale tests.

``synthesize(models=N, days=D, seed=S, out=DIR)`` writes

- ``DIR/models.parquet``: N rows with the ``cfahlgren1/hub-stats`` columns (``id``, ``author``,
  ``createdAt``, ``downloads``, ``downloadsAllTime``, ``likes``, ``tags``, ``cardData`` JSON,
  ``safetensors`` struct, ``gguf`` JSON, ``baseModels`` struct, ...), so every reader and the whole
  pipeline run on it unchanged;
- with D > 0, ``DIR/daily.parquet`` (``hub_id, date, downloads``: one row per model and day with
  downloads, sparse like hf-hub-characterization) and ``DIR/daily_models.parquet`` (``hub_id, id,
  created_at``), importable with ``hubpulse import-series --layout daily``.

It is realistic where cost is decided: about 2% first-party base repos spread over the registry's
families, 30% of the rest with lineage, log-normal/power-law downloads, chains as deep as 40
levels (one chain is forced to 40), merges with up to 64 parents (one has exactly 64), adapter
floods on three bases, quantized leaves (GGUF), renamed parents named by their old id in cards,
and parents that do not exist. Every array is drawn from one ``numpy`` generator seeded with
``seed`` and built column-wise with Arrow, so the same arguments give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hubpulse.registry import load_registry

SNAPSHOT = dt.date(2026, 5, 1)
FIRST_DAY = dt.date(2021, 1, 1)
MAX_DEPTH = 40
MAX_MERGE = 64
FLOOD_BASES = 3
RELATIONS = np.array(["finetune", "adapter", "quantized", "merge"])
RELATION_P = [0.50, 0.20, 0.20, 0.10]
SIZES = np.array([0.135e9, 0.5e9, 1.5e9, 3.1e9, 7.6e9, 8.0e9, 14.7e9, 32.8e9, 72.7e9, 235e9, 671e9])
SIZE_P = [0.08, 0.10, 0.14, 0.14, 0.18, 0.12, 0.09, 0.07, 0.04, 0.02, 0.02]


@dataclass(frozen=True)
class SynthResult:
    models_path: Path
    daily_path: Path | None
    daily_models_path: Path | None
    models: int
    with_lineage: int
    edges: int
    max_depth: int
    daily_rows: int


def synthesize(
    models: int, out: Path | str, *, days: int = 0, seed: int = 0, activity: float = 0.137
) -> SynthResult:
    """Write a synthetic Hub of ``models`` repos (and ``days`` of daily downloads) to ``out``.

    ``activity`` is the mean share of days on which a model has downloads (0.137 gives the
    Hub's ~175M daily rows a year for 3.5M models)."""
    if models < 100:
        raise ValueError(f"--models must be at least 100, got {models}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    hub = _graph(models, rng)
    table = _models_table(hub, rng)
    models_path = out / "models.parquet"
    pq.write_table(table, models_path, row_group_size=250_000)
    daily_path = daily_models_path = None
    daily_rows = 0
    if days > 0:
        daily_path, daily_models_path = out / "daily.parquet", out / "daily_models.parquet"
        daily_rows = _daily(hub, table, days, activity, rng, daily_path, daily_models_path)
    return SynthResult(
        models_path,
        daily_path,
        daily_models_path,
        models,
        int((hub.nparents > 0).sum()),
        len(hub.child),
        int(hub.level.max()),
        daily_rows,
    )


@dataclass
class _Hub:
    ids: np.ndarray  # object array of repo ids
    author: np.ndarray
    level: np.ndarray  # 0 for roots
    relation: np.ndarray  # "" for roots
    created: np.ndarray  # days since FIRST_DAY
    params: np.ndarray  # float, NaN = none served
    downloads: np.ndarray
    child: np.ndarray  # edge arrays: child index, parent name
    parent: np.ndarray
    nparents: np.ndarray
    card_only: np.ndarray  # bool: lineage only in cardData (old parent id)
    alias_card: np.ndarray  # object: old parent id named in the card ("" = the parent itself)


def _graph(n: int, rng: np.random.Generator) -> _Hub:
    registry = load_registry()
    orgs = [(f.name, org) for f in registry.families for org in f.orgs]
    bases = max(40, n // 50)
    derived = round(0.3 * (n - bases))
    roots = n - derived
    level = np.zeros(n, dtype=np.int64)
    levels = np.minimum(1 + rng.geometric(0.45, derived) - 1, MAX_DEPTH - 1)
    chain = min(MAX_DEPTH, max(2, derived // 50))
    levels[:chain] = np.arange(1, chain + 1)  # one forced chain 1..chain deep
    level[roots:] = np.sort(levels, kind="stable")
    relation = np.full(n, "", dtype=object)
    relation[roots:] = rng.choice(RELATIONS, derived, p=RELATION_P)
    org_pick = rng.integers(0, len(orgs), bases)
    author = np.array([f"user{u}" for u in rng.integers(0, max(10, n // 20), n)], dtype=object)
    author[:bases] = [orgs[i][1] for i in org_pick]
    stem = np.array([f"model{i}" for i in range(n)], dtype=object)
    stem[:bases] = [f"{orgs[i][0].replace(' ', '-')}-syn{k}" for k, i in enumerate(org_pick)]
    root_stem = stem.copy()
    params = np.where(rng.random(n) < 0.7, rng.choice(SIZES, n, p=SIZE_P), np.nan)
    size_of = rng.choice(SIZES, n, p=SIZE_P)
    downloads = np.floor(rng.lognormal(3.0, 2.2, n)).astype(np.int64)
    downloads[:bases] = np.floor(rng.lognormal(9.5, 2.5, bases)).astype(np.int64)
    downloads[rng.random(n) < 0.35] = 0
    downloads[:bases] = np.maximum(downloads[:bases], 10)
    created = rng.integers(0, (SNAPSHOT - FIRST_DAY).days - 400, n)

    children: list[np.ndarray] = []
    parents: list[np.ndarray] = []
    leaf = np.isin(relation, ["quantized", "adapter"])
    popular = np.argsort(-downloads[:bases], kind="stable")
    flood = popular[:FLOOD_BASES]
    start = roots
    chain_end = 0
    for depth in range(1, int(level.max()) + 1):
        members = np.arange(start, start + int((level[start:] == depth).sum()))
        start = members[-1] + 1 if len(members) else start
        if not len(members):
            continue
        if depth == 1:  # bases by popularity, some third-party roots
            weights = np.sqrt(downloads[:bases].astype(float) + 1)
            pick = rng.choice(bases, len(members), p=weights / weights.sum())
            third = rng.random(len(members)) < 0.15
            pick[third] = rng.integers(bases, roots, int(third.sum()))
            flooded = rng.random(len(members)) < 0.12
            pick[flooded] = flood[rng.integers(0, FLOOD_BASES, int(flooded.sum()))]
            relation[members[flooded]] = "adapter"
        else:
            pool = np.flatnonzero((level == depth - 1) & ~leaf)
            pool = pool if len(pool) else np.arange(bases)
            pick = pool[rng.integers(0, len(pool), len(members))]
        if depth <= chain:  # the forced chain: each level's first model extends it
            pick[0] = chain_end if depth > 1 else popular[0]
            relation[members[0]] = "finetune"
            chain_end = members[0]
        children.append(members)
        parents.append(pick)
        created[members] = np.minimum(
            created[pick] + 1 + rng.exponential(45, len(members)).astype(np.int64),
            (SNAPSHOT - FIRST_DAY).days - 1,
        )
        params[members] = np.where(np.isnan(params[pick]), size_of[pick], params[pick])
        root_stem[members] = root_stem[pick]
        stem[members] = [
            f"{s}-{r[:2]}{m}"
            for s, r, m in zip(root_stem[pick], relation[members], members, strict=True)
        ]
    leaf = np.isin(relation, ["quantized", "adapter"])
    child = np.concatenate(children) if children else np.zeros(0, np.int64)
    parent = np.concatenate(parents) if parents else np.zeros(0, np.int64)
    child, parent = _merge_parents(rng, relation, level, child, parent)
    token = np.where(rng.random(n) < 0.95, [_size_token(v) for v in params], "")
    ids = np.array(
        [f"{a}/{s}{t}" for a, s, t in zip(author, stem, token, strict=True)], dtype=object
    )
    missing = rng.random(len(child)) < 0.005
    card_only, alias_card = _renames(rng, ids, child, parent, missing, n)
    parent_names = ids[parent]
    parent_names[missing] = np.array(
        [f"ghost-org/deleted-{i}" for i in np.flatnonzero(missing)], dtype=object
    )
    nparents = np.bincount(child, minlength=n)
    return _Hub(
        ids,
        author,
        level,
        relation,
        created,
        params,
        downloads,
        child,
        parent_names,
        nparents,
        card_only,
        alias_card,
    )


def _size_token(params: float) -> str:
    if np.isnan(params):
        return ""
    return f"-{params / 1e9:.3g}B" if params >= 1e9 else f"-{round(params / 1e6)}M"


def _merge_parents(
    rng: np.random.Generator,
    relation: np.ndarray,
    level: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Give every merge 1–63 extra parents from lower levels (one merge gets 63: 64 in all)."""
    merges = child[relation[child] == "merge"]
    if not len(merges):
        return child, parent
    extra = np.minimum(rng.geometric(0.5, len(merges)), MAX_MERGE - 1)
    starts = np.searchsorted(level, level[merges])  # first index of each merge's level
    extra[np.argmax(starts)] = MAX_MERGE - 1
    eligible = np.flatnonzero(~np.isin(relation, ["quantized", "adapter"]))
    below = np.searchsorted(eligible, starts)  # eligible parents on lower levels, per merge
    who = np.repeat(merges, extra)
    picks = eligible[(rng.random(len(who)) * np.repeat(below, extra)).astype(np.int64)]
    forced = merges[np.argmax(starts)]
    if below.max() >= MAX_MERGE:  # the 64-parent merge draws without replacement
        drawn = rng.choice(int(below.max()), MAX_MERGE - 1, replace=False)
        picks[who == forced] = eligible[drawn]
    pairs = np.unique(
        np.stack([np.concatenate([child, who]), np.concatenate([parent, picks])]), axis=1
    )
    return pairs[0], pairs[1]


def _renames(
    rng: np.random.Generator,
    ids: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    missing: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rename 1% of the parents: each keeps its id, but cards name it by ``<id>-old``. The first
    single-parent child of each shows both (the alias evidence); half of the others name only
    the old id in their card (resolved through the alias)."""
    single = np.bincount(child, minlength=n)[child] == 1
    candidates = np.unique(parent[single & ~missing])
    renamed = candidates[rng.random(len(candidates)) < 0.01]
    card_only = np.zeros(n, dtype=bool)
    alias_card = np.full(n, "", dtype=object)
    hit = np.flatnonzero(np.isin(parent, renamed) & single & ~missing)
    if not len(hit):
        return card_only, alias_card
    first = np.unique(parent[hit], return_index=True)[1]
    evidence = np.zeros(len(hit), dtype=bool)
    evidence[first] = True
    alias_card[child[hit]] = ids[parent[hit]] + "-old"
    card_only[child[hit[~evidence & (rng.random(len(hit)) < 0.5)]]] = True
    return card_only, alias_card


def _models_table(hub: _Hub, rng: np.random.Generator) -> pa.Table:
    n = len(hub.ids)
    epoch = np.datetime64(FIRST_DAY.isoformat(), "us")
    created = (
        epoch
        + hub.created.astype("timedelta64[D]")
        + rng.integers(0, 86_400, n).astype("timedelta64[s]")
    )
    modified = np.minimum(
        created + rng.integers(0, 200, n).astype("timedelta64[D]"),
        np.datetime64(SNAPSHOT.isoformat(), "us"),
    )
    age_months = (SNAPSHOT - FIRST_DAY).days / 30 - hub.created / 30
    all_time = hub.downloads * (1 + age_months * rng.lognormal(0, 0.5, n))
    quantized = hub.relation == "quantized"
    lineage = (hub.nparents > 0) & ~hub.card_only
    offsets = np.concatenate([[0], np.cumsum(hub.nparents)]).astype(np.int32)
    names = pa.array(hub.parent, pa.string())
    per_model = pa.ListArray.from_arrays(pa.array(offsets), names)
    relation = pa.array(hub.relation, pa.string(), mask=hub.relation == "")
    return pa.table(
        {
            "id": pa.array(hub.ids, pa.string()),
            "author": pa.array(hub.author, pa.string()),
            "createdAt": pa.array(created, pa.timestamp("us")),
            "lastModified": pa.array(modified, pa.timestamp("us")),
            "downloads": pa.array(hub.downloads, pa.int64()),
            "downloadsAllTime": pa.array(np.floor(all_time).astype(np.int64), pa.int64()),
            "likes": pa.array(
                np.floor(np.sqrt(hub.downloads) * rng.random(n)).astype(np.int64), pa.int64()
            ),
            "trendingScore": pa.array(np.zeros(n), pa.float64()),
            "tags": _tags(hub, quantized, lineage),
            "cardData": _cards(hub, per_model),
            "safetensors": _safetensors(hub.params, quantized),
            "gguf": _gguf(hub.params, quantized),
            "baseModels": _base_models(hub, per_model, relation, lineage),
            "pipeline_tag": pa.array(np.full(n, "text-generation"), pa.string()),
            "library_name": pa.array(np.where(quantized, "gguf", "transformers"), pa.string()),
        }
    )


def _tags(hub: _Hub, quantized: np.ndarray, lineage: np.ndarray) -> pa.Array:
    """[library, base_model:<relation>:<parent>..., license:apache-2.0] per model."""
    n = len(hub.ids)
    tagged = lineage[hub.child]
    edge_models = hub.child[tagged]
    relation = pa.array(hub.relation[edge_models], pa.large_string())
    parent = pa.array(hub.parent[tagged], pa.large_string())
    text = pa.large_string()
    edge_tags = pc.binary_join_element_wise(
        pa.scalar("base_model:", text), relation, pa.scalar(":", text), parent, pa.scalar("", text)
    )
    library = pa.array(np.where(quantized, "gguf", "transformers"), pa.large_string())
    licence = pa.array(np.full(n, "license:apache-2.0"), pa.large_string())
    values = pa.concat_arrays([library, edge_tags, licence])
    model = np.concatenate([np.arange(n), edge_models, np.arange(n)])
    order = np.concatenate([np.zeros(n), np.ones(len(edge_models)), np.full(n, 2)])
    sort = np.lexsort((order, model))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(model, minlength=n))]).astype(np.int64)
    return pa.LargeListArray.from_arrays(pa.array(offsets), values.take(pa.array(sort)))


def _cards(hub: _Hub, per_model: pa.ListArray) -> pa.Array:
    """cardData JSON: licence, and base_model (a string, a list, or a renamed parent's old id)."""
    joined = pc.binary_join(per_model, '", "')
    several = pa.array(hub.nparents > 1)
    listed = pc.if_else(
        several,
        pc.binary_join_element_wise('["', joined, '"]', ""),
        pc.binary_join_element_wise('"', joined, '"', ""),
    )
    old = pa.array(hub.alias_card, pa.string(), mask=hub.alias_card == "")
    value = pc.coalesce(pc.binary_join_element_wise('"', old, '"', ""), listed)
    with_base = pc.binary_join_element_wise(
        '{"license": "apache-2.0", "base_model": ', value, "}", ""
    )
    plain = pa.scalar('{"license": "apache-2.0"}')
    return pc.if_else(pa.array(hub.nparents > 0), with_base, plain)


def _safetensors(params: np.ndarray, quantized: np.ndarray) -> pa.Array:
    served = ~np.isnan(params) & ~quantized
    total = pa.array(np.where(served, np.nan_to_num(params), 0).astype(np.int64), mask=~served)
    parameters = pa.StructArray.from_arrays([total], names=["BF16"])
    return pa.StructArray.from_arrays(
        [parameters, total], names=["parameters", "total"], mask=pa.array(~served)
    )


def _gguf(params: np.ndarray, quantized: np.ndarray) -> pa.Array:
    total = pa.array(np.nan_to_num(params, nan=7.6e9).astype(np.int64)).cast(pa.string())
    text = pc.binary_join_element_wise(
        '{"total": ', total, ', "architecture": "llama", "context_length": 32768}', ""
    )
    return pc.if_else(pa.array(quantized), text, pa.scalar(None, pa.string()))


def _base_models(
    hub: _Hub, per_model: pa.ListArray, relation: pa.Array, lineage: np.ndarray
) -> pa.Array:
    object_ids = pa.array([f"{i:024x}" for i in range(len(hub.parent))], pa.string())
    entries = pa.StructArray.from_arrays([object_ids, per_model.values], names=["_id", "id"])
    models = pa.ListArray.from_arrays(per_model.offsets, entries)
    return pa.StructArray.from_arrays(
        [relation, models], names=["relation", "models"], mask=pa.array(~lineage)
    )


def _daily(
    hub: _Hub,
    table: pa.Table,
    days: int,
    activity: float,
    rng: np.random.Generator,
    path: Path,
    models_path: Path,
) -> int:
    """One row per model and day with downloads, for the ``days`` days ending at SNAPSHOT."""
    n = len(hub.ids)
    rate = hub.downloads / 30.0
    weight = np.sqrt(rate + 0.01)
    first = (SNAPSHOT - FIRST_DAY).days - days + 1
    live_days = np.clip(first + days - np.maximum(hub.created, first), 0, days)
    target, scale = activity * n * days, activity / weight.mean()
    for _ in range(8):  # scale so that the expected row count is activity × models × days
        chance = np.clip(weight * scale, 0.002, 1.0)
        scale *= target / max(float((chance * live_days).sum()), 1.0)
    schema = pa.schema([("hub_id", pa.int64()), ("date", pa.date32()), ("downloads", pa.int64())])
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        for offset in range(days):
            day = first + offset
            live = hub.created <= day
            active = np.flatnonzero(live & (rng.random(n) < chance))
            value = 1 + rng.poisson(rate[active] / chance[active])
            date = np.full(len(active), np.datetime64(FIRST_DAY.isoformat()) + day)
            writer.write_table(
                pa.table({"hub_id": active, "date": date, "downloads": value}, schema=schema)
            )
            rows += len(active)
    pq.write_table(
        pa.table(
            {
                "hub_id": pa.array(np.arange(n), pa.int64()),
                "id": table["id"],
                "created_at": table["createdAt"],
            }
        ),
        models_path,
    )
    return rows
