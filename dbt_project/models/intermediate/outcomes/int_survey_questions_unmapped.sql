-- Answered questions of outcome forms (forms the configuration gives an item-map form key) that
-- the item map neither maps to a measure nor lists as `(none)`. Normally empty: the test
-- assert_survey_questions_mapped fails on any row, and publish copies the rows to the published
-- copy for the programme report.
with

answers as (

    select * from {{ ref('int_survey_answers_unioned') }}

),

responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

item_map as (

    select * from {{ ref('survey_item_map') }}

),

unmapped as (

    select
        answers.survey_system,
        responses.source_instance,
        responses.form_key,
        answers.form_id,
        answers.form_version_id,
        answers.question_code,
        count(*) as answer_count
    from answers
    inner join responses
        on answers.survey_response_id = responses.survey_response_id
    where
        not exists (
            select 1
            from item_map
            where
                item_map.system = answers.survey_system
                and item_map.form_key = responses.form_key
                and item_map.question_code = answers.question_code
                and (
                    item_map.form_version = '*'
                    or item_map.form_version = answers.form_version_id
                )
        )
    group by
        answers.survey_system,
        responses.source_instance,
        responses.form_key,
        answers.form_id,
        answers.form_version_id,
        answers.question_code

)

select * from unmapped
