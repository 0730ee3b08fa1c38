-- Reports every free-text country spelling that neither an alias nor exactly one pattern
-- recognised. Such values stay in the marts with a null country code (never dropped); the fix is
-- an alias in scripts/generate_country_seeds.py or a correction at the source. A warning, so one
-- new spelling from a partner does not stop the daily refresh.
{{ config(severity='warn') }}

with

country_texts as (

    select * from {{ ref('int_country_texts_normalised') }}

)

select
    country_raw,
    country_text_normalised
from country_texts
where country_code is null
