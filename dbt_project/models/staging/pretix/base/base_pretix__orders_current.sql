-- The current version of every order: orders is an incremental stream, so the latest row per
-- (source_instance, record_key) by batch_id desc, line_number desc wins (docs/contracts.md).
-- A base model so that both stg_pretix__orders and stg_pretix__order_positions read the orders
-- source through one model.
with

source as (

    select * from {{ source('pretix', 'orders') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
