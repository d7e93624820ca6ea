"""A known synthetic truth — every model's downloads on every day — and the two public history
datasets as they would have recorded it, for the stand-in Hub to serve:

- ``hfmlsoc/hub_weekly_snapshots``: ``models/<label>/models.parquet``, hub-stats columns, one file
  per week labelled by its first day, holding the dump of a day in that week (or, for a week
  without a dump, the previous week's file again); one week is missing from the dataset;
- ``harvardMadsys/hf-hub-characterization``: ``downloads.parquet`` (``hub_id, date, downloads``:
  a row only on days with downloads) and ``models.parquet`` (``hub_id, id``, current names).

Hub-like glitches: a rename mid-December (the dumps show the old id, then the new one, with the
same creation instant and counters), a stalled all-time counter (one dump repeats the previous
dump's counter while the 30-day count is live), a recount (the counter drops by a fixed amount
and counts on from there), a model deleted mid-December, and one dump missing one model's row.

Written from the definitions (a dump on day t holds d(t-29) + … + d(t) and the sum of d up to
t), sharing no code with hubpulse.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FIRST = dt.date(2025, 9, 1)
LAST = dt.date(2026, 1, 27)
LABELS = [dt.date(2025, 10, 1) + dt.timedelta(weeks=k) for k in range(17)]  # to 2026-01-21
MISSING = dt.date(2025, 12, 10)  # a week the dataset lacks
STALE_WEEK = dt.date(2025, 11, 12)  # no dump that week: the builder filed the previous one again
RENAMED = ("Qwen/Qwen3-4B-Preview", "Qwen/Qwen3-4B", dt.date(2025, 12, 14))
STALLED = ("deepseek-ai/DeepSeek-R1", dt.date(2025, 12, 8))  # the dump whose counter froze
RECOUNT = ("meta-llama/Llama-3.1-8B-Instruct", dt.date(2025, 11, 20), 50_000)
DELETED = ("google/gemma-3-4b-it", dt.date(2025, 12, 16))
ROW_MISSING = ("mistralai/Mistral-7B-Instruct-v0.3", dt.date(2025, 12, 31))
WEEKLY_SHA = "7e" * 20
CHARACTERIZATION_SHA = "c4" * 20

# id, pipeline tag, creation day, mean downloads a day, parent
MODELS: list[tuple[str, str, dt.date, int, str | None]] = [
    ("Qwen/Qwen2.5-7B-Instruct", "text-generation", dt.date(2024, 9, 16), 90_000, None),
    ("Qwen/Qwen3-8B", "text-generation", dt.date(2025, 11, 15), 40_000, None),
    ("Qwen/Qwen3-4B-Preview", "text-generation", dt.date(2025, 6, 1), 30_000, None),
    ("Qwen/Qwen3-Embedding-0.6B", "feature-extraction", dt.date(2025, 6, 5), 60_000, None),
    (
        "someone/Qwen2.5-7B-Instruct-GGUF",
        "text-generation",
        dt.date(2025, 1, 3),
        8_000,
        "Qwen/Qwen2.5-7B-Instruct",
    ),
    ("meta-llama/Llama-3.1-8B-Instruct", "text-generation", dt.date(2024, 7, 18), 45_000, None),
    ("deepseek-ai/DeepSeek-R1", "text-generation", dt.date(2025, 1, 20), 20_000, None),
    ("openai/gpt-oss-20b", "text-generation", dt.date(2025, 8, 4), 25_000, None),
    ("mistralai/Mistral-7B-Instruct-v0.3", "text-generation", dt.date(2024, 5, 22), 15_000, None),
    ("nvidia/Nemotron-Nano-9B-v2", "text-generation", dt.date(2025, 8, 12), 5_000, None),
    ("zai-org/GLM-4.6", "text-generation", dt.date(2025, 9, 29), 6_000, None),
    ("moonshotai/Kimi-K2-Instruct", "text-generation", dt.date(2025, 7, 11), 4_000, None),
    ("MiniMaxAI/MiniMax-M2", "text-generation", dt.date(2025, 10, 27), 3_000, None),
    ("google/gemma-3-4b-it", "image-text-to-text", dt.date(2025, 3, 12), 30_000, None),
]


@dataclass
class Truth:
    """Downloads per model (by its current id) and day from ``FIRST``; zero before creation and
    after deletion."""

    daily: dict[str, dict[dt.date, int]] = field(default_factory=dict)

    def d(self, model: str, day: dt.date) -> int:
        return self.daily[model].get(day, 0)

    def window(self, model: str, first: dt.date, last: dt.date) -> int:
        days = (last - first).days + 1
        return sum(self.d(model, first + dt.timedelta(days=i)) for i in range(days))

    def rolling(self, model: str, day: dt.date) -> int:
        return self.window(model, day - dt.timedelta(days=29), day)

    def all_time(self, model: str, day: dt.date) -> int:
        return self.window(model, FIRST - dt.timedelta(days=800), day)


def current(model: str) -> str:
    return RENAMED[1] if model == RENAMED[0] else model


def make_truth(seed: int = 7) -> Truth:
    rng = random.Random(seed)
    truth = Truth()
    for model, _, created, mean, _ in MODELS:
        gone = DELETED[1] if model == DELETED[0] else None
        series: dict[dt.date, int] = {}
        day = max(created, FIRST - dt.timedelta(days=800))
        while day <= LAST:
            if gone is None or day < gone:
                series[day] = 0 if rng.random() < 0.05 else int(mean * rng.uniform(0.3, 1.7))
            day += dt.timedelta(days=1)
        truth.daily[current(model)] = series
    return truth


def dump_day(label: dt.date) -> dt.date:
    """The day of the dump filed under week ``label`` (varies within the week)."""
    return label + dt.timedelta(days=(6, 5, 6, 2, 6, 0, 6, 4)[LABELS.index(label) % 8])


def _created_at(model: str, created: dt.date) -> dt.datetime:
    micro = sum(map(ord, model)) * 997 % 1_000_000
    return dt.datetime.combine(created, dt.time(9, 30, 15, micro))


def dump(truth: Truth, day: dt.date, previous: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """hub-stats rows of the dump taken at the end of ``day``."""
    rows = []
    for model, task, created, _, parent in MODELS:
        now = current(model)
        if created > day or (model == DELETED[0] and day >= DELETED[1]):
            continue
        if model == ROW_MISSING[0] and day == ROW_MISSING[1]:
            continue
        shown = model if model == RENAMED[0] and day < RENAMED[2] else now
        counter = truth.all_time(now, day)
        if model == RECOUNT[0] and day >= RECOUNT[1]:
            counter -= RECOUNT[2]
        if model == STALLED[0] and day == STALLED[1]:
            counter = previous[model]["downloadsAllTime"]
        card = {"license": "apache-2.0"} | ({"base_model": parent} if parent else {})
        rows.append(
            {
                "id": shown,
                "author": shown.split("/")[0],
                "createdAt": _created_at(model, created),
                "lastModified": dt.datetime.combine(day, dt.time(11)),
                "downloads": truth.rolling(now, day),
                "downloadsAllTime": counter,
                "likes": 10,
                "trendingScore": 1.0,
                "tags": ["transformers", "license:apache-2.0"],
                "cardData": json.dumps(card),
                "pipeline_tag": task,
                "library_name": "transformers",
                "baseModels": {"relation": "quantized", "models": [{"_id": "p", "id": parent}]}
                if parent
                else None,
            }
        )
    return rows


def _parquet(rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    return sink.getvalue()


def weekly_dataset(truth: Truth) -> dict[str, Any]:
    """The weekly dataset's files at one commit, keyed as the stand-in Hub serves them."""
    files: dict[tuple[str, str], bytes] = {}
    previous: dict[str, dict[str, Any]] = {}
    last_file = b""
    for label in LABELS:
        if label == STALE_WEEK:
            content = last_file
        else:
            rows = dump(truth, dump_day(label), previous)
            previous = {r["id"]: r for r in rows} | {
                m: r for m, r in previous.items() if m not in {x["id"] for x in rows}
            }
            content = _parquet(rows)
        last_file = content
        if label != MISSING:
            files[(WEEKLY_SHA, f"models/{label}/models.parquet")] = content
    files[(WEEKLY_SHA, "README.md")] = b"---\nlicense: odbl\n---\n"
    return {"commits": [], "branches": {"main": WEEKLY_SHA}, "files": files}


def characterization_dataset(truth: Truth) -> dict[str, Any]:
    """hf-hub-characterization as the card describes it: daily downloads since 2025-02-28, a
    row only on days the counter moved, joined to names on the immutable ``hub_id``."""
    ids = {model: f"h{i:04d}" for i, model in enumerate(sorted(truth.daily))}
    rows = [
        {"hub_id": ids[m], "date": day, "downloads": n}
        for m, series in sorted(truth.daily.items())
        for day, n in sorted(series.items())
        if n > 0 and day >= FIRST
    ]
    models = [{"hub_id": h, "id": m} for m, h in ids.items()]
    files = {
        (CHARACTERIZATION_SHA, "downloads.parquet"): _parquet(rows),
        (CHARACTERIZATION_SHA, "models.parquet"): _parquet(models),
    }
    return {"commits": [], "branches": {"main": CHARACTERIZATION_SHA}, "files": files}
