from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest

from hubpulse.families import load_registry
from hubpulse.metrics import Analysis, analyse_snapshot
from hubpulse.warehouse import Warehouse, open_warehouse

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
