-- The current assets snapshot: assets is a snapshot stream, so only the rows of the latest batch
-- per source_instance count (a form missing from it is no longer readable). A base model so that
-- stg_kobotoolbox__assets and stg_kobotoolbox__form_versions read the source through one model.
with

source as (

    select * from {{ source('kobotoolbox', 'assets') }}

),

current_snapshot as (

    {{ latest_snapshot('source') }}

)

select * from current_snapshot
