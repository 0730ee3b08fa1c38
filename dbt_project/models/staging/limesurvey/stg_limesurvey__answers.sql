-- One row per current LimeSurvey response and question code: the response's questions unpivoted
-- (answer codes as text, null when unanswered). LimeSurvey's own fields and the pseudonymised
-- respondent identifiers (kept on stg_limesurvey__responses) are not questions and are left out.
with

current_versions as (

    select * from {{ ref('base_limesurvey__responses_current') }}

),

question_codes as (

    select
        current_versions.source_instance,
        current_versions.record_key,
        current_versions.record,
        field_names.question_code
    from current_versions,
        unnest(json_keys(current_versions.record)) as field_names (question_code)

),

answers as (

    select
        source_instance || ':' || record_key || ':' || question_code as answer_key,
        source_instance || ':' || record_key as response_key,
        source_instance,
        try_cast(record ->> '_survey_id' as integer) as survey_id,
        try_cast(record ->> 'id' as integer) as response_id,
        question_code,
        nullif(trim(json_extract_string(record, '$."' || question_code || '"')), '') as answer_text
    from question_codes
    where
        question_code not in (
            '_survey_id', 'id', 'submitdate', 'lastpage', 'startlanguage', 'seed',
            'startdate', 'datestamp', 'token', 'ipaddr', 'refurl'
        )
        and not ends_with(question_code, '_pseudonym')

)

select * from answers
