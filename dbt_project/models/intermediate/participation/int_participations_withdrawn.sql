-- A table (the intermediate default): the publish gate reads it from an attached warehouse.
-- Registrations the source withdrew: one row per person and activity that a loaded version of an
-- order registered (a non-canceled position of a non-canceled, non-testmode order) and that no
-- current order registers any more, because pretix canceled the order or the position (a
-- canceled position is left out of positions[]). A participation leaving fct_participation for
-- this reason is a change at the source, which the publish gate accepts, not a lost batch.
with

-- Only an order with more than one loaded version can withdraw anything: an order's only version
-- is its current one, and what it registers it still registers. Counting versions reads no JSON,
-- so only the versions of orders that changed are parsed.
changed_orders as (

    select
        source_instance,
        record_key
    from {{ source('pretix', 'orders') }}
    group by source_instance, record_key
    having count(*) > 1

),

order_versions as (

    select raw_orders.*
    from {{ source('pretix', 'orders') }} as raw_orders
    inner join changed_orders
        on
            raw_orders.source_instance = changed_orders.source_instance
            and raw_orders.record_key = changed_orders.record_key

),

current_orders as (

    select * from {{ ref('base_pretix__orders_current') }}

),

participations as (

    select * from {{ ref('int_participations_joined') }}

),

registered_before as (

    select distinct
        order_versions.source_instance,
        order_versions.record ->> 'code' as order_code,
        order_versions.source_instance || ':' || (order_versions.record ->> 'event') as activity_id,
        position_record ->> 'id' as position_key,
        coalesce(
            position_record ->> 'attendee_email_pseudonym',
            order_versions.record ->> 'email_pseudonym'
        ) as person_key
    from order_versions
    cross join
        unnest(
            try_cast(order_versions.record -> 'positions' as json[])
        ) as unnested (position_record)
    where
        coalesce(order_versions.record ->> 'status', '') != 'c'
        and not coalesce(try_cast(order_versions.record ->> 'testmode' as boolean), false)
        and not coalesce(try_cast(position_record ->> 'canceled' as boolean), false)

),

current_positions as (

    select
        source_instance,
        order_code,
        position_key,
        is_canceled
    from {{ ref('base_pretix__order_positions_current') }}
    where has_position

),

withdrawn_positions as (

    select
        registered_before.activity_id,
        registered_before.person_key,
        registered_before.order_code,
        try_cast(current_orders.record ->> 'last_modified' as timestamptz) as withdrawn_at
    from registered_before
    inner join current_orders
        on
            registered_before.source_instance = current_orders.source_instance
            and registered_before.order_code = current_orders.record ->> 'code'
    left join current_positions
        on
            registered_before.source_instance = current_positions.source_instance
            and registered_before.order_code = current_positions.order_code
            and registered_before.position_key = current_positions.position_key
    where
        registered_before.person_key is not null
        and (
            current_orders.record ->> 'status' = 'c'
            or current_positions.position_key is null
            or current_positions.is_canceled
        )

),

per_participation as (

    select
        activity_id || '|' || person_key as participation_id,
        activity_id,
        person_key,
        max(withdrawn_at) as withdrawn_at,
        count(distinct order_code) as order_count
    from withdrawn_positions
    group by activity_id, person_key

),

final as (

    select per_participation.*
    from per_participation
    left join participations
        on per_participation.participation_id = participations.participation_id
    where participations.participation_id is null

)

select * from final
