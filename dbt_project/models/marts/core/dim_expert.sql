-- One row per expert in the pool (current registry version), with the home country resolved
-- through the country normalisation and a summary of the expert's deployments to activities.
with

experts as (

    select * from {{ ref('stg_registry__experts') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

deployments as (

    select * from {{ ref('int_expert_deployments_unnested') }}

),

deployment_summary as (

    select
        expert_id,
        count(distinct activity_id) as deployment_count,
        min(activity_start_date) as first_deployed_date,
        max(activity_start_date) as last_deployed_date
    from deployments
    where expert_id is not null
    group by expert_id

),

final as (

    select
        experts.expert_id,
        experts.expert_code,
        experts.source_instance,
        country_texts.country_code as home_country_code,
        experts.home_country_raw,
        experts.expertise_areas,
        experts.languages,
        experts.joined_date,
        experts.expert_status,
        coalesce(deployment_summary.deployment_count, 0) as deployment_count,
        deployment_summary.first_deployed_date,
        deployment_summary.last_deployed_date
    from experts
    left join country_texts
        on experts.home_country_raw = country_texts.country_raw
    left join deployment_summary
        on experts.expert_id = deployment_summary.expert_id

)

select * from final
