"""The dashboard and the report in a real headless Chromium (Debian's ``chromium``, driven by
Playwright with ``executable_path``; Playwright never downloads a browser here).

`hubpulse serve` runs as a real process on a free loopback port. Every page must load without
console errors or failed requests; screenshots land in ``artifacts/screenshots/``. Without
Chromium the tests skip, unless ``HUBPULSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where a
missing browser is a failure."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
MODEL = "deepcogito/cogito-v1-preview-qwen-32B"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("HUBPULSE_REQUIRE_BROWSER") == "1":
        raise RuntimeError("HUBPULSE_REQUIRE_BROWSER=1 but Chromium is not installed")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(demo_store: Path) -> Iterator[str]:
    with serve(demo_store) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


class Watched:
    """A page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, browser: Browser) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.url} {request.failure}")

    def goto(self, url: str) -> None:
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.ok, url
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")
        assert self.problems == []

    def follow(self, selector: str) -> None:
        """Click ``selector`` and wait for the page it leads to, then settle."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.settle()

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.page.close()


def test_overview_draws_its_charts(server: str, page: Watched) -> None:
    page.goto(server + "/")
    charts = page.page.locator(".js-plotly-plot")
    assert charts.count() >= 6
    for i in range(charts.count()):
        assert charts.nth(i).locator("svg.main-svg").count() >= 1
    assert "does not exceed" in page.page.inner_text("#verdict")
    page.shot("overview", full_page=False)
    page.follow("table a[href='/family/Qwen']")
    assert page.page.url.endswith("/family/Qwen")
    assert page.page.locator("#family-tree li").count() > 5
    page.shot("family-qwen")


def test_compare_form_changes_the_verdict_with_n(server: str, page: Watched) -> None:
    page.goto(server + "/compare?family=Qwen")
    assert page.page.inner_text("#verdict") == "does not exceed"
    assert page.page.input_value("#next") == "8"
    page.page.fill("#next", "1")
    page.follow("#compare-submit")
    assert "next=1" in page.page.url
    assert page.page.inner_text("#verdict") == "exceeds"
    assert page.page.locator("#verdict-month").count() == 1
    page.shot("compare-next-1")


def test_audit_form_audits_a_named_set_over_a_month(server: str, page: Watched) -> None:
    page.goto(server + "/audit")
    assert "of 16 definitions" in page.page.inner_text("#audit-headline")
    page.page.select_option("#subject", "Alibaba")
    page.page.select_option("#against", "qwen-team")
    page.page.select_option("#month", "2024-12")
    page.follow("#audit-submit")
    assert "against=qwen-team" in page.page.url and "month=2024-12" in page.page.url
    headline = page.page.inner_text("#audit-headline")
    assert "qwen-team set" in headline and "month 2024-12" in headline
    assert "Qwen team" in page.page.inner_text("#audit-source")
    assert page.page.locator("table tbody tr").count() == 16
    page.shot("audit-qwen-team-2024-12")


def test_search_leads_to_the_lineage_page(server: str, page: Watched) -> None:
    page.goto(server + "/search")
    page.page.fill("#q", "cogito-v1-preview-qwen")
    with page.page.expect_navigation():
        page.page.press("#q", "Enter")
    page.settle()
    page.follow(f"a[href='/model/{MODEL}']")
    assert page.page.inner_text("#model-id") == MODEL
    ancestry = page.page.inner_text("#ancestry")
    assert "Qwen/Qwen2.5-32B" in ancestry
    page.shot("model-lineage")


def test_unknown_family_page_says_so(server: str, browser: Browser) -> None:
    page = browser.new_page()
    response = page.goto(server + "/family/Nope")
    assert response is not None and response.status == 404
    assert "unknown family 'Nope'" in page.inner_text("#error-message")
    page.close()


def test_report_opens_offline_with_every_chart(
    demo_store: Path, tmp_path: Path, page: Watched
) -> None:
    from typer.testing import CliRunner

    from hubpulse.cli import app

    out = tmp_path / "report.html"
    args = ["report", "--out", str(out), "--month", "2024-12", "-w", str(demo_store)]
    assert CliRunner().invoke(app, args).exit_code == 0
    remote: list[str] = []

    def refuse(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if not request.url.startswith(("file:", "data:")):
            remote.append(request.url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    page.page.route("**/*", refuse)
    page.goto(out.as_uri())
    assert remote == []
    drawn, said = page.page.locator(".js-plotly-plot"), page.page.locator(".chart-empty")
    assert drawn.count() + said.count() == 10
    for i in range(said.count()):  # a chart with nothing to draw says why, in words
        assert "Not drawn:" in said.nth(i).inner_text()
    _one_colour_per_family(page)
    page.shot("report", full_page=False)
    page.page.locator("#section-month_comparison").screenshot(
        path=str(ARTIFACTS / "report-month-comparison.png")
    )


def _one_colour_per_family(page: Watched) -> None:
    """Every drawn chart on the page: each chart has data, a family keeps one colour across
    charts, and no two families share one."""
    traces = page.page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(el => el.data.map(t => ({"
        "name: t.name, marker: t.marker && t.marker.color, line: t.line && t.line.color, "
        "points: (t.y || []).filter(v => v !== null).length + (t.x || []).length})))"
    )
    painted: dict[str, set[str]] = {}
    for chart in traces:
        assert sum(t["points"] for t in chart) > 0  # no empty axes
        for t in chart:
            colour = t["marker"] if isinstance(t["marker"], str) else t["line"]
            if t["name"] and isinstance(colour, str):
                painted.setdefault(t["name"], set()).add(colour)
    from hubpulse.registry import load_registry

    names = {f.name for f in load_registry().families}
    families = {n: c for n, c in painted.items() if n in names}
    assert families, "the charts name families"
    assert all(len(c) == 1 for c in families.values()), families
    owners: dict[str, str] = {}
    for name, (colour,) in families.items():
        assert owners.setdefault(colour, name) == name, (colour, owners[colour], name)


def test_overview_charts_keep_one_distinct_colour_per_family(server: str, page: Watched) -> None:
    page.goto(server + "/?mode=publisher")
    _one_colour_per_family(page)


PAGES = {
    "overview": "/",
    "family": "/family/Qwen",
    "compare": "/compare?family=Qwen",
    "model": f"/model/{MODEL}",
    "search": "/search?q=qwen2.5-7b",
    "audit": "/audit?subject=Alibaba&against=qwen-team",
}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_states_what_the_warehouse_holds(server: str, page: Watched, name: str) -> None:
    page.goto(server + PAGES[name])
    warning = page.page.inner_text("#provenance-warning")
    assert "partial extract" in warning and "4,167 models" in warning
    assert page.page.locator("#provenance-warning").is_visible()
    assert "hub_stats_2026-06.parquet" in (page.page.text_content("#provenance") or "")
    # no chart title lies under Plotly's toolbar
    for chart in page.page.locator(".js-plotly-plot").all():
        title = chart.locator(".gtitle").bounding_box()
        bar = chart.locator(".modebar").bounding_box()
        if title and bar:
            beside = title["x"] + title["width"] <= bar["x"]
            below = title["y"] >= bar["y"] + bar["height"]
            apart = beside or below or title["y"] + title["height"] <= bar["y"]
            assert apart, (name, chart.get_attribute("id"))
    page.shot(f"page-{name}")


def test_month_comparison_draws_the_subject_against_the_combined_rest(
    server: str, page: Watched
) -> None:
    monthly = page.page.request.get(server + "/api/monthly?mode=publisher").json()["rows"]
    with_data = sorted(
        {r["month"] for r in monthly if r["family"] == "Qwen" and r["estimate"] is not None},
        reverse=True,
    )
    page.goto(server + "/compare?family=Qwen&mode=publisher")
    assert page.page.locator("#month option").all_inner_texts() == with_data
    assert page.page.eval_on_selector("#month", "el => el.value") == with_data[0]
    page.page.select_option("#month", "2024-12")
    page.follow("#compare-submit")
    traces = page.page.evaluate("() => document.getElementById('chart-compare_month').data")
    (bars,) = [t for t in traces if t["type"] == "bar"]
    api = page.page.request.get(server + "/api/compare?family=Qwen&month=2024-12&mode=publisher")
    month = api.json()["month"]
    # the next N found (8 asked): the chart names how many it combined
    assert bars["x"] == ["Qwen", f"next {month['next_n']} combined"] and month["asked"] == 8
    # a known upper bound is a whisker; an unknown one is an open-ended arrow, not a whisker
    both = [month["value"], month["combined_next"]]
    for i, figures in enumerate(both):
        reach = bars["y"][i] + bars["error_y"]["array"][i]
        assert reach == (figures["upper"] if figures["upper"] is not None else bars["y"][i])
    arrows = [t for t in traces if t.get("name") == "no upper bound"]
    unbounded = [n for n, f in zip(bars["x"], both, strict=True) if f["upper"] is None]
    assert (arrows[0]["x"] if arrows else []) == unbounded
    # the family keeps its colour: the overview's monthly chart paints Qwen the same way
    qwen = bars["marker"]["color"][0]
    page.goto(server + "/?mode=publisher")
    overview = page.page.evaluate("() => document.getElementById('chart-monthly').data")
    assert next(t for t in overview if t["name"] == "Qwen")["marker"]["color"] == qwen
    page.goto(server + "/compare?family=Qwen&mode=publisher&month=2024-12")
    page.page.locator("#chart-compare_month").screenshot(path=str(ARTIFACTS / "compare-month.png"))


@pytest.mark.parametrize("family", ["Qwen", "Pythia"])
def test_family_pages_fit_the_window_and_count_in_words(
    server: str, page: Watched, family: str
) -> None:
    page.goto(f"{server}/family/{family}")
    # a wide table scrolls inside its box; the page itself never overflows the window
    wide = page.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0
    text = page.page.inner_text("main")
    assert not re.search(r"(?<![\d,.])1 (models|derivatives)\b", text)


def test_market_page_draws_adoption_beside_the_price(
    demo_store: Path, tmp_path: Path, browser: Browser
) -> None:
    """The Market page on a copy of the demo warehouse with the synthetic prices: the chart
    with its second axis, the form submitted with blank fields, the one-line reason for a
    family whose ticker has no prices."""
    from conftest import cli

    root = tmp_path / "wh"
    shutil.copytree(demo_store, root, symlinks=True)
    fixtures = Path(__file__).resolve().parent / "fixtures"
    for name, ticker in (("prices_synthetic.csv", "BABA"), ("prices_synthetic_index.csv", "IDX")):
        loaded = cli("prices", "import", str(fixtures / name), "--ticker", ticker, "-w", str(root))
        assert loaded.returncode == 0, loaded.stderr
    page = Watched(browser)
    try:
        with serve(root) as url:
            page.goto(url + "/")
            page.follow("header.top a[href='/market']")
            page.page.select_option("#subject", "Qwen")
            page.page.fill("#benchmark", "IDX")
            page.follow("#market-submit")
            assert "benchmark=IDX" in page.page.url and "ticker=" in page.page.url
            chart = page.page.locator("#chart-market")
            assert chart.locator("svg.main-svg").count() >= 1
            assert chart.locator(".y2tick").count() > 0  # the price's axis, on the right
            assert "Not evidence of cause" in page.page.inner_text("#market-cause")
            page.shot("market-qwen")
            page.goto(url + "/market?subject=Llama")
            assert "no prices of META" in page.page.inner_text("#market-missing")
    finally:
        page.page.close()
