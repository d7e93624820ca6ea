"""The package layout: one folder per stage, lower stages never import higher ones, and modules
and functions stay readable in size (the exceptions are listed here, each with its reason)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "hubpulse"
# The pipeline, lowest first. The base modules (errors, settings, registry, _version) are
# shared by every stage and import none; the package root re-exports the public API.
STAGES = ("base", "ingest", "store", "analysis", "present", "web", "cli")
BASE = {"errors", "settings", "registry", "terms", "_version"}
MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS = {
    # name: why it stays one function
    "ingest/synth.py:_graph": "lays out the synthetic graph's parts in order from one random "
    "stream; split, each part would need the stream's position handed on",
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def stage_of(dotted: str) -> str | None:
    """The stage of module ``hubpulse.<...>``; None for the package root itself."""
    parts = dotted.split(".")[1:]
    if not parts:
        return None
    if parts[0] in STAGES:
        return parts[0]
    if parts[0] in BASE:
        return "base"
    raise AssertionError(f"hubpulse.{parts[0]} belongs to no stage: add it to a folder")


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every hubpulse import, top-level or inside a function."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "hubpulse":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("hubpulse")]
    return found


def name_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lower_stages_never_import_higher_ones(path: Path) -> None:
    own = name_of(path)
    if own in ("hubpulse", "hubpulse.__main__"):
        return  # the public API and `python -m hubpulse` sit above every stage
    rank = STAGES.index(stage_of(own) or "cli")
    for line, target in imported(ast.parse(path.read_text())):
        stage = stage_of(target)
        assert stage is not None, f"{own}:{line} imports the package root, which imports all"
        assert STAGES.index(stage) <= rank, f"{own}:{line} ({STAGES[rank]}) imports {target}"


def test_the_import_check_catches_an_upward_import() -> None:
    tree = ast.parse("def f():\n    from hubpulse.web.app import create_app\n")
    assert imported(tree) == [(2, "hubpulse.web.app")]
    assert STAGES.index(stage_of("hubpulse.web.app") or "") > STAGES.index("store")


def test_each_stage_says_what_it_owns_and_may_import() -> None:
    for stage in STAGES[1:]:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and "import" in doc, f"{stage}/__init__.py needs its two-line docstring"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_readable(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it"
    where = path.relative_to(PACKAGE).as_posix()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if f"{where}:{node.name}" not in LONG_FUNCTIONS:
                assert lines <= MAX_FUNCTION_LINES, f"{where}:{node.name} is {lines} lines"


def test_long_function_exceptions_are_still_needed() -> None:
    for key in LONG_FUNCTIONS:
        where, name = key.split(":")
        tree = ast.parse((PACKAGE / where).read_text())
        sizes = [
            (n.end_lineno or n.lineno) - n.lineno + 1
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == name
        ]
        assert sizes and max(sizes) > MAX_FUNCTION_LINES, f"{key} no longer needs its exception"
