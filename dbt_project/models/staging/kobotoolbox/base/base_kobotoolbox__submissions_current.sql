-- The current version of every submission: submissions is an incremental stream, so the latest
-- row per (source_instance, record_key) by batch_id desc, line_number desc wins
-- (docs/contracts.md). A base model so that stg_kobotoolbox__submissions and
-- stg_kobotoolbox__answers read the submissions source through one model.
with

source as (

    select * from {{ source('kobotoolbox', 'submissions') }}

),

current_versions as (

    select
        source_instance,
        batch_id,
        line_number,
        record_key,
        record,
        loaded_at
    from source
    qualify
        row_number() over (
            partition by source_instance, record_key
            order by batch_id desc, line_number desc
        ) = 1

)

select * from current_versions
