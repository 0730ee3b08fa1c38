"""The demo KoboToolbox forms: their choice lists, questions, deployed versions and assets."""

from __future__ import annotations

from datetime import UTC, datetime

from simulator.kobo_model import FormVersion, KoboAsset, Question, kobo_uid, stable_uuid

LIKERT = [(str(n), label) for n, label in enumerate(("Very poor", "Poor", "Fair", "Good", "Excellent"), 1)]
KNOWLEDGE = [(str(n), label) for n, label in enumerate(("None", "Basic", "Moderate", "Good", "Expert"), 1)]
YES_NO = [("yes", "Yes"), ("no", "No")]
TOPICS = [
    ("incident_response", "Incident response"),
    ("cybercrime", "Cybercrime investigation"),
    ("diplomacy", "Cyber diplomacy"),
    ("cip", "Critical infrastructure protection"),
    ("strategy", "National cyber strategy"),
    ("threat_intel", "Threat intelligence sharing"),
    ("forensics", "Digital forensics"),
    ("crisis_management", "Cyber crisis management"),
]
PACE = [("too_slow", "Too slow"), ("right", "About right"), ("too_fast", "Too fast")]
APPLIED = [("yes", "Yes"), ("partly", "Partly"), ("no", "No")]
APPLICATION_AREAS = [
    ("incident_handling", "Handling incidents"),
    ("policy_drafting", "Drafting policy or legislation"),
    ("training_colleagues", "Training colleagues"),
    ("international_cooperation", "International cooperation"),
    ("tooling", "Introducing tools or procedures"),
]
SECTORS = [
    ("csirt", "National CSIRT/CERT"),
    ("ministry", "Ministry or government department"),
    ("law_enforcement", "Law enforcement or judiciary"),
    ("regulator", "Regulator or supervisory authority"),
    ("regional_organisation", "Regional or international organisation"),
    ("academia", "Academia or research"),
    ("private_sector", "Private sector"),
    ("civil_society", "Civil society"),
    ("eu_institution", "EU institution or Member State agency"),
    ("competence_centre", "Cyber competence centre"),
    ("other", "Other"),
]
FORMATS = [
    ("training", "Training"),
    ("workshop", "Workshop"),
    ("advisory_mission", "Advisory mission"),
    ("study_visit", "Study visit"),
    ("webinar", "Webinar"),
]
URGENCY = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
CHOICE_LISTS: dict[str, list[tuple[str, str]]] = {
    "likert5": LIKERT,
    "knowledge5": KNOWLEDGE,
    "yes_no": YES_NO,
    "topics": TOPICS,
    "pace": PACE,
    "applied": APPLIED,
    "application_areas": APPLICATION_AREAS,
    "sectors": SECTORS,
    "formats": FORMATS,
    "urgency": URGENCY,
}


_IDENTITY = (
    Question("activity/activity_code", "text", "Activity code (on your invitation)", True),
    Question("activity/order_code", "text", "Registration code (optional)"),
    Question("respondent/email", "text", "Your email"),
)
_EVALUATION_COMMON = (
    Question("evaluation/relevance", "select_one likert5", "Relevance to your work", True),
    Question("evaluation/would_recommend", "select_one yes_no", "Would you recommend it?", True),
    Question("evaluation/most_useful_topics", "select_multiple topics", "Which topics were most useful?"),
    Question("learning/knowledge_before", "select_one knowledge5", "Knowledge before", True),
    Question("learning/knowledge_after", "select_one knowledge5", "Knowledge after", True),
    Question("comments/improvements", "text", "What should we improve?"),
)


def _evaluation_versions(asset_uid: str) -> list[FormVersion]:
    v1 = (
        *_IDENTITY,
        Question("respondent/name", "text", "Your name (optional)"),
        Question("evaluation/satisfaction", "select_one likert5", "Overall, how satisfied are you?", True),
        *_EVALUATION_COMMON,
    )
    v2 = (
        *_IDENTITY,
        Question("respondent/name", "text", "Your name (optional)"),
        Question("evaluation/overall_satisfaction", "select_one likert5", "Overall satisfaction", True),
        Question("evaluation/pace", "select_one pace", "The pace of the activity was"),
        *_EVALUATION_COMMON,
    )
    return [
        FormVersion(kobo_uid("v", asset_uid, 1), datetime(2019, 1, 7, 9, 30, tzinfo=UTC), v1),
        FormVersion(kobo_uid("v", asset_uid, 2), datetime(2023, 1, 9, 8, 0, tzinfo=UTC), v2),
    ]


def _follow_up_version(asset_uid: str) -> FormVersion:
    questions = (
        Question("activity/activity_code", "text", "Activity code", True),
        Question("respondent/email", "text", "Your email", True),
        Question("followup/skills_applied", "select_one applied", "Have you applied what you learned?", True),
        Question("followup/application_areas", "select_multiple application_areas", "Where applied"),
        Question("followup/knowledge_retained", "select_one knowledge5", "Knowledge today", True),
        Question(
            "outcomes/organisational_change", "select_one yes_no", "Organisation changed a practice", True
        ),
        Question("outcomes/change_description", "text", "Describe the change"),
        Question("outcomes/colleagues_trained", "integer", "How many colleagues did you pass it on to?"),
    )
    return FormVersion(kobo_uid("v", asset_uid, 1), datetime(2019, 3, 4, 10, 0, tzinfo=UTC), questions)


def _needs_version(asset_uid: str) -> FormVersion:
    questions = (
        Question("activity/activity_code", "text", "Activity where this assessment was made", True),
        Question("respondent/email", "text", "Focal point email", True),
        Question("respondent/role", "text", "Focal point role"),
        Question("organisation/name", "text", "Organisation", True),
        Question("organisation/country", "text", "Country", True),
        Question("organisation/sector", "select_one sectors", "Sector", True),
        Question("maturity/incident_response", "select_one likert5", "Incident response capability", True),
        Question("maturity/cybercrime", "select_one likert5", "Cybercrime capability", True),
        Question("maturity/strategy", "select_one likert5", "Strategy and governance", True),
        Question("priorities/areas", "select_multiple topics", "Priority areas for support", True),
    )
    repeat = (
        Question("support_requests/topic", "select_one topics", "Topic", True),
        Question("support_requests/preferred_format", "select_one formats", "Preferred format", True),
        Question("support_requests/urgency", "select_one urgency", "Urgency", True),
    )
    deployed = datetime(2019, 1, 2, 11, 0, tzinfo=UTC)
    return FormVersion(kobo_uid("v", asset_uid, 1), deployed, questions, "support_requests", repeat)


def demo_assets(seed: int) -> list[KoboAsset]:
    """The server's assets in listing order: the three surveys with data first, then a draft and a block."""

    def uid(label: str) -> str:
        return kobo_uid("a", "kobo", seed, label)

    evaluation, follow_up, needs = uid("evaluation"), uid("follow-up"), uid("needs")
    draft, block = uid("alumni"), uid("block")
    return [
        KoboAsset(
            evaluation,
            "Post-activity evaluation",
            "survey",
            datetime(2019, 1, 4, 15, 12, tzinfo=UTC),
            _evaluation_versions(evaluation),
            stable_uuid("formhub", evaluation).replace("-", ""),
        ),
        KoboAsset(
            follow_up,
            "Follow-up survey (3-6 months after the activity)",
            "survey",
            datetime(2019, 2, 25, 9, 41, tzinfo=UTC),
            [_follow_up_version(follow_up)],
            stable_uuid("formhub", follow_up).replace("-", ""),
        ),
        KoboAsset(
            needs,
            "Partner needs assessment",
            "survey",
            datetime(2018, 12, 18, 14, 5, tzinfo=UTC),
            [_needs_version(needs)],
            stable_uuid("formhub", needs).replace("-", ""),
        ),
        KoboAsset(
            draft,
            "Alumni network survey (draft)",
            "survey",
            datetime(2026, 9, 14, 8, 20, tzinfo=UTC),
            [FormVersion(kobo_uid("v", draft, 1), datetime(2026, 9, 14, 8, 25, tzinfo=UTC), _IDENTITY)],
            stable_uuid("formhub", draft).replace("-", ""),
            has_deployment=False,
        ),
        KoboAsset(
            block,
            "Standard respondent questions",
            "block",
            datetime(2019, 1, 3, 10, 0, tzinfo=UTC),
            [FormVersion(kobo_uid("v", block, 1), datetime(2019, 1, 3, 10, 0, tzinfo=UTC), _IDENTITY)],
            stable_uuid("formhub", block).replace("-", ""),
            has_deployment=False,
        ),
    ]
