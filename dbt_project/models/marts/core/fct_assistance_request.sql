-- One row per rapid-assistance request (current registry version): who asked, from which country,
-- when, when it was answered and how many days that took.
with

assistance_requests as (

    select * from {{ ref('stg_registry__assistance_requests') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

final as (

    select
        assistance_requests.assistance_request_id,
        assistance_requests.request_code,
        assistance_requests.source_instance,
        assistance_requests.requester_organisation,
        country_texts.country_code as requester_country_code,
        assistance_requests.requester_country_raw,
        assistance_requests.topic,
        assistance_requests.requested_date,
        assistance_requests.answered_date,
        cast(
            date_diff('day', assistance_requests.requested_date, assistance_requests.answered_date)
            as integer
        ) as days_to_response,
        assistance_requests.answered_date is not null as is_answered,
        assistance_requests.request_status
    from assistance_requests
    left join country_texts
        on assistance_requests.requester_country_raw = country_texts.country_raw

)

select * from final
