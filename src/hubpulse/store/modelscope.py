"""ModelScope in the warehouse: each crawl (or imported listing) of the families' owners one
load of the ``modelscope`` area (``modelscope_models``, ``modelscope_rejects``,
``modelscope_loads``), of one day. A crawl of some owners is a partial listing of the hub."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from hubpulse.ingest.modelscope import (
    MODELSCOPE_AREA,
    QUERY_CAP,
    ModelScopeError,
    crawl_modelscope,
    read_modelscope,
)
from hubpulse.registry import Registry
from hubpulse.store.areas import AreaData, AreaLoad, newest_per_day, store_area

if TYPE_CHECKING:
    from hubpulse.store.warehouse import Warehouse


def import_modelscope(
    store: Warehouse, path: Path | str, day: dt.date, *, owners: str = "", replace: bool = False
) -> AreaLoad:
    """Store a ModelScope listing as the ModelScope models of ``day`` (``owners``: whose)."""
    rows, rejects, sha256 = read_modelscope(path, day)
    data = AreaData(
        area=MODELSCOPE_AREA,
        path=Path(path),
        file_sha256=sha256,
        options=owners,
        first_day=day,
        last_day=day,
        complete=False,  # the families' owners, never the whole hub
        tables={"modelscope_models": rows, "modelscope_rejects": rejects},
        rows=rows.num_rows,
        rejects=rejects.num_rows,
        parted=True,  # a listing of other owners that day is stored beside, never over, it
    )
    with store.lock():
        return store_area(store, data, replace=replace, what="the ModelScope models of")


def modelscope_owners(registry: Registry, families: list[str], owners: list[str]) -> list[str]:
    """The owners to list: those named, and the ModelScope organisations of the families
    named (their ``modelscope_orgs``, else their Hugging Face ones)."""
    found = list(owners)
    for name in families:
        found += registry.get(name).owners("modelscope")
    if not found:
        raise ModelScopeError("nothing to crawl: give --family or --owner")
    return list(dict.fromkeys(found))


def crawl_into(
    store: Warehouse,
    owners: list[str],
    *,
    resume: bool = False,
    endpoint: str | None = None,
    page_size: int = 100,
) -> tuple[AreaLoad, list[str]]:
    """Crawl ``owners``' models on ModelScope (or continue the newest unfinished crawl) and store
    them as the ModelScope models of the crawl's day; the owners the query cap cut short."""
    base = store.work_dir("crawls") / MODELSCOPE_AREA
    pending = sorted(d for d in base.iterdir() if not (d / "done").exists()) if resume else []
    if resume and not pending:
        raise ModelScopeError(f"no unfinished ModelScope crawl in {base} to resume")
    state_dir = (
        pending[-1] if pending else base / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    )
    path, truncated = crawl_modelscope(owners, state_dir, endpoint=endpoint, page_size=page_size)
    day = dt.date.fromisoformat(path.stem.removeprefix("modelscope_"))
    load = import_modelscope(store, path, day, owners=",".join(owners), replace=True)
    (state_dir / "done").write_text(str(load.row["load_id"]) + "\n")
    return load, truncated


def current_modelscope(store: Warehouse) -> ir.Table:
    """The ModelScope models of each stored day and owner, from the newest load listing that
    owner that day: a crawl of GLM's owners keeps the same day's crawl of Qwen's."""
    loads = store.series_table("modelscope_loads")
    rows = store.series_table("modelscope_models")
    rows = rows.mutate(owner=rows.model_id.split("/")[0].lower())
    return newest_per_day(rows, loads, "day", part="owner").drop("owner")


def modelscope_day(store: Warehouse) -> tuple[ir.Table, dt.date]:
    """The ModelScope models of the newest stored day, and the day; a clear error when none."""
    from hubpulse.errors import SnapshotNotFoundError

    loads = store.execute(store.series_table("modelscope_loads"))
    if loads.num_rows == 0:
        raise SnapshotNotFoundError(
            f"warehouse {store.root} holds no ModelScope models: run `hubpulse modelscope "
            "crawl --family NAME` first"
        )
    day = max(loads["first_day"].to_pylist())
    rows = current_modelscope(store)
    return rows.filter(rows.day == day), day


def listed_owners(store: Warehouse, day: dt.date) -> tuple[frozenset[str], frozenset[str]]:
    """The owners (lower case) the loads of ``day`` listed, and those of them holding
    ``QUERY_CAP`` models or more that day: a query may have cut them short."""
    loads = store.execute(store.series_table("modelscope_loads"))
    owners = {
        o.strip().lower()
        for first, options in zip(
            loads["first_day"].to_pylist(), loads["options"].to_pylist(), strict=True
        )
        if first == day
        for o in (options or "").split(",")
        if o.strip()
    }
    rows = current_modelscope(store)
    rows = rows.filter(rows.day == day)
    counts = rows.group_by(owner=rows.model_id.split("/")[0].lower()).aggregate(n=rows.count())
    cut = store.execute(counts.filter(counts.n >= QUERY_CAP))["owner"].to_pylist()
    return frozenset(owners), frozenset(cut)
