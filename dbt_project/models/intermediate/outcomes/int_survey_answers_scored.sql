-- One row per answer to a measure question of an in-scope response (int_survey_responses_unioned),
-- with the item map's measure, Kirkpatrick level and scale. The answer text is decoded by the
-- item's answer coding; a decoded value outside [scale_min, scale_max] is nulled and flagged
-- out of range, an answer the coding cannot read is nulled and flagged unparseable. A
-- version-specific item map row wins over a `*` row for the same question.
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

matched as (

    select
        answers.survey_answer_id,
        answers.survey_response_id,
        answers.survey_system,
        answers.form_id,
        answers.form_version_id,
        answers.question_code,
        answers.answer_text,
        lower(trim(answers.answer_text)) as answer_text_normalised,
        item_map.measure,
        item_map.kirkpatrick_level,
        item_map.answer_coding,
        item_map.scale_min,
        item_map.scale_max,
        item_map.direction,
        item_map.favourable_threshold
    from answers
    inner join responses
        on answers.survey_response_id = responses.survey_response_id
    inner join item_map
        on
            answers.survey_system = item_map.system
            and responses.form_key = item_map.form_key
            and answers.question_code = item_map.question_code
            and (
                item_map.form_version = '*'
                or answers.form_version_id = item_map.form_version
            )
    qualify
        row_number() over (
            partition by answers.survey_answer_id
            order by (item_map.form_version = '*') asc
        ) = 1

),

decoded as (

    select
        *,
        case
            when answer_coding = 'likert_numeric'
                then try_cast(answer_text_normalised as double)
            when answer_coding = 'limesurvey_A_codes'
                then try_cast(regexp_extract(answer_text_normalised, '^a([0-9]+)$', 1) as double)
            when answer_coding = 'yes_no' and answer_text_normalised in ('yes', 'y') then 1.0
            when answer_coding = 'yes_no' and answer_text_normalised in ('no', 'n') then 0.0
            when answer_coding = 'yes_partly_no' and answer_text_normalised = 'yes' then 1.0
            when answer_coding = 'yes_partly_no' and answer_text_normalised = 'partly' then 0.5
            when answer_coding = 'yes_partly_no' and answer_text_normalised = 'no' then 0.0
        end as decoded_value
    from matched
    where measure != '(none)'

),

scored as (

    select
        *,
        decoded_value is null as is_unparseable,
        coalesce(
            decoded_value < scale_min or decoded_value > scale_max, false
        ) as is_out_of_range,
        case
            when decoded_value between scale_min and scale_max then decoded_value
        end as score
    from decoded

),

final as (

    select
        survey_answer_id,
        survey_response_id,
        survey_system,
        form_id,
        form_version_id,
        question_code,
        answer_text,
        measure,
        kirkpatrick_level,
        answer_coding,
        scale_min,
        scale_max,
        direction,
        favourable_threshold,
        decoded_value,
        score,
        (score - scale_min) / nullif(scale_max - scale_min, 0) as score_normalised,
        case
            when score is null then null
            when direction = 'lower_is_better' then score <= favourable_threshold
            else score >= favourable_threshold
        end as is_favourable,
        is_out_of_range,
        is_unparseable
    from scored

)

select * from final
