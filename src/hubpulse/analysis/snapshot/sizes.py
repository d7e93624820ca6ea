"""Model sizes: the parameter count of a repo (served metadata, else the size in its name) and
the half-open buckets questions group sizes by."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

SIZE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1B", 1e9),
    ("1–5B", 6e9),
    ("7–9B", 10e9),
    ("10–50B", 50e9),
    ("50–100B", 100e9),
    ("100–250B", 250e9),
    ("250B+", float("inf")),
)


UNKNOWN_SIZE = "unknown"


_SIZE_TOKEN = r"(?:^|[-_])(?:(\d+)x)?(\d+(?:\.\d+)?)([bBmM])(?:$|[-_])"


def parameter_count(models: ir.Table) -> ir.FloatingValue:
    """``params_total`` where the source served it, else the size written in the repo name."""
    name = models.model_id.split("/")[1]
    experts = name.re_extract(_SIZE_TOKEN, 1).nullif("").cast("float64").fill_null(1.0)
    number = name.re_extract(_SIZE_TOKEN, 2).nullif("").cast("float64")
    unit = name.re_extract(_SIZE_TOKEN, 3).upper()
    parsed = experts * number * ibis.ifelse(unit == "B", 1e9, 1e6)
    served = models.params_total.cast("float64")
    return ibis.ifelse(served > 0, served, parsed)


def size_bucket(params: ir.FloatingValue) -> ir.StringValue:
    """The ``SIZE_BUCKETS`` label of a parameter count (``unknown`` when null)."""
    cases = [(params < upper, label) for label, upper in SIZE_BUCKETS[:-1]]
    return ibis.ifelse(params.isnull(), UNKNOWN_SIZE, ibis.cases(*cases, else_=SIZE_BUCKETS[-1][0]))
