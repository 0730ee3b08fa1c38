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
