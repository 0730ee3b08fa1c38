-- The results framework with its actuals: one row per indicator of the indicator_targets seed,
-- the actual computed here for the seed's measure and phase, with a female / male split where the
-- indicator is gender-disaggregated, and the progress from baseline to target.
-- Measures (per phase "1", "2" and for "all"): the mart_programme_kpis figures (activities,
-- attendances, participants, countries_engaged, experts_in_pool, experts_deployed,
-- stakeholders_in_network, stakeholders_engaged), expert_deployment_share (experts_deployed /
-- experts_in_pool), <grouping>_attendances for every region and grouping of mart_region_focus,
-- <survey measure>_favourable_share and knowledge_gain_mean from fct_activity_outcome, and
-- median_days_to_response ("all" only) from fct_assistance_request.
with

targets as (

    select * from {{ ref('indicator_targets') }}

),

kpis as (

    select * from {{ ref('mart_programme_kpis') }}

),

region_focus as (

    select * from {{ ref('mart_region_focus') }}

),

outcomes as (

    select * from {{ ref('fct_activity_outcome') }}

),

activities as (

    select * from {{ ref('dim_activity') }}

),

assistance_requests as (

    select * from {{ ref('fct_assistance_request') }}

),

phase_kpis as (

    select * from kpis
    where dimension in ('phase', 'all')

),

kpi_measures as (

    unpivot (
        select
            dimension_value as phase,
            cast(activities as double) as activities,
            cast(participants as double) as participants,
            cast(countries_engaged as double) as countries_engaged,
            cast(experts_in_pool as double) as experts_in_pool,
            cast(experts_deployed as double) as experts_deployed,
            cast(stakeholders_in_network as double) as stakeholders_in_network,
            cast(stakeholders_engaged as double) as stakeholders_engaged,
            cast(experts_deployed / nullif(experts_in_pool, 0) as double)
                as expert_deployment_share
        from phase_kpis
    )
    on columns(* exclude (phase))
    into name measure value actual_value

),

attendance_measures as (

    select
        'attendances' as measure,
        dimension_value as phase,
        cast(attendances as double) as actual_value,
        female_attendances as actual_female,
        male_attendances as actual_male
    from phase_kpis

    union all

    select
        group_name || '_attendances' as measure,
        phase,
        cast(attendances as double) as actual_value,
        female_attendances as actual_female,
        male_attendances as actual_male
    from region_focus

),

outcomes_phased as (

    select
        outcomes.measure,
        outcomes.respondents,
        outcomes.favourable_respondents,
        outcomes.paired_respondents,
        outcomes.mean_knowledge_gain,
        activities.phase
    from outcomes
    inner join activities
        on outcomes.activity_id = activities.activity_id

),

outcome_scopes as (

    select * from outcomes_phased
    union all
    select * replace ('all' as phase) from outcomes_phased

),

outcome_measures as (

    select
        measure || '_favourable_share' as measure,
        phase,
        sum(favourable_respondents) / nullif(sum(respondents), 0) as actual_value
    from outcome_scopes
    where favourable_respondents is not null
    group by measure, phase

    union all

    select
        'knowledge_gain_mean' as measure,
        phase,
        sum(mean_knowledge_gain * paired_respondents)
        / nullif(sum(paired_respondents), 0) as actual_value
    from outcome_scopes
    where mean_knowledge_gain is not null
    group by phase

),

response_measures as (

    select
        'median_days_to_response' as measure,
        'all' as phase,
        cast(median(days_to_response) as double) as actual_value
    from assistance_requests

),

measures as (

    select * from kpi_measures
    union all by name
    select * from attendance_measures
    union all by name
    select * from outcome_measures
    union all by name
    select * from response_measures

),

final as (

    select
        targets.indicator_code,
        targets.indicator_name,
        targets.definition,
        targets.measure,
        targets.unit,
        targets.phase,
        targets.baseline,
        targets.target,
        targets.direction,
        targets.is_gender_disaggregated,
        measures.actual_value,
        case when targets.is_gender_disaggregated then measures.actual_female end as actual_female,
        case when targets.is_gender_disaggregated then measures.actual_male end as actual_male,
        (measures.actual_value - targets.baseline)
        / nullif(targets.target - targets.baseline, 0) as progress_share,
        case
            when measures.actual_value is null then null
            when targets.direction = 'decrease' then measures.actual_value <= targets.target
            else measures.actual_value >= targets.target
        end as is_target_met
    from targets
    left join measures
        on targets.measure = measures.measure and targets.phase = measures.phase

)

select * from final
