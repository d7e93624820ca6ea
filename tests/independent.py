"""An independent, plain-Python computation of family totals straight from the raw hub-stats
Parquet and the registry TOML. It shares no code with hubpulse's engine path: lineage comes
from the raw columns, roots from a breadth-first walk, membership from fnmatch."""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import json
import re
import statistics
import tomllib
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pyarrow.parquet as pq

RELATIONS = {"finetune", "adapter", "quantized", "merge"}


def raw_parents(path: Path) -> tuple[dict[str, dict], dict[str, list[str]]]:
    rows = {r["id"]: r for r in pq.read_table(path).to_pylist()}
    parents: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}
    for model_id, row in rows.items():
        card = json.loads(row["cardData"]) if row["cardData"] else {}
        card_value = card.get("base_model") if isinstance(card, dict) else None
        card_ids = [card_value] if isinstance(card_value, str) else list(card_value or [])
        api = [m["id"] for m in ((row["baseModels"] or {}).get("models") or [])]
        tagged = [
            t.split(":", 2)[2]
            for t in row["tags"] or []
            if t.startswith("base_model:") and t.split(":")[1] in RELATIONS
        ]
        chosen = api or list(dict.fromkeys(tagged)) or [c.strip() for c in card_ids if c.strip()]
        if (api or tagged) and len(card_ids) == 1 and len(chosen) == 1 and card_ids[0] != chosen[0]:
            aliases[card_ids[0]] = chosen[0]
        parents[model_id] = chosen
    for line in _data("aliases.csv").splitlines()[3:]:
        old, new, _ = line.split(",", 2)
        aliases.setdefault(old, new)
    for model_id, ids in parents.items():
        resolved = []
        for parent in ids:
            while parent in aliases and parent not in rows and aliases[parent] != parent:
                parent = aliases[parent]
            if parent != model_id and parent not in resolved:
                resolved.append(parent)
        parents[model_id] = resolved
    return rows, parents


def roots(model_id: str, parents: dict[str, list[str]]) -> set[str]:
    seen, frontier, found = {model_id}, [model_id], set()
    while frontier:
        nxt = []
        for node in frontier:
            ps = [p for p in parents.get(node, []) if p not in seen]
            if not parents.get(node):
                found.add(node)
            for p in ps:
                seen.add(p)
                nxt.append(p)
        frontier = nxt
    return found


def publisher(model_id: str, families: list[dict], hub: str = "hf") -> str | None:
    org, _, name = model_id.partition("/")
    best = None
    for position, fam in enumerate(families):
        named = fam.get("orgs", [])
        if hub == "modelscope":
            named = fam.get("modelscope_orgs") or named
        orgs = [o.lower() for o in named]
        rules = []
        if org.lower() in orgs:
            pats = fam.get("patterns") or []
            rules += [(0, p) for p in pats] or [(1, "*")]
        for repo in fam.get("repos", []):
            r_org, _, r_name = repo.partition("/")
            if r_org.lower() == org.lower():
                rules.append((0, r_name))
        for priority, pattern in rules:
            if fnmatch.fnmatchcase(name.lower(), pattern.lower()):
                key = (priority, position)
                if best is None or key < best[0]:
                    best = (key, fam["name"])
    return best[1] if best else None


def family_totals(
    path: Path,
    mode: str,
    overrides: dict[str, dict] | None = None,
    keep: set[str] | None = None,
) -> dict[str, float]:
    """Downloads per family; ``overrides`` replaces keys of named built-in families (as a
    ``--families`` file does); ``keep``: count only these models."""
    registry = tomllib.loads(_data("families.toml"))
    families = [{**f, **(overrides or {}).get(f["name"], {})} for f in registry["family"]]
    rows, parents = raw_parents(path)
    totals: dict[str, float] = defaultdict(float)
    for model_id, row in rows.items():
        if keep is not None and model_id not in keep:
            continue
        if mode == "publisher":
            shares = {publisher(model_id, families) or "(unattributed)": 1.0}
        else:
            fams = {publisher(r, families) or "(unattributed)" for r in roots(model_id, parents)}
            shares = {f: 1.0 / len(fams) for f in fams}
        # split in whole downloads: ⌊v/n⌋ each, the remainder one each to the first by name
        whole, left = divmod(row["downloads"] or 0, len(shares))
        for i, fam in enumerate(sorted(shares)):
            totals[fam] += whole + (1 if i < left else 0)
    return dict(totals)


def forecast_month(csv_dir: Path, family: str, month: str) -> dict[str, float | None]:
    """A family's estimate and bounds for a calendar month, straight from the forecast CSVs,
    following the documented rolling30 rule: the 30-day count R(t) = V(t) - V(t-1) nearest the
    month's last day, times the month's days (cut at creation) over the window's days, used
    only when the window holds at least half of those days."""
    total, lower, upper = 0.0, 0.0, 0.0
    for _, estimate, low, high in forecast_models(csv_dir, family, month):
        total += estimate or 0.0
        lower += low
        upper = upper + high if upper is not None and high is not None else None
    return {"estimate": total, "lower": lower, "upper": upper}


Estimate = tuple[str, float | None, float, float | None]


def forecast_models(csv_dir: Path, family: str, month: str) -> list[Estimate]:
    """(model_id, estimate, lower, upper) of each model of ``family`` that existed in
    ``month``, from the forecast CSVs (``forecast_month``'s rule)."""
    import csv
    import datetime as dt

    registry = tomllib.loads(_data("families.toml"))
    first = dt.date.fromisoformat(month + "-01")
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    files = []
    for path in sorted(csv_dir.glob("*.csv")):
        with path.open() as handle:
            files.append(list(csv.reader(handle)))
    newest = max(dt.date.fromisoformat(h[:10]) for lines in files for h in lines[0][1:-1])
    last = min(last, newest)  # never past the evidence: the newest month ends on its day
    series = {}
    for lines in files:
        days = [dt.date.fromisoformat(h[:10]) for h in lines[0][1:-1]]
        for cells in lines[1:]:
            created = dt.date.fromisoformat(cells[-1][:10])
            values = [float(v) for v in cells[1:-1]]
            counts = {
                days[i]: values[i] - values[i - 1]
                for i in range(1, len(days))
                if values[i] > 0 and days[i] >= created
            }
            series[cells[0]] = (created, _without_glitches(counts))
    _without_stale_days({m: counts for m, (_, counts) in series.items()})
    found = []
    for model_id, (created, counts) in series.items():
        if publisher(model_id, registry["family"]) != family or created > last:
            continue
        found.append((model_id, *_rolling_month(counts, created, first, last)))
    return found


def _without_glitches(counts):  # type: ignore[no-untyped-def]
    """The documented glitch rule: a run of 1-3 observed days, each below 3/4 of the counts
    on the observed days just before and just after it, is left out."""
    import datetime as dt

    one = dt.timedelta(days=1)
    dropped = set()
    for t in counts:
        for m in (1, 2, 3):
            run = [t + one * i for i in range(m)]
            before, after = t - one, t + one * m
            seen = before in counts and after in counts and all(d in counts for d in run)
            if seen and max(counts[d] for d in run) * 4 < min(counts[before], counts[after]) * 3:
                dropped.update(run)
                break
    return {t: v for t, v in counts.items() if t not in dropped}


def _without_stale_days(series):  # type: ignore[no-untyped-def]
    """The documented stale rule, in place: on a day when at least half of the (at least 10)
    models observed that day and the day before, with a positive count before, repeat their
    count, those repeats are left out."""
    import collections
    import datetime as dt

    one = dt.timedelta(days=1)
    pairs, repeats = collections.Counter(), collections.Counter()
    for counts in series.values():
        for t, v in counts.items():
            if t - one in counts and counts[t - one] > 0:
                pairs[t] += 1
                repeats[t] += v == counts[t - one]
    stale = {t for t in pairs if pairs[t] >= 10 and repeats[t] * 2 >= pairs[t]}
    for counts in series.values():
        gone = [
            t
            for t in counts
            if t in stale and t - one in counts and 0 < counts[t - one] == counts[t]
        ]
        for t in gone:
            del counts[t]


def _rolling_month(counts, created, first, last):  # type: ignore[no-untyped-def]
    import datetime as dt

    if not counts:
        return None, 0.0, None
    nearest = min(counts, key=lambda t: (abs((t - last).days), t < last))
    r = counts[nearest]
    start = max(first, created)
    window_start = max(nearest - dt.timedelta(days=29), created)
    one = dt.timedelta(days=1)

    def ceiling(x, y):  # type: ignore[no-untyped-def]
        found = [v for t, v in counts.items() if y <= t <= x + dt.timedelta(days=29)]
        return min(found) if found else None

    outside_window = []
    if window_start > start:
        outside_window.append((start, min(last, window_start - one)))
    if nearest < last:
        outside_window.append((max(start, nearest + one), last))
    outside_month = []
    if window_start < start:
        outside_month.append((window_start, min(nearest, start - one)))
    if nearest > last:
        outside_month.append((max(window_start, last + one), nearest))
    caps = [ceiling(x, y) for x, y in outside_window]
    high = None if None in caps else r + sum(caps)
    cuts = [ceiling(x, y) for x, y in outside_month]
    low = 0.0 if None in cuts else max(0.0, r - sum(cuts))
    estimate = None
    days = (last - start).days + 1
    seen = (min(nearest, last) - max(window_start, start)).days + 1
    if abs((nearest - last).days) <= 31 and 2 * seen >= days:
        width = (nearest - window_start).days + 1
        estimate = min(max(r * days / width, low), high if high is not None else float("inf"))
    return estimate, low, high


SIZE_EDGES = [
    (1e9, "<1B"),
    (6e9, "1–5B"),
    (10e9, "7–9B"),
    (50e9, "10–50B"),
    (100e9, "50–100B"),
    (250e9, "100–250B"),
]


def name_size(name: str) -> float | None:
    """Parameters written in a repo name, by a plain scan of its separator-delimited tokens."""
    for token in re.split(r"[-_]", name):
        experts, _, size = token.rpartition("x")
        unit = size[-1:].upper()
        number = size[:-1]
        if unit not in ("B", "M") or not number.replace(".", "", 1).isdigit():
            continue
        if experts and not experts.isdigit():
            continue
        value = float(number) * (1e9 if unit == "B" else 1e6)
        return value * (int(experts) if experts else 1)
    return None


def size_totals(path: Path) -> dict[str, dict[str, int]]:
    """size bucket → downloads_30d and models, straight from the raw hub-stats rows."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"downloads_30d": 0, "models": 0})
    for row in pq.read_table(path).to_pylist():
        params = (row["safetensors"] or {}).get("total")
        if not params and row["gguf"]:
            params = json.loads(row["gguf"]).get("total")
        if not params:
            params = name_size(row["id"].split("/", 1)[1])
        bucket = (
            "unknown"
            if params is None
            else next((label for edge, label in SIZE_EDGES if params < edge), "250B+")
        )
        totals[bucket]["downloads_30d"] += row["downloads"] or 0
        totals[bucket]["models"] += 1
    return dict(totals)


def _data(name: str) -> str:
    return resources.files("hubpulse").joinpath("data", name).read_text()


# --- selection and flags, restated from the definitions in the docs (issue 16) -----------------

LLM_TASKS = {
    "text-generation",
    "text2text-generation",
    "image-text-to-text",
    "video-text-to-text",
    "audio-text-to-text",
    "any-to-any",
    "conversational",
}
FORMATS = {"gguf", "awq", "gptq", "mlx", "onnx", "exl2", "bnb", "fp8", "int4", "int8", "4bit"}
FORMATS |= {"8bit", "nf4", "w4a16", "w8a8"}
TEST_WORDS = {"test", "testing", "dummy", "debug"}
TEST_ORGS = {"hf-internal-testing", "hf-tiny-model-private", "fxmarty-testing"}


def model_tasks(path: Path) -> dict[str, str | None]:
    """Each model's pipeline tag, else the smallest tag among its roots'."""
    rows, parents = raw_parents(path)
    out = {}
    for model_id, row in rows.items():
        tag = row["pipeline_tag"]
        if tag is None:
            found = [rows[r]["pipeline_tag"] for r in roots(model_id, parents) if r in rows]
            tag = min((t for t in found if t), default=None)
        out[model_id] = tag
    return out


def vendor_of() -> dict[str, str]:
    registry = tomllib.loads(_data("families.toml"))
    return {f["name"]: f["vendor"] for f in registry["family"]} | {
        "(unattributed)": "(unattributed)"
    }


def _tokens(name: str) -> list[str]:
    return re.split(r"[-_.]", name.lower())


def _is_test(model_id: str) -> bool:
    org, name = model_id.split("/", 1)
    if org in TEST_ORGS or org.lower().endswith("-internal-testing"):
        return True
    tokens = _tokens(name)
    for token in tokens:  # the word alone, or followed by a digit ("test2", "Test0101t0")
        for word in TEST_WORDS:
            if token == word or (token.startswith(word) and token[len(word)].isdigit()):
                return True
    pairs = list(itertools.pairwise(tokens))
    return ("tiny", "random") in pairs or ("random", "tiny") in pairs


def model_flags(
    path: Path,
    day: dt.date,
    *,
    dormant: float = 100,
    dormant_min: int = 100_000,
    ci: float = 200,
    ci_min: int = 10_000,
    flood: int = 10,
) -> dict[str, set[str]]:
    """model id → its flags, computed straight from the raw rows."""
    rows, parents = raw_parents(path)
    tasks = model_tasks(path)
    flags: dict[str, set[str]] = defaultdict(set)
    created = {
        m: dt.datetime.fromisoformat(str(r["createdAt"]).replace("Z", "+00:00")).date()
        if r["createdAt"]
        else None
        for m, r in rows.items()
    }
    per_like = {
        m: (r["downloads"] / ((r["likes"] or 0) + 1)) if r["downloads"] is not None else None
        for m, r in rows.items()
    }
    pool = [m for m, r in rows.items() if (r["downloads"] or 0) >= 1000 and per_like[m] is not None]
    by_task: dict[str | None, list[float]] = defaultdict(list)
    for m in pool:
        by_task[tasks[m]].append(per_like[m])  # type: ignore[arg-type]
    overall = statistics.median(per_like[m] for m in pool)  # type: ignore[type-var]
    groups: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for model_id, ps in parents.items():
        if created[model_id] is not None:
            for parent in ps:
                groups[(model_id.split("/")[0], parent)].append(
                    (created[model_id].toordinal(), model_id)
                )
    flood_size: dict[str, int] = defaultdict(lambda: 1)
    for members in groups.values():
        for day_of, model_id in members:
            near = sum(1 for other, _ in members if abs(other - day_of) <= 7)
            flood_size[model_id] = max(flood_size[model_id], near)
    for model_id, row in rows.items():
        name = model_id.split("/", 1)[1]
        tags = row["tags"] or []
        has_gguf = bool(row["gguf"]) or "gguf" in tags
        token = any(t in FORMATS for t in _tokens(name))
        if (
            (token and parents[model_id])
            or (has_gguf and "safetensors" not in tags)
            or row["library_name"] == "mlx"
        ):
            flags[model_id].add("intermediary")
        dl30 = row["downloads"] or 0
        if created[model_id] is not None and (row["downloadsAllTime"] or 0) >= dormant_min:
            months = max((day - created[model_id]).days / 30, 1)
            if row["downloadsAllTime"] / (max(dl30, 1) * months) > dormant:
                flags[model_id].add("dormant")
        peers = by_task.get(tasks[model_id], [])
        median = statistics.median(peers) if len(peers) >= 20 else overall
        if _is_test(model_id) or (dl30 >= ci_min and per_like[model_id] / median > ci):
            flags[model_id].add("ci_like")
        if flood_size[model_id] >= flood:
            flags[model_id].add("flood")
    return {m: f for m, f in flags.items() if f}
