"""A synthetic warehouse of known truth holding every kind of download evidence and defect:
30-day series with gaps, the Hub's window glitch, a day that did not refresh and a contradiction;
three snapshots (one with a counter reset, one model deleted after the first); daily sums
covering a whole month and part of one. Shared by the engine-parity and stored-history tests."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hubpulse.store.warehouse import Warehouse

START, DAYS = dt.date(2025, 1, 1), 150
ORGS = ("Qwen", "meta-llama", "mistralai", "google")  # the families Qwen, Llama, Mistral, Gemma
MODELS = [f"{ORGS[k % 4]}/m{k}" for k in range(24)]
GLITCHED, STALE_DAY, CONTRADICTED, RESET = (2, 7), 90, 23, 5


def downloads(k: int, rng: random.Random) -> list[int]:
    """Model k's true downloads per day from START (0 before its creation day)."""
    created = 3 * k - 20
    days = [rng.randint(0, 400) + (5_000 if rng.random() < 0.03 else 0) for _ in range(DAYS)]
    return [0 if i < created else d for i, d in enumerate(days)]


def synthetic_history(root: Path) -> Path:
    """A warehouse with 30-day series, two snapshots and two daily files of known truth."""
    rng = random.Random(11)
    truth = {m: downloads(k, rng) for k, m in enumerate(MODELS)}

    def rolling(m: str, i: int) -> int:
        return sum(truth[m][max(0, i - 29) : i + 1])

    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    src = root.parent / "src"
    src.mkdir(parents=True)
    with (src / "synth.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["model", *[f"{d} 00:00:00" for d in days], "created_at"])
        for k, m in enumerate(MODELS):
            cells: list[str] = []  # the layout's running sum of 30-day counts
            running = 0
            for i in range(DAYS):
                value = rolling(m, i)
                if k in GLITCHED and i in (70, 71):  # the window's first two weeks read 0
                    value -= sum(truth[m][i - 29 : i - 15])
                if i == STALE_DAY:  # a collection that did not refresh
                    value = rolling(m, i - 1)
                if k == CONTRADICTED and i == 100:
                    value += 1_000_000  # a count no downloads can explain
                running += value
                gap = (k % 3 == 0 and 30 <= i < 36) or (k % 5 == 0 and i % 7 == 3)
                cells.append("" if gap else str(running))
            created = START + dt.timedelta(days=3 * k - 20)
            out.writerow([m, *cells, f"{created} 00:00:00+00:00"])
    store = Warehouse(root)
    extra = {f"extra/a{k}": downloads(k, rng) for k in range(4)}  # snapshots only
    extra["extra/gone"] = downloads(9, rng)  # in the first snapshot only: deleted after
    truth |= extra
    for index in (45, 75, 120):
        records, day = [], days[index]
        listed = MODELS + [m for m in extra if index == 45 or m != "extra/gone"]
        for k, m in enumerate(listed):
            all_time = sum(truth[m][: index + 1])
            if k == RESET and index == 120:
                all_time //= 3  # the counter went down: a new epoch
            created = START + dt.timedelta(days=3 * (k % 24) - 20)
            records.append(
                {
                    "id": m,
                    "downloads": rolling(m, index),
                    "downloadsAllTime": all_time,
                    "likes": k,
                    "createdAt": f"{created}T00:00:00.000Z",
                    "tags": ["safetensors"],
                }
            )
        path = src / f"models-{day}.json"
        path.write_text(json.dumps(records))
        store.ingest(path, day)
    store.import_series(src / "synth.csv")
    for name, (first, last), picked in (
        ("march", (59, 89), range(4)),  # 2025-03-01 … 2025-03-31: whole months
        ("april", (94, 109), (6, 7)),  # part of April
    ):
        ids, dates, counts = [], [], []
        for k in picked:
            for i in range(first, last + 1):
                if truth[MODELS[k]][i]:  # a day without a row had no downloads
                    ids.append(MODELS[k])
                    dates.append(days[i])
                    counts.append(truth[MODELS[k]][i])
        path = src / f"{name}.parquet"
        pq.write_table(pa.table({"hub_id": ids, "date": dates, "downloads": counts}), path)
        store.import_series(path, layout="daily", coverage=(days[first], days[last]))
    return root


def model_months(months: list[dt.date], series: dict[str, list[int]]) -> pa.Table:
    """Model-month estimates (±5 bounds, daily method, every model created long before) of
    ``series``: each model's estimate per month of ``months``; the input of the jump marks."""
    rows = [
        {
            "model_id": model,
            "month": f"{start:%Y-%m}",
            "month_start": start,
            "created": dt.date(2024, 1, 1),
            "method": "daily",
            "estimate": float(value),
            "lower": float(value) - 5,
            "upper": float(value) + 5,
        }
        for model, values in series.items()
        for start, value in zip(months, values, strict=True)
    ]
    return pa.Table.from_pylist(rows)
