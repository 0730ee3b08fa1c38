-- One row per order, current version (selected in base_pretix__orders_current).
-- Incremental: a refresh re-derives only the orders whose current version was loaded since the
-- last build (one row per current order, and an order never leaves the current versions).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
    )
}}
with

orders as (

    select * from {{ ref('base_pretix__orders_current') }}
    {{ only_loaded_since_last_build('loaded_at', 'loaded_at') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'code') as order_id,
        source_instance,
        record ->> 'code' as order_code,
        source_instance || ':' || (record ->> 'event') as activity_id,
        record ->> 'event' as event_slug,
        record ->> 'status' as order_status,
        coalesce(record ->> 'status' = 'c', false) as is_canceled,
        coalesce(try_cast(record ->> 'testmode' as boolean), false) as is_testmode,
        try_cast(record ->> 'datetime' as timestamptz) as ordered_at,
        try_cast(record ->> 'last_modified' as timestamptz) as last_modified_at,
        record ->> 'email_pseudonym' as email_pseudonym,
        record -> 'invoice_address' ->> 'company' as invoice_company,
        record -> 'invoice_address' ->> 'country' as invoice_country_raw,
        batch_id,
        loaded_at
    from orders

)

select * from renamed
