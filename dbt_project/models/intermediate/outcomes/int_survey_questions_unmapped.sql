-- One row per answered question of a mapped survey form (a form with at least one
-- survey_item_map row) that the item map neither maps to a measure nor lists as `(none)`, per form
-- version. Normally empty: assert_survey_questions_mapped fails the build on any row, and publish
-- copies the rows into the published copy so the programme report can list them.
with

answers as (

    select * from {{ ref('int_survey_answers_unioned') }}

),

item_map as (

    select * from {{ ref('survey_item_map') }}

),

mapped_forms as (

    select distinct
        system,
        form_id
    from item_map

),

unmapped as (

    select
        answers.survey_system,
        answers.form_id,
        answers.form_version_id,
        answers.question_code,
        count(*) as answer_count
    from answers
    inner join mapped_forms
        on
            answers.survey_system = mapped_forms.system
            and answers.form_id = mapped_forms.form_id
    where
        not exists (
            select 1
            from item_map
            where
                item_map.system = answers.survey_system
                and item_map.form_id = answers.form_id
                and item_map.question_code = answers.question_code
                and (
                    item_map.form_version = '*'
                    or item_map.form_version = answers.form_version_id
                )
        )
    group by
        answers.survey_system,
        answers.form_id,
        answers.form_version_id,
        answers.question_code

)

select * from unmapped
