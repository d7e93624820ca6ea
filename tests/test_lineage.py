"""Lineage on hand-built graphs; every expected value is counted by hand."""

from __future__ import annotations

import pytest
from graphs import aliases, model, records, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubpulse.analysis.snapshot.lineage import model_depths, resolve_lineage
from hubpulse.analysis.snapshot.lineage_report import describe_lineage
from hubpulse.errors import LineageError
from hubpulse.ingest.records import normalise_record


def roots_of(lineage, model_id):
    rows = records(lineage.roots.filter(lineage.roots.model_id == model_id))
    return sorted((r["root_id"], r["depth"], r["external"]) for r in rows)


def test_deep_chain_has_depth_twelve_and_full_closure():
    rows = [model("c/m0")] + [model(f"c/m{i}", [f"c/m{i - 1}"], "finetune") for i in range(1, 13)]
    lineage = resolve_lineage(snapshot(rows), aliases())
    assert roots_of(lineage, "c/m12") == [("c/m0", 12, False)]
    assert roots_of(lineage, "c/m0") == [("c/m0", 0, False)]
    assert lineage.closure.count().execute() == 12 * 13 // 2
    depths = {r["model_id"]: r["depth"] for r in records(model_depths(lineage))}
    assert depths == {f"c/m{i}": i for i in range(13)}
    # path doubling: distances ≤ 2, 4, 8, 16 after rounds 1-4; none at 16, so complete
    assert lineage.rounds == 4


def test_chain_deeper_than_the_cap_is_a_clear_error():
    rows = [model("c/m0")] + [model(f"c/m{i}", [f"c/m{i - 1}"], "finetune") for i in range(1, 13)]
    with pytest.raises(LineageError, match=r"deeper than max_lineage_depth \(5\)"):
        resolve_lineage(snapshot(rows), aliases(), max_depth=5)


def test_merge_has_several_parents_and_roots():
    rows = [
        model("r/one"),
        model("r/two"),
        model("x/a", ["r/one"], "finetune"),
        model("x/b", ["r/two"], "adapter"),
        model("x/merged", ["x/a", "x/b", "r/one"], "merge"),
    ]
    lineage = resolve_lineage(snapshot(rows), aliases())
    edges = records(lineage.edges.filter(lineage.edges.child == "x/merged"))
    assert sorted(e["parent"] for e in edges) == ["r/one", "x/a", "x/b"]
    assert {e["relation"] for e in edges} == {"merge"}
    # r/one is reached directly (1) and through x/a (2): the shortest distance counts
    assert roots_of(lineage, "x/merged") == [("r/one", 1, False), ("r/two", 2, False)]


def test_self_reference_is_dropped_and_reported():
    rows = [model("p/base"), model("s/selfish", ["s/selfish", "p/base"], "merge")]
    lineage = resolve_lineage(snapshot(rows), aliases())
    assert roots_of(lineage, "s/selfish") == [("p/base", 1, False)]
    issues = records(lineage.issues)
    assert [(i["model_id"], i["parent_id"], i["kind"]) for i in issues] == [
        ("s/selfish", "s/selfish", "self_reference")
    ]


def test_two_cycle_is_broken_at_the_younger_parent():
    rows = [
        model("y/older", ["y/younger"], "finetune", created="2024-01-01"),
        model("y/younger", ["y/older"], "finetune", created="2024-06-01"),
        model("y/child", ["y/older"], "finetune", created="2024-07-01"),
    ]
    lineage = resolve_lineage(snapshot(rows), aliases())
    assert roots_of(lineage, "y/older") == [("y/older", 0, False)]
    assert roots_of(lineage, "y/younger") == [("y/older", 1, False)]
    assert roots_of(lineage, "y/child") == [("y/older", 1, False)]
    issues = [(i["model_id"], i["parent_id"], i["kind"]) for i in records(lineage.issues)]
    assert issues == [("y/older", "y/younger", "cycle_break")]


def test_three_cycle_without_dates_breaks_by_id():
    rows = [
        model("z/a", ["z/b"], "finetune"),
        model("z/b", ["z/c"], "finetune"),
        model("z/c", ["z/a"], "finetune"),
    ]
    lineage = resolve_lineage(snapshot(rows), aliases())
    # kept only where parent id < child id: c → a? no (a < c kept), b → c dropped, a → b dropped
    kept = sorted((e["child"], e["parent"]) for e in records(lineage.edges))
    assert kept == [("z/c", "z/a")]
    assert roots_of(lineage, "z/c") == [("z/a", 1, False)]
    assert roots_of(lineage, "z/b") == [("z/b", 0, False)]
    assert len(records(lineage.issues)) == 2


def test_missing_parent_is_an_external_root():
    rows = [
        model("e/child", ["gone/parent"], "quantized"),
        model("e/grand", ["e/child"], "adapter"),
    ]
    lineage = resolve_lineage(snapshot(rows), aliases())
    assert roots_of(lineage, "e/grand") == [("gone/parent", 2, True)]
    edge = records(lineage.edges.filter(lineage.edges.child == "e/child"))[0]
    assert edge["parent_known"] is False


def test_renamed_parent_resolves_through_alias_chain():
    rows = [
        model("meta/new-name"),
        model("fan/tune", ["meta/oldest-name"], "finetune"),
    ]
    chain = [("meta/oldest-name", "meta/old-name"), ("meta/old-name", "meta/new-name")]
    lineage = resolve_lineage(snapshot(rows), aliases(chain))
    assert roots_of(lineage, "fan/tune") == [("meta/new-name", 1, False)]
    issue = records(lineage.issues)[0]
    assert issue["kind"] == "alias" and "meta/oldest-name" in issue["detail"]


def test_alias_is_ignored_when_the_old_id_is_a_live_repo():
    rows = [model("a/live"), model("a/target"), model("b/tune", ["a/live"], "finetune")]
    lineage = resolve_lineage(snapshot(rows), aliases([("a/live", "a/target")]))
    assert roots_of(lineage, "b/tune") == [("a/live", 1, False)]


def test_list_valued_card_base_model_is_read():
    # NVIDIA's Cosmos-Reason1-7B names its base in list form in the card
    row, _ = normalise_record(
        {
            "id": "nvidia/Cosmos-Reason1-7B",
            "cardData": {"base_model": ["Qwen/Qwen2.5-VL-7B-Instruct"]},
            "lastModified": "2025-06-01T00:00:00Z",
        }
    )
    assert row["base_models"] == ["Qwen/Qwen2.5-VL-7B-Instruct"]
    rows = [
        model("Qwen/Qwen2.5-VL-7B-Instruct"),
        model("nvidia/Cosmos-Reason1-7B", row["base_models"], row["base_relation"]),
    ]
    lineage = resolve_lineage(snapshot(rows), aliases())
    assert roots_of(lineage, "nvidia/Cosmos-Reason1-7B") == [
        ("Qwen/Qwen2.5-VL-7B-Instruct", 1, False)
    ]


def test_describe_lineage_summarises_descendants_by_relation():
    rows = [
        model("q/base", downloads=100),
        model("u/tune", ["q/base"], "finetune", downloads=10),
        model("v/quant", ["u/tune"], "quantized", downloads=5),
        model("w/quant", ["q/base"], "quantized", downloads=1),
        model("u/lora", ["q/base"], "adapter", downloads=0),
    ]
    models = snapshot(rows)
    report = describe_lineage(resolve_lineage(models, aliases()), models, "q/base")
    by_relation = {r["relation"]: r for r in report.descendants_by_relation}
    assert by_relation["quantized"]["descendants"] == 2
    assert by_relation["quantized"]["publishers"] == 2
    assert by_relation["quantized"]["downloads_30d"] == 6
    assert by_relation["finetune"]["descendants"] == 1
    assert by_relation["adapter"]["descendants"] == 1
    assert {r["depth"]: r["descendants"] for r in report.descendants_by_depth} == {1: 3, 2: 1}
    leaf = describe_lineage(resolve_lineage(models, aliases()), models, "v/quant")
    assert sorted((e["child"], e["parent"]) for e in leaf.ancestry) == [
        ("u/tune", "q/base"),
        ("v/quant", "u/tune"),
    ]
    assert leaf.depth == 2 and leaf.roots[0]["root_id"] == "q/base"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parents=st.lists(st.lists(st.integers(0, 11), max_size=3), min_size=1, max_size=12),
    chain=st.integers(0, 20),
)
def test_the_closure_holds_every_shortest_distance_a_breadth_first_search_finds(
    parents: list[list[int]], chain: int
) -> None:
    # any graph of up to 12 models (cycles, merges, self-references, missing parents) with a
    # chain of up to 20 below model 0; expected: a plain BFS over the resolved edges
    rows = [
        model(f"g/m{i}", [f"g/m{p}" for p in ps], "merge", created=f"2024-01-{i + 1:02d}")
        for i, ps in enumerate(parents)
    ] + [model(f"c/k{j}", [f"c/k{j - 1}" if j else "g/m0"], "finetune") for j in range(chain)]
    lineage = resolve_lineage(snapshot(rows), aliases())
    up: dict[str, set[str]] = {}
    for edge in records(lineage.edges):
        up.setdefault(edge["child"], set()).add(edge["parent"])
    expected = {}
    for start in up:
        seen, level, depth = {}, {start}, 0
        while level:
            depth += 1
            level = {p for m in level for p in up.get(m, ())} - set(seen)
            seen.update(dict.fromkeys(level, depth))
        expected |= {(start, a): d for a, d in seen.items()}
    got = {(r["model_id"], r["ancestor_id"]): r["depth"] for r in records(lineage.closure)}
    assert got == expected
    assert lineage.rounds == max(expected.values(), default=0).bit_length()
