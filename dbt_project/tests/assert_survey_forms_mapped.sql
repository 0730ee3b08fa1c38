-- Every survey form that delivered responses must be listed in the configuration
-- (`surveys.<source>.forms`, var survey_forms) with a form key that survey_item_map holds, or
-- as "(none)" (deliberately not an outcome survey). Form ids are minted by each server, so a
-- new deployment, a new form or a redeployed one lands here instead of vanishing from the
-- outcome figures. One row per problem form: the source, the form id and title, how many
-- responses it holds and what to do.
with

kobo_submissions as (

    select * from {{ ref('stg_kobotoolbox__submissions') }}

),

kobo_assets as (

    select * from {{ ref('stg_kobotoolbox__assets') }}

),

limesurvey_responses as (

    select * from {{ ref('stg_limesurvey__responses') }}

),

limesurvey_surveys as (

    select * from {{ ref('stg_limesurvey__surveys') }}

),

item_map as (

    select * from {{ ref('survey_item_map') }}

),

configured_forms as (

    {{ configured_survey_forms() }}

),

kobo_forms as (

    select
        kobo_submissions.source_instance,
        'kobotoolbox' as survey_system,
        kobo_submissions.form_uid as form_id,
        max(kobo_assets.form_name) as form_title,
        count(*) as response_count
    from kobo_submissions
    left join kobo_assets
        on
            kobo_submissions.source_instance = kobo_assets.source_instance
            and kobo_submissions.form_uid = kobo_assets.form_uid
    group by kobo_submissions.source_instance, kobo_submissions.form_uid

),

limesurvey_forms as (

    select
        limesurvey_responses.source_instance,
        'limesurvey' as survey_system,
        cast(limesurvey_responses.survey_id as varchar) as form_id,
        max(limesurvey_surveys.survey_title) as form_title,
        count(*) as response_count
    from limesurvey_responses
    left join limesurvey_surveys
        on
            limesurvey_responses.source_instance = limesurvey_surveys.source_instance
            and limesurvey_responses.survey_id = limesurvey_surveys.survey_id
    group by limesurvey_responses.source_instance, limesurvey_responses.survey_id

),

forms_with_responses as (

    select * from kobo_forms
    union all
    select * from limesurvey_forms

),

known_keys as (

    select distinct
        system as survey_system,
        form_key
    from item_map

),

checked as (

    select
        forms_with_responses.*,
        configured_forms.form_key,
        case
            when configured_forms.form_key is null
                then
                    'not listed under surveys.' || forms_with_responses.source_instance
                    || '.forms in the configuration: add it with its survey_item_map form key, '
                    || 'or (none) if it is not an outcome survey'
            when configured_forms.form_key != '(none)' and known_keys.form_key is null
                then
                    'form key ' || configured_forms.form_key || ' has no rows in survey_item_map '
                    || 'for ' || forms_with_responses.survey_system
        end as problem
    from forms_with_responses
    left join configured_forms
        on
            forms_with_responses.source_instance = configured_forms.source_instance
            and forms_with_responses.survey_system = configured_forms.survey_system
            and forms_with_responses.form_id = configured_forms.form_id
    left join known_keys
        on
            configured_forms.survey_system = known_keys.survey_system
            and configured_forms.form_key = known_keys.form_key

),

final as (

    select
        source_instance,
        survey_system,
        form_id,
        form_title,
        response_count,
        form_key,
        problem
    from checked
    where problem is not null

)

select * from final
