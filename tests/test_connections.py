"""Settings reach every DuckDB connection: the memory limit and threads given by the environment
are on the connection of every path that opens one — ingest, import-series, a question, the
server — and duckdb is imported in one place only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import DEMO, HUB_STATS
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hubpulse.cli import app
from hubpulse.ingest import connection
from hubpulse.settings import load_settings
from hubpulse.web.app import create_app

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "hubpulse"
LIMIT, THREADS = "512MB", 1
ASK = "select current_setting('memory_limit'), current_setting('threads')"


def expected() -> tuple[str, int]:
    """What DuckDB itself reports for the limit, asked without hubpulse."""
    with duckdb.connect(config={"memory_limit": LIMIT, "threads": THREADS}) as con:
        found = con.execute(ASK).fetchone()
    assert found is not None
    return found[0], found[1]


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    """The settings of every DuckDB connection made while the test runs, hubpulse's helper or
    not (the spy sits on duckdb.connect itself)."""
    monkeypatch.setenv("HUBPULSE_DUCKDB_MEMORY_LIMIT", LIMIT)
    monkeypatch.setenv("HUBPULSE_DUCKDB_THREADS", str(THREADS))
    found: list[tuple[Any, ...]] = []
    real = duckdb.connect

    def spy(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = real(*args, **kwargs)
        found.append(tuple(con.execute(ASK).fetchone() or ()))
        return con

    monkeypatch.setattr(duckdb, "connect", spy)
    yield found


def _run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_every_path_that_opens_a_connection_applies_the_settings(
    tmp_path: Path, seen: list[tuple[Any, ...]]
) -> None:
    root = str(tmp_path / "wh")
    want = expected()
    paths: dict[str, list[tuple[Any, ...]]] = {}
    for name, args in {
        "ingest": ("ingest", str(HUB_STATS), "-w", root),
        "import-series": (
            "import-series",
            str(DEMO / "forecast_hf_2025-02-18" / "Qwen.csv"),
            "-w",
            root,
        ),
        "question": ("top", "-w", root, "-f", "json"),
    }.items():
        seen.clear()
        _run(*args)
        paths[name] = list(seen)
    seen.clear()
    server = create_app(load_settings(warehouse=Path(root)))
    assert TestClient(server).get("/api/top").status_code == 200
    paths["serve"] = list(seen)
    for name, found in paths.items():
        assert found, f"{name} opened no DuckDB connection"
        assert set(found) == {want}, f"{name}: {found} (want {want} on each)"


def test_duckdb_is_imported_in_one_place() -> None:
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "duckdb" for n in names):
                importers.append(path.relative_to(PACKAGE).as_posix())
    assert importers == ["ingest/connection.py"]
    assert connection.connect  # the helper every connection is made by
