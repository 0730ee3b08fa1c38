"""The warehouse's fixed schemas and the loader's own tables (raw tables are created per stream)."""

from __future__ import annotations

import re

import duckdb

SCHEMAS = ("raw", "audit", "quarantine")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")

DDL = """
create table if not exists audit.batches (
    batch_id varchar primary key,
    source_instance varchar not null,
    system varchar not null,
    stream varchar not null,
    mode varchar not null,
    manifest_rows bigint not null,
    loaded_rows bigint not null,
    quarantined_rows bigint not null,
    cursor_start varchar,
    cursor_end varchar,
    extracted_at timestamptz,
    loaded_at timestamptz not null
);
create table if not exists quarantine.records (
    batch_id varchar not null,
    source_instance varchar not null,
    system varchar not null,
    stream varchar not null,
    line_number bigint not null,
    reason varchar not null,
    raw_line varchar,
    quarantined_at timestamptz not null
);
-- One row per erasure (engage/privacy/erasure.py): counts only, never the email, name or pseudonym.
create table if not exists audit.erasures (
    erasure_id varchar primary key,          -- random, not derived from the person
    erased_at timestamptz not null,
    landing_batches_rewritten bigint not null,
    landing_records_affected bigint not null,
    raw_rows_removed bigint not null,
    raw_rows_changed bigint not null,        -- kept, with the person's list items taken out
    quarantine_rows_removed bigint not null,
    counts_per_place varchar not null,       -- JSON: {"landing:<source>/<stream>" | "raw.<table>": n}
    published_version varchar                -- the published copy that no longer holds the person
);
-- One row per successful dbt build (engage/warehouse/build_plan.py): the next refresh rebuilds only
-- what was loaded since, unless the project fingerprint changed.
create table if not exists audit.dbt_builds (
    started_at timestamptz not null,
    finished_at timestamptz not null,
    fingerprint varchar not null,            -- sha256 of the dbt project files, vars and dbt version
    kind varchar not null,                   -- full_refresh, everything or changed
    systems varchar not null                 -- changed: the system.stream tables loaded
);
-- Added after the first release: warehouses created before get them here.
alter table audit.batches add column if not exists source_count bigint;
alter table audit.batches add column if not exists source_received bigint;
-- Per source, stream and load day (UTC), from audit.batches: what the source's lists counted
-- (`source_count`, where it gives one) vs what extraction received from them, vs the rows landed,
-- loaded and quarantined. Extraction fails a run that received fewer than the source counted, so
-- `is_source_shortfall` flags a batch landed by an older extractor or by hand.
create or replace view audit.reconciliation as
select
    source_instance,
    system,
    stream,
    cast(timezone('UTC', loaded_at) as date) as load_date,
    count(*) as batches,
    sum(source_count) as source_count,
    sum(source_received) as source_received,
    sum(manifest_rows) as source_rows,
    sum(loaded_rows) as loaded_rows,
    sum(quarantined_rows) as quarantined_rows,
    coalesce(sum(source_received) < sum(source_count), false) as is_source_shortfall,
    sum(loaded_rows) + sum(quarantined_rows) <> sum(manifest_rows)
        or coalesce(sum(source_received) < sum(source_count), false) as is_mismatch,
    min(loaded_at) as first_loaded_at,
    max(loaded_at) as last_loaded_at
from audit.batches
group by source_instance, system, stream, cast(timezone('UTC', loaded_at) as date);
"""


def quote_identifier(name: str) -> str:
    """Identifiers from configuration reach SQL only through here: checked, then quoted."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def raw_table(system: str, stream: str) -> str:
    return f"raw.{quote_identifier(f'{system}__{stream}')}"


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """The loader's schemas and tables, and a raw table for every stream of every known system.

    Staging models of a system that is not configured then read an empty table instead of failing.
    """
    from extractors.systems import SYSTEMS, system_for

    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    con.execute(DDL)
    for kind in SYSTEMS:
        for stream in system_for(kind).STREAMS:
            ensure_raw_table(con, kind, stream)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, system: str, stream: str) -> str:
    table = raw_table(system, stream)
    con.execute(
        f"""
        create table if not exists {table} (
            source_instance varchar not null,
            batch_id varchar not null,
            line_number bigint not null,
            record_key varchar not null,
            cursor_value varchar,
            record json not null,
            loaded_at timestamptz not null
        )
        """
    )
    return table


def release_in_process_dbt() -> None:
    """Close the DuckDB instance dbt-duckdb keeps open after an in-process run (dbtRunner, Cosmos).

    dbt-duckdb caches one environment per process; while it lives, this process cannot attach the
    warehouse with other settings (publish attaches it read-only). Nothing to do if dbt never ran.
    """
    import sys

    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:
        return
    manager = connections.DuckDBConnectionManager
    with manager._LOCK:
        if manager._ENV is not None:
            manager._ENV.close()
            manager._ENV = None
