-- One row per deployed version of each form in the current assets snapshot: what a submission's
-- __version__ refers to, and when that version went live.
with

assets as (

    select * from {{ ref('base_kobotoolbox__assets_current') }}

),

versions as (

    select
        assets.source_instance,
        assets.record ->> 'uid' as form_uid,
        version_record
    from assets
    cross join
        unnest(
            try_cast(assets.record -> 'deployed_versions' -> 'results' as json[])
        ) as unnested (version_record)

),

renamed as (

    select
        source_instance || ':' || form_uid || ':' || (version_record ->> 'uid') as form_version_key,
        source_instance,
        source_instance || ':' || form_uid as form_id,
        form_uid,
        version_record ->> 'uid' as form_version_id,
        version_record ->> 'content_hash' as content_hash,
        try_cast(version_record ->> 'date_deployed' as timestamptz) as deployed_at,
        row_number() over (
            partition by source_instance, form_uid
            order by try_cast(version_record ->> 'date_deployed' as timestamptz)
        ) as version_number
    from versions

)

select * from renamed
