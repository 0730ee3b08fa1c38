-- One row per answered question of a survey response, from KoboToolbox (question paths) and
-- LimeSurvey (question codes), every form: what the item map is checked against
-- (tests/assert_survey_questions_mapped.sql) and scored from (int_survey_answers_scored).
with

kobo_answers as (

    select * from {{ ref('stg_kobotoolbox__answers') }}

),

limesurvey_answers as (

    select * from {{ ref('stg_limesurvey__answers') }}

),

kobo_renamed as (

    select
        answer_id as survey_answer_id,
        submission_id as survey_response_id,
        'kobotoolbox' as survey_system,
        form_uid as form_id,
        form_version_id,
        question_path as question_code,
        answer_text
    from kobo_answers
    where answer_text is not null

),

limesurvey_renamed as (

    select
        answer_key as survey_answer_id,
        response_key as survey_response_id,
        'limesurvey' as survey_system,
        cast(survey_id as varchar) as form_id,
        cast(null as varchar) as form_version_id,
        question_code,
        answer_text
    from limesurvey_answers
    where answer_text is not null

),

unioned as (

    select * from kobo_renamed
    union all
    select * from limesurvey_renamed

)

select * from unioned
