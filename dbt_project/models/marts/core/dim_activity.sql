-- One row per activity (pretix event) not in testmode, from the current events snapshot.
with

events as (

    select * from {{ ref('stg_pretix__events') }}

),

activity_countries as (

    select * from {{ ref('int_activity_countries_unioned') }}

),

country_counts as (

    select
        activity_id,
        max(country_code) filter (where country_role = 'host') as host_country_code,
        count(distinct country_code) filter (
            where country_role = 'beneficiary'
        ) as beneficiary_country_count,
        count(*) filter (
            where country_role = 'beneficiary' and country_code is null
        ) as unrecognised_beneficiary_count
    from activity_countries
    group by activity_id

),

final as (

    select
        events.activity_id,
        events.source_instance,
        events.event_slug,
        events.activity_name,
        events.activity_type,
        events.modality,
        events.phase,
        events.delivering_body,
        events.region,
        country_counts.host_country_code,
        events.host_country_raw,
        coalesce(country_counts.beneficiary_country_count, 0) as beneficiary_country_count,
        coalesce(
            country_counts.unrecognised_beneficiary_count, 0
        ) as unrecognised_beneficiary_count,
        events.beneficiary_countries_raw,
        events.starts_at,
        events.ends_at,
        events.start_date,
        events.end_date,
        cast(year(events.start_date) as integer) as activity_year,
        events.is_live
    from events
    left join country_counts
        on events.activity_id = country_counts.activity_id
    where not events.is_testmode

)

select * from final
