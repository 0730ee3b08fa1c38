-- One row per submission, current version (selected in base_kobotoolbox__submissions_current).
-- The activity code and the respondent pseudonym come from the question paths the programme's
-- forms use for them (activity/activity_code, respondent/email, pseudonymised by the extractor).
with

submissions as (

    select * from {{ ref('base_kobotoolbox__submissions_current') }}

),

renamed as (

    select
        source_instance || ':' || record_key as submission_id,
        source_instance,
        record ->> '_xform_id_string' as form_uid,
        source_instance || ':' || (record ->> '_xform_id_string') as form_id,
        try_cast(record ->> '_id' as bigint) as kobo_submission_id,
        record ->> '_uuid' as submission_uuid,
        record ->> 'meta/instanceID' as instance_id,
        record ->> '__version__' as form_version_id,
        -- _submission_time is UTC without a zone suffix
        try_cast(record ->> '_submission_time' as timestamp) at time zone 'UTC' as submitted_at,
        try_cast(record ->> 'start' as timestamptz) as started_at,
        try_cast(record ->> 'end' as timestamptz) as ended_at,
        record ->> '_submitted_by' as submitted_by,
        record ->> '_status' as submission_status,
        coalesce(
            nullif(record -> '_validation_status' ->> 'uid', ''), 'no_status'
        ) as validation_status,
        nullif(trim(record ->> 'activity/activity_code'), '') as activity_code,
        nullif(trim(record ->> 'activity/order_code'), '') as order_code,
        record ->> 'respondent/email_pseudonym' as respondent_email_pseudonym,
        record ->> 'respondent/name_pseudonym' as respondent_name_pseudonym,
        batch_id,
        loaded_at
    from submissions

)

select * from renamed
