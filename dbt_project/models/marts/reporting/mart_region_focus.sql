-- Regional focus, one row per reporting group (UN region or programme grouping) and phase:
-- activities hosted in or benefiting a country of the group, attendances and participants from
-- the group's countries (by gender), the group's countries engaged, and the group's share of all
-- the phase's attendances (e.g. the Indo-Pacific focus countries' share in the second phase).
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

activity_phases as (

    select
        activity_id,
        coalesce(phase, 'unknown') as phase
    from activities

),

attended as (

    select
        participations.person_key,
        participations.country_code,
        participations.gender,
        activity_phases.phase
    from participations
    inner join activity_phases
        on participations.activity_id = activity_phases.activity_id
    where participations.is_attended

),

phase_totals as (

    select
        phase,
        count(*) as phase_attendances
    from attended
    group by phase

),

group_phases as (

    select distinct
        country_groups.group_type,
        country_groups.group_name,
        phase_totals.phase
    from country_groups
    cross join phase_totals

),

activity_figures as (

    select
        country_groups.group_type,
        country_groups.group_name,
        coalesce(engagements.phase, 'unknown') as phase,
        count(distinct engagements.activity_id) as activities
    from engagements
    inner join country_groups
        on engagements.country_code = country_groups.country_code
    where engagements.is_host or engagements.is_beneficiary
    group by
        country_groups.group_type,
        country_groups.group_name,
        coalesce(engagements.phase, 'unknown')

),

country_figures as (

    select
        country_groups.group_type,
        country_groups.group_name,
        coalesce(engagements.phase, 'unknown') as phase,
        count(distinct engagements.country_code) as countries_engaged
    from engagements
    inner join country_groups
        on engagements.country_code = country_groups.country_code
    group by
        country_groups.group_type,
        country_groups.group_name,
        coalesce(engagements.phase, 'unknown')

),

attendance_figures as (

    select
        country_groups.group_type,
        country_groups.group_name,
        attended.phase,
        count(*) as attendances,
        count(distinct attended.person_key) as participants,
        count(*) filter (where attended.gender = 'female') as female_attendances,
        count(*) filter (where attended.gender = 'male') as male_attendances
    from attended
    inner join country_groups
        on attended.country_code = country_groups.country_code
    group by country_groups.group_type, country_groups.group_name, attended.phase

),

figures as (

    select * from group_phases
    union all by name
    select * from activity_figures
    union all by name
    select * from country_figures
    union all by name
    select * from attendance_figures

),

folded as (

    select
        group_type,
        group_name,
        phase,
        coalesce(max(activities), 0) as activities,
        coalesce(max(attendances), 0) as attendances,
        coalesce(max(participants), 0) as participants,
        coalesce(max(female_attendances), 0) as female_attendances,
        coalesce(max(male_attendances), 0) as male_attendances,
        coalesce(max(countries_engaged), 0) as countries_engaged
    from figures
    group by group_type, group_name, phase

),

final as (

    select
        folded.group_type || '|' || folded.group_name || '|' || folded.phase as region_focus_id,
        folded.group_type,
        folded.group_name,
        folded.phase,
        folded.activities,
        folded.attendances,
        folded.participants,
        folded.female_attendances,
        folded.male_attendances,
        folded.countries_engaged,
        coalesce(phase_totals.phase_attendances, 0) as phase_attendances,
        cast(
            folded.attendances / nullif(phase_totals.phase_attendances, 0) as double
        ) as attendance_share
    from folded
    left join phase_totals
        on folded.phase = phase_totals.phase

)

select * from final
