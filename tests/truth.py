"""A synthetic model whose true daily downloads are known, and what observers would have seen.

Written from the counting model's definitions, sharing no code with hubpulse: a daily count is
d(t); the 30-day count on day t is d(t-29) + … + d(t); the all-time counter on day t is the sum
of d up to t; before its creation day a model has no downloads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from hubpulse.analysis.history.evidence import Evidence

START = dt.date(2025, 1, 1)
MODEL = "org/model"


@dataclass(frozen=True)
class Truth:
    downloads: list[int]  # d(START + i)
    created: int  # index of the creation day (downloads before it are 0)

    def day(self, index: int) -> dt.date:
        return START + dt.timedelta(days=index)

    def d(self, index: int) -> int:
        if index < self.created or index < 0 or index >= len(self.downloads):
            return 0
        return self.downloads[index]

    def rolling(self, index: int) -> int:
        return sum(self.d(i) for i in range(index - 29, index + 1))

    def all_time(self, index: int) -> int:
        return sum(self.d(i) for i in range(index + 1))

    def month_total(self, first: dt.date, last: dt.date) -> int:
        a, b = (first - START).days, (last - START).days
        return sum(self.d(i) for i in range(a, b + 1))


def evidence(
    truth: Truth,
    *,
    rolling_days: list[int] = (),  # type: ignore[assignment]
    all_time_days: list[int] = (),  # type: ignore[assignment]
    daily: bool = False,
    know_created: bool = True,
) -> Evidence:
    rows = [(i, "rolling30", truth.rolling(i)) for i in rolling_days if i >= truth.created]
    rows += [(i, "all_time", truth.all_time(i)) for i in all_time_days]
    if daily:
        rows += [(i, "daily", truth.d(i)) for i in range(len(truth.downloads)) if truth.d(i)]
    observations = [
        {"model_id": MODEL, "day": truth.day(i), "kind": kind, "value": value}
        for i, kind, value in rows
    ]
    created = [{"model_id": MODEL, "created": truth.day(truth.created)}] if know_created else []
    cover = (
        [{"model_id": None, "first_day": START, "last_day": truth.day(len(truth.downloads) - 1)}]
        if daily
        else []
    )
    return make_evidence(observations, created, cover)


def make_evidence(
    observations: list[dict[str, object]],
    created: list[dict[str, object]] | None = None,
    coverage: list[dict[str, object]] | None = None,
) -> Evidence:
    obs_schema = pa.schema(
        [
            ("model_id", pa.string()),
            ("day", pa.date32()),
            ("kind", pa.string()),
            ("value", pa.int64()),
        ]
    )
    created_schema = pa.schema([("model_id", pa.string()), ("created", pa.date32())])
    cover_schema = pa.schema(
        [("model_id", pa.string()), ("first_day", pa.date32()), ("last_day", pa.date32())]
    )
    return Evidence(
        observations=_table(observations, obs_schema),
        created=_table(created or [], created_schema),
        coverage=_table(coverage or [], cover_schema),
    )


def _table(rows: list[dict[str, object]], schema: pa.Schema) -> ir.Table:
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema))
