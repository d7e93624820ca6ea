"""hubpulse: reproducible adoption metrics for open-weight models on the Hugging Face Hub.

The public Python API mirrors the CLI: each ``hubpulse`` command calls one function below.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hubpulse.families import Family, assign_families, load_registry
from hubpulse.lineage import Lineage, resolve_lineage
from hubpulse.metrics import (
    analyse_snapshot,
    compare_families,
    compare_family,
    count_derivatives,
    rank_models,
)
from hubpulse.sources import SNAPSHOT_SCHEMA, read_snapshot
from hubpulse.warehouse import (
    Warehouse,
    ingest_snapshot,
    list_rejects,
    list_snapshots,
    open_warehouse,
)

__all__ = [
    "SNAPSHOT_SCHEMA",
    "Family",
    "Lineage",
    "Warehouse",
    "__version__",
    "analyse_snapshot",
    "assign_families",
    "compare_families",
    "compare_family",
    "count_derivatives",
    "ingest_snapshot",
    "list_rejects",
    "list_snapshots",
    "load_registry",
    "open_warehouse",
    "rank_models",
    "read_snapshot",
    "resolve_lineage",
]
