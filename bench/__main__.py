"""``python -m bench [--full] [--record]``: one table of hubpulse's speed and memory at scale.

Each job runs in a fresh process (``bench.jobs``); its wall time is measured inside it and its
peak RSS comes from the kernel (``wait4``). Synthetic Hubs (``hubpulse synth``) are cached in
``bench/.data``. The default size fits a CI-sized machine in a few minutes; ``--full`` runs the
whole Hub (3.5M models, a year of daily downloads = 175M rows). ``--record`` writes the table
with the machine's facts to ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
TARGETS = {
    "pipeline_3.5M_s": 30.0,
    "pipeline_3.5M_gb": 3.0,
    "query_floor_ratio": 4.0,
    "first_answer_peer_ratio": 3.0,
    "first_answer_s": 6.0,
    "help_s": 0.3,
    "serve_first_s": 2.0,
    "audit_3.5M_s": 5.0,
    "daily_query_s": 3.0,
    "daily_stage_s": 60.0,
    "daily_import_s": 60.0,
    "daily_gb": 6.0,
    "daily_query_floor_ratio": 1.0,
    "daily_first_floor_ratio": 3.0,
    "history_top_ratio": 1.5,
    "api_p99_ms": 100.0,
    "weekly_s": 300.0,
    "weekly_gb": 4.0,
    "applications_top_ratio": 2.0,
}


@dataclass
class Row:
    job: str
    size: str
    seconds: float
    peak_mb: float
    detail: str
    result: dict[str, Any]


class JobFailed(Exception):
    """A job that was killed (out of memory, or past its time limit) or exited with an error."""

    def __init__(self, message: str, seconds: float, peak_mb: float) -> None:
        super().__init__(message)
        self.seconds, self.peak_mb = seconds, peak_mb


def run_job(job: str, limit: float | None = None, **arguments: Any) -> tuple[dict[str, Any], float]:
    """Run one job in a child process: its JSON result and its peak RSS in MB. A job still
    running after ``limit`` seconds is killed; a failed job raises ``JobFailed``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.jobs", job, json.dumps(arguments)],
        stdout=subprocess.PIPE,
        cwd=ROOT.parent,
        text=True,
    )
    timer = threading.Timer(limit, process.kill) if limit else None
    if timer:
        timer.start()
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if timer:
        timer.cancel()
    seconds, peak = time.perf_counter() - started, usage.ru_maxrss / 1024
    if status != 0:
        code = process.returncode
        if code == -9 and limit and seconds >= limit:
            why = f"not done after {limit:.0f} s (stopped)"
        elif code == -9:
            why = f"killed after {seconds:.0f} s (out of memory)"
        else:
            why = f"failed with status {code} after {seconds:.0f} s"
        raise JobFailed(f"{job} {why}, peak {peak:,.0f} MB", seconds, peak)
    return json.loads(output.strip().splitlines()[-1]), peak


def hub(models: int, days: int = 0, activity: float = 0.137) -> Path:
    """A cached synthetic Hub of ``models`` repos (seed 0), with ``days`` of daily downloads
    on ``activity`` of the days (0.137: the Hub's share)."""
    suffix = "" if activity == 0.137 else f"-{activity:g}"
    directory = DATA / f"hub-{models}-{days}{suffix}"
    if not (directory / "models.parquet").exists():
        shutil.rmtree(directory, ignore_errors=True)
        # in a process of its own: a child forked from a bench grown by a 3.5M-model Hub
        # would report that size as its own peak
        code = "import sys; from hubpulse.ingest.synth import synthesize as s; " + (
            "s(int(sys.argv[1]), sys.argv[2], days=int(sys.argv[3]), seed=0, "
            "activity=float(sys.argv[4]))"
        )
        arguments = [str(models), str(directory), str(days), str(activity)]
        subprocess.run([sys.executable, "-c", code, *arguments], check=True)
    return directory


def fresh(name: str) -> str:
    path = DATA / "work" / name
    shutil.rmtree(path, ignore_errors=True)
    return str(path)


def label(models: int) -> str:
    return f"{models / 1e6:g}M" if models >= 1_000_000 else f"{models // 1000}K"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="3.5M models and 175M daily rows")
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--no-daily", action="store_true", help="skip the daily job")
    parser.add_argument(
        "--daily-limit", type=float, default=900.0, help="stop the daily job after this many s"
    )
    args = parser.parse_args()
    sizes = [100_000, 1_000_000, 3_500_000] if args.full else [100_000]
    peer_sizes = [100_000, 1_000_000] if args.full else [100_000]
    console = Console()
    rows: list[Row] = []

    def add(job: str, size: str, result: dict[str, Any], peak: float, detail: str) -> None:
        rows.append(Row(job, size, result["seconds"], peak, detail, result))
        console.print(f"{job:<12} {size:>5}  {result['seconds']:8.2f} s  {peak:8.0f} MB  {detail}")

    for models in sizes:
        _size_jobs(models, models in peer_sizes, models == sizes[0], add)
    result, peak = run_job("help")
    add("help", "-", result, peak, "`hubpulse --help` as a process (median of 5)")
    _history_jobs(add)
    _weekly_job(1_000_000 if args.full else 100_000, add)
    _applications_job(1_000_000 if args.full else 100_000, add)
    if not args.no_daily:
        _daily_job(350_000, 50, args.daily_limit, add, activity=1.0)  # 17.5M daily rows
        if args.full:  # the whole Hub for a year: 175M daily rows
            _daily_job(3_500_000, 365, args.daily_limit, add)
    try:
        result, peak = run_job(
            "api", work=str(DATA / "work" / label(sizes[-1])), seconds=args.api_seconds
        )
        detail = (
            f"{result['requests']:,} requests, {result['clients']} clients: p50 "
            f"{result['p50_ms']:.1f} ms · p99 {result['p99_ms']:.1f} ms · max "
            f"{result['max_ms']:.0f} ms (up {result['up']:.1f} "
            f"s, first answer {result['seconds']:.1f} s, every page built once "
            f"{result['warm']:.1f} s)"
        )
    except JobFailed as failure:  # recorded as such: the rest of the table still stands
        result = {"seconds": failure.seconds, "failed": True}
        peak, detail = failure.peak_mb, str(failure)
    add("api", label(sizes[-1]), result, peak, detail)
    console.print(render(rows))
    verdicts = check(rows)
    for line in verdicts:
        console.print(line)
    if args.no_daily:
        verdicts.append("NOT RUN daily job (--no-daily)")
    if args.record:
        record(rows, verdicts, full=args.full, no_daily=args.no_daily)


Add = Callable[[str, str, dict[str, Any], float, str], None]


def _size_jobs(models: int, with_peer: bool, with_spark: bool, add: Add) -> None:
    """pipeline (ingest + stored analysis), Spark, floor, questions, peer and first answer."""
    path = str(hub(models) / "models.parquet")
    size = label(models)
    work = fresh(size)
    result, peak = run_job("pipeline", models=path, work=work)
    detail = (
        f"ingest {result['ingest']:.1f} s · lineage {result['lineage']:.1f} s "
        f"({result['rounds']} rounds) · families {result['families']:.1f} s · family "
        f"derivatives {result['pairs']:.1f} s"
    )
    add("pipeline", size, result, peak, detail)
    if with_spark:  # the same stored analysis built on Spark, from the warehouse just written
        spark, spark_peak = run_job("spark", work=work)
        detail = (
            f"Spark local[*]: start {spark['startup']:.1f} s · lineage {spark['lineage']:.1f} s "
            f"· families {spark['families']:.1f} s · family derivatives {spark['pairs']:.1f} s "
            f"(+ JVM {spark['jvm_mb']:,.0f} MB)"
        )
        add("spark", size, spark, spark_peak, detail)
    floor, floor_peak = run_job("floor", models=path)
    add("floor", size, floor, floor_peak, "DuckDB scan + group-by of the Parquet (in process)")
    query, query_peak = run_job("query", models=path, work=work)
    walls = query["walls"]
    detail = " · ".join(
        f"{name} {wall:.2f} s ({wall / walls['floor']:.1f}×)"
        for name, wall in walls.items()
        if name != "floor"
    )
    add("query", size, query, query_peak, f"{detail}; floor process {walls['floor']:.2f} s")
    claims, claims_peak = run_job("claims", work=work)
    detail = " · ".join(f"{name} {wall:.2f} s" for name, wall in claims["walls"].items())
    detail += f" (each a process; first-use stages built before, {claims['first_use']:.1f} s)"
    add("claims", size, claims, claims_peak, detail)
    if with_peer:
        peer, peer_peak = run_job("peer", models=path)
        add("peer", size, peer, peer_peak, f"pandas + networkx, {peer['edges']:,} edges")
        first, first_peak = run_job("first_answer", models=path, work=fresh(f"first-{size}"))
        detail = "`hubpulse ingest` + `hubpulse top` as processes, median of 3"
        add("first", size, first, first_peak, detail)


def _history_jobs(add: Add) -> None:
    """The demo warehouse's history questions against ``top``, and its history stage on Spark."""
    work = fresh("history-demo")
    result, peak = run_job("history", work=work)
    walls = result["walls"]
    detail = " · ".join(
        f"{name} {wall:.2f} s" + ("" if name == "top" else f" ({wall / walls['top']:.2f}×)")
        for name, wall in walls.items()
    )
    add("history", "demo", result, peak, f"analyse {result['analyse']:.1f} s; {detail}")
    _spark_history(work, "demo", add)


def _spark_history(work: str, size: str, add: Add, limit: float = 1800.0) -> None:
    try:
        result, peak = run_job("spark_history", limit, work=work)
        detail = (
            f"history stage on Spark local[*]: start {result['startup']:.1f} s · stage "
            f"{result['stage']:.1f} s ({result['rows']:,} model-months)"
        )
    except JobFailed as failure:
        result, peak, detail = (
            {"seconds": failure.seconds, "failed": True},
            failure.peak_mb,
            (f"history stage on Spark: {failure}"),
        )
    add("spark", size, result, peak, detail)


def _weekly_job(models: int, add: Add, weeks: int = 52) -> None:
    """A year of weekly dumps of a synthetic Hub pulled from the stand-in Hub, then December."""
    directory = DATA / f"weekly-{models}-{weeks}"
    source = hub(models) / "models.parquet"
    code = (
        "import sys; from pathlib import Path; from bench.weekly import weekly_files as w; "
        "w(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(source), str(directory), str(weeks)],
        check=True,
        cwd=ROOT.parent,
        stdout=subprocess.DEVNULL,
    )
    result, peak = run_job("weekly", directory=str(directory), work=fresh(f"weekly-{models}"))
    detail = (
        f"{result['weeks']} weekly dumps pulled from the stand-in Hub and ingested; December's "
        f"family × month: first {result['first']:.2f} s (builds the history stage: "
        f"{result['stage']:.1f} s, {result['slices']} slice(s) of models), then "
        f"{result['query']:.2f} s; `top` {result['top']:.2f} s (processes)"
    )
    add("weekly", label(models), result, peak, detail)


def _applications_job(models: int, add: Add) -> None:
    """Spaces (half as many as models) imported beside a snapshot, then applications."""
    path = str(hub(models) / "models.parquet")
    work = fresh(f"applications-{label(models)}")
    result, peak = run_job("applications", models=path, work=work, spaces=models // 2)
    walls = result["walls"]
    detail = (
        f"{result['spaces']:,} Spaces ({result['links']:,} model links) imported; "
        + " · ".join(f"{name} {wall:.2f} s" for name, wall in walls.items())
        + " (processes)"
    )
    add("applications", label(models), result, peak, detail)


def _daily_job(models: int, days: int, limit: float, add: Add, *, activity: float = 0.137) -> None:
    directory = hub(models, days, activity)
    work = fresh(f"daily-{models}")
    try:
        result, peak = run_job("daily", limit, directory=str(directory), work=work)
        detail = (
            f"{result['rows']:,} daily rows: import {result['import']:.1f} s · history stages "
            f"{result['stage']:.1f} s (estimates {result['estimates']:.1f} s, group sums "
            f"{result['groups']:.1f} s) · family × month {result['query']:.2f} s (a process) · "
            f"floor process {result['floor']:.2f} s"
        )
    except JobFailed as failure:  # recorded as such: the rest of the table still stands
        result, peak, detail = (
            {"seconds": failure.seconds, "failed": True},
            failure.peak_mb,
            str(failure),
        )
    size = (
        f"{models * days * 0.137 / 1e6:.1f}M rows"
        if not result.get("rows")
        else (f"{result['rows'] / 1e6:.1f}M rows")
    )
    add("daily", size, result, peak, detail)
    if models < 1_000_000 and not result.get("failed"):
        _spark_history(work, size, add)


def render(rows: list[Row]) -> Table:
    table = Table(title="hubpulse benchmarks")
    for column in ("job", "size", "wall s", "peak MB", "detail"):
        table.add_column(column, justify="right" if column in ("wall s", "peak MB") else "left")
    for row in rows:
        table.add_row(row.job, row.size, f"{row.seconds:.2f}", f"{row.peak_mb:,.0f}", row.detail)
    return table


def check(rows: list[Row]) -> list[str]:
    """The issues' targets, each met or not, at the sizes that ran."""
    by = {(r.job, r.size): r for r in rows}
    lines = []
    for row in rows:
        if row.job == "query" and row.size in ("1M", "3.5M"):
            walls = row.result["walls"]
            for name, wall in walls.items():
                if name != "floor":
                    ratio = wall / walls["floor"]
                    text = f"`{name}` at {row.size}: {ratio:.1f}× the floor process"
                    lines.append(_verdict(text, ratio <= TARGETS["query_floor_ratio"], "≤ 4×"))
        if row.job == "claims" and row.size in ("1M", "3.5M"):
            top = by[("query", row.size)].result["walls"]["top"]
            parts = [
                f"`{name}` {wall:.1f} s ({wall / top:.1f}× `top`)"
                for name, wall in row.result["walls"].items()
            ]
            lines.append(f"NOTE   claims at {row.size}: {', '.join(parts)}")
            if row.size == "3.5M":
                audit = row.result["walls"]["audit"]
                text = f"`audit` at 3.5M: {audit:.1f} s (a process)"
                lines.append(_verdict(text, audit <= TARGETS["audit_3.5M_s"], "≤ 5 s"))
        if row.job == "first" and row.size == "1M":
            ratio = by[("peer", row.size)].seconds / row.seconds
            text = f"first answer at {row.size}: {ratio:.1f}× faster than pandas + networkx"
            lines.append(_verdict(text, ratio >= TARGETS["first_answer_peer_ratio"], "≥ 3×"))
            text = f"first answer at {row.size}: {row.seconds:.1f} s"
            lines.append(_verdict(text, row.seconds <= TARGETS["first_answer_s"], "≤ 6 s"))
        if row.job == "pipeline" and row.size == "3.5M":
            text = f"3.5M ingest + stored analysis: {row.seconds:.1f} s"
            lines.append(_verdict(text, row.seconds <= TARGETS["pipeline_3.5M_s"], "≤ 30 s"))
            gb = row.peak_mb / 1024
            lines.append(
                _verdict(f"3.5M: peak {gb:.1f} GB", gb <= TARGETS["pipeline_3.5M_gb"], "≤ 3 GB")
            )
        if row.job == "help":
            text = f"`hubpulse --help`: {row.seconds:.2f} s"
            lines.append(_verdict(text, row.seconds <= TARGETS["help_s"], "≤ 0.3 s"))
        if row.job == "api" and row.result.get("failed"):
            lines.append(_verdict(f"serve under load: {row.detail}", False, "≤ 100 ms at 3.5M"))
        elif row.job == "api":
            first = row.result["seconds"]
            text = f"serve: first answer {first:.1f} s after start at {row.size}"
            lines.append(_verdict(text, first <= TARGETS["serve_first_s"], "≤ 2 s at 3.5M"))
            p99 = row.result["p99_ms"]
            text = f"API p99 {p99:.1f} ms under 8 clients at {row.size}"
            lines.append(_verdict(text, p99 <= TARGETS["api_p99_ms"], "≤ 100 ms at 3.5M"))
            if "warm_p99_ms" in row.result:  # apart: the pages built before, a model's page
                lines.append(
                    f"NOTE   API p99 of the pages built before the load "
                    f"{row.result['warm_p99_ms']:.1f} ms; a model's page (20% of requests, "
                    "most of them a model not asked for before) makes the rest"
                )
            slowest = row.result["max_ms"]
            text = f"slowest request {slowest:.0f} ms under 8 clients at {row.size}"
            lines.append(_verdict(text, slowest <= 1000, "no wait > 1 s behind another"))
        if row.job == "daily":
            lines.extend(_daily_verdicts(row))
        if row.job == "history":
            lines.extend(_history_verdicts(row))
        if row.job == "weekly":
            lines.extend(_weekly_verdicts(row))
        if row.job == "applications":
            lines.append(_applications_verdict(row))
    return lines


def _daily_verdicts(row: Row) -> list[str]:
    if row.result.get("failed"):
        return [_verdict(f"daily rows → family × month: {row.detail}", False, "see the issue")]
    rows, query, loaded = row.result["rows"], row.result["query"], row.result["import"]
    stage, floor = row.result["stage"], row.result["floor"]
    if rows < 170_000_000:
        ratio, first = query / floor, (stage + query) / floor
        return [
            _verdict(
                f"{rows:,} daily rows: a history question after the stage is built "
                f"{ratio:.2f}× the bare scan process",
                ratio <= TARGETS["daily_query_floor_ratio"],
                "≤ 1×",
            ),
            _verdict(
                f"{rows:,} daily rows: the first question (stage + question) {first:.2f}× "
                "the bare scan process",
                first <= TARGETS["daily_first_floor_ratio"],
                "≤ 3×",
            ),
        ]
    peak = row.peak_mb / 1024
    return [
        _verdict(
            f"import of {rows:,} daily rows: {loaded:.1f} s",
            loaded <= TARGETS["daily_import_s"],
            "≤ 60 s",
        ),
        _verdict(
            f"history stages built (estimates and group sums): {stage:.1f} s",
            stage <= TARGETS["daily_stage_s"],
            "≤ 60 s",
        ),
        _verdict(
            f"family × month afterwards: {query:.1f} s", query <= TARGETS["daily_query_s"], "≤ 3 s"
        ),
        _verdict(f"daily job peak {peak:.1f} GB", peak <= TARGETS["daily_gb"], "≤ 6 GB"),
    ]


def _history_verdicts(row: Row) -> list[str]:
    walls = row.result["walls"]
    return [
        _verdict(
            f"demo `{name}` {wall:.2f} s = {wall / walls['top']:.2f}× `top`",
            wall <= TARGETS["history_top_ratio"] * walls["top"],
            "≤ 1.5×",
        )
        for name, wall in walls.items()
        if name != "top"
    ]


def _weekly_verdicts(row: Row) -> list[str]:
    result, gb = row.result, row.peak_mb / 1024
    text = f"{result['weeks']} weekly dumps at {row.size} pulled and ingested: {row.seconds:.0f} s"
    lines = [
        _verdict(text, row.seconds <= TARGETS["weekly_s"], "≤ 300 s at 1M"),
        _verdict(f"weekly pull peak {gb:.1f} GB", gb <= TARGETS["weekly_gb"], "≤ 4 GB"),
    ]
    text = f"December's family × month {result['query']:.2f} s, `top` {result['top']:.2f} s"
    return [*lines, _verdict(text, result["query"] <= 1.5 * result["top"], "≤ 1.5× `top`")]


def _applications_verdict(row: Row) -> str:
    walls = row.result["walls"]
    text = (
        f"`applications` at {row.size}: {walls['applications']:.2f} s, `top` {walls['top']:.2f} s"
    )
    met = walls["applications"] <= TARGETS["applications_top_ratio"] * walls["top"]
    return _verdict(text, met, "≤ 2× `top`")


def _verdict(text: str, met: bool, target: str) -> str:
    return f"{'MET ' if met else 'MISSED'} {text} (target {target})"


def record(rows: list[Row], verdicts: list[str], *, full: bool, no_daily: bool = False) -> None:
    facts = machine()
    lines = [
        "# Benchmarks",
        "",
        f"Recorded by `python -m bench{' --full' if full else ''}"
        f"{' --no-daily' if no_daily else ''} --record` on "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| fact | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        "",
        "| job | size | wall s | peak MB | detail |",
        "|---|---|---:|---:|---|",
        *[
            f"| {r.job} | {r.size} | {r.seconds:.2f} | {r.peak_mb:,.0f} | {r.detail} |"
            for r in rows
        ],
        "",
        "Targets:",
        "",
        *[f"- {line}" for line in verdicts],
        "",
    ]
    (ROOT.parent / "BENCHMARKS.md").write_text("\n".join(lines))


def machine() -> dict[str, str]:
    import duckdb
    import ibis

    cpu = "unknown"
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "DuckDB / Ibis": f"{duckdb.__version__} / {ibis.__version__}",
    }


if __name__ == "__main__":
    main()
