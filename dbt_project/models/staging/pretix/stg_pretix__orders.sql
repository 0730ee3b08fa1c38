-- One row per order, current version (selected in base_pretix__orders_current).
with

orders as (

    select * from {{ ref('base_pretix__orders_current') }}

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
