"""Console examples for README.md and docs/*.md, written by running the commands (cog).

A ``[[[cog ... ]]]`` block in a page calls ``console("hubpulse top --limit 3")``; this module
runs the command in-process (Typer's runner) inside a scratch directory that holds the demo
warehouse, exactly as ``make demo`` builds it, and writes the command and what it printed.
``make docs-update`` refreshes every page (``cog -r``); the suite runs ``cog --check``, so a
page whose output differs from what the command prints now fails CI.

The scratch directory links the repository's ``src`` and ``tests``, so an example may name
bundled files by the paths a reader uses in a checkout. Every example runs with
``HUBPULSE_WAREHOUSE=.hubpulse-demo`` (the demo's warehouse) and 100 columns. The values that
differ on every run are shown as placeholders (``PLACEHOLDERS``, listed on a page by
``placeholders()``).
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import shlex
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cog  # type: ignore[import-not-found]
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = ".hubpulse-demo"
ENV = {"HUBPULSE_WAREHOUSE": WAREHOUSE, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
os.environ.update(ENV)  # before the CLI's console reads its width
os.environ.pop("HUBPULSE_FAMILIES_FILE", None)

from hubpulse.cli import app  # noqa: E402
from hubpulse.errors import HubpulseError  # noqa: E402
from hubpulse.web.views import WARMER  # noqa: E402

_VOLATILE = (
    (re.compile(r"\bload(\s+)[0-9a-f]{12}\b"), r"load\1<load-id>"),
    (re.compile(r"^[0-9a-f]{12},", re.M), "<load-id>,"),
    (
        re.compile(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$", re.M),
        ",<loaded-at>",
    ),  # last CSV column
    (re.compile(r'"load_id": "[0-9a-f]{12}"'), '"load_id": "<load-id>"'),
    (re.compile(r"^[0-9.]+ s, seed", re.M), "<seconds> s, seed"),
    (re.compile(r'"loaded_at": "[0-9T:. -]+"'), '"loaded_at": "<loaded-at>"'),
    (re.compile(r"built(\s+)\d{4}-\d\d-\d\dT[0-9:+]+"), r"built\1<built-at>"),
    # the history's key digests the load ids, new at every ingest (and so do its groups')
    (re.compile(r"(history: \w+ for months \S+ … \S+ \(key )[0-9a-f]{16}"), r"\1<history-key>"),
    (re.compile(r"(groups_\w+: \w+ for months \S+ … \S+ \(key )[0-9a-f]{16}"), r"\1<groups-key>"),
)
PLACEHOLDERS = {
    "<load-id>": "a load's random id",
    "<loaded-at>": "the time it was loaded",
    "<seconds>": "how long `synth` took",
    "<built-at>": "when a stored stage was built",
    "<history-key>": "the key of the stored history, which digests the load ids",
    "<groups-key>": "the key of its stored group sums (the same)",
}
"""What each placeholder of ``_VOLATILE`` stands for."""
_scratch: Path | None = None
_client: Any = None


def placeholders() -> None:
    """The sentence naming every placeholder (checked against ``_VOLATILE``)."""
    used = {p for _, repl in _VOLATILE for p in re.findall(r"<[a-z-]+>", repl)}
    assert used == set(PLACEHOLDERS), used ^ set(PLACEHOLDERS)
    listed = ", ".join(f"{what} (`{p}`)" for p, what in PLACEHOLDERS.items())
    count = len(PLACEHOLDERS)
    cog.outl(f"{count} kinds of value change on every run and are shown as placeholders: {listed}.")


def console(*commands: str) -> None:
    """Write each command and its output (a ``console`` code block) into the cog block."""
    cog.outl("```console")
    for command in commands:
        cog.outl(f"$ {command}")
        cog.out(run(command))
    cog.outl("```")


def run(command: str) -> str:
    """What ``command`` prints, with volatile values masked: a ``hubpulse`` command line,
    optionally piped into ``head -N``, or ``ls DIR``."""
    command, _, pipe = command.partition(" | ")
    args = shlex.split(command)
    if args[0] == "ls":
        with _inside(_scratch_dir()):
            text = "  ".join(sorted(p.name for p in Path(args[1]).iterdir())) + "\n"
    else:
        with _inside(_demo()):
            assert args[0] == "hubpulse", command
            text = _hubpulse([a for arg in args[1:] for a in _expand(arg)])
    if pipe:
        head = shlex.split(pipe)
        assert head[:1] == ["head"] and head[1].startswith("-"), pipe
        text = "".join(text.splitlines(keepends=True)[: int(head[1][1:])])
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    for root in (str(_scratch_dir().resolve()), str(ROOT)):  # where the checkout is
        text = text.replace(root + "/", "")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def api(path: str) -> None:
    """``curl`` of one dashboard URL, answered by the app in-process (FastAPI's test client)."""
    from fastapi.testclient import TestClient

    from hubpulse.settings import load_settings
    from hubpulse.web.app import create_app
    from hubpulse.web.views import Dashboard

    global _client
    if _client is None:
        with _inside(_demo()):
            settings = load_settings(warehouse=Path(WAREHOUSE).resolve())
            # no background builds: they would outlive the scratch warehouse and their notes
            # would land in a later command's output
            board = Dashboard(settings, warm=False)
            _client = TestClient(create_app(settings, dashboard=board))
    cog.outl("```console")
    cog.outl(f"$ curl -s 'http://127.0.0.1:8000{path}'")
    cog.outl(_client.get(path).text)
    cog.outl("```")


def python_example(code: str) -> None:
    """A Python snippet and what it prints, run in the scratch directory beside the demo."""
    code = code.strip("\n")
    out = io.StringIO()
    with _inside(_demo()), contextlib.redirect_stdout(out):
        exec(compile(code, "<docs example>", "exec"), {"__name__": "__docs__"})
        # a dashboard the example made builds its pages in the background: finish that here,
        # inside the scratch directory, not in a later command's output (or another directory)
        for thread in threading.enumerate():
            if thread.name == WARMER:
                thread.join()
    cog.outl("```python")
    cog.outl(code)
    cog.outl("```")
    cog.outl("prints")
    cog.outl("```text")
    cog.out("\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n")
    cog.outl("```")


def deconvolution_summary() -> None:
    """One generated paragraph: how many ``compare --month`` verdicts on the bundled series the
    deconvolved method decides, and how many series models it could use."""
    from collections import Counter

    from hubpulse.analysis.claims.month_comparison import month_verdicts
    from hubpulse.analysis.history.deconvolve import list_left_out
    from hubpulse.analysis.history.history import load_history
    from hubpulse.settings import load_settings
    from hubpulse.store.warehouse import open_warehouse

    changes: Counter[tuple[str, str]] = Counter()
    with _inside(_demo()):
        for mode in ("publisher", "lineage"):
            runs = [
                month_verdicts(load_history(load_settings(mode=mode, deconvolve=d), None, None))
                for d in (False, True)
            ]
            changes.update((runs[0][k], runs[1][k]) for k in runs[0])
        left = list_left_out(open_warehouse(WAREHOUSE)).to_pylist()
    total = sum(changes.values())
    decided = sum(n for (a, b), n in changes.items() if a != b and a.startswith("undecided"))
    reasons = Counter(r["reason"].split(":")[0] for r in left)
    cog.outl(
        f"Deconvolving the bundled daily 30-day series changes **{decided} of {total:,}** "
        "family-month verdicts of `compare FAMILY --next 1|8 --month M` (every month, every "
        "ranked family, publisher and lineage mode) from *undecided within error* to holds or "
        f"fails. It leaves out {reasons['glitch']:,} glitched and {reasons['stale']:,} stale "
        f"30-day counts, and {reasons['contradiction']:,} models whose counts contradict the "
        "counting model keep the month-end bounds (`hubpulse series --left-out`)."
    )


def help_text(command: str) -> None:
    """``hubpulse COMMAND --help``, as a plain text block."""
    cog.outl("```text")
    cog.out(run(f"hubpulse {command} --help".replace("  ", " ")))
    cog.outl("```")


def commands() -> list[str]:
    """Every command and sub-command of the CLI, in help order."""
    from typer.main import get_command

    names = []
    for name, command in get_command(app).commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names += [f"{name} {s}" for s in sub] if sub else [name]
    return names


def _hubpulse(args: list[str]) -> str:
    """What ``hubpulse ARGS`` prints, an error included as ``main`` prints it."""
    result = CliRunner().invoke(app, args)
    if isinstance(result.exception, HubpulseError):
        return result.output + f"error: {result.exception}\n"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.output


def _expand(arg: str) -> list[str]:
    """A shell's glob expansion of one argument (sorted; unchanged when nothing matches)."""
    return sorted(glob.glob(arg)) or [arg] if any(c in arg for c in "*?[") else [arg]


def _scratch_dir() -> Path:
    """A scratch directory linking the checkout's ``src`` and ``tests`` (one per process)."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="hubpulse-docs-"))
        for name in ("src", "tests"):
            (_scratch / name).symlink_to(ROOT / name)
    return _scratch


def _demo() -> Path:
    """The scratch directory with the demo warehouse, built on first use."""
    scratch = _scratch_dir()
    if not (scratch / WAREHOUSE).exists():
        with _inside(scratch):
            _hubpulse(["demo", "--warehouse", WAREHOUSE])
    return scratch


@contextlib.contextmanager
def _inside(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)
