{#- The survey forms the configuration lists (var survey_forms, from `surveys.<source>.forms`):
    one row per (source_instance, form_id) with the item-map form key it uses, or '(none)' for a
    form that is deliberately not an outcome survey. Form ids are minted by each server, so they
    live in the configuration, never in a seed. -#}
{% macro configured_survey_forms() %}
    {%- set forms = var('survey_forms') -%}
    {%- if forms is sequence and forms is not string and forms | length > 0 %}
    select * from (
        values
        {%- for form in forms %}
            (
                '{{ form["source_instance"] }}',
                '{{ form["system"] }}',
                '{{ form["form_id"] }}',
                '{{ form["form_key"] }}'
            ){{ "," if not loop.last }}
        {%- endfor %}
    ) as configured (source_instance, survey_system, form_id, form_key)
    {%- else %}
    select
        cast(null as varchar) as source_instance,
        cast(null as varchar) as survey_system,
        cast(null as varchar) as form_id,
        cast(null as varchar) as form_key
    where false
    {%- endif %}
{% endmacro %}

{#- The LimeSurvey server's time zone for each source (var limesurvey_server_timezones, from
    `surveys.<source>.server_timezone`); UTC for a source the configuration does not name. -#}
{% macro limesurvey_server_timezone(source_instance_column) %}
    {%- set zones = var('limesurvey_server_timezones') -%}
    {%- if zones is mapping and zones | length > 0 -%}
    case {{ source_instance_column }}
        {%- for source_name, zone in zones.items() %}
        when '{{ source_name }}' then '{{ zone }}'
        {%- endfor %}
        else 'UTC'
    end
    {%- else -%}
    'UTC'
    {%- endif -%}
{% endmacro %}
