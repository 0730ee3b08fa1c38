-- The positions of the current version of every order, unnested once for
-- stg_pretix__order_positions, stg_pretix__checkins and int_participations_withdrawn. One row
-- per position; an order without positions keeps one row with a null position, so that a
-- refresh always replaces the rows of an order it re-derives (delete+insert on the order).
-- Incremental: a refresh re-derives only the orders whose current version was loaded since the
-- last build (an order whose current version did not change keeps its positions).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_instance', 'order_code'],
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('base_pretix__orders_current') }}
    {{ only_loaded_since_last_build('loaded_at', 'order_loaded_at') }}

),

positions as (

    select
        orders.source_instance,
        orders.record ->> 'code' as order_code,
        orders.record ->> 'event' as event_slug,
        orders.loaded_at as order_loaded_at,
        unnested.position_record
    from orders
    left join
        unnest(try_cast(orders.record -> 'positions' as json[])) as unnested (position_record)
        on true

)

select * from positions
