-- One row per mapped EU cyber capacity-building project: the latest landed row per
-- (source_instance, project id).
with

source as (

    select * from {{ source('registry', 'mapped_projects') }}

),

current_version as (

    {{ latest_per_key('source') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'project_id') as mapped_project_id,
        source_instance,
        record ->> 'project_id' as project_code,
        record ->> 'title' as project_title,
        record ->> 'funder' as funder,
        record ->> 'implementer' as implementer,
        from_json(record -> 'countries', '["varchar"]') as countries_raw,
        from_json(record -> 'themes', '["varchar"]') as themes,
        try_cast(record ->> 'start_date' as date) as start_date,
        try_cast(record ->> 'end_date' as date) as end_date,
        try_cast(record ->> 'budget_eur' as decimal(18, 2)) as budget_eur,
        record ->> '_file' as source_file_name,
        try_cast(record ->> '_row' as integer) as source_file_row,
        batch_id,
        loaded_at
    from current_version

)

select * from renamed
