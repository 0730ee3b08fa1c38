"""The `surveys:` configuration for the simulator's forms on a given seed, as a data engineer
writes it for a real server: each form's own id (KoboToolbox asset uid, LimeSurvey sid) to the
survey_item_map form key its questions use, or "(none)" for forms that are not outcome surveys."""

from __future__ import annotations

from typing import Any

from simulator import kobo_forms, limesurvey_data, pretix_data

# The simulator's forms by title (titles are the same on every seed; uids are not).
KOBO_FORM_KEYS = {
    "Post-activity evaluation": "kobo_post_activity",
    "Follow-up survey (3-6 months after the activity)": "kobo_follow_up",
}
LIMESURVEY_FORM_KEYS = {
    limesurvey_data.EVALUATION_SID: "limesurvey_post_activity_es",
    limesurvey_data.FOLLOW_UP_SID: "limesurvey_follow_up_en",
    limesurvey_data.NEEDS_SID: "(none)",
    limesurvey_data.DRAFT_SID: "(none)",
}


def kobo_forms_for(seed: int = pretix_data.DEFAULT_SEED) -> dict[str, str]:
    return {asset.uid: KOBO_FORM_KEYS.get(asset.name, "(none)") for asset in kobo_forms.demo_assets(seed)}


def simulator_surveys(
    seed: int = pretix_data.DEFAULT_SEED, *, kobo: str | None = None, limesurvey: str | None = None
) -> dict[str, Any]:
    """The `surveys` section for the named Kobo and LimeSurvey sources of a simulator on `seed`."""
    surveys: dict[str, Any] = {}
    if kobo:
        surveys[kobo] = {"forms": kobo_forms_for(seed)}
    if limesurvey:
        surveys[limesurvey] = {"forms": {str(sid): key for sid, key in LIMESURVEY_FORM_KEYS.items()}}
    return surveys
