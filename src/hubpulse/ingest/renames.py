"""Renames between two dated snapshots: a repo that vanished and a repo that appeared with the
same creation instant is one repo under a new name.

A dump such as hub-stats carries no immutable repo id, and a rename does not announce itself:
the old id is simply gone from the next dump and the new id is there, with the creation
timestamp (to the microsecond) and the download counters it always had. Left unlinked, the two
ids would be counted as two models in the month of the rename (each with bounds of its own), and
the old one's downloads would be lost from the new one's history. A pair is linked only when it
is unambiguous: the vanished id and the appeared id share ``created_at``, no other repo of either
dump has that instant (many old repos share the instant of the Hub's bulk import, so a deletion
and an unrelated repo made public must not pair up on it), and the all-time counter did not go
down.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def match_renames(before: ir.Table, after: ir.Table) -> ir.Table:
    """old_id → new_id for the repos of snapshot ``before`` missing from the later snapshot
    ``after`` that reappear there under another id (both canonical snapshot rows)."""
    keep = ["model_id", "created_at", "downloads_all_time"]
    old, new = before.select(keep), after.select(keep)
    vanished = _alone(old.anti_join(new, "model_id"), old)
    appeared = _alone(new.anti_join(old, "model_id"), new)
    pairs = vanished.join(appeared, "created_at", lname="{name}_old", rname="{name}_new")
    grown = (
        pairs.downloads_all_time_old.isnull()
        | pairs.downloads_all_time_new.isnull()
        | (pairs.downloads_all_time_new >= pairs.downloads_all_time_old)
    )
    return pairs.filter(grown).select(old_id=pairs.model_id_old, new_id=pairs.model_id_new)


def _alone(rows: ir.Table, dump: ir.Table) -> ir.Table:
    """The ``rows`` of ``dump`` whose creation instant is known and no other repo of the dump
    shares."""
    counts = dump.group_by("created_at").aggregate(n=ibis._.count())
    unique = counts.filter(counts.created_at.notnull() & (counts.n == 1))
    return rows.semi_join(unique, "created_at")
