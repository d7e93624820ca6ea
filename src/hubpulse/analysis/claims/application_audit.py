"""Application-count claims ("tens of thousands of applications have been built on SUBJECT")
under every definition: grouping (family, vendor) × attribution (publisher: Spaces using the
group's own repos; lineage: also those using their derivatives)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from hubpulse.analysis.claims.audit import (
    GROUPINGS,
    Audit,
    count_verdict,
    empty_row,
    known_group,
    subject_in,
)
from hubpulse.analysis.snapshot.applications import SpacesDay, count_applications
from hubpulse.terms import MODES

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis

PARTIAL_SPACES = (
    "the Spaces are a partial listing (not a crawl of every Space): their counts are lower "
    "bounds, so a count below the claim cannot refute it, only one above can confirm it"
)
PARTIAL_LINEAGE = (
    "the model snapshot is a partial extract: a Space using a derivative the snapshot lacks is "
    "attributed by its name alone, so lineage counts are lower bounds"
)


def audit_applications(
    analysis: Analysis, day: SpacesDay, aliases: ir.Table, subject: str, threshold: int
) -> Audit:
    """The claim "``subject`` has ``threshold``+ applications" under 4 definitions; each row
    has the count, its verdict and the Spaces' likes."""
    registry = analysis.registry
    subject = known_group(registry, subject)
    rows: list[dict[str, Any]] = []
    for by in GROUPINGS:
        name = subject_in(registry, subject, by)
        for mode in MODES:
            row: dict[str, Any] = {"definition": f"{by}/{mode}", "by": by, "mode": mode}
            if name is None:
                rows.append(row | empty_row("not applicable", f"no single family of {subject}"))
                continue
            result = count_applications(analysis, day, aliases, by=by, mode=mode)  # type: ignore[arg-type]
            table = result.table
            found = table.filter(table[by] == name).to_pyarrow().to_pylist()
            count = found[0]["applications"] if found else 0
            partial = not day.complete or (mode == "lineage" and analysis.partial)
            verdict = count_verdict(count, threshold, partial)
            held = " (a lower bound)" if verdict == "cannot refute" else ""
            sentence = f"{name}: {count:,} Spaces use its models ({by}/{mode}) vs {threshold:,}"
            rows.append(
                row
                | {"subject": name}
                | empty_row(verdict, sentence + held)
                | {"value": count, "lower": count, "combined": threshold}
                | {"ratio": count / threshold, "likes": found[0]["likes"] if found else 0}
            )
    notes = [
        "definition = grouping/attribution; publisher: Spaces that use the group's own repos; "
        "lineage: also its derivatives'",
        "a Space uses a model when it declares it (README models:, or found in its code): "
        "declared use, not observed traffic; a Space counts once however many of the group's "
        "models it uses",
        *([PARTIAL_SPACES] if not day.complete else []),
        *([PARTIAL_LINEAGE] if analysis.partial else []),
    ]
    window = f"Spaces of {day.date} (models snapshot {analysis.snapshot_date})"
    return Audit(f"{subject} has {threshold:,}+ applications", "applications", window, rows, notes)
