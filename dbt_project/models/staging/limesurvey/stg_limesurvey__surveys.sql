-- One row per LimeSurvey survey in the current snapshot: surveys is a snapshot stream, so only
-- the rows of the latest batch per source_instance count.
with

source as (

    select * from {{ source('limesurvey', 'surveys') }}

),

current_snapshot as (

    {{ latest_snapshot('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'sid') as survey_key,
        source_instance,
        try_cast(record ->> 'sid' as integer) as survey_id,
        record ->> 'surveyls_title' as survey_title,
        -- server-local wall-clock time, as LimeSurvey stores it (no zone)
        try_cast(nullif(record ->> 'startdate', '') as timestamp) as starts_at_local,
        try_cast(nullif(record ->> 'expires', '') as timestamp) as expires_at_local,
        coalesce(upper(record ->> 'active') = 'Y', false) as is_active,
        batch_id,
        loaded_at
    from current_snapshot

)

select * from renamed
