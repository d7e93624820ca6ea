"""Monthly family figures, comparisons, concentration, milestones and derivative growth, checked
against independent computations (plain Python over the raw files) and hand-counted cases."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import ibis
import independent
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import FORECAST, HUB_STATS, HUB_STATS_DATE
from graphs import aliases, model, snapshot
from independent import forecast_month
from truth import make_evidence

from hubpulse.analysis.claims.month_comparison import compare_month_rows
from hubpulse.analysis.history.estimator import HistoryError
from hubpulse.analysis.history.evidence import collect_evidence, read_evidence
from hubpulse.analysis.history.history import History, prepare_history
from hubpulse.analysis.history.trends import (
    concentration,
    count_new_derivatives,
    cumulative_downloads,
    find_milestones,
)
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.errors import OptionError, UnknownFamilyError
from hubpulse.ingest.series import SERIES_MODELS_SCHEMA, SERIES_SCHEMA
from hubpulse.registry import UNATTRIBUTED, load_registry
from hubpulse.store.warehouse import Warehouse, open_warehouse
from hubpulse.terms import parse_amount, parse_amounts

FAMILIES = ("Qwen", "Llama", "Gemma", "Mistral", "Phi", "DeepSeek")
MONTHS = ("2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02")


@pytest.fixture(scope="module")
def forecast_store(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    store = open_warehouse(tmp_path_factory.mktemp("forecast") / "wh")
    for path in sorted(FORECAST.glob("*.csv")):
        store.import_series(path)
    return store


@pytest.fixture(scope="module")
def forecast_history(forecast_store: Warehouse) -> History:
    # the month-end 30-day count, restated in ``independent.forecast_month``; the deconvolved
    # method has its own checks (test_deconvolve: the truth, a linear programme, never wider)
    return prepare_history(
        read_evidence(forecast_store),
        load_registry(),
        mode="publisher",
        analysis=None,
        first=MONTHS[0],
        last=MONTHS[-1],
        deconvolve=False,
    )


@pytest.fixture(scope="module")
def family_rows(forecast_history: History) -> list[dict[str, Any]]:
    return forecast_history.monthly("family").to_pyarrow().to_pylist()


@pytest.mark.slow
@pytest.mark.parametrize("month", MONTHS)
def test_family_months_equal_the_raw_csvs(family_rows: list[dict[str, Any]], month: str) -> None:
    got = {r["family"]: r for r in family_rows if r["month"] == month}
    for family in FAMILIES:
        expected = forecast_month(FORECAST, family, month)
        row = got[family]
        assert row["estimate"] == pytest.approx(expected["estimate"], abs=1), family
        assert row["lower"] == pytest.approx(expected["lower"], abs=1), family
        if expected["upper"] is None:
            assert row["upper"] is None, family
        else:
            assert row["upper"] == pytest.approx(expected["upper"], abs=1), family


def test_november_30_day_counts_are_exact_where_every_model_is_tracked(
    family_rows: list[dict[str, Any]],
) -> None:
    llama = next(r for r in family_rows if r["month"] == "2024-11" and r["family"] == "Llama")
    assert llama["methods"] == "rolling30:26"
    assert llama["lower"] <= llama["estimate"] <= llama["upper"]
    assert llama["upper"] - llama["lower"] < 0.001 * llama["estimate"]


def test_group_totals_add_up_to_the_month_total(forecast_history: History) -> None:
    models = forecast_history.monthly("model").to_pyarrow().to_pylist()
    floor = forecast_history.checks.min_coverage
    for by in ("family", "vendor", "country"):
        rows = forecast_history.monthly(by).to_pyarrow().to_pylist()
        for month in MONTHS:
            held = [r for r in rows if r["month"] == month]
            total = sum(r["estimate"] or 0 for r in held)
            month_models = [r["estimate"] or 0 for r in models if r["month"] == month]
            # each row rounds to the download: at most half a download each
            assert total == pytest.approx(
                sum(month_models), abs=(len(held) + len(month_models)) / 2
            )
            for r in held:
                usable = (r["coverage"] or 0) >= floor and r["month_coverage"] >= floor
                if usable and total:
                    assert r["share"] == pytest.approx(r["estimate"] / total, rel=1e-5)
                else:
                    assert r["share"] is None, (by, month, r)


def _rows(figures: dict[str, tuple[int, int, int | None]]) -> list[dict[str, Any]]:
    return [
        {"month": "2025-01", "family": f, "estimate": e, "lower": lo, "upper": hi, "methods": ""}
        for f, (e, lo, hi) in figures.items()
    ]


def test_monthly_claim_holds_fails_or_stays_undecided() -> None:
    holds = _rows({"A": (100, 90, 110), "B": (40, 35, 45), "C": (30, 25, 35)})
    result = compare_month_rows(holds, "A", 2, mode="publisher", month="2025-01")
    assert (result.verdict, result.combined) == (
        "holds",
        {"estimate": 70, "lower": 60, "upper": 80},
    )
    fails = _rows({"B": (60, 55, 65), "A": (50, 45, 52), "C": (40, 40, 40), "D": (30, 30, 30)})
    assert compare_month_rows(fails, "A", 2, mode="lineage", month="2025-01").verdict == "fails"
    close = _rows({"A": (100, 60, 140), "B": (90, 80, 100)})
    result = compare_month_rows(close, "A", 3, mode="publisher", month="2025-01")
    assert (result.verdict, result.point_verdict, result.next_n) == (
        "undecided within error",
        "exceeds",
        1,
    )
    unbounded = _rows({"A": (100, 95, 105), "B": (50, 40, None)})
    assert compare_month_rows(unbounded, "A", 1, mode="publisher", month="2025-01").verdict == (
        "undecided within error"
    )
    with pytest.raises(UnknownFamilyError, match="no estimate for 2025-01"):
        compare_month_rows(close, "Z", 1, mode="publisher", month="2025-01")


def test_concentration_matches_hand_computed_indices() -> None:
    monthly = ibis.memtable(
        pa.table(
            {
                "month": ["2025-01"] * 4,
                "family": ["A", "B", "C", UNATTRIBUTED],
                "estimate": [60, 30, 10, 500],
                "month_coverage": [0.9] * 4,
            }
        )
    )
    row = concentration(monthly, "family", top=2).to_pyarrow().to_pylist()[0]
    thin = concentration(monthly, "family", top=2, min_coverage=0.95).to_pyarrow().to_pylist()[0]
    assert thin["coverage"] == 0.9 and thin["hhi"] is None and thin["top1_share"] is None
    shares = [0.6, 0.3, 0.1]
    hhi = sum(s * s for s in shares) * 10_000
    values = [60, 30, 10]
    gini = sum(abs(x - y) for x in values for y in values) / (2 * len(values) ** 2 * 100 / 3)
    assert row["groups"] == 3 and row["total"] == 100
    assert row["top1_share"] == pytest.approx(0.6)
    assert row["top2_share"] == pytest.approx(0.9)
    assert row["hhi"] == pytest.approx(hhi, abs=0.1)
    assert row["gini"] == pytest.approx(gini, abs=1e-4)


def test_milestone_day_is_interpolated_within_the_crossing_month() -> None:
    rows = [
        {"family": "A", "month": "2025-01", "cumulative": 50, "lower": 40, "upper": 60},
        {"family": "A", "month": "2025-02", "cumulative": 150, "lower": 120, "upper": None},
    ]
    found = find_milestones(rows, [100, 45, 1_000])
    assert found[0]["estimated"] == dt.date(2025, 2, 14)  # halfway through 28 days
    assert found[0]["latest"] == dt.date(2025, 2, 21)  # 60 of 80 more on the lower curve: 3/4
    assert found[0]["earliest"] is None  # the upper curve is unknown in February
    assert found[1]["earliest"] == dt.date(2025, 1, 23)
    assert found[2]["estimated"] is None


def test_cumulative_counts_since_the_first_month(forecast_history: History) -> None:
    curve = cumulative_downloads(
        forecast_history.estimates, forecast_history.shares, forecast_history.registry
    )
    qwen = curve.filter(curve.family == "Qwen").to_pyarrow().to_pylist()
    monthly = [
        r
        for r in forecast_history.monthly("family").to_pyarrow().to_pylist()
        if r["family"] == "Qwen"
    ]
    assert [r["cumulative"] for r in qwen] == list(
        _running([r["estimate"] for r in sorted(monthly, key=lambda r: r["month"])])
    )


def _running(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


def test_new_derivatives_per_month_match_a_plain_count(demo_analysis: Analysis) -> None:
    table = count_new_derivatives(demo_analysis, "2024-01", "2026-12", ["Qwen"])
    rows = table.to_pyarrow().to_pylist()
    registry = __import__("tomllib").loads(
        (Path(independent.__file__).parents[1] / "src/hubpulse/data/families.toml").read_text()
    )["family"]
    raw, parents = independent.raw_parents(HUB_STATS)
    expected: dict[str, int] = {}
    for model_id, row in raw.items():
        if independent.publisher(model_id, registry) == "Qwen" or row["createdAt"] is None:
            continue
        ancestors = _ancestors(model_id, parents)
        if any(independent.publisher(a, registry) == "Qwen" for a in ancestors):
            month = row["createdAt"].strftime("%Y-%m")
            if "2024-01" <= month <= "2026-12" and row["createdAt"] != dt.datetime(
                2022, 3, 2, 23, 29, 4
            ):
                expected[month] = expected.get(month, 0) + 1
    assert {r["month"]: r["total"] for r in rows} == expected
    for r in rows:
        assert (
            r["total"] == r["finetune"] + r["adapter"] + r["quantized"] + r["merge"] + r["unknown"]
        )


def _ancestors(model_id: str, parents: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    frontier = [model_id]
    while frontier:
        node = frontier.pop()
        for parent in parents.get(node, []):
            if parent not in seen and parent != model_id:
                seen.add(parent)
                frontier.append(parent)
    return seen


@pytest.mark.slow
def test_history_lineage_mode_credits_derivatives_to_their_root_family(
    tmp_path: Path,
) -> None:
    store = open_warehouse(tmp_path / "wh")
    store.ingest(HUB_STATS)
    from hubpulse.analysis.snapshot.snapshot import analyse_snapshot

    analysis = analyse_snapshot(
        store.models(HUB_STATS_DATE), store.aliases(), load_registry(), HUB_STATS_DATE
    )
    history = prepare_history(
        read_evidence(store),
        load_registry(),
        mode="lineage",
        analysis=analysis,
        first="2026-05",
        last="2026-05",
    )
    shares = {
        r["model_id"]: r["family"]
        for r in history.shares.to_pyarrow().to_pylist()
        if r["model_id"] == "deepcogito/cogito-v1-preview-qwen-32B"
    }
    assert shares == {"deepcogito/cogito-v1-preview-qwen-32B": "Qwen"}
    assert history.lineage_date == HUB_STATS_DATE


def test_renamed_repos_are_merged_and_snapshots_win_over_series() -> None:
    snap = snapshot([model("org/new-name", downloads=500)])
    series = ibis.memtable(
        pa.Table.from_pylist(
            [
                {
                    "model_id": "org/old-name",
                    "day": dt.date(2025, 12, 1),
                    "kind": "rolling30",
                    "value": 400,
                    "load_id": "L1",
                },
                {
                    "model_id": "org/new-name",
                    "day": dt.date(2026, 1, 1),
                    "kind": "rolling30",
                    "value": 999,
                    "load_id": "L1",
                },
            ],
            schema=SERIES_SCHEMA.append(pa.field("load_id", pa.string())),
        )
    )
    loads = ibis.memtable(pa.table({"load_id": ["L1"], "loaded_at": [dt.datetime(2026, 1, 2)]}))
    created = ibis.memtable(
        pa.Table.from_pylist(
            [{"model_id": "org/old-name", "created_at": dt.datetime(2025, 6, 1)}],
            schema=SERIES_MODELS_SCHEMA,
        )
    )
    cover = make_evidence([]).coverage
    ev = collect_evidence(
        snap, series, created, cover, loads, aliases([("org/old-name", "org/new-name")])
    )
    obs = sorted(
        (r["model_id"], r["day"].isoformat(), r["value"])
        for r in ev.observations.to_pyarrow().to_pylist()
    )
    assert obs == [
        ("org/new-name", "2025-12-01", 400),
        ("org/new-name", "2026-01-01", 500),  # the snapshot's 30-day count, not the series'
        ("org/new-name", "2026-01-01", 5_000),  # its all-time count
    ]
    assert ev.created.to_pyarrow().to_pylist() == [
        {"model_id": "org/new-name", "created": dt.date(2025, 6, 1)}
    ]


def test_amounts_parse_with_suffixes_and_thousands() -> None:
    assert parse_amounts("100M, 1.5B,20k,700000") == [100_000_000, 1_500_000_000, 20_000, 700_000]
    assert parse_amounts("100,000") == [100_000]  # one amount, not [100, 0]
    assert parse_amounts("1,000,000,2M") == [1_000_000, 2_000_000]
    assert parse_amounts("0.5M") == [500_000]
    assert parse_amount("700M") == parse_amount("700,000,000") == parse_amount("700_000_000")
    with pytest.raises(OptionError, match="--at '100M,abc'"):
        parse_amounts("100M,abc", "--at")
    for broken in ("1,00", "100,0", "0"):  # not [1, 0]: a broken group is an error
        with pytest.raises(OptionError, match="is no amount"):
            parse_amounts(broken, "--at")
    with pytest.raises(OptionError, match="one amount"):
        parse_amount("1M,2M", "--milestone")


def test_empty_warehouse_says_what_to_do(warehouse: Warehouse) -> None:
    with pytest.raises(HistoryError, match="hubpulse import-series"):
        prepare_history(read_evidence(warehouse), load_registry(), mode="publisher", analysis=None)


def test_estimates_are_finite(forecast_history: History) -> None:
    for row in forecast_history.estimates.to_pyarrow().to_pylist():
        if row["estimate"] is not None:
            assert math.isfinite(row["estimate"]) and row["estimate"] >= 0


@pytest.mark.slow
def test_snapshots_over_time_are_history(tmp_path: Path) -> None:
    """Two snapshots bracketing May: each model's all-time counter difference is its May figure
    (method all_time), checked against a plain-Python pass over the raw rows."""
    raw = pq.read_table(HUB_STATS)
    earlier = pc.subtract(raw.column("downloadsAllTime"), raw.column("downloads"))
    april = tmp_path / "april.parquet"
    pq.write_table(
        raw.set_column(raw.column_names.index("downloadsAllTime"), "downloadsAllTime", earlier),
        april,
    )
    store = open_warehouse(tmp_path / "wh")
    store.ingest(april, dt.date(2026, 4, 30))
    store.ingest(HUB_STATS, dt.date(2026, 5, 31))
    history = prepare_history(
        read_evidence(store),
        load_registry(),
        mode="publisher",
        analysis=None,
        first="2026-05",
        last="2026-05",
    )
    rows = {r["family"]: r for r in history.monthly("family").to_pyarrow().to_pylist()}
    registry = load_registry()
    families = [f.model_dump() for f in registry.families]
    expected: dict[str, float] = {}
    methods: dict[str, set[str]] = {}
    for row in raw.to_pylist():
        family = independent.publisher(row["id"], families) or UNATTRIBUTED
        r, total = row["downloads"] or 0, row["downloadsAllTime"]
        bracketed = total is not None and total - r >= 0
        expected[family] = expected.get(family, 0) + (r if bracketed else r * 31 / 30)
        methods.setdefault(family, set()).add("all_time" if bracketed else "rolling30")
    for family in ("Qwen", "Llama", "DeepSeek", "Gemma"):
        assert rows[family]["estimate"] == pytest.approx(expected[family], abs=1), family
        assert {m.split(":")[0] for m in rows[family]["methods"].split()} == methods[family]
