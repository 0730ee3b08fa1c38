-- One row per survey form in the current assets snapshot (base_kobotoolbox__assets_current).
with

assets as (

    select * from {{ ref('base_kobotoolbox__assets_current') }}

),

renamed as (

    select
        source_instance || ':' || (record ->> 'uid') as form_id,
        source_instance,
        record ->> 'uid' as form_uid,
        record ->> 'name' as form_name,
        record ->> 'asset_type' as asset_type,
        record ->> 'owner__username' as owner_username,
        record ->> 'version_id' as current_version_id,
        record ->> 'deployed_version_id' as deployed_version_id,
        try_cast(record -> 'deployed_versions' ->> 'count' as integer) as deployed_version_count,
        coalesce(try_cast(record ->> 'has_deployment' as boolean), false) as is_deployed,
        coalesce(
            try_cast(record ->> 'deployment__active' as boolean), false
        ) as is_deployment_active,
        try_cast(record ->> 'deployment__submission_count' as bigint) as submission_count,
        try_cast(record ->> 'date_created' as timestamptz) as created_at,
        try_cast(record ->> 'date_modified' as timestamptz) as modified_at,
        batch_id,
        loaded_at
    from assets

)

select * from renamed
