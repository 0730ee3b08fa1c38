-- One row per survey response about an activity (KoboToolbox and LimeSurvey outcome forms),
-- linked to the activity and to the respondent's participation when the respondent's email
-- pseudonym registered for that activity.
with

responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

participations as (

    select * from {{ ref('int_participations_joined') }}

),

scored_answers as (

    select * from {{ ref('int_survey_answers_scored') }}

),

answer_counts as (

    select
        survey_response_id,
        count(score) as scored_answer_count,
        count(*) filter (where is_out_of_range) as out_of_range_answer_count,
        count(*) filter (where is_unparseable) as unparseable_answer_count
    from scored_answers
    group by survey_response_id

),

final as (

    select
        responses.survey_response_id,
        responses.survey_system,
        responses.source_instance,
        responses.form_id,
        responses.form_version_id,
        responses.form_kind,
        responses.activity_code,
        responses.activity_id,
        responses.person_key,
        responses.submitted_at,
        responses.is_follow_up,
        responses.is_complete,
        participations.participation_id is not null as is_linked_to_participation,
        coalesce(participations.is_attended, false) as is_respondent_attended,
        coalesce(answer_counts.scored_answer_count, 0) as scored_answer_count,
        coalesce(answer_counts.out_of_range_answer_count, 0) as out_of_range_answer_count,
        coalesce(answer_counts.unparseable_answer_count, 0) as unparseable_answer_count
    from responses
    left join participations
        on
            responses.activity_id = participations.activity_id
            and responses.person_key = participations.person_key
    left join answer_counts
        on responses.survey_response_id = answer_counts.survey_response_id

)

select * from final
