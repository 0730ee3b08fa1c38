-- One row per check-in, read from the current version of each order: every scan touches its
-- order (pretix's Checkin.save() calls order.touch()), so the incremental orders stream re-lands
-- the order with each position's check-ins of every check-in list (docs/contracts.md,
-- "Where attendance is read from"). The optional `checkins` snapshot stream is for
-- reconciliation only and is not read here.
with

checkins as (

    select
        positions.source_instance,
        positions.event_slug,
        positions.order_code,
        positions.position_key,
        checkin
    from {{ ref('base_pretix__order_positions_current') }} as positions
    cross join unnest(try_cast(positions.checkins as json[])) as unnested (checkin)
    where positions.has_position

),

renamed as (

    select
        source_instance || ':' || (checkin ->> 'id') as checkin_id,
        source_instance,
        try_cast(checkin ->> 'id' as bigint) as pretix_checkin_id,
        try_cast(checkin ->> 'list' as bigint) as checkin_list_id,
        source_instance || ':' || position_key as position_id,
        source_instance || ':' || order_code as order_id,
        source_instance || ':' || event_slug as activity_id,
        event_slug,
        try_cast(checkin ->> 'datetime' as timestamptz) as checked_in_at,
        coalesce(checkin ->> 'type', 'entry') as checkin_type,
        coalesce(try_cast(checkin ->> 'auto_checked_in' as boolean), false) as is_auto_checked_in
    from checkins

)

select * from renamed
