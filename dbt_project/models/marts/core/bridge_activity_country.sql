-- One row per non-testmode activity, country and role (host or beneficiary), with the country
-- code normalised; spellings naming no known country are left out (dim_activity counts them).
with

activity_countries as (

    select * from {{ ref('int_activity_countries_unioned') }}

),

distinct_roles as (

    select distinct
        activity_id,
        country_code,
        country_role
    from activity_countries
    where country_code is not null

),

final as (

    select
        activity_id || '|' || country_role || '|' || country_code as activity_country_id,
        activity_id,
        country_code,
        country_role
    from distinct_roles

)

select * from final
