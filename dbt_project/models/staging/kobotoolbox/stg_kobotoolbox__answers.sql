-- One row per submission and answered question (current submission versions): the submission
-- unpivoted by question path. Metadata keys are left out: those starting with `_`, `meta/...`,
-- `__version__`, `start`, `end` and `formhub/uuid`. A repeat group (a list of objects) gives one
-- row per item and question, with the item's 1-based `repeat_index` and the group's path; a
-- repeat nested inside a repeat item stays one row holding its JSON text.
with

submissions as (

    select * from {{ ref('base_kobotoolbox__submissions_current') }}

),

top_level as (

    select
        submissions.source_instance,
        submissions.record_key,
        submissions.record ->> '_xform_id_string' as form_uid,
        submissions.record ->> '__version__' as form_version_id,
        entries.key as question_path,
        entries.value as answer_value,
        entries.type as answer_type
    from submissions
    cross join json_each(submissions.record) as entries
    where
        not starts_with(entries.key, '_')
        and not starts_with(entries.key, 'meta/')
        and entries.key not in ('__version__', 'start', 'end', 'formhub/uuid')

),

plain_answers as (

    select
        source_instance,
        record_key,
        form_uid,
        form_version_id,
        question_path,
        try_cast(null as varchar) as repeat_group_path,
        try_cast(null as integer) as repeat_index,
        answer_value,
        answer_type
    from top_level
    where answer_type != 'ARRAY'

),

repeat_items as (

    select
        top_level.source_instance,
        top_level.record_key,
        top_level.form_uid,
        top_level.form_version_id,
        top_level.question_path as repeat_group_path,
        try_cast(items.key as integer) + 1 as repeat_index,
        items.value as item
    from top_level
    cross join json_each(top_level.answer_value) as items
    where top_level.answer_type = 'ARRAY'

),

repeat_answers as (

    select
        repeat_items.source_instance,
        repeat_items.record_key,
        repeat_items.form_uid,
        repeat_items.form_version_id,
        entries.key as question_path,
        repeat_items.repeat_group_path,
        repeat_items.repeat_index,
        entries.value as answer_value,
        entries.type as answer_type
    from repeat_items
    cross join json_each(repeat_items.item) as entries

),

unioned as (

    select * from plain_answers
    union all
    select * from repeat_answers

),

renamed as (

    select
        source_instance
        || ':' || record_key
        || ':' || question_path
        || coalesce('[' || repeat_index || ']', '') as answer_id,
        source_instance || ':' || record_key as submission_id,
        source_instance,
        form_uid,
        form_version_id,
        question_path,
        regexp_extract(question_path, '[^/]+$') as question_name,
        nullif(regexp_extract(question_path, '^(.*)/[^/]+$', 1), '') as group_path,
        repeat_group_path,
        repeat_index,
        case
            when answer_type = 'VARCHAR' then answer_value ->> '$'
            when answer_type = 'NULL' then null
            else try_cast(answer_value as varchar)
        end as answer_text
    from unioned

)

select * from renamed
