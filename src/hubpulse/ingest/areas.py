"""The tables of each load area beyond downloads (``store.areas``): Spaces, router tokens,
inference providers, ModelScope and share prices, each table with its schema."""

from __future__ import annotations

import pyarrow as pa

from hubpulse.ingest.modelscope import MODELSCOPE_AREA, MODELSCOPE_TABLES
from hubpulse.ingest.prices import PRICES_AREA, PRICES_TABLES
from hubpulse.ingest.providers import PROVIDER_TABLES, PROVIDERS_AREA
from hubpulse.ingest.router import ROUTER_AREA, ROUTER_TABLES
from hubpulse.ingest.spaces import SPACE_TABLES, SPACES_AREA

SIGNAL_TABLES: dict[str, dict[str, pa.Schema]] = {
    SPACES_AREA: SPACE_TABLES,
    ROUTER_AREA: ROUTER_TABLES,
    PROVIDERS_AREA: PROVIDER_TABLES,
    MODELSCOPE_AREA: MODELSCOPE_TABLES,
    PRICES_AREA: PRICES_TABLES,
}
