-- Expert pool activation, one row per reference date: 31 December of every year with activities
-- before the latest one, and the latest activity start date in the data (is_latest_reference;
-- never now(), so the figures are reproducible). Experts in pool = joined on or before the
-- reference date; deployed = in the pool and deployed to an activity starting in the 12 months up
-- to the reference date, i.e. in (reference_date - 12 months, reference_date].
with

activities as (

    select * from {{ ref('dim_activity') }}

),

experts as (

    select * from {{ ref('dim_expert') }}

),

deployments as (

    select * from {{ ref('fct_expert_deployment') }}

),

activity_range as (

    select
        min(start_date) as first_activity_date,
        max(start_date) as latest_activity_date
    from activities

),

year_end_dates as (

    select
        make_date(
            cast(unnest(range(year(first_activity_date), year(latest_activity_date))) as bigint),
            12,
            31
        ) as reference_date,
        false as is_latest_reference
    from activity_range

),

reference_dates as (

    select * from year_end_dates

    union all

    select
        latest_activity_date as reference_date,
        true as is_latest_reference
    from activity_range
    where latest_activity_date is not null

),

pool_sizes as (

    select
        reference_dates.reference_date,
        count(*) as experts_in_pool
    from reference_dates
    inner join experts
        on reference_dates.reference_date >= experts.joined_date
    group by reference_dates.reference_date

),

deployed_counts as (

    select
        reference_dates.reference_date,
        count(distinct deployments.expert_id) as experts_deployed_12_months
    from reference_dates
    inner join deployments
        on
            reference_dates.reference_date >= deployments.activity_start_date
            and reference_dates.reference_date - interval 12 month
            < deployments.activity_start_date
    inner join experts
        on
            deployments.expert_id = experts.expert_id
            and reference_dates.reference_date >= experts.joined_date
    group by reference_dates.reference_date

),

final as (

    select
        reference_dates.reference_date,
        reference_dates.is_latest_reference,
        cast(reference_dates.reference_date - interval 12 month as date) as window_start_date,
        coalesce(pool_sizes.experts_in_pool, 0) as experts_in_pool,
        coalesce(deployed_counts.experts_deployed_12_months, 0) as experts_deployed_12_months,
        cast(
            coalesce(deployed_counts.experts_deployed_12_months, 0)
            / nullif(pool_sizes.experts_in_pool, 0)
            as double
        ) as activation_share
    from reference_dates
    left join pool_sizes
        on reference_dates.reference_date = pool_sizes.reference_date
    left join deployed_counts
        on reference_dates.reference_date = deployed_counts.reference_date

)

select * from final
