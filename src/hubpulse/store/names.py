"""Names in the warehouse's layout that light modules need without loading the engines."""

from __future__ import annotations

DERIVED = "derived"
META = "meta.json"
WAREHOUSE = "warehouse"  # derived/warehouse/: stages of the whole warehouse (its history)
