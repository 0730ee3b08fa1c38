-- One row per country mention of a (non-testmode) activity: its host country and each entry of
-- its ';'-separated beneficiary list, with the country code the spelling resolves to (null when
-- unrecognised). Bridge-ready: an activity x country x role table once filtered on country_code.
with

events as (

    select * from {{ ref('stg_pretix__events') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

activities as (

    select
        activity_id,
        host_country_raw,
        string_split(beneficiary_countries_raw, ';') as beneficiary_list
    from events
    where not is_testmode

),

host_mentions as (

    select
        activity_id,
        'host' as country_role,
        1 as mention_number,
        host_country_raw as country_raw
    from activities
    where host_country_raw is not null

),

beneficiary_mentions as (

    select
        activity_id,
        'beneficiary' as country_role,
        generate_subscripts(beneficiary_list, 1) as mention_number,
        trim(unnest(beneficiary_list)) as country_raw
    from activities
    where beneficiary_list is not null

),

mentions as (

    select * from host_mentions
    union all
    select * from beneficiary_mentions

),

final as (

    select
        mentions.activity_id
        || ':' || mentions.country_role
        || ':' || mentions.mention_number as activity_country_id,
        mentions.activity_id,
        mentions.country_role,
        mentions.mention_number,
        mentions.country_raw,
        country_texts.country_code
    from mentions
    left join country_texts
        on mentions.country_raw = country_texts.country_raw
    where nullif(mentions.country_raw, '') is not null

)

select * from final
