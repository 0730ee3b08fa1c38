-- One row per expert in the pool: the latest landed row per (source_instance, expert id), since
-- each new export file lands as a new batch.
with

source as (

    select * from {{ source('registry', 'experts') }}

),

current_version as (

    {{ latest_per_key('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'expert_id') as expert_id,
        source_instance,
        record ->> 'expert_id' as expert_code,
        record ->> 'full_name_pseudonym' as full_name_pseudonym,
        record ->> 'email_pseudonym' as email_pseudonym,
        record ->> 'home_country' as home_country_raw,
        from_json(record -> 'expertise_areas', '["varchar"]') as expertise_areas,
        from_json(record -> 'languages', '["varchar"]') as languages,
        try_cast(record ->> 'joined_date' as date) as joined_date,
        record ->> 'status' as expert_status,
        record ->> '_file' as source_file_name,
        try_cast(record ->> '_row' as integer) as source_file_row,
        batch_id,
        loaded_at
    from current_version

)

select * from renamed
