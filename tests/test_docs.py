"""Docs from code: every command has help and is shown in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from hubpulse.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_the_cli_has_the_documented_commands():
    assert set(COMMANDS) >= {
        "ingest",
        "snapshots",
        "rejects",
        "lineage",
        "families",
        "top",
        "compare",
        "derivatives",
        "demo",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_and_readme_section(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    assert f"### `hubpulse {command}" in README
    assert f"$ hubpulse {command}" in README or command == "demo"


def test_readme_starts_with_the_two_make_commands():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart
