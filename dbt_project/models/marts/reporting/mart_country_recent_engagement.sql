-- Recent engagement, one row per country in dim_country (with its UN region and grouping flags):
-- activities, attendances and participants in the 12 months, and engagement in the 6 months, up
-- to the latest activity start date in the data (never now(), so figures are reproducible).
-- Windows are (reference_date - N months, reference_date] on the activity start date.
with

countries as (

    select * from {{ ref('dim_country') }}

),

activities as (

    select * from {{ ref('dim_activity') }}

),

participations as (

    select * from {{ ref('fct_participation') }}

),

engagements as (

    select * from {{ ref('int_country_engagements_unioned') }}

),

reference as (

    select max(start_date) as reference_date
    from activities

),

engagements_windowed as (

    select
        engagements.country_code,
        engagements.activity_id,
        engagements.is_host or engagements.is_beneficiary as is_host_or_beneficiary,
        engagements.activity_start_date
        > reference.reference_date - interval 12 month as is_last_12_months,
        engagements.activity_start_date
        > reference.reference_date - interval 6 month as is_last_6_months
    from engagements
    cross join reference
    where engagements.activity_start_date <= reference.reference_date

),

activity_figures as (

    select
        country_code,
        count(distinct activity_id) filter (
            where is_last_12_months and is_host_or_beneficiary
        ) as activities_12_months,
        count(distinct activity_id) filter (
            where is_last_12_months
        ) as activities_engaged_12_months,
        count(distinct activity_id) filter (where is_last_6_months) as activities_engaged_6_months
    from engagements_windowed
    group by country_code

),

attendance_figures as (

    select
        participations.country_code,
        count(*) as attendances_12_months,
        count(distinct participations.person_key) as participants_12_months,
        count(*) filter (where participations.gender = 'female') as female_attendances_12_months
    from participations
    inner join activities
        on participations.activity_id = activities.activity_id
    cross join reference
    where
        participations.is_attended
        and activities.start_date <= reference.reference_date
        and activities.start_date > reference.reference_date - interval 12 month
    group by participations.country_code

),

final as (

    select
        countries.country_code,
        countries.country_name,
        countries.un_region,
        countries.is_latin_america_caribbean,
        countries.is_indo_pacific_focus,
        countries.is_western_balkans,
        countries.is_eu_candidate,
        countries.is_digital_europe_associated,
        countries.is_eu_cyber_dialogue_partner,
        countries.is_working_arrangement_partner,
        countries.is_g7,
        reference.reference_date,
        coalesce(activity_figures.activities_12_months, 0) as activities_12_months,
        coalesce(
            activity_figures.activities_engaged_12_months, 0
        ) as activities_engaged_12_months,
        coalesce(attendance_figures.attendances_12_months, 0) as attendances_12_months,
        coalesce(attendance_figures.participants_12_months, 0) as participants_12_months,
        coalesce(
            attendance_figures.female_attendances_12_months, 0
        ) as female_attendances_12_months,
        coalesce(activity_figures.activities_engaged_6_months, 0) as activities_engaged_6_months,
        countries.last_engaged_date,
        coalesce(activity_figures.activities_engaged_6_months, 0) = 0 as is_inactive_6_months
    from countries
    cross join reference
    left join activity_figures
        on countries.country_code = activity_figures.country_code
    left join attendance_figures
        on countries.country_code = attendance_figures.country_code

)

select * from final
