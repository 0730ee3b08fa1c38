"""Deterministic KoboToolbox demo data derived from the pretix demo dataset.

The programme's partners run their surveys on KoboToolbox. The forms (``assets``) and their
submissions are derived from the :class:`~simulator.pretix_data.PretixDataset` the simulator
already serves, so survey answers point at real activities and real attendees:

* **Post-activity evaluation** (two deployed versions: v2 renamed ``evaluation/satisfaction`` to
  ``evaluation/overall_satisfaction`` and added ``evaluation/pace``), answered within ten days
  of an activity by 30-50 % of the checked-in attendees of about 45 % of the activities;
* **Follow-up survey** 90-180 days after trainings, workshops, exercises, study visits and
  advisory missions (skills applied, organisational change);
* **Partner needs assessment** collected at workshops, advisory missions and rapid-assistance
  missions, with a repeat group of support requests;
* a survey never deployed (a draft: listed, no data) and a question-library block (not a survey).

Every submission carries the activity code (the pretix event slug) in ``activity/activity_code``
and the respondent's email, as typed, in ``respondent/email`` (the extractor pseudonymises it);
evaluations sometimes carry the pretix order code and the respondent's name. Answers are strings
(Likert "1".."5", select-multiple as space-separated choice names), unanswered questions are
absent, as the KoboToolbox data endpoint returns them. Nothing is submitted after
:data:`DATA_AS_OF`, so every ``_submission_time`` is in the past of any live submission.

Everything derives from ``random.Random`` seeded with the pretix seed and fixed dates, never the
wall clock: two generations from the same dataset are identical.
"""

from __future__ import annotations

from simulator.kobo_forms import CHOICE_LISTS, demo_assets
from simulator.kobo_model import (
    METADATA_KEYS,
    NON_ANSWER_KEYS,
    OWNER,
    FormVersion,
    KoboAsset,
    KoboDataset,
    Question,
    is_answer_key,
    kobo_uid,
    render_submission,
)
from simulator.kobo_submissions import DATA_AS_OF, ENUMERATOR, SubmissionGenerator
from simulator.pretix_data import PretixDataset

# The public entry point: the records live in kobo_model, the forms in kobo_forms and the
# submissions' generator in kobo_submissions.
__all__ = [
    "CHOICE_LISTS",
    "DATA_AS_OF",
    "ENUMERATOR",
    "METADATA_KEYS",
    "NON_ANSWER_KEYS",
    "OWNER",
    "FormVersion",
    "KoboAsset",
    "KoboDataset",
    "Question",
    "generate",
    "is_answer_key",
    "kobo_uid",
    "render_submission",
]


def generate(dataset: PretixDataset) -> KoboDataset:
    """The KoboToolbox server's data for the given pretix demo data; identical for identical input."""
    assets = demo_assets(dataset.seed)
    generator = SubmissionGenerator(dataset, assets)
    generator.run()
    next_id = generator.finish()
    return KoboDataset(OWNER, assets, next_id)
