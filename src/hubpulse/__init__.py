"""hubpulse: reproducible adoption metrics for open-weight models on the Hugging Face Hub.

The public Python API mirrors the CLI: each ``hubpulse`` command calls one function below.
Names load on first use (PEP 562), so ``import hubpulse`` and the CLI's start stay light.
"""

from __future__ import annotations

import importlib
from typing import Any

from hubpulse._version import __version__

_LAZY = {
    "Evidence": "hubpulse.analysis.history.evidence",
    "Family": "hubpulse.registry",
    "History": "hubpulse.analysis.history.history",
    "Lineage": "hubpulse.analysis.snapshot.lineage",
    "SNAPSHOT_SCHEMA": "hubpulse.ingest.files",
    "Warehouse": "hubpulse.store.warehouse",
    "analyse_snapshot": "hubpulse.analysis.snapshot.snapshot",
    "assign_families": "hubpulse.analysis.snapshot.families",
    "collect_evidence": "hubpulse.analysis.history.evidence",
    "compare_snapshot_rows": "hubpulse.analysis.claims.snapshot_comparison",
    "compare_snapshot": "hubpulse.analysis.claims.snapshot_comparison",
    "compare_month": "hubpulse.analysis.claims.month_comparison",
    "compare_month_rows": "hubpulse.analysis.claims.month_comparison",
    "concentration": "hubpulse.analysis.history.trends",
    "count_derivatives": "hubpulse.analysis.snapshot.ranking",
    "count_new_derivatives": "hubpulse.analysis.history.trends",
    "cumulative_downloads": "hubpulse.analysis.history.trends",
    "estimate_monthly_downloads": "hubpulse.analysis.history.estimator",
    "family_trend": "hubpulse.analysis.history.trends",
    "find_milestones": "hubpulse.analysis.history.trends",
    "ingest_snapshot": "hubpulse.store.pulls",
    "list_rejects": "hubpulse.store.queries",
    "list_series": "hubpulse.store.queries",
    "list_snapshots": "hubpulse.store.queries",
    "load_registry": "hubpulse.registry",
    "month_table": "hubpulse.analysis.history.estimator",
    "monthly_downloads": "hubpulse.analysis.history.monthly",
    "open_warehouse": "hubpulse.store.warehouse",
    "prepare_history": "hubpulse.analysis.history.history",
    "rank_models": "hubpulse.analysis.snapshot.ranking",
    "read_daily_series": "hubpulse.ingest.daily",
    "read_evidence": "hubpulse.analysis.history.evidence",
    "read_forecast_series": "hubpulse.ingest.series",
    "read_snapshot": "hubpulse.ingest.files",
    "resolve_lineage": "hubpulse.analysis.snapshot.lineage",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hubpulse' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


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
    "compare_month",
    "compare_month_rows",
    "compare_snapshot",
    "compare_snapshot_rows",
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
