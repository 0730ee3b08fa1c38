{#-
    Normalise free-text country spellings before the alias lookup: strip accents, lower-case,
    collapse runs of whitespace to one space, trim. Must stay identical to
    normalise_country_text() in scripts/generate_country_seeds.py (tests/test_dbt_fixture.py
    checks that both agree on every alias).
-#}
{% macro normalise_country_text(expr) -%}
    nullif(trim(regexp_replace(lower(strip_accents({{ expr }})), '\s+', ' ', 'g')), '')
{%- endmacro %}
