"""Applications: Spaces imported or crawled from the stand-in Hub, counted per group, equal to an
independent count over the raw records (plain Python: roots by walking the raw lineage, families
by fnmatch over the registry TOML)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import HUB_STATS, HUB_STATS_DATE, cli
from fakehub import FakeHub, serve
from independent import publisher, raw_parents, roots

from hubpulse.analysis.snapshot.applications import count_applications, spaces_day
from hubpulse.analysis.snapshot.stored import load_analysis
from hubpulse.errors import SnapshotConflictError, SnapshotNotFoundError
from hubpulse.ingest.crawl import CrawlScope
from hubpulse.ingest.hub import Hub, HubError, Politeness
from hubpulse.settings import load_settings
from hubpulse.store.spaces import crawl_spaces, import_spaces
from hubpulse.store.warehouse import Warehouse, open_warehouse

FAST = Politeness(base_wait=0.01, max_wait=0.05)
DAY = dt.date(2026, 5, 25)
RENAMED = ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")
OUTSIDE = ["Qwen/Qwen9-Imaginary-7B", "nobody-knows/some-model"]  # not in the snapshot


def make_spaces(count: int = 400, seed: int = 11) -> list[dict[str, Any]]:
    """Spaces over the demo snapshot's real model ids (first-party repos, their derivatives,
    a renamed id, ids the snapshot lacks), some with no models; API-shaped records."""
    rows, parents = raw_parents(HUB_STATS)
    ids = sorted(rows)
    pick = random.Random(seed)
    derived = sorted(m for m in ids if parents.get(m))
    spaces = []
    for n in range(count):
        used = pick.sample(ids, pick.randint(0, 2)) + pick.sample(derived, pick.randint(0, 2))
        if n % 17 == 0:
            used.append(RENAMED[0])
        if n % 23 == 0:
            used.append(pick.choice(OUTSIDE))
        record: dict[str, Any] = {
            "_id": f"{n:024x}",
            "id": f"owner{n % 37}/app-{n}",
            "author": f"owner{n % 37}",
            "likes": pick.randint(0, 500),
            "trendingScore": pick.randint(0, 40),
            "sdk": pick.choice(["gradio", "streamlit", "docker"]),
            "createdAt": "2025-01-02T03:04:05.000Z",
            "lastModified": f"2026-05-{pick.randint(1, 25):02d}T10:00:00.000Z",
        }
        if used:  # the Hub omits a key with no value
            record["models"] = used
        spaces.append(record)
    return spaces


MALFORMED = [
    {"id": "bad/models-not-a-list", "models": "Qwen/Qwen2.5-7B"},
    {"id": "bad/model-not-an-id", "models": [42]},
    {"id": "bad/likes", "likes": -3, "models": ["Qwen/Qwen2.5-7B-Instruct"]},
    {"models": ["Qwen/Qwen2.5-7B-Instruct"]},  # no id
]


def write_jsonl(path: Path, records: list[Any], extra_lines: list[str] | None = None) -> Path:
    lines = [json.dumps(r) for r in records] + (extra_lines or [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def independent_counts(spaces: list[dict[str, Any]], mode: str, by: str) -> dict[str, int]:
    """Distinct Spaces per group, straight from the raw records and the raw snapshot."""
    registry = tomllib.loads(
        resources.files("hubpulse").joinpath("data", "families.toml").read_text()
    )
    families = registry["family"]
    vendor = {f["name"]: f[by] for f in families} if by != "family" else {}
    rows, parents = raw_parents(HUB_STATS)
    renames = dict(_bundled_renames())
    found: dict[str, set[str]] = defaultdict(set)
    for space in spaces:
        for model in space.get("models", []):
            model = renames.get(model, model)
            tops = roots(model, parents) if mode == "lineage" and model in rows else {model}
            for top in tops:
                family = publisher(top, families) or "(unattributed)"
                key = vendor.get(family, family) if by != "family" else family
                found[key].add(space["id"])
    return {k: len(v) for k, v in found.items()}


def strict_json(text: str) -> Any:
    """JSON as strict parsers read it: NaN or Infinity is an error."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def counted(store: Warehouse, table: Any, key: str) -> dict[str, int]:
    return {r[key]: r["applications"] for r in store.execute(table).to_pylist()}


def _bundled_renames() -> Iterator[tuple[str, str]]:
    text = resources.files("hubpulse").joinpath("data", "aliases.csv").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    for row in csv.DictReader(lines):
        yield row["old_id"], row["new_id"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("spaces") / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    spaces = make_spaces()
    path = write_jsonl(root.parent / "spaces.jsonl", spaces, ["{not json"])
    load = import_spaces(store, path, DAY, complete=True)
    assert (load.spaces, load.rejects) == (len(spaces), 1)
    return store, spaces


@pytest.mark.parametrize("mode", ["publisher", "lineage"])
@pytest.mark.parametrize("by", ["family", "vendor", "country"])
def test_applications_equal_an_independent_count(
    stored: tuple[Warehouse, list[dict[str, Any]]], mode: str, by: str
) -> None:
    store, spaces = stored
    settings = load_settings(warehouse=store.root, mode=mode)
    analysis = load_analysis(settings, HUB_STATS_DATE, store)
    day = spaces_day(store)
    result = count_applications(analysis, day, store.aliases(), by=by, mode=mode)  # type: ignore[arg-type]
    got = counted(store, result.table, by)
    assert got == independent_counts(spaces, mode, by)
    assert day.total == len(spaces) and day.complete
    assert day.linked == sum(1 for s in spaces if s.get("models"))


def test_a_space_using_a_derivative_counts_for_its_base_model_in_lineage_mode(
    stored: tuple[Warehouse, list[dict[str, Any]]],
) -> None:
    store, spaces = stored
    rows, parents = raw_parents(HUB_STATS)
    settings = load_settings(warehouse=store.root, mode="lineage")
    analysis = load_analysis(settings, HUB_STATS_DATE, store)
    day = spaces_day(store)
    direct = count_applications(analysis, day, store.aliases(), by="model", mode="publisher")
    below = count_applications(analysis, day, store.aliases(), by="model", mode="lineage")
    direct_rows = {
        r["model_id"]: r["applications"] for r in store.execute(direct.table).to_pylist()
    }
    lineage_rows = {
        r["model_id"]: r["applications"] for r in store.execute(below.table).to_pylist()
    }
    ancestors: dict[str, set[str]] = defaultdict(set)  # independent: walk every parent chain
    renames = dict(_bundled_renames())
    for space in spaces:
        for model in space.get("models", []):
            model = renames.get(model, model)
            seen, frontier = {model}, [model]
            while frontier:
                node = frontier.pop()
                ancestors[node].add(space["id"])
                for parent in parents.get(node, []) if node in rows else []:
                    if parent not in seen:
                        seen.add(parent)
                        frontier.append(parent)
    assert lineage_rows == {m: len(s) for m, s in ancestors.items()}
    assert all(lineage_rows[m] >= n for m, n in direct_rows.items())
    assert any(lineage_rows[m] > direct_rows.get(m, 0) for m in lineage_rows)


def test_malformed_spaces_are_kept_aside_and_the_rest_loads(tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    good = make_spaces(30)
    path = write_jsonl(tmp_path / "spaces.jsonl", [*good, *MALFORMED, good[0]])
    load = import_spaces(store, path, DAY)
    assert (load.spaces, load.rejects, load.complete) == (30, 5, False)
    rejects = store.execute(store.series_table("space_rejects")).to_pylist()
    reasons = {(r["space_id"], r["field"]) for r in rejects}
    assert reasons == {
        ("bad/models-not-a-list", "models"),
        ("bad/model-not-an-id", "models"),
        ("bad/likes", "likes"),
        (None, "id"),
        (good[0]["id"], "id"),  # the duplicate
    }
    again = import_spaces(store, path, DAY)
    assert again.status == "unchanged"
    other = write_jsonl(tmp_path / "other.jsonl", good[:10])
    with pytest.raises(SnapshotConflictError, match="already stored"):
        import_spaces(store, other, DAY)
    swapped = import_spaces(store, other, DAY, replace_day=True)
    assert swapped.status == "replaced"
    assert spaces_day(open_warehouse(tmp_path / "wh")).total == 10  # never both loads


def test_no_spaces_is_a_clear_error(tmp_path: Path) -> None:
    store = open_warehouse(tmp_path / "wh")
    store.ingest(HUB_STATS)
    with pytest.raises(SnapshotNotFoundError, match="spaces crawl --all"):
        spaces_day(store)
    result = cli("applications", "-w", str(tmp_path / "wh"))
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert "spaces crawl --all" in result.stderr


def test_a_spaces_crawl_equals_the_served_spaces(tmp_path: Path) -> None:
    spaces = make_spaces(230)
    with serve(FakeHub(models=[], spaces=spaces, malformed_pages={2})) as fake:
        store = open_warehouse(tmp_path / "wh")
        scope = CrawlScope(kind="spaces", everything=True, page_size=50)
        with pytest.raises(HubError, match="spaces crawl --resume"):
            crawl_spaces(store, Hub(fake.url, FAST), scope)
        result, load = crawl_spaces(store, Hub(fake.url, FAST), None, resume=True)
        listing = [p for _, p, _ in fake.requests if p.startswith("/api/spaces")]
    assert (result.records, load.spaces, load.complete) == (230, 230, True)
    assert "expand=models" in listing[0] and "cursor=" in listing[1]
    served = sorted((s["id"], tuple(s.get("models", []))) for s in spaces)
    links = store.execute(store.series_table("space_models")).to_pylist()
    by_space: dict[str, list[str]] = defaultdict(list)
    for link in links:
        by_space[link["space_id"]].append(link["model_id"])
    stored_pairs = sorted((s["id"], tuple(by_space.get(s["id"], []))) for s in spaces)
    assert stored_pairs == served


def test_a_crawl_of_the_spaces_using_some_models_is_partial(tmp_path: Path) -> None:
    spaces = make_spaces(120)
    wanted = "Qwen/Qwen2.5-7B-Instruct"
    for space in spaces[:5]:
        space["models"] = [*space.get("models", []), wanted]
    with serve(FakeHub(models=[], spaces=spaces)) as fake:
        store = open_warehouse(tmp_path / "wh")
        scope = CrawlScope(kind="spaces", models=[wanted], page_size=2)
        _, load = crawl_spaces(store, Hub(fake.url, FAST), scope)
    expected = {s["id"] for s in spaces if wanted in s.get("models", [])}
    assert load.spaces == len(expected) and not load.complete
    stored_ids = store.execute(store.series_table("spaces"))["space_id"].to_pylist()
    assert set(stored_ids) == expected


def test_applications_on_the_command_line_say_what_they_count(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    spaces = make_spaces(60)
    path = write_jsonl(tmp_path / "spaces.jsonl", spaces)
    imported = cli("spaces", "import", str(path), "--date", str(DAY), "-w", str(root))
    assert imported.returncode == 0, imported.stderr
    assert "60 Spaces (a partial listing)" in imported.stdout
    shown = cli("applications", "--by", "vendor", "-w", str(root))
    assert shown.returncode == 0, shown.stderr
    assert "warning: a partial listing of Spaces: counts are lower bounds" in shown.stdout
    assert "declared use, not observed traffic" in shown.stdout
    answer = json.loads(
        cli("applications", "-f", "json", "--mode", "publisher", "-w", str(root)).stdout
    )
    expected = independent_counts(spaces, "publisher", "family")
    assert {r["family"]: r["applications"] for r in answer["rows"]} == dict(
        sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    )
    assert answer["spaces_date"] == str(DAY) and answer["models_snapshot"] == str(HUB_STATS_DATE)
    timeline = strict_json(cli("applications", "--over-time", "-f", "json", "-w", str(root)).stdout)
    assert {r["date"] for r in timeline["rows"]} == {str(DAY)}
    assert all(r["complete"] is False for r in timeline["rows"])


def test_an_application_claim_holds_fails_or_cannot_be_refuted_as_the_evidence_allows(
    stored: tuple[Warehouse, list[dict[str, Any]]],
) -> None:
    from hubpulse.analysis.claims.runs import run_audit

    store, spaces = stored
    settings = load_settings(warehouse=store.root)
    direct = independent_counts(spaces, "publisher", "family")["Qwen"]
    through = independent_counts(spaces, "lineage", "family")["Qwen"]
    assert through > direct
    audit, _ = run_audit(settings, "Qwen", applications=direct + 1, warehouse=store)
    verdicts = {r["definition"]: (r["verdict"], r["value"]) for r in audit.rows}
    # every Space listed: publisher counts are exact; the demo snapshot is a partial extract,
    # so a lineage count below the claim is a lower bound that cannot refute it
    assert verdicts["family/publisher"] == ("fails", direct)
    assert verdicts["family/lineage"] == ("holds", through)
    audit, _ = run_audit(settings, "Qwen", applications=through + 1, warehouse=store)
    verdicts = {r["definition"]: (r["verdict"], r["value"]) for r in audit.rows}
    assert verdicts["family/lineage"] == ("cannot refute", through)
    vendor = independent_counts(spaces, "publisher", "vendor")["Alibaba"]
    assert verdicts["vendor/publisher"][1] == vendor
    assert any("declared use" in note for note in audit.notes)
    shown = cli("audit", "Qwen", "--applications", "10K", "-w", str(store.root))
    assert shown.returncode == 0, shown.stderr
    assert "Qwen has 10,000+ applications" in shown.stdout


def test_the_dashboard_and_the_report_show_the_cli_s_applications(
    stored: tuple[Warehouse, list[dict[str, Any]]], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from hubpulse.web.app import create_app
    from hubpulse.web.views import Dashboard

    store, _ = stored
    settings = load_settings(warehouse=store.root, mode="lineage")
    client = TestClient(create_app(settings, dashboard=Dashboard(settings, warm=False)))
    api = client.get("/api/applications").json()
    shown = cli("applications", "--limit", "0", "-f", "json", "-w", str(store.root))
    assert api["rows"] == json.loads(shown.stdout)["rows"] and api["rows"]
    assert any("declared use" in note for note in api["notes"])
    page = client.get("/").text
    assert 'id="applications"' in page and "not observed traffic" in page
    report = cli("report", "-o", str(tmp_path / "r.html"), "-w", str(store.root))
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    assert 'id="section-applications"' in html and "Spaces of 2026-05-25" in html


def test_synthetic_spaces_are_deterministic_and_import_whole(tmp_path: Path) -> None:
    from hubpulse.ingest.synth_spaces import synthesize_spaces

    first = synthesize_spaces(HUB_STATS, 500, tmp_path / "a", seed=3)
    second = synthesize_spaces(HUB_STATS, 500, tmp_path / "b", seed=3)
    assert first.read_bytes() == second.read_bytes()
    records = pq.read_table(first).to_pylist()
    store = open_warehouse(tmp_path / "wh")
    load = import_spaces(store, first, complete=True)
    distinct = sum(len(set(r["models"])) for r in records)
    assert (load.spaces, load.rejects, load.links) == (500, 0, distinct)
    assert sum(1 for r in records if not r["models"]) > 50  # many Spaces declare no model


def test_a_reader_meets_a_replacing_writer_and_never_counts_twice(tmp_path: Path) -> None:
    """One thread replaces a day's Spaces again and again while readers count them: one that
    surveys the warehouse again before each question, one that never does (as a server between
    two surveys). Every answer is one load's, whole; none fails on a file that went."""
    import threading

    root = tmp_path / "wh"
    spaces = make_spaces(30)
    files = [
        write_jsonl(tmp_path / "a.jsonl", spaces),
        write_jsonl(tmp_path / "b.jsonl", spaces[:10]),
    ]
    import_spaces(open_warehouse(root), files[0], DAY)
    stale, fresh = open_warehouse(root), open_warehouse(root)
    seen: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        store = open_warehouse(root)
        try:
            for n in range(16):
                import_spaces(store, files[(n + 1) % 2], DAY, replace_day=True)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while not done.is_set() or len(seen) < 4:
            fresh.refresh_views()
            seen += [spaces_day(fresh).total, spaces_day(stale).total]
    finally:
        writer.join()
    assert not failures, failures
    assert set(seen) <= {30, 10} and 30 in seen
    fresh.refresh_views()
    assert spaces_day(fresh).total == 30  # the 16th replace stored the first file again
