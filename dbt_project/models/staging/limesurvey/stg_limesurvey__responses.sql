-- One row per LimeSurvey response, current version (base_limesurvey__responses_current).
-- Question codes differ by survey: the activity code and the respondent's email are read from
-- the codes the partners' surveys use (Spanish and English).
with

current_versions as (

    select * from {{ ref('base_limesurvey__responses_current') }}

),

renamed as (

    select
        source_instance || ':' || record_key as response_key,
        source_instance,
        try_cast(record ->> '_survey_id' as integer) as survey_id,
        try_cast(record ->> 'id' as integer) as response_id,
        -- server-local wall-clock times, as LimeSurvey stores them (no zone)
        try_cast(nullif(record ->> 'startdate', '') as timestamp) as started_at_local,
        try_cast(nullif(record ->> 'datestamp', '') as timestamp) as last_action_at_local,
        try_cast(nullif(record ->> 'submitdate', '') as timestamp) as submitted_at_local,
        nullif(record ->> 'submitdate', '') is not null as is_complete,
        try_cast(nullif(record ->> 'lastpage', '') as integer) as last_page,
        lower(nullif(trim(record ->> 'startlanguage'), '')) as response_language,
        lower(
            nullif(trim(coalesce(record ->> 'ACTIVITY', record ->> 'ACTIVIDAD')), '')
        ) as activity_code,
        coalesce(
            record ->> 'EMAIL_pseudonym',
            record ->> 'CORREO_pseudonym',
            record ->> 'EMAILADDRESS_pseudonym'
        ) as respondent_pseudonym,
        batch_id,
        loaded_at
    from current_versions

)

select * from renamed
