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

import datetime as dt
import socket
from importlib import resources
from pathlib import Path

import pytest

from hubpulse.analysis.snapshot import Analysis, analyse_snapshot
from hubpulse.registry import load_registry
from hubpulse.store.warehouse import Warehouse, open_warehouse

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


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse like `make demo`'s: the hub-stats snapshot and the 18 daily series."""
    root = tmp_path_factory.mktemp("demo-store") / "wh"
    store = open_warehouse(root)
    store.ingest(HUB_STATS)
    for path in sorted(FORECAST.glob("*.csv")):
        store.import_series(path)
    return root
