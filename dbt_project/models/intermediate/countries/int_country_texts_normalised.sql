-- One row per distinct free-text country spelling found in the pretix records (event host and
-- beneficiary countries, attendee country answers) and the registry files (experts' home
-- countries, stakeholders' countries, mapped projects' countries, assistance requesters'
-- countries), with the country it names. Matching: the
-- normalised text against the alias seed first; failing that, country_converter's patterns when
-- exactly one matches. Spellings that match nothing are kept with a null country_code.
with

events as (

    select * from {{ ref('stg_pretix__events') }}

),

order_positions as (

    select * from {{ ref('stg_pretix__order_positions') }}

),

experts as (

    select * from {{ ref('stg_registry__experts') }}

),

stakeholders as (

    select * from {{ ref('stg_registry__stakeholders') }}

),

mapped_projects as (

    select * from {{ ref('stg_registry__mapped_projects') }}

),

assistance_requests as (

    select * from {{ ref('stg_registry__assistance_requests') }}

),

country_aliases as (

    select * from {{ ref('country_aliases') }}

),

country_patterns as (

    select * from {{ ref('country_patterns') }}

),

beneficiary_lists as (

    select string_split(beneficiary_countries_raw, ';') as country_list
    from events
    where beneficiary_countries_raw is not null

),

country_texts as (

    select host_country_raw as country_raw
    from events
    where host_country_raw is not null

    union

    select trim(unnest(country_list)) as country_raw
    from beneficiary_lists

    union

    select country_raw
    from order_positions
    where country_raw is not null

    union

    select home_country_raw as country_raw
    from experts
    where home_country_raw is not null

    union

    select country_raw
    from stakeholders
    where country_raw is not null

    union

    select trim(unnest(countries_raw)) as country_raw
    from mapped_projects
    where countries_raw is not null

    union

    select requester_country_raw as country_raw
    from assistance_requests
    where requester_country_raw is not null

),

normalised as (

    select
        country_raw,
        {{ normalise_country_text('country_raw') }} as country_text_normalised
    from country_texts
    where nullif(trim(country_raw), '') is not null

),

alias_matches as (

    select
        normalised.country_raw,
        normalised.country_text_normalised,
        country_aliases.country_code
    from normalised
    left join country_aliases
        on normalised.country_text_normalised = country_aliases.alias_normalised

),

pattern_matches as (

    select
        alias_matches.country_raw,
        min(country_patterns.country_code) as country_code
    from alias_matches
    inner join country_patterns
        on regexp_matches(alias_matches.country_text_normalised, country_patterns.pattern, 'i')
    where alias_matches.country_code is null
    group by alias_matches.country_raw
    having count(distinct country_patterns.country_code) = 1

),

final as (

    select
        alias_matches.country_raw,
        alias_matches.country_text_normalised,
        coalesce(alias_matches.country_code, pattern_matches.country_code) as country_code,
        case
            when alias_matches.country_code is not null then 'alias'
            when pattern_matches.country_code is not null then 'pattern'
        end as match_method
    from alias_matches
    left join pattern_matches
        on alias_matches.country_raw = pattern_matches.country_raw

)

select * from final
