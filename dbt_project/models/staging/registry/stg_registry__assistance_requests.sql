-- One row per rapid-assistance request: the latest landed row per (source_instance, request id).
with

source as (

    select * from {{ source('registry', 'assistance_requests') }}

),

current_version as (

    {{ latest_per_key('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'request_id') as assistance_request_id,
        source_instance,
        record ->> 'request_id' as request_code,
        record ->> 'requester' as requester_organisation,
        record ->> 'requester_country' as requester_country_raw,
        record ->> 'topic' as topic,
        try_cast(record ->> 'requested_date' as date) as requested_date,
        try_cast(record ->> 'answered_date' as date) as answered_date,
        record ->> 'status' as request_status,
        record ->> '_file' as source_file_name,
        try_cast(record ->> '_row' as integer) as source_file_row,
        batch_id,
        loaded_at
    from current_version

)

select * from renamed
