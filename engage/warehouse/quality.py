"""Data-quality figures copied into the published copy, so the report needs nothing but that copy.

The marts say nothing about how the data got there; the loader's `audit` and `quarantine`
schemas do, but analysts and the report never open the working warehouse. Publish therefore
writes three small tables beside the marts (names start with `_`, like `_published`: metadata,
not marts, so no Parquet file and no dbt contract):

- `_quality_streams`: per source and stream, the batches loaded, the last one's extraction and load
  time, rows in the source's batches vs loaded vs quarantined, and load days that do not add up;
- `_quality_quarantine`: quarantined records per source, stream and kind of reason (the reason
  with its row number and quoted values taken out, so one kind is one row and no value leaks);
- `_quality_unmapped_questions`: survey questions the item map lacks (dbt's
  int_survey_questions_unmapped; empty unless the mapping test was relaxed);
- `_quality_erasures`: how many people were erased on request and when last (counts only, as
  audit.erasures holds them), since an erasure is a reason for a figure to fall between versions.
"""

from __future__ import annotations

import duckdb

QUALITY_TABLES = (
    "_quality_streams",
    "_quality_quarantine",
    "_quality_unmapped_questions",
    "_quality_erasures",
)

STREAMS_SQL = """
create table main._quality_streams as
with batches as (
    select
        source_instance, system, stream,
        count(*) as batches,
        max(extracted_at) as last_extracted_at,
        max(loaded_at) as last_loaded_at,
        sum(manifest_rows) as source_rows,
        sum(loaded_rows) as loaded_rows,
        sum(quarantined_rows) as quarantined_rows
    from {db}.audit.batches
    group by all
),
mismatches as (
    select source_instance, stream, count(*) filter (where is_mismatch) as mismatched_load_days
    from {db}.audit.reconciliation
    group by all
)
select batches.*, coalesce(mismatches.mismatched_load_days, 0)::bigint as mismatched_load_days
from batches
left join mismatches using (source_instance, stream)
order by source_instance, stream
"""

# `row 14: joined_date '31/02/2025' is not a date` -> `joined_date '…' is not a date`.
QUARANTINE_SQL = """
create table main._quality_quarantine as
with kinds as (
    select
        source_instance, system, stream, quarantined_at,
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    regexp_replace(reason, '^(row|line) [0-9]+: ', ''),
                    '''[^'']*''', '''…''', 'g'
                ),
                '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}', '…', 'g'
            ),
            '(is not (a timestamp|an integer)): .*$', '\\1'
        ) as reason_kind
    from {db}.quarantine.records
)
select
    source_instance, system, stream, reason_kind,
    count(*) as records,
    max(quarantined_at) as last_quarantined_at
from kinds
group by all
order by source_instance, stream, records desc, reason_kind
"""

ERASURES_SQL = """
create table main._quality_erasures as
select
    count(*) as erasures,
    max(erased_at) as last_erased_at,
    coalesce(sum(raw_rows_removed), 0)::bigint as raw_rows_removed,
    coalesce(sum(quarantine_rows_removed), 0)::bigint as quarantine_rows_removed
from {db}.audit.erasures
"""

UNMAPPED_EMPTY = """
create table main._quality_unmapped_questions (
    survey_system varchar, form_id varchar, form_version_id varchar, question_code varchar,
    answer_count bigint
)
"""


def _has_relation(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = ? and table_schema = ? and table_name = ?",
            [catalog, schema, name],
        ).fetchone()[0]
    )


def copy_quality_figures(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """Write the `_quality_*` tables into `con`'s main schema from the attached warehouse `catalog`."""
    con.execute(STREAMS_SQL.format(db=catalog))
    con.execute(QUARANTINE_SQL.format(db=catalog))
    con.execute(ERASURES_SQL.format(db=catalog))
    con.execute(UNMAPPED_EMPTY)
    if _has_relation(con, catalog, "intermediate", "int_survey_questions_unmapped"):
        con.execute(
            "insert into main._quality_unmapped_questions select survey_system, form_id, "
            "form_version_id, question_code, answer_count "
            f"from {catalog}.intermediate.int_survey_questions_unmapped"
        )
