"""The hub-stats ``models.parquet`` reader, vectorised: the same canonical rows as
``records.normalise_record``, computed by one DuckDB query instead of a Python call per row.

Rows are split in two. A *regular* row — every field of the expected type and in range,
``cardData``/``gguf`` JSON objects (or empty), tags without nulls, no tie between the relations
its tags declare — is normalised in SQL. Every other row goes to ``records.normalise_record``,
which decides it (and writes its reject with file, row, field and reason) exactly as before, so
the split changes speed only; ``tests/test_hubstats.py`` checks both paths give the same table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hubpulse.ingest.connection import Error, Limits, connect
from hubpulse.ingest.records import MAX_COUNT, MAX_PARAMETERS

RELATIONS_SQL = "['finetune', 'adapter', 'quantized', 'merge']"

# ordered unique non-empty strings of a list (the Python reader's _unique)
_UNIQUE = "list_filter({l}, lambda x, i: x is not null and x <> '' and list_position({l}, x) = i)"

QUERY = """
with raw as (
    select file_row_number + 1 as row, * exclude (file_row_number)
    from read_parquet(?, file_row_number = true)
),
kinds as (
    select *,
        case when json_valid(cardData) then json_type(cardData) end as card_kind,
        case when json_valid(gguf) then json_type(gguf) end as gguf_kind
    from raw
),
typed as (
    select
        row, id,
        case when card_kind = 'OBJECT' then cardData::json end as card,
        case when gguf_kind = 'OBJECT' then gguf::json end as gg,
        coalesce(tags, []) as t,
        author, createdAt, lastModified, downloads, downloadsAllTime, likes, trendingScore,
        safetensors, baseModels, pipeline_tag, library_name,
        (
            id is not null and id <> '' and not regexp_matches(id, '\\s')
            and not starts_with(id, '/') and not ends_with(id, '/')
            and (cardData is null or cardData = ''
                 or coalesce(card_kind in ('OBJECT', 'NULL'), false))
            and (gguf is null or gguf = '' or coalesce(gguf_kind in ('OBJECT', 'NULL'), false))
            and (tags is null or len(list_filter(tags, lambda x: x is null)) = 0)
            and (createdAt is null or createdAt between '2000-01-01' and '2100-01-01')
            and (lastModified is null or lastModified between '2000-01-01' and '2100-01-01')
            and coalesce(downloads, 0) between 0 and {max_count}
            and coalesce(downloadsAllTime, 0) between 0 and {max_count}
            and coalesce(likes, 0) between 0 and {max_count}
            and (trendingScore is null or isfinite(trendingScore))
            and coalesce(safetensors.total, 0) between 0 and {max_parameters}
        ) as regular
    from kinds
),
parsed as (
    select *,
        card -> '$.base_model' as card_base,
        card ->> '$.base_model_relation' as card_relation,
        {api} as api_ids,
        case when baseModels.relation in {relations} then baseModels.relation end as api_relation,
        list_transform(
            list_filter(t, lambda x: starts_with(x, 'base_model:')), lambda x: x[12:]
        ) as base_tags
    from typed
),
tagged as (
    select *,
        list_filter(
            list_transform(base_tags, lambda x: struct_pack(
                rel := split_part(x, ':', 1),
                id := case when position(':' in x) > 0 then x[position(':' in x) + 1:] end
            )),
            lambda p: p.rel in {relations} and p.id is not null and p.id <> ''
        ) as typed_tags,
        list_filter(base_tags, lambda x: x <> '' and not (
            split_part(x, ':', 1) in {relations} and position(':' in x) > 0
            and x[position(':' in x) + 1:] <> ''
        )) as plain_tags,
        case
            when json_type(card_base) = 'VARCHAR' then [card_base ->> '$']
            when json_type(card_base) = 'ARRAY' then list_transform(
                list_filter(
                    cast(card_base as json[]), lambda x: json_type(x) = 'VARCHAR'
                ), lambda x: x ->> '$'
            )
            else []
        end as card_raw
    from parsed
),
chosen as (
    select *,
        {tag_ids} as tag_ids,
        {plain} as plain_ids,
        {card_ids} as card_ids,
        list_transform(typed_tags, lambda p: p.rel) as tag_relations
    from tagged
),
lineage as (
    select *,
        case
            when len(api_ids) > 0 then api_ids
            when len(tag_ids) > 0 then tag_ids
            when len(plain_ids) > 0 then plain_ids
            else card_ids
        end as parents,
        case
            when len(api_ids) > 0 then 'baseModels'
            when len(tag_ids) > 0 or len(plain_ids) > 0 then 'tags'
            when len(card_ids) > 0 then 'card'
        end as origin,
        len(list_filter(tag_relations, lambda r: r = 'finetune')) as n_finetune,
        len(list_filter(tag_relations, lambda r: r = 'adapter')) as n_adapter,
        len(list_filter(tag_relations, lambda r: r = 'quantized')) as n_quantized,
        len(list_filter(tag_relations, lambda r: r = 'merge')) as n_merge,
        (gg is not null and len(json_keys(gg)) > 0) or list_contains(t, 'gguf') as is_gguf
    from chosen
),
counted as (
    select *, greatest(n_finetune, n_adapter, n_quantized, n_merge) as n_top
    from lineage
)
select
    row,
    null::date as snapshot_date,
    regular and (
        len(api_ids) > 0 or len(tag_ids) = 0
        or (n_finetune = n_top)::int + (n_adapter = n_top)::int + (n_quantized = n_top)::int
           + (n_merge = n_top)::int = 1
    ) and len(list_filter(card_raw, lambda x: regexp_matches(x, '^\\s|\\s$'))) = 0
    and (
        coalesce(json_type(gg, '$.total'), 'NULL') not in ('BIGINT', 'UBIGINT', 'HUGEINT', 'DOUBLE')
        or json_type(gg, '$.total') in ('BIGINT', 'UBIGINT')
            and try_cast(gg ->> '$.total' as bigint) between 0 and {max_parameters}
    ) as regular,
    id as model_id,
    coalesce(nullif(author, ''), case when contains(id, '/') then split_part(id, '/', 1) end)
        as author,
    case when date_trunc('second', createdAt) = timestamp '2022-03-02 23:29:04' then null
        else createdAt end as created_at,
    lastModified as last_modified,
    downloads as downloads_30d,
    downloadsAllTime as downloads_all_time,
    likes,
    trendingScore::double as trending_score,
    nullif(pipeline_tag, '') as pipeline_tag,
    nullif(library_name, '') as library_name,
    t as tags,
    coalesce(
        safetensors.total,
        case when json_type(gg, '$.total') in ('BIGINT', 'UBIGINT')
            then try_cast(gg ->> '$.total' as bigint) end
    ) as params_total,
    is_gguf,
    coalesce(
        case when json_type(card, '$.license') = 'VARCHAR' then nullif(card ->> '$.license', '')
             when json_type(card, '$.license') = 'ARRAY'
                 and json_type(card, '$.license[0]') = 'VARCHAR'
                 then nullif(card ->> '$.license[0]', '') end,
        (list_filter(t, lambda x: starts_with(x, 'license:')))[1][9:]
    ) as license,
    parents as base_models,
    case origin
        when 'baseModels' then api_relation
        when 'tags' then case
            when len(tag_ids) > 0 then case n_top
                when n_finetune then 'finetune' when n_adapter then 'adapter'
                when n_quantized then 'quantized' else 'merge' end
            when len(list_distinct(plain_ids)) > 1 then 'merge'
        end
        when 'card' then case
            when card_relation in {relations} then card_relation
            when len(card_ids) > 1 then 'merge'
            when is_gguf then 'quantized'
            when library_name = 'peft' or list_contains(t, 'lora') then 'adapter'
            else 'finetune'
        end
    end as base_relation,
    origin as lineage_source,
    case when origin in ('baseModels', 'tags') and len(card_ids) = 1 and len(parents) = 1
        and card_ids[1] <> parents[1] then card_ids[1] end as alias_old
from counted
order by row
"""


# The column types the SQL relies on; any other typing goes to the Python reader whole.
TYPES = {
    "id": "VARCHAR",
    "author": "VARCHAR",
    "createdAt": "TIMESTAMP",
    "lastModified": "TIMESTAMP",
    "downloads": "BIGINT",
    "downloadsAllTime": "BIGINT",
    "likes": "BIGINT",
    "trendingScore": "DOUBLE",
    "tags": "VARCHAR[]",
    "cardData": "VARCHAR",
    "gguf": "VARCHAR",
    "baseModels": "STRUCT(relation VARCHAR, models STRUCT(_id VARCHAR, id VARCHAR)[])",
    "pipeline_tag": "VARCHAR",
    "library_name": "VARCHAR",
}


def read_hub_stats(path: Path, limits: Limits | None = None) -> tuple[pa.Table, list[int]] | None:
    """(canonical columns of the regular rows, with ``row`` and ``alias_old``; the numbers of
    the rows left to the Python reader), or None when the file's columns are not typed as the
    hub-stats dump types them, or the file is not readable Parquet."""
    con = connect(limits)
    try:
        try:
            described = con.execute(
                "describe select * from read_parquet(?)", [str(path)]
            ).fetchall()
        except Error:
            return None  # not readable Parquet: the Python reader says so clearly
        types = {row[0]: row[1] for row in described}
        safetensors = types.get("safetensors", "")
        if any(types.get(k) != v for k, v in TYPES.items()) or not (
            safetensors.startswith("STRUCT(") and safetensors.endswith(", total BIGINT)")
        ):
            return None
        try:
            table = con.execute(_query(), [str(path)]).to_arrow_table()
        except Error:
            return None  # unreadable data past the footer: the Python reader says where
    finally:
        con.close()
    regular = pc.fill_null(table["regular"], False)
    if pc.all(regular).as_py():  # the usual case: no copy of the whole table
        return table.drop_columns(["regular"]), []
    irregular = table.filter(pc.invert(regular))["row"].to_pylist()
    return table.filter(regular).drop_columns(["regular"]), irregular


def _query() -> str:
    api = _UNIQUE.format(l="list_transform(coalesce(baseModels.models, []), lambda m: m.id)")
    return QUERY.format(
        api=api,
        relations=RELATIONS_SQL,
        max_count=MAX_COUNT,
        max_parameters=MAX_PARAMETERS,
        tag_ids=_UNIQUE.format(l="list_transform(typed_tags, lambda p: p.id)"),
        plain=_UNIQUE.format(l="plain_tags"),
        card_ids=_UNIQUE.format(l="card_raw"),
    )


def row_records(
    path: Path, rows: list[int], limits: Limits | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The raw records of ``rows`` (1-based), for the Python reader."""
    if not rows:
        return []
    con = connect(limits)
    try:
        table = con.execute(
            "select * exclude (file_row_number) from read_parquet(?, file_row_number = true) "
            "where file_row_number + 1 in (select unnest(?::bigint[])) order by file_row_number",
            [str(path), rows],
        ).to_arrow_table()
    finally:
        con.close()
    return list(zip(sorted(rows), table.to_pylist(), strict=True))
