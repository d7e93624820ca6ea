from __future__ import annotations

import os
import tempfile

# Hermetic Hub client: set before huggingface_hub is imported anywhere (notes §2.5). The endpoint
# points at a closed local port; tests that talk to a Hub start the stand-in (tests/fakehub.py).
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="hf-home-")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_HUB_OFFLINE", None)

import contextlib
import datetime as dt
import gc
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from hubpulse.analysis.snapshot.snapshot import Analysis, analyse_snapshot
from hubpulse.registry import load_registry
from hubpulse.store.warehouse import Warehouse, open_warehouse
from hubpulse.web.views import WARMER

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = Path(str(resources.files("hubpulse").joinpath("data", "demo")))
HUB_STATS = DEMO / "hub_stats_2026-06.parquet"
HUB_STATS_DATE = dt.date(2026, 5, 20)
API_MARCH = DEMO / "api_models_2025-03-21.json"
FORECAST = DEMO / "forecast_hf_2025-02-18"


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return open_warehouse(tmp_path / "wh")


@pytest.fixture(scope="session")
def demo_analysis(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    store = open_warehouse(tmp_path_factory.mktemp("demo") / "wh")
    store.ingest(HUB_STATS)
    return analyse_snapshot(
        store.models(HUB_STATS_DATE), store.aliases(), load_registry(), HUB_STATS_DATE
    )


_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise OSError(f"test tried to reach {host}: the suite never touches the internet")
    return _connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _no_background_build_outlives_its_test() -> Iterator[None]:
    """A dashboard's background build ends with the test that started it: otherwise it runs
    into the next test (its warnings caught by that test's ``pytest.warns``, its warehouse
    gone)."""
    yield
    for thread in threading.enumerate():
        if thread.name == WARMER:
            thread.join(timeout=300)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse like `make demo`'s: the hub-stats snapshot and the 18 daily series."""
    root = tmp_path_factory.mktemp("demo-store") / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    for path in sorted(FORECAST.glob("*.csv")):
        store.import_series(path)
    return root


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session (``local[2]``) for one module's engine-parity tests: skipped when
    PySpark is not installed, unless HUBPULSE_REQUIRE_SPARK=1 (as in CI), where it fails."""
    if os.environ.get("HUBPULSE_REQUIRE_SPARK") != "1":
        pytest.importorskip(
            "pyspark", reason="PySpark not installed: pip install 'hubpulse[spark]'"
        )
    from hubpulse.store.engines import connect_spark

    backend = connect_spark("local[2]")
    yield backend
    backend.disconnect()
    gc.collect()  # PySpark leaves the sockets it collected results through to the collector


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``hubpulse ARGS`` as a user runs it: a process, its stdout and stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "hubpulse", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(root: Path, *args: str) -> Iterator[str]:
    """``hubpulse serve`` on ``root`` as a real process on a free loopback port; its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hubpulse", "serve", "--port", str(port), "-w", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/snapshots", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"hubpulse serve did not start: {process.stdout.read()}")  # type: ignore[union-attr]
            time.sleep(0.3)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("hubpulse serve ignored SIGTERM for 20 s (a request hung?)")
        finally:
            process.stdout.close()  # type: ignore[union-attr]
