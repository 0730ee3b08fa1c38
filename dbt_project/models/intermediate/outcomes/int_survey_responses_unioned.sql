-- One row per survey response about an activity, from KoboToolbox and LimeSurvey, for the forms
-- the configuration lists with an item-map form key (`surveys.<source>.forms`, var survey_forms;
-- forms listed as "(none)", such as needs assessments, are not outcome forms). A form that
-- delivered responses and is not listed fails tests/assert_survey_forms_mapped.sql, so nothing
-- is left out unannounced. KoboToolbox submissions a reviewer marked "not approved" are left out.
-- The activity is matched on the pretix event slug the response carries (case-insensitive),
-- among non-testmode events (the rows and activity_id of dim_activity). Assumption: a slug is
-- unique across the configured pretix instances; when several instances hold the same slug the
-- response cannot tell them apart and stays unlinked (activity_match_count > 1) rather than being
-- given to one of them.
with

kobo_submissions as (

    select * from {{ ref('stg_kobotoolbox__submissions') }}

),

limesurvey_responses as (

    select * from {{ ref('stg_limesurvey__responses') }}

),

events as (

    select * from {{ ref('stg_pretix__events') }}

),

item_map as (

    select * from {{ ref('survey_item_map') }}

),

configured_forms as (

    {{ configured_survey_forms() }}

),

form_kinds as (

    select
        system as survey_system,
        form_key,
        max(form_kind) as form_kind
    from item_map
    group by system, form_key

),

outcome_forms as (

    select
        configured_forms.source_instance,
        configured_forms.survey_system,
        configured_forms.form_id,
        configured_forms.form_key,
        form_kinds.form_kind
    from configured_forms
    inner join form_kinds
        on
            configured_forms.survey_system = form_kinds.survey_system
            and configured_forms.form_key = form_kinds.form_key

),

kobo_responses as (

    select
        submission_id as survey_response_id,
        'kobotoolbox' as survey_system,
        source_instance,
        form_uid as form_id,
        form_version_id,
        lower(activity_code) as activity_code,
        respondent_email_pseudonym as person_key,
        submitted_at,
        true as is_complete
    from kobo_submissions
    where validation_status != 'validation_status_not_approved'

),

limesurvey_responses_renamed as (

    select
        response_key as survey_response_id,
        'limesurvey' as survey_system,
        source_instance,
        cast(survey_id as varchar) as form_id,
        cast(null as varchar) as form_version_id,
        lower(activity_code) as activity_code,
        respondent_pseudonym as person_key,
        -- LimeSurvey stores server-local wall-clock times: read in the server's time zone
        timezone(
            {{ limesurvey_server_timezone('source_instance') }},
            coalesce(submitted_at_local, last_action_at_local, started_at_local)
        ) as submitted_at,
        is_complete
    from limesurvey_responses

),

unioned as (

    select * from kobo_responses
    union all
    select * from limesurvey_responses_renamed

),

slug_matches as (

    select
        lower(event_slug) as activity_code,
        count(*) as activity_match_count,
        min(activity_id) as activity_id
    from events
    where not is_testmode
    group by lower(event_slug)

),

final as (

    select
        unioned.survey_response_id,
        unioned.survey_system,
        unioned.source_instance,
        unioned.form_id,
        unioned.form_version_id,
        outcome_forms.form_key,
        outcome_forms.form_kind,
        outcome_forms.form_kind = 'follow_up' as is_follow_up,
        unioned.activity_code,
        case
            when slug_matches.activity_match_count = 1 then slug_matches.activity_id
        end as activity_id,
        coalesce(slug_matches.activity_match_count, 0) as activity_match_count,
        unioned.person_key,
        unioned.submitted_at,
        unioned.is_complete
    from unioned
    inner join outcome_forms
        on
            unioned.source_instance = outcome_forms.source_instance
            and unioned.survey_system = outcome_forms.survey_system
            and unioned.form_id = outcome_forms.form_id
    left join slug_matches
        on unioned.activity_code = slug_matches.activity_code

)

select * from final
