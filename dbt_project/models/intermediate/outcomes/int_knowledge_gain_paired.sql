-- One row per response that scored both knowledge before and knowledge after the activity (the
-- retrospective self-assessment of the post-activity evaluation): the gain is after - before, on
-- the items' own scale. A measure answered by several items of one response is their mean.
with

scored_answers as (

    select * from {{ ref('int_survey_answers_scored') }}

),

response_knowledge as (

    select
        survey_response_id,
        avg(score) filter (where measure = 'knowledge_before') as knowledge_before,
        avg(score) filter (where measure = 'knowledge_after') as knowledge_after
    from scored_answers
    where measure in ('knowledge_before', 'knowledge_after')
    group by survey_response_id

),

final as (

    select
        survey_response_id,
        knowledge_before,
        knowledge_after,
        knowledge_after - knowledge_before as knowledge_gain
    from response_knowledge
    where knowledge_before is not null and knowledge_after is not null

)

select * from final
