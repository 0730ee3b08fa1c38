-- One row per country of the countries seed, with its groupings and when it first engaged with
-- the programme (hosted, benefited from, or sent an attending participant to an activity).
with

countries as (

    select * from {{ ref('countries') }}

),

engagements as (

    select * from {{ ref('int_country_engagements_unioned') }}

),

engagement_summary as (

    select
        country_code,
        min(activity_start_date) as first_engaged_date,
        max(activity_start_date) as last_engaged_date,
        count(distinct activity_id) as engaged_activity_count,
        bool_or(phase = '1') as is_engaged_phase_1,
        bool_or(phase = '2') as is_engaged_phase_2
    from engagements
    group by country_code

),

final as (

    select
        countries.country_code,
        countries.iso3,
        countries.iso_numeric,
        countries.country_name,
        countries.un_region,
        countries.un_subregion,
        countries.is_latin_america_caribbean,
        countries.is_indo_pacific_focus,
        countries.is_western_balkans,
        countries.is_eu_candidate,
        countries.is_digital_europe_associated,
        countries.is_eu_cyber_dialogue_partner,
        countries.is_working_arrangement_partner,
        countries.is_g7,
        engagement_summary.first_engaged_date,
        engagement_summary.last_engaged_date,
        coalesce(engagement_summary.engaged_activity_count, 0) as engaged_activity_count,
        coalesce(engagement_summary.is_engaged_phase_1, false) as is_engaged_phase_1,
        coalesce(engagement_summary.is_engaged_phase_2, false) as is_engaged_phase_2
    from countries
    left join engagement_summary
        on countries.country_code = engagement_summary.country_code

)

select * from final
