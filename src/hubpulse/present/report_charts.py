"""The report's charts, from its figures (``report.build_report``'s data and meta): shares,
monthly series, the claims (subject against the combined rest), derivatives, vendors,
countries, sizes and concentration."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubpulse.analysis.snapshot.sizes import SIZE_BUCKETS, UNKNOWN_SIZE
from hubpulse.present.cells import plural
from hubpulse.present.charts import OTHERS, PALETTE, Chart, Series
from hubpulse.registry import UNATTRIBUTED

TOP_FAMILIES = 8
THIN = (
    "no month is covered enough (a share needs the minimum coverage, the part of the newest "
    "30-day downloads that was estimated, for the month and the group alike)"
)


def report_charts(data: dict[str, Any], meta: dict[str, Any]) -> list[Chart]:
    colors = meta["colors"]
    charts = [_share_chart(data["families"]), *_monthly_charts(data["monthly"], colors)]
    for key, title in (("month_comparison", meta["month"]), ("comparison", meta["snapshot_date"])):
        if data[key]:
            charts.append(comparison_chart(data[key], key, title, colors))
    charts.append(_derivatives_chart(data["derivatives"]))
    charts.append(_group_chart(data["vendors"], "vendor", "Downloads by vendor (30 days)"))
    charts.append(_group_chart(data["countries"], "country", "Downloads by country of origin"))
    charts.append(_size_chart(data["sizes"]))
    if data.get("market", {}).get("rows"):
        from hubpulse.present.market import market_chart

        charts.append(market_chart(data["market"]))
    if data["concentration"]:
        rows = data["concentration"]
        charts.append(
            Chart(
                "concentration",
                "Concentration of monthly family downloads",
                "line",
                [r["month"] for r in rows],
                [
                    Series("top-1 share", [r["top1_share"] for r in rows]),
                    Series("top-5 share", [r["top5_share"] for r in rows]),
                ],
                "share of attributed downloads",
                percent=True,
                why_empty=THIN,
            )
        )
    return charts


def _share_chart(ranking: list[dict[str, Any]]) -> Chart:
    top = ranking[:15]
    return Chart(
        "families",
        "Family share of 30-day downloads",
        "bar",
        [r["family"] for r in top],
        [Series("share", [r["share"] for r in top])],
        "share of the snapshot's 30-day downloads",
        percent=True,
        horizontal=True,
    )


def _monthly_charts(monthly: list[dict[str, Any]], colors: dict[str, str]) -> list[Chart]:
    if not monthly:
        return []
    months = sorted({r["month"] for r in monthly})
    labels, marked = _month_labels(monthly, months)
    totals: dict[str, float] = {}
    for r in monthly:
        if r["family"] != UNATTRIBUTED:
            totals[r["family"]] = totals.get(r["family"], 0) + (r["estimate"] or 0)
    leaders = sorted(totals, key=lambda f: (-totals[f], f))[:TOP_FAMILIES]
    cell = {(r["month"], r["family"]): r for r in monthly}
    # a month without any estimate stays a gap (None), never a zero
    stacked = [
        Series(f, [(cell.get((m, f)) or {}).get("estimate") for m in months], color=colors.get(f))
        for f in leaders
    ]
    others = [
        _total(r["estimate"] for r in monthly if r["month"] == m and r["family"] not in leaders)
        for m in months
    ]
    shares = [
        Series(f, [(cell.get((m, f)) or {}).get("share") for m in months], color=colors.get(f))
        for f in leaders
    ]
    return [
        Chart(
            "monthly",
            "Estimated monthly downloads per family",
            "stack",
            labels,
            [*stacked, Series("other and unattributed", others, color=OTHERS)],
            "downloads per month (estimate)",
            notes=marked,
        ),
        Chart(
            "monthly_share",
            "Family share of monthly downloads",
            "line",
            labels,
            shares,
            "share of the month's downloads",
            percent=True,
            notes=["a share is shown only where the family and the month are covered enough"],
            why_empty=THIN,
        ),
    ]


def _month_labels(monthly: list[dict[str, Any]], months: list[str]) -> tuple[list[str], list[str]]:
    """The months as x labels, a month resting on far fewer or far more estimated models than
    the chart's typical month (a few repos' API counts, one snapshot's 30 days of every model)
    starred, and the note giving their counts; the other months bare."""
    counted = {m: sum(r["estimated"] or 0 for r in monthly if r["month"] == m) for m in months}
    typical = sorted(n for n in counted.values() if n)
    if not typical:
        return months, []
    median = typical[len(typical) // 2]
    odd = {m for m, n in counted.items() if n and not median / ODD <= n <= median * ODD}
    labels = [f"{m}*" if m in odd else m for m in months]
    counts = ", ".join(f"{m} {plural(counted[m], 'model')}" for m in months if m in odd)
    note = (
        f"* rests on far fewer or more estimated models than the typical month's "
        f"{median:,} ({counts}): not comparable with the months beside it"
    )
    return labels, [note] if odd else []


ODD = 3  # a month's estimated models this many times fewer or more than the median is marked


def _total(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def comparison_chart(result: dict[str, Any], name: str, when: str, colors: dict[str, str]) -> Chart:
    """The subject against the combined next N: two bars, with bounds for a month (an
    unbounded upper bound drawn open-ended)."""
    monthly = isinstance(result["combined_next"], dict)  # a month's figures carry bounds
    label = f"next {result['next_n']} combined"
    paint = [colors.get(result["family"], PALETTE[0]), OTHERS]
    if monthly:
        value, other = result["value"], result["combined_next"]
        series = Series(
            "estimate",
            [value["estimate"], other["estimate"]],
            lower=[value["lower"], other["lower"]],
            upper=[value["upper"], other["upper"]],
            colors=paint,
        )
        notes = ["whiskers: hard bounds; ↑ = no upper bound"]
        title = f"{result['family']} vs the next {result['next_n']} in {when}: {result['verdict']}"
    else:
        series = Series(result["metric"], [result["value"], result["combined_next"]], colors=paint)
        notes = []
        title = (
            f"{result['family']} vs the next {result['next_n']}, 30 days to {when}: "
            f"{result['verdict']}"
        )
    return Chart(name, title, "bar", [result["family"], label], [series], "downloads", notes=notes)


def _derivatives_chart(rows: list[dict[str, Any]]) -> Chart:
    totals = {r["family"]: r["derivatives"] for r in rows if r["relation"] == "all"}
    leaders = sorted(totals, key=lambda f: (-totals[f], f))[:12]
    relations = sorted({r["relation"] for r in rows if r["relation"] != "all"})
    cell = {(r["family"], r["relation"]): r["derivatives"] for r in rows}
    return Chart(
        "derivatives",
        "Derivative repos per family, by relation",
        "stack",
        leaders,
        [Series(rel, [cell.get((f, rel), 0) for f in leaders]) for rel in relations],
        "derivative repos in the snapshot",
    )


def _group_chart(rows: list[dict[str, Any]], key: str, title: str) -> Chart:
    top = rows[:15]
    return Chart(
        f"{key}s" if not key.endswith("y") else "countries",
        title,
        "bar",
        [str(r[key]) for r in top],
        [Series("downloads_30d", [r["downloads_30d"] for r in top])],
        "30-day downloads",
        horizontal=True,
    )


def _size_chart(rows: list[dict[str, Any]]) -> Chart:
    order = [label for label, _ in SIZE_BUCKETS] + [UNKNOWN_SIZE]
    by_size = {r["size"]: r for r in rows}
    present = [s for s in order if s in by_size]
    return Chart(
        "sizes",
        "Downloads by model size (parameters)",
        "bar",
        present,
        [Series("downloads_30d", [by_size[s]["downloads_30d"] for s in present])],
        "30-day downloads",
        notes=["size from safetensors/GGUF metadata, else the size in the repo name"],
    )
