-- One row per expert code listed in a non-testmode activity's `experts` meta property (the
-- ';'-separated expert-pool codes), resolved to the registry's expert by code. A code listed twice
-- for one activity counts once; a code the registry does not know is kept with a null expert_id
-- (for data-quality follow-up) and left out of the marts.
with

events as (

    select * from {{ ref('stg_pretix__events') }}

),

experts as (

    select * from {{ ref('stg_registry__experts') }}

),

activities as (

    select
        activity_id,
        start_date,
        end_date,
        phase,
        string_split(expert_codes_raw, ';') as code_list
    from events
    where not is_testmode and expert_codes_raw is not null

),

mentions as (

    select distinct
        activity_id,
        start_date,
        end_date,
        phase,
        upper(trim(unnest(code_list))) as expert_code
    from activities

),

final as (

    select
        mentions.activity_id || '|' || mentions.expert_code as expert_deployment_mention_id,
        mentions.activity_id,
        mentions.expert_code,
        experts.expert_id,
        mentions.start_date as activity_start_date,
        mentions.end_date as activity_end_date,
        mentions.phase
    from mentions
    left join experts
        on mentions.expert_code = experts.expert_code
    where mentions.expert_code <> ''

)

select * from final
