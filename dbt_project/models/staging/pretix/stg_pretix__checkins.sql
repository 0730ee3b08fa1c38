-- One row per check-in in the current checkins snapshot (latest batch per source_instance).
-- pretix lists a position once per check-in list, each time with all its check-ins, so a
-- check-in can appear in several records: it is kept once.
with

source as (

    select * from {{ source('pretix', 'checkins') }}

),

current_snapshot as (

    {{ latest_snapshot('source') }}

),

checkins as (

    select
        current_snapshot.source_instance,
        current_snapshot.line_number,
        current_snapshot.record ->> '_event' as event_slug,
        current_snapshot.record ->> 'id' as position_key,
        current_snapshot.record ->> 'order' as order_code,
        checkin
    from current_snapshot
    cross join
        unnest(try_cast(current_snapshot.record -> 'checkins' as json[])) as unnested (checkin)

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
    qualify
        row_number() over (
            partition by source_instance, checkin ->> 'id'
            order by line_number
        ) = 1

)

select * from renamed
