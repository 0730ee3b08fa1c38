-- Stakeholder engagement, one row per stakeholder: a stakeholder is engaged in an activity when
-- its registry code is listed in the activity's `organisers` meta property (non-testmode
-- activities). Recency is measured against the latest activity start date in the data (never
-- now(), so the figures are reproducible).
with

stakeholders as (

    select * from {{ ref('dim_stakeholder') }}

),

engagements as (

    select * from {{ ref('int_stakeholder_engagements_unnested') }}

),

activities as (

    select * from {{ ref('dim_activity') }}

),

reference as (

    select max(start_date) as reference_date
    from activities

),

engagement_summary as (

    select
        stakeholder_id,
        count(distinct activity_id) as activities_engaged,
        count(distinct activity_id) filter (where phase = '1') as activities_engaged_phase_1,
        count(distinct activity_id) filter (where phase = '2') as activities_engaged_phase_2,
        min(activity_start_date) as first_engaged_date,
        max(activity_start_date) as last_engaged_date
    from engagements
    where stakeholder_id is not null
    group by stakeholder_id

),

final as (

    select
        stakeholders.stakeholder_id,
        stakeholders.stakeholder_code,
        stakeholders.organisation_name,
        stakeholders.stakeholder_type,
        stakeholders.country_code,
        coalesce(engagement_summary.activities_engaged, 0) as activities_engaged,
        coalesce(
            engagement_summary.activities_engaged_phase_1, 0
        ) as activities_engaged_phase_1,
        coalesce(
            engagement_summary.activities_engaged_phase_2, 0
        ) as activities_engaged_phase_2,
        engagement_summary.first_engaged_date,
        engagement_summary.last_engaged_date,
        reference.reference_date,
        cast(
            date_diff('day', engagement_summary.last_engaged_date, reference.reference_date)
            as integer
        ) as days_since_last_engagement,
        coalesce(engagement_summary.activities_engaged, 0) >= 3 as is_engaged_3_plus,
        not coalesce(
            engagement_summary.last_engaged_date
            > reference.reference_date - interval 12 month,
            false
        ) as is_dormant_12_months
    from stakeholders
    cross join reference
    left join engagement_summary
        on stakeholders.stakeholder_id = engagement_summary.stakeholder_id

)

select * from final
