"""`hubpulse report`: its figures equal the CLI's JSON, it is self-contained, and its sizes,
derivatives and Markdown/PNG forms are right."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ibis
import pytest
from conftest import HUB_STATS
from independent import size_totals
from typer.testing import CliRunner

from hubpulse.analysis.snapshot.ranking import (
    count_derivatives,
    parameter_count,
    rank_models,
    size_bucket,
)
from hubpulse.analysis.snapshot.snapshot import Analysis
from hubpulse.cli import app
from hubpulse.registry import load_registry

runner = CliRunner()
MONTH = "2024-12"


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def cli_json(store: Path, *args: str) -> dict[str, Any]:
    return json.loads(cli(*args, "--format", "json", "-w", str(store)))


def same(a: Any, b: Any, where: str = "") -> bool:
    """Equal, floats to 1e-12 relative (DuckDB's parallel float sums vary in the last bit);
    a difference is reported with its path."""
    if isinstance(a, float) or isinstance(b, float):
        equal = a == pytest.approx(b, rel=1e-12)
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise AssertionError(f"{where}: keys {sorted(a)} != {sorted(b)}")
        return all(same(a[k], b[k], f"{where}.{k}") for k in a)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise AssertionError(f"{where}: {len(a)} rows != {len(b)} rows")
        return all(same(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)))
    else:
        equal = a == b
    if not equal:
        raise AssertionError(f"{where}: {a!r} != {b!r}")
    return True


def embedded(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="hubpulse-data">(.*?)</script>', html, re.S
    )
    assert found, "the report embeds its figures"
    return json.loads(found.group(1).replace("<\\/", "</"))


@pytest.fixture(scope="module")
def report_html(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    output = cli(
        "report",
        "--out",
        str(out),
        "--month",
        MONTH,
        "--family",
        "Qwen",
        "--next",
        "8",
        "--mode",
        "lineage",
        "-w",
        str(demo_store),
    )
    said = " ".join(output.split())  # the console may wrap a long path anywhere
    assert "Wrote" in said and "10 charts" in said
    return out.read_text()


@pytest.mark.slow
def test_report_figures_equal_the_cli_json(demo_store: Path, report_html: str) -> None:
    data = embedded(report_html)
    assert data["meta"]["mode"] == "lineage" and data["meta"]["month"] == MONTH
    for key, by in (
        ("families", "family"),
        ("vendors", "vendor"),
        ("countries", "country"),
        ("sizes", "size"),
    ):
        rows = cli_json(demo_store, "top", "--by", by, "--limit", "500", "--mode", "lineage")
        assert same(data[key], rows["rows"]), key
    snapshot = cli_json(demo_store, "compare", "Qwen", "--next", "8", "--mode", "lineage")
    assert same(data["comparison"], snapshot["comparisons"][0])
    month = cli_json(
        demo_store, "compare", "Qwen", "--next", "8", "--month", MONTH, "--mode", "lineage"
    )
    assert same(data["month_comparison"], month["comparisons"][0])
    first = data["meta"]["months"].split(" … ")[0]
    monthly = cli_json(
        demo_store, "monthly", "--by", "family", "--from", first, "--to", MONTH, "--mode", "lineage"
    )
    assert same(data["monthly"], monthly["rows"])
    concentration = cli_json(
        demo_store,
        "concentration",
        "--by",
        "family",
        "--top",
        "5",
        "--from",
        first,
        "--to",
        MONTH,
        "--mode",
        "lineage",
    )
    assert same(data["concentration"], concentration["rows"])
    for family in ("Qwen", "Llama", "Mistral"):
        rows = cli_json(demo_store, "derivatives", family, "--mode", "lineage")["rows"]
        mine = [
            {k: v for k, v in r.items() if k != "family"}
            for r in data["derivatives"]
            if r["family"] == family
        ]
        assert same(mine, rows), family


def test_report_tables_show_the_same_numbers(report_html: str) -> None:
    data = embedded(report_html)
    top = data["families"][0]
    assert f"<td>{top['family']}</td>" in report_html
    assert f"{top['downloads_30d']:,}" in report_html
    verdict = data["comparison"]["verdict"]
    assert re.search(rf'id="verdict-snapshot">.*?<strong>{verdict}</strong>', report_html, re.S)


def test_report_is_self_contained(report_html: str) -> None:
    """No CDN or remote asset: every src/href is local, plotly.js is inline."""
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", report_html, flags=re.S)
    assert not re.search(r'(src|href)="(https?:)?//', markup)
    assert "<script src" not in markup and '<link rel="stylesheet"' not in markup
    assert "plotly.js" in report_html[:6_000_000] and "Plotly.newPlot" in report_html
    charts = re.findall(r'<div (?:class="chart-empty" )?id="chart-([a-z_]+)"', report_html)
    assert charts == [
        "families",
        "monthly",
        "monthly_share",
        "month_comparison",
        "comparison",
        "derivatives",
        "vendors",
        "countries",
        "sizes",
        "concentration",
    ]
    for word in ("CI", "double counting", "Attribution: lineage mode", "Size buckets"):
        assert word in report_html.split('id="methods"')[1]


@pytest.mark.slow
def test_markdown_and_pngs(demo_store: Path, tmp_path: Path) -> None:
    out, pngs = tmp_path / "report.md", tmp_path / "charts"
    cli(
        "report",
        "--out",
        str(out),
        "--format",
        "md",
        "--png",
        str(pngs),
        "--month",
        MONTH,
        "-w",
        str(demo_store),
    )
    text = out.read_text()
    files = sorted(p.name for p in pngs.glob("*.png"))
    assert len(files) == 10
    for path in pngs.glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
        assert f"](charts/{path.name})" in text
    ranking = cli_json(demo_store, "top", "--by", "family", "--limit", "1")["rows"][0]
    assert f"| {ranking['rank']} | {ranking['family']} | {ranking['downloads_30d']:,} |" in text
    assert "## Method and caveats" in text and "Qwen" in text


def test_report_rejects_a_bad_month(demo_store: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["report", "--out", str(tmp_path / "r.html"), "--month", "2024-13", "-w", str(demo_store)],
    )
    assert result.exit_code != 0 and "'2024-13' is not a month" in str(result.exception)
    assert not (tmp_path / "r.html").exists()


def test_size_buckets_at_their_edges_and_from_names() -> None:
    cases = {  # model_id, params_total → bucket (hand-checked)
        ("a/edge-low", 999_999_999): "<1B",
        ("a/edge-one", 1_000_000_000): "1–5B",
        ("a/just-below-six", 5_999_999_999): "1–5B",
        ("a/six", 6_000_000_000): "7–9B",
        ("a/ten", 10_000_000_000): "10–50B",
        ("a/huge", 671_000_000_000): "250B+",
        ("Qwen/Qwen2.5-7B-Instruct", None): "7–9B",
        ("Qwen/Qwen2.5-1.5B-Instruct", None): "1–5B",
        ("HuggingFaceTB/SmolLM2-135M", None): "<1B",
        ("mistralai/Mixtral-8x7B-v0.1", None): "50–100B",
        ("Qwen/Qwen3-30B-A3B", None): "10–50B",
        ("meta-llama/Llama-3.1-405B", None): "250B+",
        ("google/gemma-2-9b-it", None): "7–9B",
        ("microsoft/phi-4", None): "unknown",
        ("google-bert/bert-base-uncased", None): "unknown",
        ("a/served-beats-name-70B", 7_000_000_000): "7–9B",
    }
    table = ibis.memtable(
        {"model_id": [k[0] for k in cases], "params_total": [k[1] for k in cases]},
        schema={"model_id": "string", "params_total": "int64"},
    )
    got = table.select("model_id", size=size_bucket(parameter_count(table))).execute()
    assert dict(zip(got.model_id, got["size"], strict=True)) == {k[0]: v for k, v in cases.items()}


def test_size_ranking_equals_a_plain_pass_over_the_raw_rows(demo_analysis: Analysis) -> None:
    expected = size_totals(HUB_STATS)
    for mode in ("publisher", "lineage"):
        rows = rank_models(demo_analysis, by="size", mode=mode).to_pyarrow().to_pylist()
        got = {
            r["size"]: {"downloads_30d": r["downloads_30d"], "models": r["models"]} for r in rows
        }
        assert got == expected, mode


def test_family_derivatives_agree_between_ranking_and_count(demo_analysis: Analysis) -> None:
    """`top`'s derivatives column and `derivatives FAMILY` count the same repos."""
    ranking = rank_models(demo_analysis, by="family", mode="lineage").to_pyarrow().to_pylist()
    registry = load_registry()
    for row in ranking:
        if row["family"] == "(unattributed)" or not row["derivatives"]:
            continue
        counted = count_derivatives(demo_analysis, registry.get(row["family"]).name)
        total = [r for r in counted.to_pyarrow().to_pylist() if r["relation"] == "all"]
        assert total[0]["derivatives"] == row["derivatives"], row["family"]


def test_no_chart_is_drawn_empty_and_no_two_families_share_a_colour(report_html: str) -> None:
    data = embedded(report_html)
    # share and concentration are drawn only where coverage allows; read that from the data
    shares = [r["share"] for r in data["monthly"] if r["family"] != "(unattributed)"]
    tops = [r["top1_share"] for r in data["concentration"]]
    for name, values in (("monthly_share", shares), ("concentration", tops)):
        empty = re.search(rf'<div class="chart-empty" id="chart-{name}">(.*?)</div>', report_html)
        if any(v is not None for v in values):
            assert empty is None, name
        else:  # said in words, never empty axes
            assert empty is not None and "Not drawn: no month is covered enough" in empty[1]
    figures = re.findall(r'Plotly.newPlot\(\s*"chart-([a-z_]+)",\s*(\[.*?\]),\s*\{', report_html)
    painted: dict[str, set[str]] = {}
    for _, traces in figures:
        for trace in json.loads(traces):
            colour = (trace.get("marker") or {}).get("color") or (trace.get("line") or {}).get(
                "color"
            )
            if isinstance(colour, str) and trace.get("name"):
                painted.setdefault(trace["name"], set()).add(colour)
    families = set(data["meta"]["colors"])
    shown = {n: c for n, c in painted.items() if n in families}
    assert shown, "the charts name families"
    assert all(len(c) == 1 for c in shown.values()), shown  # one colour per family everywhere
    owners: dict[str, str] = {}
    for name, (colour,) in shown.items():
        assert owners.setdefault(colour, name) == name, (colour, owners[colour], name)


def test_months_resting_on_far_fewer_or_more_models_are_starred() -> None:
    from hubpulse.present.cells import plural
    from hubpulse.present.report_charts import _month_labels

    # models estimated per month: 100, 110, 90, 4 (a few repos' API counts), 5,000 (every
    # model's 30 days from one snapshot), 0 (no evidence: a gap, not a month to compare)
    counts = {"2025-01": 100, "2025-02": 110, "2025-03": 90, "2025-04": 4, "2025-05": 5000}
    counts["2025-06"] = 0
    rows = [
        {"month": m, "family": f, "estimated": n // 2}
        for m, n in counts.items()
        for f in ("A", "B")
    ]
    labels, notes = _month_labels(rows, list(counts))
    # the median of the months with estimates is 100 (50 + 50): ×3 either way is odd
    assert labels == ["2025-01", "2025-02", "2025-03", "2025-04*", "2025-05*", "2025-06"]
    assert len(notes) == 1 and "2025-04 4 models, 2025-05 5,000 models" in notes[0]
    assert (plural(1, "model"), plural(2, "model"), plural(1234, "model")) == (
        "1 model",
        "2 models",
        "1,234 models",
    )
    assert plural(2.5, "model") == "2.5 models" and plural(1.0, "model") == "1 model"
