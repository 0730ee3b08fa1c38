-- The item map must give one form kind per form, one Kirkpatrick level per measure, and one
-- scale, direction and threshold per form and measure (items of one measure in one form are
-- averaged per response). Returns the offending forms and measures.
with

item_map as (

    select * from {{ ref('survey_item_map') }}

),

measure_items as (

    select * from item_map
    where measure != '(none)'

),

form_kinds as (

    select
        system as survey_system,
        form_key,
        cast(null as varchar) as measure,
        'several form kinds' as issue
    from item_map
    group by system, form_key
    having count(distinct form_kind) > 1

),

measure_levels as (

    select
        cast(null as varchar) as survey_system,
        cast(null as varchar) as form_key,
        measure,
        'several kirkpatrick levels' as issue
    from measure_items
    group by measure
    having count(distinct kirkpatrick_level) > 1

),

form_measure_scales as (

    select
        system as survey_system,
        form_key,
        measure,
        'several scales, directions or thresholds' as issue
    from measure_items
    group by system, form_key, measure
    having
        count(distinct scale_min) > 1
        or count(distinct scale_max) > 1
        or count(distinct direction) > 1
        or count(distinct favourable_threshold) > 1

),

incomplete_items as (

    select
        system as survey_system,
        form_key,
        measure,
        'measure without level, scale, direction or threshold' as issue
    from measure_items
    where
        kirkpatrick_level is null
        or scale_min is null
        or scale_max is null
        or direction is null
        or favourable_threshold is null
        or answer_coding = 'none'

),

problems as (

    select * from form_kinds
    union all
    select * from measure_levels
    union all
    select * from form_measure_scales
    union all
    select * from incomplete_items

)

select * from problems
