-- Country engagement, one row per country and year (the activity start year) in which the
-- country hosted or benefited from an activity, sent an attending participant, or had a mapped
-- EU / Member State project running: activities hosted / benefited, attendances and participants
-- from the country split by gender and sector, and mapped projects active in the year.
{% set sectors = [
    'csirt', 'ministry', 'law_enforcement', 'regulator', 'regional_organisation', 'academia',
    'private_sector', 'civil_society', 'eu_institution', 'competence_centre', 'other',
] %}
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

mapped_projects as (

    select * from {{ ref('dim_mapped_project') }}

),

project_countries as (

    select * from {{ ref('bridge_mapped_project_country') }}

),

years as (

    select distinct activity_year
    from activities
    where activity_year is not null

),

activity_figures as (

    select
        country_code,
        year(activity_start_date) as activity_year,
        count(distinct activity_id) filter (where is_host) as activities_hosted,
        count(distinct activity_id) filter (where is_beneficiary) as activities_benefited,
        count(distinct activity_id) as activities_engaged
    from engagements
    group by country_code, year(activity_start_date)

),

attended as (

    select
        participations.person_key,
        participations.country_code,
        participations.gender,
        participations.sector,
        activities.activity_year
    from participations
    inner join activities
        on participations.activity_id = activities.activity_id
    where participations.is_attended and participations.country_code is not null

),

attendance_figures as (

    select
        country_code,
        activity_year,
        count(*) as attendances,
        count(distinct person_key) as participants,
        count(*) filter (where gender = 'female') as female_attendances,
        count(*) filter (where gender = 'male') as male_attendances,
        count(*) filter (
            where gender is null or gender not in ('female', 'male')
        ) as other_or_undisclosed_gender_attendances,
        count(distinct person_key) filter (where gender = 'female') as female_participants,
        count(distinct person_key) filter (where gender = 'male') as male_participants,
        {% for sector in sectors %}
            count(*) filter (where sector = '{{ sector }}') as {{ sector }}_attendances,
        {% endfor %}
        count(*) filter (where sector is null) as unknown_sector_attendances
    from attended
    group by country_code, activity_year

),

project_figures as (

    select
        project_countries.country_code,
        years.activity_year,
        count(distinct project_countries.mapped_project_id) as mapped_projects_active
    from project_countries
    inner join mapped_projects
        on project_countries.mapped_project_id = mapped_projects.mapped_project_id
    inner join years
        on
            year(mapped_projects.start_date) <= years.activity_year
            and coalesce(year(mapped_projects.end_date), years.activity_year)
            >= years.activity_year
    group by project_countries.country_code, years.activity_year

),

figures as (

    select * from activity_figures
    union all by name
    select * from attendance_figures
    union all by name
    select * from project_figures

),

final as (

    select
        country_code || '|' || activity_year as country_year_id,
        country_code,
        cast(activity_year as integer) as activity_year,
        coalesce(max(activities_engaged), 0) as activities_engaged,
        coalesce(max(activities_hosted), 0) as activities_hosted,
        coalesce(max(activities_benefited), 0) as activities_benefited,
        coalesce(max(attendances), 0) as attendances,
        coalesce(max(participants), 0) as participants,
        coalesce(max(female_attendances), 0) as female_attendances,
        coalesce(max(male_attendances), 0) as male_attendances,
        coalesce(
            max(other_or_undisclosed_gender_attendances), 0
        ) as other_or_undisclosed_gender_attendances,
        coalesce(max(female_participants), 0) as female_participants,
        coalesce(max(male_participants), 0) as male_participants,
        {% for sector in sectors %}
            coalesce(max({{ sector }}_attendances), 0) as {{ sector }}_attendances,
        {% endfor %}
        coalesce(max(unknown_sector_attendances), 0) as unknown_sector_attendances,
        coalesce(max(mapped_projects_active), 0) as mapped_projects_active
    from figures
    where activity_year is not null
    group by country_code, activity_year

)

select * from final
