-- The current version of every order: orders is an incremental stream, so the latest row per
-- (source_instance, record_key) by batch_id desc, line_number desc wins (docs/contracts.md).
-- A base model so that both stg_pretix__orders and stg_pretix__order_positions read the orders
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

    select * from {{ source('pretix', 'orders') }} as raw_rows
    {{ only_keys_loaded_since_last_build(source('pretix', 'orders'), 'raw_rows') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
