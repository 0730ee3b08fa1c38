-- One row per activity and outcome measure: how many responses scored it, their mean score and
-- the share that was favourable (at or beyond the item map's threshold); for learning measures
-- also the activity's mean knowledge before, after and gain over the responses that scored both.
-- A response's score on a measure is the mean of its items for that measure (e.g. LimeSurvey's
-- two satisfaction sub-questions), so each response counts once per measure.
with

responses as (

    select * from {{ ref('int_survey_responses_unioned') }}

),

scored_answers as (

    select * from {{ ref('int_survey_answers_scored') }}

),

knowledge_gains as (

    select * from {{ ref('int_knowledge_gain_paired') }}

),

response_measures as (

    select
        scored_answers.survey_response_id,
        responses.activity_id,
        scored_answers.measure,
        any_value(scored_answers.kirkpatrick_level) as kirkpatrick_level,
        min(scored_answers.scale_min) as scale_min,
        max(scored_answers.scale_max) as scale_max,
        any_value(scored_answers.direction) as direction,
        any_value(scored_answers.favourable_threshold) as favourable_threshold,
        avg(scored_answers.score) as response_score,
        avg(scored_answers.score_normalised) as response_score_normalised
    from scored_answers
    inner join responses
        on scored_answers.survey_response_id = responses.survey_response_id
    where scored_answers.score is not null and responses.activity_id is not null
    group by scored_answers.survey_response_id, responses.activity_id, scored_answers.measure

),

response_favourable as (

    select
        *,
        case
            when direction = 'lower_is_better' then response_score <= favourable_threshold
            else response_score >= favourable_threshold
        end as is_favourable
    from response_measures

),

activity_measures as (

    select
        activity_id,
        measure,
        any_value(kirkpatrick_level) as kirkpatrick_level,
        count(*) as respondents,
        -- forms may score one measure on different scales (yes/no here, 1-5 there): a raw mean
        -- is only given when all of the activity's responses share one scale
        count(distinct scale_min) = 1 and count(distinct scale_max) = 1 as has_single_scale,
        min(scale_min) as scale_min,
        max(scale_max) as scale_max,
        avg(response_score) as mean_score,
        avg(response_score_normalised) as mean_score_normalised,
        count(*) filter (where is_favourable) as favourable_respondents
    from response_favourable
    group by activity_id, measure

),

activity_knowledge as (

    select
        responses.activity_id,
        count(*) as paired_respondents,
        avg(knowledge_gains.knowledge_before) as mean_knowledge_before,
        avg(knowledge_gains.knowledge_after) as mean_knowledge_after,
        avg(knowledge_gains.knowledge_gain) as mean_knowledge_gain
    from knowledge_gains
    inner join responses
        on knowledge_gains.survey_response_id = responses.survey_response_id
    where responses.activity_id is not null
    group by responses.activity_id

),

final as (

    select
        activity_measures.activity_id || '|' || activity_measures.measure as activity_outcome_id,
        activity_measures.activity_id,
        activity_measures.measure,
        activity_measures.kirkpatrick_level,
        activity_measures.respondents,
        case when activity_measures.has_single_scale then activity_measures.scale_min end
            as scale_min,
        case when activity_measures.has_single_scale then activity_measures.scale_max end
            as scale_max,
        case when activity_measures.has_single_scale then activity_measures.mean_score end
            as mean_score,
        activity_measures.mean_score_normalised,
        activity_measures.favourable_respondents,
        activity_measures.favourable_respondents
        / activity_measures.respondents as share_favourable,
        case
            when activity_measures.kirkpatrick_level = 'learning'
                then coalesce(activity_knowledge.paired_respondents, 0)
        end as paired_respondents,
        case
            when activity_measures.kirkpatrick_level = 'learning'
                then activity_knowledge.mean_knowledge_before
        end as mean_knowledge_before,
        case
            when activity_measures.kirkpatrick_level = 'learning'
                then activity_knowledge.mean_knowledge_after
        end as mean_knowledge_after,
        case
            when activity_measures.kirkpatrick_level = 'learning'
                then activity_knowledge.mean_knowledge_gain
        end as mean_knowledge_gain
    from activity_measures
    left join activity_knowledge
        on activity_measures.activity_id = activity_knowledge.activity_id

)

select * from final
