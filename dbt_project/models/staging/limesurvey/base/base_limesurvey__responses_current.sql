-- The current version of every LimeSurvey response: responses is an incremental stream, so the
-- latest row per (source_instance, record_key) by batch_id desc, line_number desc wins
-- (docs/contracts.md; a response completed after a resume lands again under the same key).
-- A base model so that stg_limesurvey__responses and stg_limesurvey__answers read the responses
-- source through one model.
with

source as (

    select * from {{ source('limesurvey', 'responses') }}

),

current_versions as (

    {{ latest_per_key('source') }}

)

select * from current_versions
