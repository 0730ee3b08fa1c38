-- One row per stakeholder code listed in a non-testmode activity's `organisers` meta property
-- (the ';'-separated stakeholder-registry codes), resolved to the registry's stakeholder by code.
-- A code listed twice for one activity counts once; a code the registry does not know is kept with
-- a null stakeholder_id (for data-quality follow-up) and left out of the marts.
with

events as (

    select * from {{ ref('stg_pretix__events') }}

),

stakeholders as (

    select * from {{ ref('stg_registry__stakeholders') }}

),

activities as (

    select
        activity_id,
        start_date,
        end_date,
        phase,
        string_split(organiser_codes_raw, ';') as code_list
    from events
    where not is_testmode and organiser_codes_raw is not null

),

mentions as (

    select distinct
        activity_id,
        start_date,
        end_date,
        phase,
        upper(trim(unnest(code_list))) as stakeholder_code
    from activities

),

final as (

    select
        mentions.activity_id || '|' || mentions.stakeholder_code
            as stakeholder_engagement_mention_id,
        mentions.activity_id,
        mentions.stakeholder_code,
        stakeholders.stakeholder_id,
        mentions.start_date as activity_start_date,
        mentions.end_date as activity_end_date,
        mentions.phase
    from mentions
    left join stakeholders
        on mentions.stakeholder_code = stakeholders.stakeholder_code
    where mentions.stakeholder_code <> ''

)

select * from final
