-- One row per order position of the current order versions, with the attendee answers pivoted
-- to columns by question_identifier (choice questions by their option identifier).
with

positions as (

    select
        source_instance,
        order_code,
        event_slug,
        position_record
    from {{ ref('base_pretix__order_positions_current') }}
    where position_record is not null

),

answers as (

    select
        positions.source_instance,
        positions.position_record ->> 'id' as position_key,
        answer ->> 'question_identifier' as question_identifier,
        nullif(trim(answer ->> 'answer'), '') as answer_text,
        answer -> 'option_identifiers' ->> 0 as option_identifier
    from positions
    cross join
        unnest(try_cast(positions.position_record -> 'answers' as json[])) as unnested (answer)

),

answers_pivoted as (

    select
        source_instance,
        position_key,
        max(answer_text) filter (where question_identifier = 'country') as country_answer,
        max(answer_text) filter (
            where question_identifier = 'organisation'
        ) as organisation_answer,
        max(option_identifier) filter (where question_identifier = 'sector') as sector,
        max(option_identifier) filter (where question_identifier = 'gender') as gender
    from answers
    group by source_instance, position_key

),

renamed as (

    select
        positions.source_instance || ':' || (positions.position_record ->> 'id') as position_id,
        positions.source_instance,
        try_cast(positions.position_record ->> 'id' as bigint) as pretix_position_id,
        positions.source_instance || ':' || positions.order_code as order_id,
        positions.order_code,
        try_cast(positions.position_record ->> 'positionid' as integer) as position_number,
        positions.source_instance || ':' || positions.event_slug as activity_id,
        positions.event_slug,
        try_cast(positions.position_record ->> 'item' as bigint) as item_id,
        positions.position_record ->> 'attendee_email_pseudonym' as attendee_email_pseudonym,
        positions.position_record ->> 'attendee_name_pseudonym' as attendee_name_pseudonym,
        -- the country question first, pretix's own attendee country field otherwise
        coalesce(
            answers_pivoted.country_answer,
            nullif(trim(positions.position_record ->> 'country'), '')
        ) as country_raw,
        coalesce(
            answers_pivoted.organisation_answer,
            nullif(trim(positions.position_record ->> 'company'), '')
        ) as organisation,
        answers_pivoted.sector,
        answers_pivoted.gender,
        coalesce(
            try_cast(positions.position_record ->> 'canceled' as boolean), false
        ) as is_canceled
    from positions
    left join answers_pivoted
        on
            positions.source_instance = answers_pivoted.source_instance
            and positions.position_record ->> 'id' = answers_pivoted.position_key

)

select * from renamed
