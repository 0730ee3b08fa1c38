-- The current version of every submission: submissions is an incremental stream, so the latest
-- row per (source_instance, record_key) by batch_id desc, line_number desc wins
-- (docs/contracts.md). A base model so that stg_kobotoolbox__submissions and
-- stg_kobotoolbox__answers read the submissions source through one model.
-- Incremental: a refresh re-derives only the keys loaded since the last build
-- (macros/current_records.sql).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_instance', 'record_key'],
        on_schema_change='fail',
    )
}}

with

source as (

    select * from {{ source('kobotoolbox', 'submissions') }} as raw_rows
    {{ only_keys_loaded_since_last_build(source('kobotoolbox', 'submissions'), 'raw_rows') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
