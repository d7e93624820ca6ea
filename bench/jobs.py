"""Benchmark jobs, each run in its own process by ``bench.__main__`` so that its wall time and
peak RSS are its own: ``python -m bench.jobs JOB ARGS_JSON`` prints one JSON object."""

from __future__ import annotations

import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any


def pipeline(models: str, work: str) -> dict[str, Any]:
    """ingest → the stored analysis (lineage stage, families stage), timed by stage."""
    from hubpulse.store.warehouse import open_warehouse

    started = time.perf_counter()
    store = open_warehouse(work)
    store.ingest(models)
    ingest = time.perf_counter() - started
    analysed = _analyse(store)
    return {**analysed, "seconds": ingest + analysed["seconds"], "ingest": ingest}


def spark(work: str) -> dict[str, Any]:
    """The stored analysis rebuilt on Spark ``local[*]`` from the warehouse the pipeline job
    wrote; the JVM's peak RSS (VmHWM) is reported beside Python's."""
    from hubpulse.store.warehouse import open_warehouse

    started = time.perf_counter()
    store = open_warehouse(work, "spark")
    result = {"startup": time.perf_counter() - started, **_analyse(store)}
    jvm = store.reader._session.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]
    status = Path(f"/proc/{jvm}/status").read_text()
    jvm_kb = next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]
    store.reader.disconnect()
    return {
        **result,
        "seconds": result["startup"] + result["seconds"],
        "jvm_mb": int(jvm_kb) / 1024,
    }


def _analyse(store: Any) -> dict[str, Any]:
    """Build what a first ``top --by family`` reads of the newest snapshot, from scratch: the
    lineage and families stages, then the family derivative pairs (a stage built on first
    use), timed by stage through the builds' own notes."""
    from hubpulse.analysis.snapshot.dimensions import derivative_pairs
    from hubpulse.analysis.snapshot.stored import ensure_stored, stored_analysis
    from hubpulse.registry import load_registry

    started = time.perf_counter()
    day = store.resolve_date(None)
    lineage, families, _ = ensure_stored(store, day, load_registry(), max_depth=256, rebuild=True)
    built = {stage.meta["stage"]: stage.meta for stage in (lineage, families)}
    staged = time.perf_counter()
    derivative_pairs(stored_analysis(store, day, load_registry()), "family").count().execute()
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "lineage": built["lineage"]["seconds"],
        "families": built["families"]["seconds"],
        "pairs": done - staged,
        "rounds": built["lineage"]["rounds"],
    }


QUESTIONS = {
    "top": ["top", "--by", "family"],
    "compare": ["compare", "Qwen"],
    "lineage": ["lineage", "{model}"],
    "derivatives": ["derivatives", "Qwen"],
}


def query(models: str, work: str, repeat: int = 3) -> dict[str, Any]:
    """Each question as a ``hubpulse`` process on the already analysed warehouse, against the
    floor (a bare DuckDB scan + group-by process over the same Parquet), in the same run: the
    median of ``repeat`` runs each."""
    import pyarrow.parquet as pq

    ids = pq.read_table(models, columns=["id"]).column("id").to_pylist()
    model = ids[len(ids) // 3]
    floor_code = (
        "import sys, duckdb; duckdb.connect().execute('select author, sum(downloads), count(*) "
        "from read_parquet(?) group by author', [sys.argv[1]]).fetchall()"
    )
    walls = {"floor": _median_wall([sys.executable, "-c", floor_code, models], repeat)}
    for name, args in QUESTIONS.items():
        command = [sys.executable, "-m", "hubpulse", *(a.format(model=model) for a in args)]
        walls[name] = _median_wall([*command, "-w", work], repeat)
    return {"seconds": sum(walls.values()), "walls": walls}


CLAIMS = {
    "compare --llm --count robust": ["compare", "Qwen", "--llm", "--count", "robust"],
    "audit": ["audit", "Qwen"],
    "audit --derivatives": ["audit", "Qwen", "--derivatives", "100000"],
}


def claims(work: str, repeat: int = 1) -> dict[str, Any]:
    """The claim questions of issue 16 as ``hubpulse`` processes on the analysed warehouse: a
    robust LLM-only comparison, an audit (16 definitions) and a derivative audit. The stages a
    first ``top`` leaves to first use (the closure by ancestor, flag signals, each group's
    derivative pairs) are built first, in process and timed apart, as the issue's audit
    target was measured with them stored."""
    from hubpulse.analysis.snapshot.stored import load_analysis
    from hubpulse.settings import load_settings

    started = time.perf_counter()
    analysis = load_analysis(load_settings(warehouse=Path(work)), None)
    analysis.lineage.below.count().execute()
    for loader in list(analysis.lazy.values()):
        loader().count().execute()
    first_use = time.perf_counter() - started
    walls = {
        name: _median_wall([sys.executable, "-m", "hubpulse", *args, "-w", work], repeat)
        for name, args in CLAIMS.items()
    }
    return {"seconds": sum(walls.values()), "walls": walls, "first_use": first_use}


def _median_wall(command: list[str], repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - began)
    return statistics.median(walls)


def applications(models: str, work: str, spaces: int, repeat: int = 3) -> dict[str, Any]:
    """Spaces of a synthetic Hub (``models`` / 2 of them, from ``synth_spaces``) imported into a
    new warehouse holding the Hub's snapshot (its stored analysis built first), then
    ``hubpulse applications`` (family, model) and ``audit --applications`` as processes, beside
    ``top``: the median of ``repeat``."""
    from hubpulse.ingest.synth_spaces import synthesize_spaces
    from hubpulse.store.spaces import import_spaces
    from hubpulse.store.warehouse import open_warehouse

    store = open_warehouse(work)
    store.ingest(models)
    hubpulse = [sys.executable, "-m", "hubpulse"]
    subprocess.run([*hubpulse, "analyse", "-w", work], check=True, stdout=subprocess.DEVNULL)
    path = synthesize_spaces(models, spaces, Path(work).parent / "spaces-bench")
    started = time.perf_counter()
    load = import_spaces(store, path, complete=True)
    imported = time.perf_counter() - started
    questions = {
        "applications": ["applications"],
        "by model": ["applications", "--by", "model"],
        "audit --applications": ["audit", "Qwen", "--applications", "10000"],
        "top": ["top"],
    }
    walls = {k: _median_wall([*hubpulse, *a, "-w", work], repeat) for k, a in questions.items()}
    return {"seconds": imported, "spaces": load.spaces, "links": load.links, "walls": walls}


def help_wall(repeat: int = 5) -> dict[str, Any]:
    """``hubpulse --help`` as a process (the CLI's start), median of ``repeat``."""
    return {"seconds": _median_wall([sys.executable, "-m", "hubpulse", "--help"], repeat)}


def first_answer(models: str, work: str, repeat: int = 3) -> dict[str, Any]:
    """What a user waits for a first answer from a new file, as processes: ``hubpulse ingest``,
    then ``hubpulse top`` (which builds the stored analysis), each time into a new warehouse;
    the median of ``repeat``."""
    walls = []
    for attempt in range(repeat):
        started = time.perf_counter()
        for args in (["ingest", models], ["top", "--by", "family"]):
            subprocess.run(
                [sys.executable, "-m", "hubpulse", *args, "-w", f"{work}/{attempt}"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        walls.append(time.perf_counter() - started)
    return {"seconds": statistics.median(walls), "walls": walls}


def peer(models: str) -> dict[str, Any]:
    from bench.peer import run

    started = time.perf_counter()
    result = run(Path(models))
    return {"seconds": time.perf_counter() - started, "edges": result["edges"]}


def floor(models: str) -> dict[str, Any]:
    """The physical floor: one DuckDB scan of the same Parquet with a group-by."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        "select author, sum(downloads), count(*) from read_parquet(?) group by author", [models]
    ).fetchall()
    return {"seconds": time.perf_counter() - started}


HISTORY_QUESTIONS = {
    "top": ["top", "--by", "family"],
    "trend": ["trend", "Qwen"],
    "compare --month": ["compare", "Qwen", "--month", "2025-01"],
    "drivers": ["drivers", "Qwen", "--month", "2025-01"],
    "milestones": ["milestones", "Qwen"],
}


def history(work: str, repeat: int = 3) -> dict[str, Any]:
    """The demo warehouse (the bundled snapshots and 18 real series), analysed with
    ``hubpulse analyse`` (which builds the stored history too), then each history question and
    ``top`` as ``hubpulse`` processes, the median of ``repeat`` runs each."""
    from hubpulse.present.demo import demo_files, demo_series
    from hubpulse.store.warehouse import open_warehouse

    store = open_warehouse(work)
    for path, date in demo_files():
        store.ingest(path, date)
    for path in demo_series():
        store.import_series(path)
    began = time.perf_counter()
    _hubpulse(["analyse", "-w", work])
    analyse = time.perf_counter() - began
    walls = {
        name: _median_wall([sys.executable, "-m", "hubpulse", *args, "-w", work], repeat)
        for name, args in HISTORY_QUESTIONS.items()
    }
    return {"seconds": analyse + sum(walls.values()), "analyse": analyse, "walls": walls}


def weekly(directory: str, work: str, repeat: int = 3) -> dict[str, Any]:
    """A year of weekly dumps (``bench.weekly``, cached in ``directory``) served by the
    stand-in Hub of the tests (``tests/fakehub.py``, files streamed from disk) and pulled with
    ``pull_weekly`` into a new warehouse; then December's family × month as ``hubpulse``
    processes: the first (which builds the history stage) and the median of ``repeat`` after
    it, beside ``top`` on the same warehouse."""
    import os

    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fakehub import FakeHub, digest, serve

    from hubpulse.ingest.hub import Hub
    from hubpulse.ingest.sources import WEEKLY
    from hubpulse.store.pulls import pull_weekly
    from hubpulse.store.warehouse import open_warehouse

    sha = "5e" * 20
    files = {
        (sha, f"models/{path.parent.name}/models.parquet"): path
        for path in sorted(Path(directory).glob("*/models.parquet"))
    }
    for path in files.values():
        digest(path)  # the stand-in's own hashing, before the clock starts
    fake = FakeHub(models=[])
    fake.datasets[WEEKLY] = {"commits": [], "branches": {"main": sha}, "files": files}
    with serve(fake):
        started = time.perf_counter()
        result = pull_weekly(open_warehouse(work), Hub(fake.url))
        pulled = time.perf_counter() - started
    december = ["monthly", "--by", "family", "--from", "2025-12", "--to", "2025-12", "-w", work]
    command = [sys.executable, "-m", "hubpulse"]
    first = _median_wall([*command, *december], 1)
    (stage,) = Path(work).glob("derived/warehouse/history-*/meta.json")
    built = json.loads(stage.read_text())
    return {
        "seconds": pulled,
        "weeks": sum(1 for w in result.weeks if w.status == "loaded"),
        "first": first,
        "stage": built["seconds"],
        "slices": built["slices"],
        "query": _median_wall([*command, *december], repeat),
        "top": _median_wall([*command, "top", "--by", "family", "-w", work], repeat),
    }


def spark_history(work: str) -> dict[str, Any]:
    """The stored history stage rebuilt on Spark ``local[*]`` from the warehouse ``work``."""
    from hubpulse.analysis.history.stored import stored_history
    from hubpulse.settings import load_settings
    from hubpulse.store.warehouse import open_warehouse

    started = time.perf_counter()
    store = open_warehouse(work, "spark")
    up = time.perf_counter()
    built = stored_history(store, load_settings(warehouse=work), rebuild=True)
    rows = int(built.estimates.count().to_pyarrow().as_py())
    done = time.perf_counter()
    store.reader.disconnect()
    return {"seconds": done - started, "startup": up - started, "stage": done - up, "rows": rows}


DAILY_FLOOR = (
    "import sys, duckdb; duckdb.connect().execute(\"select hub_id, date_trunc('month', date) m, "
    'sum(downloads) from read_parquet(?) group by all", [sys.argv[1]]).fetchall()'
)


def daily(directory: str, work: str) -> dict[str, Any]:
    """Import daily downloads, build the stored history and its group sums (the first
    question's cost), then a family × month question as a ``hubpulse`` process, against the
    floor: a bare DuckDB scan + group-by (model × month) of the same daily rows as a process."""
    from hubpulse.analysis.history.groups import stored_groups
    from hubpulse.analysis.history.stored import stored_history
    from hubpulse.ingest.series import DailyColumns
    from hubpulse.registry import load_registry
    from hubpulse.settings import load_settings
    from hubpulse.store.warehouse import open_warehouse

    base = Path(directory)
    started = time.perf_counter()
    store = open_warehouse(work)
    load = store.import_series(
        base / "daily.parquet",
        layout="daily",
        models_path=base / "daily_models.parquet",
        columns=DailyColumns(models_created="created_at"),
    )
    imported = time.perf_counter()
    settings = load_settings(warehouse=work, mode="publisher")
    history = stored_history(store, settings)
    estimated = time.perf_counter()
    stored_groups(store, settings, history, load_registry(), "publisher", None)
    built = time.perf_counter()
    store.release()
    question = [sys.executable, "-m", "hubpulse", "monthly", "--by", "family", "--mode"]
    asked = _median_wall([*question, "publisher", "-f", "json", "-w", work], 3)
    floor = _median_wall([sys.executable, "-c", DAILY_FLOOR, str(base / "daily.parquet")], 3)
    return {
        "seconds": built - started + asked,
        "import": imported - started,
        "stage": built - imported,
        "estimates": estimated - imported,
        "groups": built - estimated,
        "query": asked,
        "floor": floor,
        "rows": load.rows,
    }


def _hubpulse(args: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "hubpulse", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def api(work: str, seconds: float = 10.0, clients: int = 8) -> dict[str, Any]:
    """p50/p99 latency of a request mix under ``clients`` concurrent clients."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "hubpulse", "serve", "--port", str(port), "-w", work],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        _wait(base)
        up = time.perf_counter() - started
        _get(base + "/api/top?by=family")  # the first question: reads the stored analysis
        startup = time.perf_counter() - started
        ids = [r["model_id"] for r in _get(base + "/api/search?q=syn&limit=500")["rows"]]
        urls = [
            "/api/top?by=family",
            "/api/compare?family=Qwen&next=8",
            "/api/families/Qwen",
            "/api/monthly",
            "/",
            "/family/Qwen",
            "/compare?family=Qwen&next=3",
            "/api/search?q=qwen",
        ]
        warming = time.perf_counter()  # each page's figures are built on first use
        for url in urls:
            _get(base + url)
        warm = time.perf_counter() - warming
        latencies: list[float] = []
        warm_pages: list[float] = []  # the pages built above, apart from models' pages
        stop = time.perf_counter() + seconds

        def client(seed: int) -> None:
            pick = random.Random(seed)
            while time.perf_counter() < stop:
                warm_page = pick.random() < 0.8
                url = pick.choice(urls) if warm_page else f"/api/models/{pick.choice(ids)}"
                began = time.perf_counter()
                with urllib.request.urlopen(base + url, timeout=30) as response:
                    response.read()
                latencies.append(time.perf_counter() - began)
                if warm_page:
                    warm_pages.append(latencies[-1])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    warm_pages.sort()
    return {
        "warm_p99_ms": 1000 * warm_pages[int(0.99 * (len(warm_pages) - 1))],
        "seconds": startup,
        "up": up,
        "warm": warm,
        "requests": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "clients": clients,
    }


def _wait(base: str) -> float:
    began = time.perf_counter()
    while True:
        try:
            _get(base + "/api/snapshots")
            return time.perf_counter() - began
        except OSError:
            if time.perf_counter() - began > 600:
                raise
            time.sleep(0.2)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=900) as response:
        body = response.read()
    return json.loads(body) if body.lstrip()[:1] in (b"{", b"[") else body


JOBS: dict[str, Any] = {
    "pipeline": pipeline,
    "query": query,
    "claims": claims,
    "first_answer": first_answer,
    "help": help_wall,
    "spark": spark,
    "peer": peer,
    "floor": floor,
    "daily": daily,
    "history": history,
    "spark_history": spark_history,
    "weekly": weekly,
    "applications": applications,
    "api": api,
}

if __name__ == "__main__":
    job, arguments = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(JOBS[job](**arguments)))
