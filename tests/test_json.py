"""Every command's ``--format json`` is strict JSON: no NaN or Infinity, which strict parsers
(JavaScript's JSON.parse, jq, Go, Rust) refuse; a missing number is null."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.present.tables import to_json

# Arguments for every command that takes --format json (a new one must be added here).
RUNS: dict[str, list[list[str]]] = {
    "snapshots": [[]],
    "analyse": [[], ["--rebuild"]],
    "rejects": [[]],
    "families": [[]],
    "top": [
        ["--by", "family"],
        ["--by", "model", "--mode", "publisher"],
        ["--by", "size", "--family", "Qwen"],
        ["--llm", "--count", "robust", "--exclude", "CLIP"],
    ],
    "compare": [
        ["Qwen", "--next", "8"],
        ["Qwen", "--next", "8", "--month", "2024-12"],
        ["Alibaba", "--by", "vendor", "--against", "qwen-team", "--llm", "--count", "robust"],
    ],
    "audit": [
        ["Qwen"],
        ["Alibaba", "--against", "qwen-team", "--month", "2024-12"],
        ["Qwen", "--milestone", "700M"],
        ["Qwen", "--derivatives", "100k"],
    ],
    "flags": [[], ["openai-community/gpt2"]],
    "comparison-sets": [[]],
    "adoption": [["Qwen"], ["Qwen/Qwen2.5-7B-Instruct", "--ages", "30,90"], []],
    "derivatives": [["Qwen"]],
    "lineage": [["deepcogito/cogito-v1-preview-qwen-32B"]],
    "series": [[], ["--rejects"]],
    "monthly": [
        [],
        ["--mode", "publisher", "--by", "model", "--from", "2024-12", "--to", "2025-01"],
    ],
    "trend": [["Qwen", "Llama"], ["Qwen", "--mode", "publisher"]],
    "milestones": [["Qwen"]],
    "drivers": [
        ["Qwen", "--month", "2024-10"],
        ["Alibaba", "--by", "vendor", "--month", "2024-12"],
    ],
    "concentration": [[], ["--by", "country"]],
    "derivative-growth": [["Qwen", "Llama"]],
}


def _strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _options(name: str) -> set[str]:
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in param.opts}


def test_the_runs_cover_every_command_with_json_output() -> None:
    with_json = {
        name
        for name in get_command(app).commands  # type: ignore[attr-defined]
        if "table|json|csv" in CliRunner().invoke(app, [name, "--help"]).output
    }
    # applications, tokens, inference, market and events need stored Spaces, router tokens,
    # providers and prices, which the demo has not: test_spaces, test_router, test_providers and
    # test_market check their JSON
    assert with_json == set(RUNS) | {"applications", "tokens", "inference", "market", "events"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [[name, *args] for name, runs in RUNS.items() for args in runs], ids=" ".join
)
def test_json_output_is_strict(args: list[str], demo_store: Path) -> None:
    extra = ["--warehouse", str(demo_store)] if "--warehouse" in _options(args[0]) else []
    result = CliRunner().invoke(app, [*args, *extra, "--format", "json"])
    assert result.exit_code == 0, result.output
    _strict(result.output)


def test_the_writer_turns_non_numbers_into_null() -> None:
    payload = {"share": float("nan"), "rows": [{"growth": float("inf")}, (float("-inf"), 1.5)]}
    assert _strict(to_json(payload)) == {"share": None, "rows": [{"growth": None}, [None, 1.5]]}
