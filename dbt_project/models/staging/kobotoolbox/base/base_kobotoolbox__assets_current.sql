-- The current assets snapshot: assets is a snapshot stream, so only the rows of the latest batch
-- per source_instance count (a form missing from it is no longer readable). A base model so that
-- stg_kobotoolbox__assets and stg_kobotoolbox__form_versions read the source through one model.
with

source as (

    select * from {{ source('kobotoolbox', 'assets') }}

),

latest_batches as (

    select
        source_instance,
        max(batch_id) as batch_id
    from source
    group by source_instance

),

current_snapshot as (

    select
        source.source_instance,
        source.batch_id,
        source.line_number,
        source.record_key,
        source.record,
        source.loaded_at
    from source
    inner join latest_batches
        on
            source.source_instance = latest_batches.source_instance
            and source.batch_id = latest_batches.batch_id
    -- a snapshot holds each uid once; keep the last line should a page have repeated it
    qualify
        row_number() over (
            partition by source.source_instance, source.record_key
            order by source.line_number desc
        ) = 1

)

select * from current_snapshot
