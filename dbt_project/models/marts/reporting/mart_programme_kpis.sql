-- The programme's headline figures for any period, region or grouping, one row per
-- (dimension, dimension_value): dimension 'all' (value 'all'), 'phase' ('1', '2'), 'year'
-- ('2019', ...), 'un_region' ('Americas', ...) or 'grouping' ('indo_pacific_focus', ...).
-- Nothing is typed in: every figure is counted from the records.
-- Period rows (all, phase, year) count the period's activities and what happened at them;
-- experts in pool / stakeholders in network are those that joined on or before the period's end
-- (phase: its last activity date; year: 31 December; all: no limit).
-- Group rows (un_region, grouping) count activities hosted in or benefiting a country of the
-- group, attendances by participants from the group's countries, the group's engaged countries,
-- and experts / stakeholders based in the group's countries.
with

activities as (

    select * from {{ ref('dim_activity') }}

),

participations as (

    select * from {{ ref('fct_participation') }}

),

engagements as (

    select * from {{ ref('int_country_engagements_unioned') }}

),

country_groups as (

    select * from {{ ref('int_country_groups_unpivoted') }}

),

experts as (

    select * from {{ ref('dim_expert') }}

),

deployments as (

    select * from {{ ref('fct_expert_deployment') }}

),

stakeholders as (

    select * from {{ ref('dim_stakeholder') }}

),

stakeholder_engagements as (

    select * from {{ ref('int_stakeholder_engagements_unnested') }}

),

-- one row per activity and period it falls in
activity_periods as (

    select
        activity_id,
        'all' as dimension,
        'all' as dimension_value,
        start_date,
        coalesce(end_date, start_date) as last_date
    from activities

    union all

    select
        activity_id,
        'phase' as dimension,
        coalesce(phase, 'unknown') as dimension_value,
        start_date,
        coalesce(end_date, start_date) as last_date
    from activities

    union all

    select
        activity_id,
        'year' as dimension,
        cast(activity_year as varchar) as dimension_value,
        start_date,
        coalesce(end_date, start_date) as last_date
    from activities
    where activity_year is not null

),

periods as (

    select
        dimension,
        dimension_value,
        min(start_date) as first_activity_date,
        max(last_date) as last_activity_date,
        case
            when dimension = 'phase' then max(last_date)
            when dimension = 'year' then make_date(cast(dimension_value as integer), 12, 31)
        end as period_end_date
    from activity_periods
    group by dimension, dimension_value

),

-- one row per activity and group (region or grouping) one of its host / beneficiary countries
-- belongs to
activity_groups as (

    select distinct
        engagements.activity_id,
        country_groups.group_type as dimension,
        country_groups.group_name as dimension_value
    from engagements
    inner join country_groups
        on engagements.country_code = country_groups.country_code
    where engagements.is_host or engagements.is_beneficiary

),

activity_scopes as (

    select
        activity_id,
        dimension,
        dimension_value
    from activity_periods

    union all

    select * from activity_groups

),

attended as (

    select
        activity_id,
        person_key,
        country_code,
        gender
    from participations
    where is_attended

),

attendance_scopes as (

    select
        activity_periods.dimension,
        activity_periods.dimension_value,
        attended.person_key,
        attended.gender
    from attended
    inner join activity_periods
        on attended.activity_id = activity_periods.activity_id

    union all

    select
        country_groups.group_type as dimension,
        country_groups.group_name as dimension_value,
        attended.person_key,
        attended.gender
    from attended
    inner join country_groups
        on attended.country_code = country_groups.country_code

),

country_scopes as (

    select
        activity_periods.dimension,
        activity_periods.dimension_value,
        engagements.country_code
    from engagements
    inner join activity_periods
        on engagements.activity_id = activity_periods.activity_id

    union all

    select
        country_groups.group_type as dimension,
        country_groups.group_name as dimension_value,
        engagements.country_code
    from engagements
    inner join country_groups
        on engagements.country_code = country_groups.country_code

),

expert_scopes as (

    select
        periods.dimension,
        periods.dimension_value,
        experts.expert_id
    from periods
    inner join experts
        on coalesce(periods.period_end_date, experts.joined_date) >= experts.joined_date

    union all

    select
        country_groups.group_type as dimension,
        country_groups.group_name as dimension_value,
        experts.expert_id
    from experts
    inner join country_groups
        on experts.home_country_code = country_groups.country_code

),

stakeholder_scopes as (

    select
        periods.dimension,
        periods.dimension_value,
        stakeholders.stakeholder_id
    from periods
    inner join stakeholders
        on
            periods.period_end_date is null
            or stakeholders.joined_date is null
            or periods.period_end_date >= stakeholders.joined_date

    union all

    select
        country_groups.group_type as dimension,
        country_groups.group_name as dimension_value,
        stakeholders.stakeholder_id
    from stakeholders
    inner join country_groups
        on stakeholders.country_code = country_groups.country_code

),

activity_figures as (

    select
        dimension,
        dimension_value,
        count(distinct activity_id) as activities
    from activity_scopes
    group by dimension, dimension_value

),

attendance_figures as (

    select
        dimension,
        dimension_value,
        count(*) as attendances,
        count(distinct person_key) as participants,
        count(*) filter (where gender = 'female') as female_attendances,
        count(*) filter (where gender = 'male') as male_attendances,
        count(distinct person_key) filter (where gender = 'female') as female_participants
    from attendance_scopes
    group by dimension, dimension_value

),

country_figures as (

    select
        dimension,
        dimension_value,
        count(distinct country_code) as countries_engaged
    from country_scopes
    group by dimension, dimension_value

),

pool_figures as (

    select
        dimension,
        dimension_value,
        count(distinct expert_id) as experts_in_pool
    from expert_scopes
    group by dimension, dimension_value

),

deployment_figures as (

    select
        activity_scopes.dimension,
        activity_scopes.dimension_value,
        count(distinct deployments.expert_id) as experts_deployed
    from deployments
    inner join activity_scopes
        on deployments.activity_id = activity_scopes.activity_id
    group by activity_scopes.dimension, activity_scopes.dimension_value

),

network_figures as (

    select
        dimension,
        dimension_value,
        count(distinct stakeholder_id) as stakeholders_in_network
    from stakeholder_scopes
    group by dimension, dimension_value

),

stakeholder_engagement_figures as (

    select
        activity_scopes.dimension,
        activity_scopes.dimension_value,
        count(distinct stakeholder_engagements.stakeholder_id) as stakeholders_engaged
    from stakeholder_engagements
    inner join activity_scopes
        on stakeholder_engagements.activity_id = activity_scopes.activity_id
    where stakeholder_engagements.stakeholder_id is not null
    group by activity_scopes.dimension, activity_scopes.dimension_value

),

-- every figure set, stacked by column name (DuckDB fills the missing columns with nulls) and
-- folded to one row per scope: no chain of joins
figures as (

    select * from activity_figures
    union all by name
    select * from attendance_figures
    union all by name
    select * from country_figures
    union all by name
    select * from pool_figures
    union all by name
    select * from deployment_figures
    union all by name
    select * from network_figures
    union all by name
    select * from stakeholder_engagement_figures
    union all by name
    select
        dimension,
        dimension_value,
        first_activity_date,
        last_activity_date,
        period_end_date
    from periods
    union all by name
    select
        group_type as dimension,
        group_name as dimension_value
    from country_groups

),

final as (

    select
        dimension,
        dimension_value,
        coalesce(max(activities), 0) as activities,
        coalesce(max(attendances), 0) as attendances,
        coalesce(max(participants), 0) as participants,
        coalesce(max(female_attendances), 0) as female_attendances,
        coalesce(max(male_attendances), 0) as male_attendances,
        coalesce(max(female_participants), 0) as female_participants,
        coalesce(max(countries_engaged), 0) as countries_engaged,
        coalesce(max(experts_in_pool), 0) as experts_in_pool,
        coalesce(max(experts_deployed), 0) as experts_deployed,
        coalesce(max(stakeholders_in_network), 0) as stakeholders_in_network,
        coalesce(max(stakeholders_engaged), 0) as stakeholders_engaged,
        max(first_activity_date) as first_activity_date,
        max(last_activity_date) as last_activity_date,
        max(period_end_date) as period_end_date
    from figures
    group by dimension, dimension_value

)

select * from final
