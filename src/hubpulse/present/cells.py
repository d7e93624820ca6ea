"""Cells for people: how one value reads in a table, a page or a sentence — no data is "—"
(never blank, never 0), an unbounded upper bound "∞", shares in per cent, counts with thousands
grouped and nouns in the right number."""

from __future__ import annotations

import math
from typing import Any

NO_DATA = "—"
BLANK_NO_DATA = {"upper": "∞", "combined_upper": "∞", "through": "", "caveats": "", "change": ""}
"""Columns whose null says something else than no data: unbounded, not cut short, no caveat."""


def plural(count: float, noun: str) -> str:
    """``1 model``, ``2 models``, ``1,234 models``, ``2.5 models`` (a split credit)."""
    whole = float(count).is_integer()
    shown = f"{int(count):,}" if whole else f"{count:,.1f}"
    return f"{shown} {noun}{'' if count == 1 else 's'}"


def pretty(column: str, value: Any) -> str:
    """A cell for people: no data is "—" (never blank, never 0), an unbounded upper bound "∞",
    shares, growth, coverage, returns and price moves in per cent, download counts without
    cents."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return BLANK_NO_DATA.get(column, NO_DATA)
    if column.endswith(("share", "growth", "coverage")) and isinstance(value, float):
        return f"{value:.1%}"
    if column.endswith(("return", "move")) and isinstance(value, float):
        return f"{value:+.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and column != "rank":
        return f"{value:,}"
    return str(value)
