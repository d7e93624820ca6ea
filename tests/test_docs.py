"""Docs from the program: every command is documented, every console example is what the
command prints now (cog --check), and the site builds with no warning (mkdocs --strict)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from hubpulse.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
README = (ROOT / "README.md").read_text()
COMMANDS = (ROOT / "docs" / "commands.md").read_text()
REFERENCE = (ROOT / "docs" / "reference.md").read_text()
NAMES = sorted(get_command(app).commands)  # type: ignore[attr-defined]
BIN = Path(sys.executable).parent


def test_the_cli_has_the_documented_commands():
    assert set(NAMES) >= {
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


@pytest.mark.parametrize("command", NAMES)
def test_every_command_has_help_a_section_and_its_reference(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    assert f"### `hubpulse {command}" in COMMANDS
    assert f"## `hubpulse {command}" in REFERENCE


def test_readme_is_one_screen_with_the_two_make_commands():
    assert len(README.splitlines()) <= 150
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert all(f": {page.name}" in nav for page in PAGES)


@pytest.mark.docs
def test_documented_outputs_are_what_the_commands_print_now(tmp_path):
    """cog --check reruns every example (on a fresh demo warehouse) and fails on any drift."""
    files = [str(ROOT / "README.md"), *map(str, PAGES)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBPULSE_")}
    check = subprocess.run(
        [BIN / "cog", "--check", "--diff", "-I", "tests", "-p", "from docsgen import *", *files],
        cwd=ROOT,
        env={**env, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert check.returncode == 0, (
        f"{check.stdout[-6000:]}\n{check.stderr[-1000:]}\nrun `make docs-update` to refresh"
    )


@pytest.mark.docs
def test_the_check_catches_a_drifted_example(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- [[[cog\nconsole('ls tests/fixtures')\n]]] -->\n"
        "```console\n$ ls tests/fixtures\nnot what it prints\n```\n"
        "<!-- [[[end]]] -->\n"
    )
    check = subprocess.run(
        [BIN / "cog", "--check", "-I", "tests", "-p", "from docsgen import *", str(page)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode != 0 and "changed" in check.stdout + check.stderr


@pytest.mark.docs
def test_the_site_builds_strictly(tmp_path):
    build = subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "site" / "commands" / "index.html").is_file()


def test_the_worked_example_is_read_by_the_columns_it_prints():
    """The README's reading of its example names only columns the table has, and says what an
    unbounded upper bound prints as."""
    example, reading = README.split("Read it row by row", 1)
    header = example.rsplit("```console", 1)[1].split("┡", 1)[0]
    printed = {c.strip() for c in re.split(r"[┃│]", header.splitlines()[-1]) if c.strip()}
    lines = {line.split()[0] for line in example.rsplit("```console", 1)[1].splitlines() if line}
    named = set(re.findall(r"`([a-z_]+)`", reading.split("\n\n", 1)[0]))
    assert named and named <= printed | lines, named - printed - lines  # a column or a line
    assert "∞" in reading.split("\n\n", 1)[0]
