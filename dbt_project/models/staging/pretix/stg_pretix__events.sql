-- One row per event in the current snapshot: events is a snapshot stream, so only the rows of
-- the latest batch per source_instance count (an event missing from it was deleted).
-- pretix writes date_from / date_to in UTC whatever the event's timezone (measured on 2026.8.0:
-- 09:00 in Pacific/Auckland reads 20:00Z the day before), so the local calendar dates are the
-- instants converted to the event's own zone; a record without a zone keeps the written date.
with

source as (

    select * from {{ source('pretix', 'events') }}

),

current_snapshot as (

    {{ latest_snapshot('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'slug') as activity_id,
        source_instance,
        record ->> 'slug' as event_slug,
        coalesce(record -> 'name' ->> 'en', record ->> 'slug') as activity_name,
        try_cast(record ->> 'date_from' as timestamptz) as starts_at,
        try_cast(record ->> 'date_to' as timestamptz) as ends_at,
        -- calendar dates as the organiser entered them (local to the event), not UTC
        coalesce(
            cast(
                timezone(
                    record ->> 'timezone', try_cast(record ->> 'date_from' as timestamptz)
                ) as date
            ),
            try_cast(left(record ->> 'date_from', 10) as date)
        ) as start_date,
        coalesce(
            cast(
                timezone(
                    record ->> 'timezone', try_cast(record ->> 'date_to' as timestamptz)
                ) as date
            ),
            try_cast(left(record ->> 'date_to', 10) as date)
        ) as end_date,
        record ->> 'timezone' as event_timezone,
        record -> 'location' ->> 'en' as location_name,
        lower(trim(record -> 'meta_data' ->> 'activity_type')) as activity_type,
        lower(trim(record -> 'meta_data' ->> 'modality')) as modality,
        nullif(trim(record -> 'meta_data' ->> 'host_country'), '') as host_country_raw,
        nullif(
            trim(record -> 'meta_data' ->> 'beneficiary_countries'), ''
        ) as beneficiary_countries_raw,
        nullif(trim(record -> 'meta_data' ->> 'phase'), '') as phase,
        nullif(trim(record -> 'meta_data' ->> 'delivering_body'), '') as delivering_body,
        nullif(trim(record -> 'meta_data' ->> 'region'), '') as region,
        nullif(trim(record -> 'meta_data' ->> 'experts'), '') as expert_codes_raw,
        nullif(trim(record -> 'meta_data' ->> 'organisers'), '') as organiser_codes_raw,
        coalesce(try_cast(record ->> 'testmode' as boolean), false) as is_testmode,
        coalesce(try_cast(record ->> 'live' as boolean), false) as is_live,
        batch_id,
        loaded_at
    from current_snapshot

)

select * from renamed
