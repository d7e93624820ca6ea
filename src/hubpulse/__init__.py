"""hubpulse: reproducible adoption metrics for open-weight models on the Hugging Face Hub.

The public Python API mirrors the CLI: each ``hubpulse`` command calls one function below.
"""

from __future__ import annotations

from hubpulse._version import __version__
from hubpulse.analysis.estimator import estimate_monthly_downloads, month_table
from hubpulse.analysis.evidence import Evidence, collect_evidence, read_evidence
from hubpulse.analysis.families import assign_families
from hubpulse.analysis.history import History, monthly_downloads, prepare_history
from hubpulse.analysis.lineage import Lineage, resolve_lineage
from hubpulse.analysis.metrics import (
    compare_families,
    compare_family,
    count_derivatives,
    rank_models,
)
from hubpulse.analysis.snapshot import analyse_snapshot
from hubpulse.analysis.trends import (
    compare_family_month,
    compare_month,
    concentration,
    count_new_derivatives,
    cumulative_downloads,
    family_trend,
    find_milestones,
)
from hubpulse.ingest.daily import read_daily_series
from hubpulse.ingest.files import SNAPSHOT_SCHEMA, read_snapshot
from hubpulse.ingest.series import read_forecast_series
from hubpulse.registry import Family, load_registry
from hubpulse.store.pulls import ingest_snapshot
from hubpulse.store.queries import list_rejects, list_series, list_snapshots
from hubpulse.store.warehouse import Warehouse, open_warehouse

__all__ = [
    "SNAPSHOT_SCHEMA",
    "Evidence",
    "Family",
    "History",
    "Lineage",
    "Warehouse",
    "__version__",
    "analyse_snapshot",
    "assign_families",
    "collect_evidence",
    "compare_families",
    "compare_family",
    "compare_family_month",
    "compare_month",
    "concentration",
    "count_derivatives",
    "count_new_derivatives",
    "cumulative_downloads",
    "estimate_monthly_downloads",
    "family_trend",
    "find_milestones",
    "ingest_snapshot",
    "list_rejects",
    "list_series",
    "list_snapshots",
    "load_registry",
    "month_table",
    "monthly_downloads",
    "open_warehouse",
    "prepare_history",
    "rank_models",
    "read_daily_series",
    "read_evidence",
    "read_forecast_series",
    "read_snapshot",
    "resolve_lineage",
]
