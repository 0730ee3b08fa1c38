-- One row per person and activity (registered; attended or not). Testmode orders and events,
-- canceled orders and canceled positions are excluded upstream (int_participations_joined).
with

participations as (

    select * from {{ ref('int_participations_joined') }}

),

final as (

    select
        participation_id,
        person_key,
        activity_id,
        country_code,
        country_raw,
        organisation,
        sector,
        gender,
        is_registered,
        is_attended,
        registered_at,
        first_checked_in_at
    from participations

)

select * from final
