"""Series import: the real forecast CSVs, the sparse daily layout, rejects and idempotence."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import FORECAST

from hubpulse.analysis.history.estimator import estimate_monthly_downloads, month_table
from hubpulse.analysis.history.evidence import read_evidence
from hubpulse.errors import SeriesFormatError
from hubpulse.ingest.series import DailyColumns, SeriesData, read_forecast_series
from hubpulse.store.queries import list_series, list_series_rejects
from hubpulse.store.warehouse import Warehouse


def rows_of(table: ibis.Table) -> list[dict[str, object]]:
    return table.to_pyarrow().to_pylist()


def test_forecast_values_become_daily_30_day_counts() -> None:
    data = read_forecast_series(FORECAST / "Meta.csv")
    rows = {
        (r["model_id"], r["day"]): r["value"]
        for r in rows_of(data.rows)
        if r["model_id"] == "meta-llama/Llama-3.1-8B-Instruct"
    }
    with (FORECAST / "Meta.csv").open() as handle:
        lines = list(csv.reader(handle))
    header = lines[0]
    raw = next(r for r in lines if r[0] == "meta-llama/Llama-3.1-8B-Instruct")
    i = header.index("2025-02-18 00:00:00")
    assert rows[("meta-llama/Llama-3.1-8B-Instruct", dt.date(2025, 2, 18))] == round(
        float(raw[i]) - float(raw[i - 1])
    )
    assert rows[("meta-llama/Llama-3.1-8B-Instruct", dt.date(2025, 2, 18))] == 6_044_506
    first = min(day for _, day in rows)
    assert first == dt.date(2024, 9, 26)  # leading zeros = not tracked yet, skipped
    assert all(r["kind"] == "rolling30" for r in rows_of(data.rows))
    created = {r["model_id"]: r["created_at"] for r in rows_of(data.models)}
    assert created["meta-llama/Llama-3.1-8B-Instruct"] == dt.datetime(2024, 7, 18, 8, 56)


def _forecast(tmp_path: Path, *lines: str) -> SeriesData:
    """A forecast CSV of 2025-01-01 … 03 with ``lines`` (model and values; a full line gets its
    created_at), read."""
    path = tmp_path / "Org.csv"
    days = ",".join(f"2025-01-0{d} 00:00:00" for d in (1, 2, 3))
    body = [f"{line},2024-12-01 00:00:00+00:00" if line.count(",") == 3 else line for line in lines]
    path.write_text("\n".join([f"model,{days},created_at", *body]) + "\n")
    return read_forecast_series(path)


def test_forecast_defects_are_kept_aside_with_file_row_and_column(tmp_path: Path) -> None:
    data = _forecast(
        tmp_path,
        "org/good,0.0,10.0,25.0",
        "org/shrinks,5.0,20.0,12.0",
        "org/text,5.0,abc,30.0",
        "no-slash,1.0,2.0,3.0",
        "org/short,1.0",
    )
    rows = {(r["model_id"], r["day"].day): r["value"] for r in rows_of(data.rows)}
    assert rows == {("org/good", 2): 10, ("org/good", 3): 15, ("org/shrinks", 2): 15}
    rejects = {(r["row"], r["field"], r["reason"]) for r in rows_of(data.rejects)}
    assert rejects == {
        (3, "2025-01-03 00:00:00", "running sum decreased from 20"),
        (4, "2025-01-02 00:00:00", "not a number"),
        (5, "model", "not an org/name id"),
        (6, "row", "wrong number of cells"),
    }


def test_a_file_that_is_not_a_forecast_series_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,downloads\norg/a,1\n")
    with pytest.raises(SeriesFormatError, match=r"other\.csv: not a forecast series CSV"):
        read_forecast_series(path)


def test_import_is_idempotent_and_never_double_counts(warehouse: Warehouse) -> None:
    first = warehouse.import_series(FORECAST / "Qwen.csv")
    again = warehouse.import_series(FORECAST / "Qwen.csv")
    assert (first.status, again.status) == ("loaded", "unchanged")
    assert again.load_id == first.load_id
    count = warehouse.series_table("series").count().to_pyarrow().as_py()
    assert count == first.rows == 13_590
    assert list_series(warehouse).num_rows == 1


def test_killed_import_leaves_nothing_visible(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    code = (
        "import os, signal, pyarrow.parquet as pq\n"
        "from hubpulse.store import loads as w, warehouse\n"
        "real = w.write_parquet\n"
        "def dying(path, table):\n"
        "    real(path, table)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "w.write_parquet = dying\n"
        f"warehouse.open_warehouse({str(root)!r}).import_series({str(FORECAST / 'Qwen.csv')!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)
    assert result.returncode == -signal.SIGKILL
    assert any(p.name.startswith(".tmp-") for p in (root / "series").iterdir())
    store = Warehouse(root)
    assert list_series(store).num_rows == 0
    assert store.import_series(FORECAST / "Qwen.csv").status == "loaded"
    assert [p.name for p in (root / "series").iterdir() if p.name.startswith(".")] == []


def _daily_files(tmp_path: Path) -> tuple[Path, Path]:
    downloads = tmp_path / "downloads.parquet"
    pq.write_table(
        pa.table(
            {
                "repo": ["h1", "h1", "h2", "h9", None, "h2", "h2", "h1", "h1"],
                "ts": [
                    dt.date(2025, 3, 1),
                    dt.date(2025, 3, 3),
                    dt.date(2025, 3, 2),
                    dt.date(2025, 3, 2),
                    dt.date(2025, 3, 2),
                    dt.date(2025, 3, 4),
                    dt.date(2025, 3, 4),
                    dt.date(2025, 3, 5),
                    dt.date(2025, 3, 5),
                ],
                "n": [10, 20, 5, 7, 1, -3, 4, 30, 31],
            }
        ),
        downloads,
    )
    models = tmp_path / "models.parquet"
    pq.write_table(
        pa.table({"hub_id": ["h1", "h2"], "name": ["org/one", "org/two"]}),
        models,
    )
    return downloads, models


COLUMNS = DailyColumns(id="repo", day="ts", value="n", models_name="name")


def test_daily_layout_maps_ids_to_names_and_keeps_bad_rows(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    downloads, models = _daily_files(tmp_path)
    result = warehouse.import_series(downloads, layout="daily", models_path=models, columns=COLUMNS)
    assert (result.rows, result.rejects, result.models) == (5, 4, 2)
    # summed per model and month at import (hand-counted from the file above); the file
    # itself is kept byte for byte as the raw rows
    assert rows_of(warehouse.series_table("series")) == []
    months = rows_of(warehouse.series_table("series_months").order_by("model_id"))
    assert [
        (m["model_id"], m["observed"], m["rows"], m["first_row"].day, m["last_row"].day)
        for m in months
    ] == [("org/one", 60, 3, 1, 5), ("org/two", 9, 2, 2, 4)]
    (raw,) = (warehouse.root / "series").glob("*/raw/downloads.parquet")
    assert raw.read_bytes() == downloads.read_bytes()
    reasons = {(r["row"], r["reason"]) for r in list_series_rejects(warehouse).to_pylist()}
    assert reasons == {
        (4, "id not found in the models table"),
        (5, "missing id (repo)"),
        (6, "negative count"),
        (9, "duplicate row for this model and day"),
    }
    cover = rows_of(warehouse.series_table("coverage"))
    assert [(c["model_id"], c["first_day"].day, c["last_day"].day) for c in cover] == [(None, 1, 5)]


def test_daily_layout_cumulative_counter_becomes_deltas(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "counter.parquet"
    pq.write_table(
        pa.table(
            {
                "hub_id": ["a/m"] * 4,
                "date": [dt.date(2025, 3, d) for d in (1, 4, 6, 9)],
                "downloads": [100, 130, 90, 95],  # drops on day 6: a new segment
            }
        ),
        path,
    )
    warehouse.import_series(path, layout="daily", values="cumulative")
    rows = rows_of(warehouse.series_table("series").order_by(["day", "kind"]))
    assert [(r["day"].day, r["kind"], r["value"]) for r in rows] == [
        (1, "all_time", 100),
        (6, "all_time", 90),
    ]
    (month,) = rows_of(warehouse.series_table("series_months"))
    assert (month["observed"], month["rows"], month["first_row"].day, month["last_row"].day) == (
        30 + 5,
        2,
        4,
        9,
    )
    cover = rows_of(warehouse.series_table("coverage").order_by("first_day"))
    assert [(c["first_day"].day, c["last_day"].day) for c in cover] == [(2, 5), (7, 9)]


def test_daily_layout_names_a_missing_column(warehouse: Warehouse, tmp_path: Path) -> None:
    downloads, _ = _daily_files(tmp_path)
    with pytest.raises(
        SeriesFormatError,
        match=r"downloads.parquet: no column hub_id, date, downloads \(columns: repo, ts, n\); map",
    ):
        warehouse.import_series(downloads, layout="daily")
    assert not os.path.exists(warehouse.root / "series") or not list(
        (warehouse.root / "series").iterdir()
    )


def test_cumulative_segments_feed_the_estimator(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "counter.parquet"
    days = [1, 4, 6, 9]
    pq.write_table(
        pa.table(
            {
                "hub_id": ["a/m"] * 4,
                "date": [dt.date(2025, 3, d) for d in days],
                "downloads": [100, 130, 90, 95],
            }
        ),
        path,
    )
    warehouse.import_series(path, layout="daily", values="cumulative")
    table = estimate_monthly_downloads(read_evidence(warehouse), month_table("2025-03", "2025-03"))
    (row,) = table.to_pyarrow().to_pylist()
    covered = 4 + 3  # days 2-5 and 7-9; days 1 and 6 start segments of unknown delta
    assert row["method"] == "daily_partial"
    assert row["lower"] == 35
    # the newest observation is March 9: the month is counted through that day only
    assert (row["complete"], row["month_end"]) == (False, dt.date(2025, 3, 9))
    assert row["estimate"] == pytest.approx(35 * 9 / covered)


def test_daily_sums_over_more_than_five_years_fill_every_month_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """The estimator's grid marks the months a model has sums for in 62-month words: a series
    from 2019-01 to 2024-06 (66 months) needs two, and every model-month appears once."""
    path = tmp_path / "long.parquet"
    rows = [("a/m", dt.date(2019, 1, 15), 7), ("a/m", dt.date(2024, 6, 10), 11)]
    rows.append(("b/n", dt.date(2024, 6, 20), 2))
    pq.write_table(
        pa.table(
            {
                "hub_id": [r[0] for r in rows],
                "date": [r[1] for r in rows],
                "downloads": [r[2] for r in rows],
            }
        ),
        path,
    )
    warehouse.import_series(path, layout="daily")
    table = estimate_monthly_downloads(read_evidence(warehouse), month_table("2019-01", "2024-06"))
    got = {(r["model_id"], r["month"]): r for r in table.to_pyarrow().to_pylist()}
    assert len(got) == table.count().to_pyarrow().as_py() == 2 * 66  # once each
    # hand-counted: the source covers every day from 2019-01-15 to 2024-06-20 and neither
    # repo has a creation date, so 2019-01 is partly covered (17 of 31 days: the sum scaled),
    # 2024-06 is counted through the 20th, and every month between is an exact 0
    observed = {("a/m", "2019-01"): 7, ("a/m", "2024-06"): 11, ("b/n", "2024-06"): 2}
    for (model, month), row in got.items():
        seen = observed.get((model, month), 0)
        if month == "2019-01":
            assert row["method"] == "daily_partial"
            assert (row["lower"], row["estimate"]) == (seen, pytest.approx(seen * 31 / 17))
        else:
            assert (row["method"], row["estimate"]) == ("daily", seen), (model, month)


def test_forecast_values_that_cannot_be_a_running_sum_are_rejects(tmp_path: Path) -> None:
    data = _forecast(
        tmp_path,
        "org/neg,100,-50,200",
        "org/twice,0,10,25",
        "org/twice,0,99,300",
        "org/huge,1,4.6e18,4.6e18",
        "org/leap,1,2000000000002,2000000000003",
    )
    rows = {(r["model_id"], r["day"].day): r["value"] for r in rows_of(data.rows)}
    # hand-counted: the rejected cell leaves no difference for itself or the next day
    assert rows == {("org/twice", 2): 10, ("org/twice", 3): 15}
    rejects = {(r["row"], r["field"][:10], r["reason"]) for r in rows_of(data.rejects)}
    assert rejects == {
        (2, "2025-01-02", "negative running sum"),
        (4, "model", "a second line for this model (the first is row 3)"),
        (5, "2025-01-02", "running sum past the ceiling of 1,000,000,000,000,000"),
        (5, "2025-01-03", "running sum past the ceiling of 1,000,000,000,000,000"),
        (6, "2025-01-02", "30-day count 2000000000001 past the ceiling of 1,000,000,000,000"),
    }
    assert [m["model_id"] for m in rows_of(data.models)].count("org/twice") == 1


def test_forecast_days_outside_the_hubs_life_are_rejects(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "Org.csv"
    path.write_text(
        "model,0001-01-01,2025-01-01,2025-01-02,9999-12-31,created_at\n"
        "org/model,5,10,25,40,2024-12-01 00:00:00+00:00\n"
    )
    result = warehouse.import_series(path)
    assert (result.first_day, result.last_day) == (dt.date(2025, 1, 2), dt.date(2025, 1, 2))
    reasons = sorted(r["reason"] for r in list_series_rejects(warehouse).to_pylist())
    assert reasons == [
        "day 0001-01-01 is before the Hub existed (2016-01-01)",
        "day 9999-12-31 is in the future",
    ]


def test_daily_rows_outside_the_hubs_life_or_past_the_ceiling_are_rejects(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = tmp_path / "downloads.parquet"
    days = [dt.date(2025, 3, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2025, 3, 2)]
    values = [10, 5, 5, 2**63 - 1]
    pq.write_table(pa.table({"hub_id": ["org/a"] * 4, "date": days, "downloads": values}), path)
    for kind in ("daily", "cumulative"):
        result = warehouse.import_series(path, layout="daily", values=kind)
        assert (result.first_day, result.last_day) == (dt.date(2025, 3, 1), dt.date(2025, 3, 1))
        assert result.rejects == 3, kind
        found = list_series_rejects(warehouse).column("reason").to_pylist()
        assert sorted(found) == [
            "count past the ceiling of 1,000,000,000,000",
            "day before the Hub existed (2016-01-01)",
            "day in the future",
        ]
        warehouse.remove_series(result.load_id)
    assert list_series(warehouse).num_rows == 0
