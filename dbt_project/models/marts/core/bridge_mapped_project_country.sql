-- One row per mapped project and country it names (recognised countries only). Joined with
-- bridge_activity_country on country_code it shows mapped projects beside the programme's own
-- activities in each country.
with

project_countries as (

    select * from {{ ref('int_mapped_project_countries_unnested') }}

),

final as (

    select
        mapped_project_country_id,
        mapped_project_id,
        country_code
    from project_countries

)

select * from final
