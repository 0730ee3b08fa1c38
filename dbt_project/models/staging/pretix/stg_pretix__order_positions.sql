-- One row per order position of the current order versions, with the attendee answers pivoted
-- to columns by question_identifier (choice questions by their option identifier). Parsed from
-- the order JSON once, incrementally, in base_pretix__order_positions_current.
with

positions as (

    select * from {{ ref('base_pretix__order_positions_current') }}
    where has_position

),

renamed as (

    select
        position_id,
        source_instance,
        pretix_position_id,
        source_instance || ':' || order_code as order_id,
        order_code,
        position_number,
        source_instance || ':' || event_slug as activity_id,
        event_slug,
        item_id,
        attendee_email_pseudonym,
        attendee_name_pseudonym,
        country_raw,
        organisation,
        sector,
        gender,
        is_canceled
    from positions

)

select * from renamed
