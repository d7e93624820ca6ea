"""Two hubs side by side: Hugging Face and ModelScope downloads per family, vendor or country.

ModelScope does not document the window of its ``downloads``; it looks lifetime, so it is
compared with Hugging Face's all-time downloads (``downloadsAllTime``) only, never with or
added to a 30-day figure. A ModelScope model whose id is a model of the Hugging Face snapshot
belongs to that model's families under ``mode``; another by the publisher rule on its name (its
lineage is unknown there), with the family's ModelScope organisations (``modelscope_orgs``:
GLM publishes as ``ZhipuAI`` there) where the registry names them. A model split between n
families gives each ⌊v/n⌋ whole downloads and the remainder one each to its first families by
name, as on Hugging Face.

``both`` is the sum of the two hubs' all-time downloads where each side is known: a group with
Hugging Face models but no all-time count (a dump without ``downloadsAllTime``) has no total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from hubpulse.analysis.snapshot.applications import model_families
from hubpulse.analysis.snapshot.ranking import rank_models
from hubpulse.terms import GroupBy, Mode

if TYPE_CHECKING:
    from hubpulse.analysis.snapshot.snapshot import Analysis

HUBS = ("hf", "modelscope", "both")
HUB_GROUPS: tuple[GroupBy, ...] = ("family", "vendor", "country")


def modelscope_credits(analysis: Analysis, rows: ir.Table, mode: Mode, by: GroupBy) -> ir.Table:
    """key, modelscope_all_time, modelscope_models: ModelScope downloads per group."""
    used = rows.select(owner="model_id", model_id=rows.model_id).view()
    families = model_families(analysis, used, mode, key="owner", hub="modelscope")
    facts = rows.select("model_id", "downloads")
    joined = families.join(facts, "model_id")
    n = joined.family.count().over(ibis.window(group_by=joined.model_id))
    place = ibis.row_number().over(ibis.window(group_by=joined.model_id, order_by=joined.family))
    part = joined.downloads // n + ibis.ifelse(place < joined.downloads % n, 1, 0)
    parts = joined.select("model_id", "family", part=part)
    if by != "family":
        groups = analysis.families().select("family", by)
        parts = parts.join(groups, "family").mutate(family=ibis._[by])
    return parts.group_by(key=parts.family).aggregate(
        modelscope_all_time=parts.part.sum(), modelscope_models=parts.model_id.nunique()
    )


def rank_hubs(
    analysis: Analysis,
    rows: ir.Table,
    *,
    hub: str = "both",
    by: GroupBy = "family",
    mode: Mode = "lineage",
    limit: int | None = None,
) -> ir.Table:
    """rank, the group, hf_all_time, ms_all_time (ModelScope), ms_models, all_time (both
    hubs), ordered by ``hub``'s all-time downloads."""
    hf = rank_models(analysis, by=by, mode=mode).select(
        key=ibis._[by], hf_all_time=ibis._.downloads_all_time, hf_models=ibis._.models
    )
    ms = modelscope_credits(analysis, rows, mode, by)
    joined = hf.outer_join(ms, "key")
    key = ibis.coalesce(joined.key, joined.key_right)
    hf_known = joined.hf_all_time.notnull() | joined.hf_models.isnull()
    hf_part = joined.hf_all_time.fill_null(0)
    both = ibis.ifelse(hf_known, hf_part + joined.modelscope_all_time.fill_null(0), ibis.null())
    table = joined.select(
        key=key,
        hf_all_time=joined.hf_all_time,
        hf_models=joined.hf_models.fill_null(0),
        modelscope_all_time=joined.modelscope_all_time,
        modelscope_models=joined.modelscope_models.fill_null(0),
        all_time=both.cast("int64"),
    )
    column = {"hf": "hf_all_time", "modelscope": "modelscope_all_time", "both": "all_time"}[hub]
    table = table.filter(table[column].notnull())
    order = [ibis.desc(column), "key"]
    if limit:
        table = table.order_by(order).limit(limit)
    return table.select(
        rank=ibis.row_number().over(order_by=order) + 1,
        **{by: table.key},
        hf_all_time=table.hf_all_time,
        ms_all_time=table.modelscope_all_time,
        ms_models=table.modelscope_models,
        all_time=table.all_time,
    ).order_by("rank")
