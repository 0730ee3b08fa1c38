-- One row per stakeholder organisation: the latest landed row per (source_instance,
-- stakeholder id).
with

source as (

    select * from {{ source('registry', 'stakeholders') }}

),

current_version as (

    {{ latest_per_key('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'stakeholder_id') as stakeholder_id,
        source_instance,
        record ->> 'stakeholder_id' as stakeholder_code,
        record ->> 'organisation_name' as organisation_name,
        record ->> 'country' as country_raw,
        record ->> 'stakeholder_type' as stakeholder_type,
        try_cast(record ->> 'joined_date' as date) as joined_date,
        record ->> 'contact_name_pseudonym' as contact_name_pseudonym,
        record ->> 'contact_email_pseudonym' as contact_email_pseudonym,
        record ->> '_file' as source_file_name,
        try_cast(record ->> '_row' as integer) as source_file_row,
        batch_id,
        loaded_at
    from current_version

)

select * from renamed
