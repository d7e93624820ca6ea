"""The package layout: one folder per stage, lower stages never import higher ones, and modules
and functions stay readable in size (the exceptions are listed here, each with its reason)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "hubpulse"
# The pipeline, lowest first. The base modules (errors, settings, registry, _version) are
# shared by every stage and import none; the package root re-exports the public API.
STAGES = ("base", "ingest", "store", "analysis", "present", "web", "cli")
# Inside analysis, three rooms, lowest first: what a snapshot implies, history, claims.
ROOMS = ("snapshot", "history", "claims")
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


def room_of(dotted: str) -> str | None:
    """The room of an ``hubpulse.analysis.<room>...`` module; None outside analysis."""
    parts = dotted.split(".")
    if parts[1:2] != ["analysis"] or len(parts) < 3:
        return None
    assert parts[2] in ROOMS, f"{dotted} belongs to no room of analysis: add it to one"
    return parts[2]


@pytest.mark.parametrize(
    "path",
    sorted((PACKAGE / "analysis").rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_rooms_of_analysis_import_only_lower_rooms(path: Path) -> None:
    own = name_of(path)
    room = room_of(own)
    if room is None:
        return  # analysis/__init__.py: a docstring
    for line, target in imported(ast.parse(path.read_text())):
        other = room_of(target)
        if other is not None:
            assert ROOMS.index(other) <= ROOMS.index(room), (
                f"{own}:{line} ({room}) imports {target}"
            )


def runtime_imports(tree: ast.AST) -> list[str]:
    """The hubpulse modules a module imports when it runs: top-level or inside a function, not
    under ``if TYPE_CHECKING:`` (annotations only); ``from package import module`` names the
    module."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "hubpulse":
                subs = [f"{node.module}.{a.name}" for a in node.names]
                found += [s for s in subs if s in MODULE_NAMES] or [node.module]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("hubpulse")]
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports at run time (the package root excluded: it
    re-exports everything and nothing inside imports it)."""
    names = {name_of(p): p for p in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        if name in ("hubpulse", "hubpulse.__main__"):
            continue
        graph[name] = {t for t in runtime_imports(ast.parse(path.read_text())) if t in names}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while (top := stack.pop()) != node:
                part.append(top)
            part.append(node)
            if len(part) > 1 or node in graph.get(node, ()):
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


MODULE_NAMES = {name_of(p) for p in modules()}


def test_no_import_circle_anywhere() -> None:
    assert cycles(import_graph()) == []


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("if TYPE_CHECKING:\n    import hubpulse.x\ndef f():\n    import hubpulse.y\n")
    assert runtime_imports(tree) == ["hubpulse.y"]


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


LIBRARY = ("analysis", "store", "ingest", "registry", "settings", "web")
"""Where the library lives: what the CLI imports from these it calls, and must be exported."""


def test_every_library_name_the_cli_calls_is_exported() -> None:
    import hubpulse

    exported = set(hubpulse.__all__)
    called = set()
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "hubpulse" and parts[1:2] and parts[1] in LIBRARY:
                    called |= {(a.name, node.module) for a in node.names}
    assert {name for name, _ in called} - exported == set()
    for name, module in called:  # the export is the same object the CLI imports
        assert getattr(hubpulse, name) is getattr(importlib.import_module(module), name)
    for name in exported:
        getattr(hubpulse, name)  # every export resolves
