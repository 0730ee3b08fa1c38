-- One row per country and reporting group it belongs to: its UN M49 region (group_type
-- 'un_region') and every programme grouping whose is_* flag is true in the countries seed
-- (group_type 'grouping', group_name the flag without its `is_` prefix, e.g. indo_pacific_focus).
-- The flags are unpivoted by name pattern, so a grouping added to the seed reports with no edit.
with

countries as (

    select * from {{ ref('countries') }}

),

grouping_flags as (

    unpivot (
        select
            country_code,
            columns('^is_')
        from countries
    )
    on columns('^is_')
    into name flag_name value is_member

),

groupings as (

    select
        country_code,
        'grouping' as group_type,
        regexp_replace(flag_name, '^is_', '') as group_name
    from grouping_flags
    where is_member

),

regions as (

    select
        country_code,
        'un_region' as group_type,
        un_region as group_name
    from countries
    where un_region is not null

),

unioned as (

    select * from regions
    union all
    select * from groupings

),

final as (

    select
        group_type || '|' || group_name || '|' || country_code as country_group_id,
        country_code,
        group_type,
        group_name
    from unioned

)

select * from final
