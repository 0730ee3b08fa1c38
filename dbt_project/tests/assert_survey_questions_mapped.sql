-- Every answered question of a mapped survey form (a form with at least one survey_item_map row)
-- must be in the item map, as a measure or explicitly as `(none)`: a question a partner added or
-- renamed is reported here instead of being silently left out of the outcome figures.
-- Add the reported questions to seeds/survey_item_map.csv. The rule is int_survey_questions_unmapped.
select * from {{ ref('int_survey_questions_unmapped') }}
