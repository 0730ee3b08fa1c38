-- The current version of every LimeSurvey response: responses is an incremental stream, so the
-- latest row per (source_instance, record_key) by batch_id desc, line_number desc wins
-- (docs/contracts.md; a response completed after a resume lands again under the same key).
-- A base model so that stg_limesurvey__responses and stg_limesurvey__answers read the responses
-- source through one model.
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

    select * from {{ source('limesurvey', 'responses') }} as raw_rows
    {{ only_keys_loaded_since_last_build(source('limesurvey', 'responses'), 'raw_rows') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
