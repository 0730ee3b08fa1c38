{#- How staging reads the loader's append-only raw tables (docs/contracts.md). -#}

{#- Incremental streams: the current version of each record is the latest row per
    (source_instance, record_key), by batch then line. -#}
{% macro latest_per_key(relation) %}
    select *
    from {{ relation }}
    qualify
        row_number() over (
            partition by source_instance, record_key
            order by batch_id desc, line_number desc
        ) = 1
{% endmacro %}

{#- Snapshot streams: only what the latest batch of each source instance holds (an unchanged
    snapshot is never landed again; a record missing from it was deleted at the source). -#}
{% macro latest_snapshot(relation) %}
    select *
    from {{ relation }}
    qualify
        batch_id = max(batch_id) over (partition by source_instance)
        and row_number() over (
            partition by source_instance, record_key
            order by batch_id desc, line_number desc
        ) = 1
{% endmacro %}

{#- An incremental base model's filter: on an incremental run, only the keys that have a row
    loaded since the model's newest row, with all of each such key's rows, so latest_per_key
    picks exactly what a full refresh would. Strictly since: a batch's rows share one loaded_at
    (the loader's transaction time), and loads and dbt never overlap (both hold the writer slot),
    so every row at or before the newest one built was loaded before the last build and is in
    it. (`>=` re-derived the whole last load each time: after a first load of 100x the
    programme, 129 s of every refresh.) A first build, `--full-refresh` and an erasure (which
    deletes and rewrites raw rows in place) read everything; so must a build after the machine's
    clock was set back past the last load. -#}
{% macro only_keys_loaded_since_last_build(relation, alias) %}
    {%- if is_incremental() %}
    where exists (
        select 1
        from {{ relation }} as loaded_since
        where
            loaded_since.source_instance = {{ alias }}.source_instance
            and loaded_since.record_key = {{ alias }}.record_key
            and loaded_since.loaded_at > {{ newest_built('loaded_at') }}
    )
    {%- endif %}
{% endmacro %}

{#- A model derived from an incremental base model, record by record: on an incremental run, only
    the rows of `column` after the newest `built_column` already built (strictly, as above). -#}
{% macro only_loaded_since_last_build(column, built_column) %}
    {%- if is_incremental() %}
    where {{ column }} > {{ newest_built(built_column) }}
    {%- endif %}
{% endmacro %}

{#- The incremental watermark: the newest `column` the model already holds (-infinity when it is
    empty, so that rows loaded into an empty model are never skipped). -#}
{% macro newest_built(column) -%}
    (select coalesce(max(built.{{ column }}), '-infinity'::timestamptz) from {{ this }} as built)
{%- endmacro %}
