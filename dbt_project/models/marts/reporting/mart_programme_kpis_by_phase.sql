-- The headline figures per phase plus an `all` row, in the shape the command line's KPI table and
-- the published report print (phase first): the phase and `all` rows of mart_programme_kpis,
-- with the expert pool and the stakeholder network as they stood at the end of the phase.
with

kpis as (

    select * from {{ ref('mart_programme_kpis') }}

),

final as (

    select
        dimension_value as phase,
        activities,
        attendances,
        participants,
        countries_engaged,
        experts_in_pool,
        stakeholders_in_network,
        first_activity_date,
        last_activity_date
    from kpis
    where dimension in ('phase', 'all')

)

select * from final
