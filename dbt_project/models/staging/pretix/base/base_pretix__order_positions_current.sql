-- The positions of the current version of every order, parsed once: the typed columns of
-- stg_pretix__order_positions (attendee answers pivoted by question_identifier, choice questions
-- by their option identifier) and each position's check-ins (JSON, for stg_pretix__checkins).
-- One row per position; an order without positions keeps one row with has_position false, so
-- that a refresh always replaces the rows of an order it re-derives (delete+insert on the order).
-- Incremental: a refresh re-derives only the orders whose current version was loaded since the
-- last build (an order whose current version did not change keeps its positions).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_instance', 'order_code'],
        on_schema_change='fail',
    )
}}

with

orders as (

    select * from {{ ref('base_pretix__orders_current') }}
    {{ only_loaded_since_last_build('loaded_at', 'order_loaded_at') }}

),

positions as (

    select
        orders.source_instance,
        orders.record ->> 'code' as order_code,
        orders.record ->> 'event' as event_slug,
        orders.loaded_at as order_loaded_at,
        unnested.position_record,
        unnested.position_record ->> 'id' as position_key
    from orders
    left join
        unnest(try_cast(orders.record -> 'positions' as json[])) as unnested (position_record)
        on true

),

answers as (

    select
        positions.source_instance,
        positions.position_key,
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

parsed as (

    select
        positions.source_instance,
        positions.order_code,
        positions.event_slug,
        positions.order_loaded_at,
        positions.position_record is not null as has_position,
        positions.source_instance || ':' || positions.position_key as position_id,
        positions.position_key,
        try_cast(positions.position_key as bigint) as pretix_position_id,
        try_cast(positions.position_record ->> 'positionid' as integer) as position_number,
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
        ) as is_canceled,
        positions.position_record -> 'checkins' as checkins
    from positions
    left join answers_pivoted
        on
            positions.source_instance = answers_pivoted.source_instance
            and positions.position_key = answers_pivoted.position_key

)

select * from parsed
