"""The deconvolved method: daily 30-day counts chained back to each day's downloads.

Expected values come from the counting model itself (``truth``) and from an independent linear
programme (scipy's HiGHS) over the same observations: the tightest bounds any method could give.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from truth import MODEL, START, Truth, make_evidence

from hubpulse.analysis.history.deconvolve import clean_rolling
from hubpulse.analysis.history.estimator import estimate_monthly_downloads, month_table
from hubpulse.analysis.history.evidence import evidence_months, read_evidence
from hubpulse.store.warehouse import open_warehouse

linprog = pytest.importorskip("scipy.optimize").linprog

MONTHS = ("2025-01", "2025-04")
DAYS = 120


def estimate(ev: Any, *, deconvolve: bool = True) -> dict[str, dict[str, Any]]:
    table = estimate_monthly_downloads(ev, month_table(*MONTHS), deconvolve=deconvolve)
    return {r["month"]: r for r in table.to_pyarrow().to_pylist() if r["model_id"] == MODEL}


def observed(truth: Truth, days: list[int], glitches: dict[int, int]) -> Any:
    """Evidence of the 30-day count on ``days`` (counts before creation are 0, as the Hub
    shows them); on a glitched day the first two weeks of the window read as zero."""
    rows = []
    for i in days:
        value = truth.rolling(i)
        if i in glitches:
            value -= sum(truth.d(u) for u in range(i - 29, i - 15))
        rows.append({"model_id": MODEL, "day": truth.day(i), "kind": "rolling30", "value": value})
    created = [{"model_id": MODEL, "created": truth.day(truth.created)}]
    return make_evidence(rows, created)


def left_out(ev: Any) -> set[dt.date]:
    return {r["day"] for r in clean_rolling(ev)[1].to_pyarrow().to_pylist()}


def visible(truth: Truth, days: list[int], start: int, length: int) -> bool:
    """The documented glitch rule, restated: every day of the dip is below 3/4 of the counts
    observed on the days just before and just after it."""
    run = range(start, start + length)
    if start - 1 not in days or start + length not in days or any(i not in days for i in run):
        return False
    deepest = max(truth.rolling(i) - sum(truth.d(u) for u in range(i - 29, i - 15)) for i in run)
    edges = min(truth.rolling(start - 1), truth.rolling(start + length))
    return deepest * 4 < edges * 3


def assert_contains(truth: Truth, row: dict[str, Any]) -> None:
    value = truth.month_total(row["month_start"], row["month_end"])
    upper = row["upper"] if row["upper"] is not None else float("inf")
    assert row["lower"] - 1e-6 <= value <= upper + 1e-6, (value, row)


def test_a_series_from_before_creation_gives_every_month_exactly() -> None:
    truth = Truth([(i * 37) % 500 + 20 for i in range(DAYS)], created=40)
    for row in estimate(observed(truth, list(range(30, DAYS)), {})).values():
        total = truth.month_total(row["month_start"], row["month_end"])
        assert row["lower"] == row["upper"] == row["estimate"] == total
        assert row["method"] in ("deconvolved", "not_created")


def test_deconvolution_narrows_a_31_day_month_the_rolling_method_leaves_wide() -> None:
    # no downloads at weekends: every chain (days 30 apart) meets a zero within four steps,
    # and non-negativity pins it there
    truth = Truth([0 if i % 7 in (3, 4) else 1000 + (i % 11) * 100 for i in range(DAYS)], 0)
    days = list(range(31, DAYS))  # from February: January's chain is unknown
    old, new = (
        estimate(observed(truth, days, {}), deconvolve=False),
        estimate(observed(truth, days, {})),
    )
    march_old, march = old["2025-03"], new["2025-03"]
    assert march["method"] == "deconvolved"
    assert march["upper"] - march["lower"] < (march_old["upper"] - march_old["lower"]) / 10
    assert_contains(truth, march)


def test_the_hubs_window_glitch_is_left_out_and_listed() -> None:
    truth = Truth([1000 + (i % 7) * 10 for i in range(DAYS)], created=0)
    days = list(range(DAYS))
    ev = observed(truth, days, {70: 1, 71: 1})
    rows = clean_rolling(ev)[1].to_pyarrow().to_pylist()
    assert [(r["day"], r["reason"][:21]) for r in rows] == [
        (truth.day(70), "glitch: a dip of 2 da"),
        (truth.day(71), "glitch: a dip of 2 da"),
    ]
    for row in estimate(ev).values():
        assert_contains(truth, row)


def test_a_two_day_glitch_deeper_on_its_first_day_is_one_dip_of_two_days() -> None:
    # day 70 alone is below 3/4 of its neighbours (10,000 < 3/4 of 20,000), and so are days
    # 70-71 together (20,000 < 3/4 of 30,000): the dip is both days, not day 70 alone
    values = {i: 30_000 for i in range(60, 80)} | {70: 10_000, 71: 20_000}
    rows = [
        {"model_id": MODEL, "day": START + dt.timedelta(days=i), "kind": "rolling30", "value": v}
        for i, v in values.items()
    ]
    ev = make_evidence(rows, [{"model_id": MODEL, "created": START}])
    assert left_out(ev) == {START + dt.timedelta(days=70), START + dt.timedelta(days=71)}


def test_a_count_before_creation_is_left_out_with_its_reason() -> None:
    truth = Truth([500] * DAYS, created=50)
    ev = make_evidence(
        [{"model_id": MODEL, "day": truth.day(45), "kind": "rolling30", "value": 900}],
        [{"model_id": MODEL, "created": truth.day(50)}],
    )
    (row,) = clean_rolling(ev)[1].to_pyarrow().to_pylist()
    assert row["reason"] == "positive 30-day count before the repo's creation on 2025-02-20"


@st.composite
def schedules(draw: Any) -> tuple[Truth, list[int], dict[int, int]]:
    created = draw(st.integers(0, 90))
    downloads = draw(st.lists(st.integers(0, 3_000), min_size=DAYS, max_size=DAYS))
    first = draw(st.integers(max(0, created - 40), DAYS - 10))
    days = list(range(first, DAYS))
    gaps = draw(st.lists(st.integers(first, DAYS - 1), max_size=6))
    days = [i for i in days if i not in gaps]
    glitches: dict[int, int] = {}
    truth = Truth(downloads, created)
    for start in draw(st.lists(st.integers(first + 1, DAYS - 4), max_size=3)):
        length = draw(st.integers(1, 3))
        if visible(truth, days, start, length) and not any(
            g in glitches for g in range(start - 1, start + length + 1)
        ):
            glitches.update({i: length for i in range(start, start + length)})
    return truth, days, glitches


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedules())
def test_bounds_contain_the_truth_through_gaps_and_glitches(
    case: tuple[Truth, list[int], dict[int, int]],
) -> None:
    truth, days, glitches = case
    ev = observed(truth, days, glitches)
    assert {truth.day(i) for i in glitches} <= left_out(ev)
    rows = estimate(ev)
    for row in rows.values():
        assert_contains(truth, row)
    complete = days == list(range(days[0], DAYS)) if days else False
    if complete and days[0] < truth.created and not left_out(ev):
        for row in rows.values():
            assert (
                row["lower"]
                == row["upper"]
                == truth.month_total(row["month_start"], row["month_end"])
            ), row


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    downloads=st.lists(st.integers(0, 3_000), min_size=DAYS, max_size=DAYS),
    created=st.integers(0, 60),
    first=st.integers(0, 60),
)
def test_bounds_of_a_contiguous_series_are_the_tightest_a_linear_programme_finds(
    downloads: list[int], created: int, first: int
) -> None:
    truth = Truth(downloads, created)
    days = list(range(max(first, created), DAYS))
    ev = observed(truth, days, {})
    assume(not left_out(ev))
    for row in estimate(ev).values():
        a, b = (row["month_start"] - START).days, (row["month_end"] - START).days
        if a < days[0] - 29 or row["method"] == "not_created":
            continue
        low, high = _programme(truth, days, range(max(a, created), b + 1))
        assert row["lower"] == pytest.approx(low, abs=1e-3)
        assert row["upper"] == pytest.approx(high, abs=1e-3)


def _programme(truth: Truth, days: list[int], month: range) -> tuple[float, float]:
    """min and max of the month's sum over every d ≥ 0 (0 before creation) that reproduces
    each observed 30-day count."""
    first = days[0] - 29
    n = days[-1] - first + 1
    rows, values = [], []
    for i in days:
        rows.append([1.0 if i - 29 <= first + j <= i else 0.0 for j in range(n)])
        values.append(truth.rolling(i))
    bounds = [(0.0, 0.0) if first + j < truth.created else (0.0, None) for j in range(n)]
    objective = [1.0 if first + j in month else 0.0 for j in range(n)]
    low = linprog(objective, A_eq=rows, b_eq=values, bounds=bounds, method="highs")
    high = linprog([-c for c in objective], A_eq=rows, b_eq=values, bounds=bounds, method="highs")
    assert low.status == 0 and high.status == 0
    return low.fun, -high.fun


@pytest.fixture(scope="module")
def demo_history(demo_store: Path) -> tuple[dict[Any, Any], dict[Any, Any]]:
    ev = read_evidence(open_warehouse(demo_store))
    months = month_table(*evidence_months(ev))  # type: ignore[misc]
    runs = []
    for deconvolve in (False, True):
        table = estimate_monthly_downloads(ev, months, deconvolve=deconvolve).to_pyarrow()
        runs.append({(r["model_id"], r["month"]): r for r in table.to_pylist()})
    return runs[0], runs[1]


@pytest.mark.slow
def test_never_wider_than_without_deconvolution_on_the_bundled_series(
    demo_history: tuple[dict[Any, Any], dict[Any, Any]],
) -> None:
    old, new = demo_history
    assert old.keys() == new.keys()
    narrower = 0
    for key, before in old.items():
        after = new[key]
        assert after["lower"] >= before["lower"] - 1e-6, (key, before, after)
        if before["upper"] is not None:
            assert after["upper"] is not None and after["upper"] <= before["upper"] + 1e-6
        narrower += after != before
    assert narrower > 0
