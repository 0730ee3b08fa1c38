-- Every answered question of an outcome form (a form the configuration gives an item-map form
-- key, see assert_survey_forms_mapped) must be in the item map, as a measure or explicitly as
-- `(none)`: a question a partner added or renamed is reported here instead of being silently
-- left out of the outcome figures. Add the reported questions to seeds/survey_item_map.csv.
-- The rule is int_survey_questions_unmapped.
select * from {{ ref('int_survey_questions_unmapped') }}
