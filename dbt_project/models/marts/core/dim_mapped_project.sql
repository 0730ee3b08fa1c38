-- One row per mapped EU or Member State cyber capacity-building project (current registry
-- version). Its countries, resolved, are in bridge_mapped_project_country.
with

mapped_projects as (

    select * from {{ ref('stg_registry__mapped_projects') }}

),

project_countries as (

    select * from {{ ref('int_mapped_project_countries_unnested') }}

),

country_counts as (

    select
        mapped_project_id,
        count(*) as country_count
    from project_countries
    group by mapped_project_id

),

final as (

    select
        mapped_projects.mapped_project_id,
        mapped_projects.project_code,
        mapped_projects.source_instance,
        mapped_projects.project_title,
        mapped_projects.funder,
        mapped_projects.implementer,
        mapped_projects.themes,
        mapped_projects.countries_raw,
        coalesce(country_counts.country_count, 0) as country_count,
        mapped_projects.start_date,
        mapped_projects.end_date,
        mapped_projects.budget_eur
    from mapped_projects
    left join country_counts
        on mapped_projects.mapped_project_id = country_counts.mapped_project_id

)

select * from final
