-- One row per person and activity: the positions of current, non-canceled, non-testmode orders
-- for non-testmode events, joined to their entry check-ins. The person is the attendee's email
-- pseudonym, falling back to the order's. A person with several positions for one activity
-- counts once; their answers come from the position that was checked in first (or, if none was,
-- the earliest ordered).
with

order_positions as (

    select * from {{ ref('stg_pretix__order_positions') }}

),

orders as (

    select * from {{ ref('stg_pretix__orders') }}

),

events as (

    select * from {{ ref('stg_pretix__events') }}

),

checkins as (

    select * from {{ ref('stg_pretix__checkins') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

entry_checkins as (

    select
        position_id,
        min(checked_in_at) as first_checked_in_at
    from checkins
    where checkin_type = 'entry'
    group by position_id

),

valid_positions as (

    select
        order_positions.position_id,
        order_positions.activity_id,
        coalesce(
            order_positions.attendee_email_pseudonym, orders.email_pseudonym
        ) as person_key,
        order_positions.country_raw,
        order_positions.organisation,
        order_positions.sector,
        order_positions.gender,
        orders.order_status,
        orders.ordered_at,
        entry_checkins.first_checked_in_at
    from order_positions
    inner join orders
        on order_positions.order_id = orders.order_id
    inner join events
        on order_positions.activity_id = events.activity_id
    left join entry_checkins
        on order_positions.position_id = entry_checkins.position_id
    where
        not orders.is_testmode
        and not orders.is_canceled
        and not order_positions.is_canceled
        and not events.is_testmode
        and coalesce(order_positions.attendee_email_pseudonym, orders.email_pseudonym) is not null

),

ranked_positions as (

    select
        *,
        row_number() over (
            partition by person_key, activity_id
            order by first_checked_in_at asc nulls last, ordered_at asc, position_id asc
        ) as position_rank,
        count(first_checked_in_at) over (
            partition by person_key, activity_id
        ) > 0 as is_attended,
        -- paid or pending: a live registration (expired orders are not)
        bool_or(order_status in ('p', 'n')) over (
            partition by person_key, activity_id
        ) as is_registered,
        min(ordered_at) over (partition by person_key, activity_id) as registered_at,
        count(*) over (partition by person_key, activity_id) as position_count
    from valid_positions

),

final as (

    select
        ranked_positions.activity_id || '|' || ranked_positions.person_key as participation_id,
        ranked_positions.person_key,
        ranked_positions.activity_id,
        ranked_positions.position_id,
        ranked_positions.country_raw,
        country_texts.country_code,
        ranked_positions.organisation,
        ranked_positions.sector,
        ranked_positions.gender,
        ranked_positions.is_registered,
        ranked_positions.is_attended,
        ranked_positions.registered_at,
        ranked_positions.first_checked_in_at,
        ranked_positions.position_count
    from ranked_positions
    left join country_texts
        on ranked_positions.country_raw = country_texts.country_raw
    where ranked_positions.position_rank = 1

)

select * from final
