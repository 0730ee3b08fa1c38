-- The current version of every submission: submissions is an incremental stream, so the latest
-- row per (source_instance, record_key) by batch_id desc, line_number desc wins
-- (docs/contracts.md). A base model so that stg_kobotoolbox__submissions and
-- stg_kobotoolbox__answers read the submissions source through one model.
with

source as (

    select * from {{ source('kobotoolbox', 'submissions') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
