"""The monthly estimator: each method and defect on a hand-built case, then property tests that
the bounds hold for any observation schedule of a model whose true downloads are known."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from truth import MODEL, START, Truth, evidence, make_evidence

from hubpulse.analysis.history.estimator import (
    METHODS,
    HistoryError,
    estimate_monthly_downloads,
    month_table,
    parse_month,
)

MONTHS = ("2025-01", "2025-04")  # 31 + 28 + 31 + 30 = 120 days from START
FLAT = Truth([100 + (i % 7) * 10 for i in range(120)], created=0)


def estimate(ev: Any, *, max_gap: int = 31) -> dict[str, dict[str, Any]]:
    table = estimate_monthly_downloads(ev, month_table(*MONTHS), max_gap_days=max_gap)
    rows = table.to_pyarrow().to_pylist()
    return {row["month"]: row for row in rows if row["model_id"] == MODEL}


def truth_of(truth: Truth, row: dict[str, Any]) -> int:
    return truth.month_total(row["month_start"], row["month_end"])


def assert_bounded(truth: Truth, row: dict[str, Any]) -> None:
    value = truth_of(truth, row)
    upper = row["upper"] if row["upper"] is not None else float("inf")
    assert row["lower"] - 1e-6 <= value <= upper + 1e-6, row
    if row["estimate"] is not None:
        assert row["lower"] - 1e-6 <= row["estimate"] <= upper + 1e-6, row


def test_daily_counts_give_exact_months() -> None:
    rows = estimate(evidence(FLAT, daily=True))
    for row in rows.values():
        assert row["method"] == "daily"
        assert row["estimate"] == row["lower"] == row["upper"] == truth_of(FLAT, row)


def test_daily_source_covering_part_of_a_month_is_a_lower_bound() -> None:
    days = [i for i in range(120) if i < 70]  # coverage ends on 2025-03-11
    observations = [
        {"model_id": MODEL, "day": FLAT.day(i), "kind": "daily", "value": FLAT.d(i)} for i in days
    ]
    later = {"model_id": "other/model", "day": FLAT.day(119), "kind": "rolling30", "value": 5}
    cover = [{"model_id": None, "first_day": START, "last_day": FLAT.day(69)}]
    rows = estimate(make_evidence([*observations, later], coverage=cover))
    march = rows["2025-03"]
    observed = sum(FLAT.d(i) for i in range(59, 70))
    assert march["method"] == "daily_partial"
    assert march["lower"] == observed
    assert march["estimate"] == pytest.approx(observed * 31 / 11)
    assert march["upper"] is None
    assert rows["2025-04"]["method"] == "none" and rows["2025-04"]["estimate"] is None


def test_no_month_is_estimated_past_the_newest_observation() -> None:
    rows = estimate(evidence(FLAT, rolling_days=[109]))  # 2025-04-20, the newest of all
    april = rows["2025-04"]
    assert april["complete"] is False and april["month_end"] == FLAT.day(109)
    assert april["estimate"] == pytest.approx(FLAT.rolling(109) * 20 / 30)
    assert april["upper"] == FLAT.rolling(109)  # the window holds all 20 days counted
    assert all(row["complete"] for month, row in rows.items() if month != "2025-04")
    assert_bounded(FLAT, april)
    rows = estimate(evidence(FLAT, daily=True), max_gap=31)
    assert set(rows) == {"2025-01", "2025-02", "2025-03", "2025-04"}
    with pytest.raises(KeyError):
        estimate(evidence(Truth(FLAT.downloads[:50], created=0), daily=True))["2025-03"]


def test_a_30_day_count_never_stands_for_a_month_it_saw_less_than_half_of() -> None:
    later = {"model_id": "other/model", "day": FLAT.day(119), "kind": "rolling30", "value": 5}
    ev = evidence(FLAT, rolling_days=[99])  # 2025-04-10: 20 days of March, 10 of April
    rows = estimate(make_evidence([*_observations(ev), later]))
    assert rows["2025-03"]["method"] == "rolling30"
    assert rows["2025-04"]["method"] == "none" and rows["2025-04"]["estimate"] is None
    assert_bounded(FLAT, rows["2025-04"])


def _observations(ev: Any) -> list[dict[str, Any]]:
    return ev.observations.to_pyarrow().to_pylist()  # type: ignore[no-any-return]


def _created(ev: Any) -> list[dict[str, Any]]:
    return ev.created.to_pyarrow().to_pylist()  # type: ignore[no-any-return]


def test_rolling_count_on_the_last_day_of_a_30_day_month_is_exact() -> None:
    april = estimate(evidence(FLAT, rolling_days=[119]))["2025-04"]
    assert april["method"] == "rolling30"
    assert april["estimate"] == april["lower"] == april["upper"] == FLAT.rolling(119)


def test_31_day_month_is_scaled_and_bounded_by_the_window_holding_day_one() -> None:
    march = estimate(evidence(FLAT, rolling_days=[59, 89]))["2025-03"]
    r = FLAT.rolling(89)
    assert march["method"] == "rolling30"
    assert march["estimate"] == pytest.approx(r * 31 / 30)
    assert march["lower"] == r
    assert march["upper"] == r + FLAT.rolling(59)
    assert_bounded(FLAT, march)


def test_february_is_scaled_down_and_its_lower_bound_removes_two_days() -> None:
    feb = estimate(evidence(FLAT, rolling_days=[30, 58]))["2025-02"]
    r = FLAT.rolling(58)
    assert feb["estimate"] == pytest.approx(r * 28 / 30)
    assert feb["upper"] == r
    assert feb["lower"] == max(0, r - min(FLAT.rolling(30), r))
    assert_bounded(FLAT, feb)


def test_all_time_counter_is_interpolated_between_bracketing_snapshots() -> None:
    feb = estimate(evidence(FLAT, all_time_days=[0, 45, 75]))["2025-02"]
    a = {i: FLAT.all_time(i) for i in (0, 45, 75)}
    at_start = a[0] + (a[45] - a[0]) * 30 / 45  # end of 2025-01-31 (index 30)
    at_end = a[45] + (a[75] - a[45]) * 13 / 30  # end of 2025-02-28 (index 58)
    assert feb["method"] == "all_time"
    assert feb["estimate"] == pytest.approx(at_end - at_start)
    assert feb["upper"] == a[75] - a[0]
    assert feb["lower"] == 0
    assert_bounded(FLAT, feb)


def test_counter_that_goes_down_is_not_differenced_across_the_drop() -> None:
    observations = [
        {"model_id": MODEL, "day": FLAT.day(i), "kind": "all_time", "value": v}
        for i, v in ((0, 5_000), (40, 3_000), (70, 6_000))
    ] + [{"model_id": MODEL, "day": FLAT.day(58), "kind": "rolling30", "value": 3_000}]
    feb = estimate(make_evidence(observations))["2025-02"]
    assert feb["method"] == "rolling30"
    assert "counter_reset" in feb["caveats"]
    assert feb["upper"] == 3_000  # the rolling window, not 6,000 - 5,000


def test_stalled_counter_is_ignored_until_it_catches_up() -> None:
    stalled = FLAT.all_time(20)  # the Hub still reports day 20's count on day 40
    observations = [
        {"model_id": MODEL, "day": FLAT.day(20), "kind": "all_time", "value": stalled},
        {"model_id": MODEL, "day": FLAT.day(40), "kind": "all_time", "value": stalled},
        {"model_id": MODEL, "day": FLAT.day(40), "kind": "rolling30", "value": FLAT.rolling(40)},
        {"model_id": MODEL, "day": FLAT.day(60), "kind": "all_time", "value": FLAT.all_time(60)},
    ]
    feb = estimate(make_evidence(observations))["2025-02"]
    a20, a60 = FLAT.all_time(20), FLAT.all_time(60)
    expected = (a60 - a20) * (58 - 30) / 40  # straight through the stall: days 30 → 58 of 20 → 60
    assert feb["method"] == "all_time"
    assert feb["estimate"] == pytest.approx(expected)
    assert_bounded(FLAT, feb)


def test_observations_too_far_from_a_month_give_no_estimate() -> None:
    later = {"model_id": "other/model", "day": FLAT.day(119), "kind": "rolling30", "value": 5}
    ev = evidence(FLAT, rolling_days=[5])
    rows = estimate(make_evidence([*_observations(ev), later], _created(ev)))
    january = rows["2025-01"]  # the count saw 6 of its 31 days: a bound, not an estimate
    assert january["method"] == "none" and january["lower"] == FLAT.rolling(5)
    assert_bounded(FLAT, january)
    for month in ("2025-03", "2025-04"):
        assert rows[month]["method"] == "none"
        assert rows[month]["estimate"] is None and rows[month]["upper"] is None


def test_model_created_mid_month() -> None:
    young = Truth(FLAT.downloads, created=70)  # 2025-03-12
    rows = estimate(evidence(young, rolling_days=[89]))
    assert rows["2025-01"]["method"] == rows["2025-02"]["method"] == "not_created"
    assert rows["2025-02"]["estimate"] == rows["2025-02"]["upper"] == 0
    march = rows["2025-03"]
    assert march["method"] == "rolling30"
    assert (
        march["estimate"]
        == march["lower"]
        == march["upper"]
        == young.month_total(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    )


def test_model_deleted_mid_month() -> None:
    gone = Truth([d if i <= 80 else 0 for i, d in enumerate(FLAT.downloads)], created=0)
    daily = estimate(evidence(gone, daily=True))["2025-03"]
    assert daily["method"] == "daily" and daily["estimate"] == truth_of(gone, daily)
    snapshots = estimate(evidence(gone, rolling_days=[60, 75], all_time_days=[50, 75]))
    for row in snapshots.values():
        assert_bounded(gone, row)


def test_every_row_states_its_method() -> None:
    rows = estimate(evidence(FLAT, rolling_days=[5, 58], all_time_days=[0, 100])).values()
    for row in rows:
        assert row["method"] in METHODS
        assert (row["estimate"] is None) == (row["method"] == "none")


def test_month_arguments_are_checked() -> None:
    with pytest.raises(HistoryError, match="not a month"):
        parse_month("2025-13")
    with pytest.raises(HistoryError, match="empty"):
        month_table("2025-03", "2025-01")


schedules = st.lists(st.integers(0, 119), max_size=12, unique=True)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    downloads=st.lists(st.integers(0, 5_000), min_size=120, max_size=120),
    created=st.integers(0, 100),
    rolling_days=schedules,
    all_time_days=schedules,
    know_created=st.booleans(),
)
def test_bounds_contain_the_truth_for_any_schedule(
    downloads: list[int],
    created: int,
    rolling_days: list[int],
    all_time_days: list[int],
    know_created: bool,
) -> None:
    truth = Truth(downloads, created)
    ev = evidence(
        truth,
        rolling_days=rolling_days,
        all_time_days=all_time_days,
        know_created=know_created,
    )
    for row in estimate(ev).values():
        assert_bounded(truth, row)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    downloads=st.lists(st.integers(0, 5_000), min_size=120, max_size=120),
    created=st.integers(0, 100),
    rolling_days=schedules,
    all_time_days=schedules,
)
def test_bounds_shrink_to_zero_with_daily_data(
    downloads: list[int], created: int, rolling_days: list[int], all_time_days: list[int]
) -> None:
    truth = Truth(downloads, created)
    ev = evidence(truth, rolling_days=rolling_days, all_time_days=all_time_days, daily=True)
    for row in estimate(ev).values():
        assert row["lower"] == row["upper"] == row["estimate"] == truth_of(truth, row)


def _shares_of(order_seed: int) -> tuple[dict[str, float], list[float]]:
    """Family shares of one month of 200 model estimates spanning nine orders of magnitude,
    the rows given to the engine in the order of ``order_seed``."""
    import random

    from hubpulse.analysis.history.monthly import month_drivers, monthly_downloads
    from hubpulse.registry import load_registry

    registry = load_registry()
    draw, rows, shares = random.Random(7), [], []
    for i, family in enumerate(f.name for f in registry.families[:40]):
        for j in range(5):
            value = draw.random() * 10 ** draw.randint(0, 9)
            rows.append(
                {
                    "model_id": f"org{i}/m{j}",
                    "month": "2025-01",
                    "month_start": dt.date(2025, 1, 1),
                    "month_end": dt.date(2025, 1, 31),
                    "complete": True,
                    "method": "exact",
                    "created": dt.datetime(2024, 1, 1),
                    "estimate": value,
                    "lower": value,
                    "upper": value,
                }
            )
            shares.append({"model_id": f"org{i}/m{j}", "family": family, "weight": 1.0})
    random.Random(order_seed).shuffle(rows)
    estimates = ibis.memtable(pa.Table.from_pylist(rows))
    owners = ibis.memtable(pa.Table.from_pylist([{**r, "family": "Qwen"} for r in shares]))
    table = monthly_downloads(estimates, ibis.memtable(pa.Table.from_pylist(shares)), registry)
    drivers = month_drivers(estimates, owners, registry, "family", "Qwen", "2025-01")
    found = {r["family"]: r["share"] for r in table.to_pyarrow().to_pylist()}
    return found, sorted(drivers.to_pyarrow().column("group_share").to_pylist())


def test_shares_are_the_same_whatever_order_the_engine_sums_in() -> None:
    first = _shares_of(0)
    assert len(first[0]) == 40 and abs(sum(first[0].values()) - 1) < 1e-12
    assert len(first[1]) == 200 and abs(sum(first[1]) - 1) < 1e-12
    for seed in range(1, 8):
        assert _shares_of(seed) == first, seed
