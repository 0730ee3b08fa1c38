-- The programme's headline figures, one row per phase plus an `all` row, computed from the
-- records (no figure is typed in): activities, attendances (attended person x activity rows),
-- participants (distinct attending persons), countries engaged (distinct countries that hosted,
-- benefited from or sent an attending participant to an activity of the phase), first and last
-- activity dates.
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

activities_phased as (

    select
        *,
        coalesce(phase, 'unknown') as phase_key
    from activities

),

attended_participations as (

    select
        participations.person_key,
        activities_phased.phase_key
    from participations
    inner join activities_phased
        on participations.activity_id = activities_phased.activity_id
    where participations.is_attended

),

engagements_phased as (

    select
        country_code,
        coalesce(phase, 'unknown') as phase_key
    from engagements

),

activity_figures as (

    select
        phase_key as phase,
        count(*) as activity_count,
        min(start_date) as first_activity_date,
        max(coalesce(end_date, start_date)) as last_activity_date
    from activities_phased
    group by phase_key

    union all

    select
        'all' as phase,
        count(*) as activity_count,
        min(start_date) as first_activity_date,
        max(coalesce(end_date, start_date)) as last_activity_date
    from activities_phased

),

attendance_figures as (

    select
        phase_key as phase,
        count(*) as attendance_count,
        count(distinct person_key) as participant_count
    from attended_participations
    group by phase_key

    union all

    select
        'all' as phase,
        count(*) as attendance_count,
        count(distinct person_key) as participant_count
    from attended_participations

),

country_figures as (

    select
        phase_key as phase,
        count(distinct country_code) as countries_engaged
    from engagements_phased
    group by phase_key

    union all

    select
        'all' as phase,
        count(distinct country_code) as countries_engaged
    from engagements_phased

),

final as (

    select
        activity_figures.phase,
        activity_figures.activity_count as activities,
        coalesce(attendance_figures.attendance_count, 0) as attendances,
        coalesce(attendance_figures.participant_count, 0) as participants,
        coalesce(country_figures.countries_engaged, 0) as countries_engaged,
        activity_figures.first_activity_date,
        activity_figures.last_activity_date
    from activity_figures
    left join attendance_figures
        on activity_figures.phase = attendance_figures.phase
    left join country_figures
        on activity_figures.phase = country_figures.phase

)

select * from final
