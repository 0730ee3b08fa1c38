-- One row per stakeholder organisation in the network (current registry version), with its
-- country resolved through the country normalisation.
with

stakeholders as (

    select * from {{ ref('stg_registry__stakeholders') }}

),

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

),

final as (

    select
        stakeholders.stakeholder_id,
        stakeholders.stakeholder_code,
        stakeholders.source_instance,
        stakeholders.organisation_name,
        stakeholders.stakeholder_type,
        country_texts.country_code,
        stakeholders.country_raw,
        stakeholders.joined_date
    from stakeholders
    left join country_texts
        on stakeholders.country_raw = country_texts.country_raw

)

select * from final
