-- One row per mapped project and distinct country it names: each entry of the project's country
-- list resolved through int_country_texts_normalised. Entries naming no known country are left
-- out; a country listed twice counts once.
with

mapped_projects as (

    select * from {{ ref('stg_registry__mapped_projects') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

mentions as (

    select
        mapped_project_id,
        trim(unnest(countries_raw)) as country_raw
    from mapped_projects
    where countries_raw is not null

),

resolved as (

    select distinct
        mentions.mapped_project_id,
        country_texts.country_code
    from mentions
    inner join country_texts
        on mentions.country_raw = country_texts.country_raw
    where country_texts.country_code is not null

),

final as (

    select
        mapped_project_id || '|' || country_code as mapped_project_country_id,
        mapped_project_id,
        country_code
    from resolved

)

select * from final
