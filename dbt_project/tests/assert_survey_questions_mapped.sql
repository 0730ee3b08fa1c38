-- Every answered question of a mapped survey form (a form with at least one survey_item_map row)
-- must be in the item map, as a measure or explicitly as `(none)`: a question a partner added or
-- renamed is reported here instead of being silently left out of the outcome figures.
-- Add the reported questions to seeds/survey_item_map.csv.
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
