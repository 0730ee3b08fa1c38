-- One row per expert and activity the expert was deployed to: the expert's code is listed in the
-- activity's `experts` meta property (non-testmode activities only). Codes the registry does not
-- know are left out (they stay visible in int_expert_deployments_unnested).
with

deployments as (

    select * from {{ ref('int_expert_deployments_unnested') }}

),

final as (

    select
        activity_id || '|' || expert_id as deployment_id,
        expert_id,
        expert_code,
        activity_id,
        activity_start_date,
        activity_end_date,
        phase
    from deployments
    where expert_id is not null

)

select * from final
