-- One row per country and activity the country engaged in: it hosted the activity, benefited
-- from it, or sent a participant who attended it (checked in). The single definition of
-- "country engaged" used by dim_country and mart_programme_kpis.
with

activity_countries as (

    select * from {{ ref('int_activity_countries_unioned') }}

),

participations as (

    select * from {{ ref('int_participations_joined') }}

),

events as (

    select * from {{ ref('stg_pretix__events') }}

),

engagements as (

    select
        country_code,
        activity_id,
        country_role = 'host' as is_host,
        country_role = 'beneficiary' as is_beneficiary,
        false as has_attending_participant
    from activity_countries
    where country_code is not null

    union all

    select
        country_code,
        activity_id,
        false as is_host,
        false as is_beneficiary,
        true as has_attending_participant
    from participations
    where is_attended and country_code is not null

),

per_country_activity as (

    select
        country_code,
        activity_id,
        bool_or(is_host) as is_host,
        bool_or(is_beneficiary) as is_beneficiary,
        bool_or(has_attending_participant) as has_attending_participant
    from engagements
    group by country_code, activity_id

),

final as (

    select
        per_country_activity.country_code || '|' || per_country_activity.activity_id
            as country_engagement_id,
        per_country_activity.country_code,
        per_country_activity.activity_id,
        events.phase,
        events.start_date as activity_start_date,
        per_country_activity.is_host,
        per_country_activity.is_beneficiary,
        per_country_activity.has_attending_participant
    from per_country_activity
    inner join events
        on per_country_activity.activity_id = events.activity_id
    where not events.is_testmode

)

select * from final
