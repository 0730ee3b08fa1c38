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

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.pretix_data import TZ, PretixDataset
from simulator.pretix_model import Person

OWNER = "ecccn_me"  # the programme's KoboToolbox account owning the forms
ENUMERATOR = "ecccn_field"  # the account needs assessments are collected with
DATA_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the server received nothing later than this
FIRST_SUBMISSION_ID = 41_000_001
UID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # KoboToolbox's uids

# The metadata keys every submission carries besides its answers (KoboToolbox API v2).
METADATA_KEYS = (
    "_id",
    "formhub/uuid",
    "start",
    "end",
    "__version__",
    "meta/instanceID",
    "_xform_id_string",
    "_uuid",
    "_attachments",
    "_status",
    "_geolocation",
    "_submission_time",
    "_tags",
    "_notes",
    "_validation_status",
    "_submitted_by",
)
VALIDATION_STATUSES = {
    "validation_status_approved": ("Approved", "#00ff00"),
    "validation_status_not_approved": ("Not Approved", "#ff0000"),
    "validation_status_on_hold": ("On Hold", "#0000ff"),
}

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
ROLES = ("Head of unit", "Analyst", "Policy officer", "Programme manager", "Technical lead", "Director")
IMPROVEMENTS = (
    "More hands-on exercises, please.",
    "Longer sessions on the legal framework.",
    "Share the slides before the activity.",
    "Interpretation into Spanish would help.",
    "More time for questions.",
    "Include a case study from our region.",
)
CHANGES = (
    "We adopted a new incident classification scheme.",
    "Our unit drafted standard operating procedures.",
    "The ministry set up a national cyber coordination group.",
    "We started sharing indicators with regional partners.",
    "A cybercrime reporting channel was opened.",
)

FOLLOW_UP_TYPES = {"training", "workshop", "exercise", "study_visit", "advisory_mission"}
NEEDS_TYPES = {"workshop", "advisory_mission", "rapid_assistance_mission"}


@dataclass(frozen=True)
class Question:
    """One question of a form: its full path (groups joined by ``/``), type and label."""

    path: str
    type: str  # text, integer, select_one <list>, select_multiple <list>
    label: str
    required: bool = False

    @property
    def choice_list(self) -> str | None:
        kind, _, name = self.type.partition(" ")
        return name if kind in ("select_one", "select_multiple") else None


@dataclass(frozen=True)
class FormVersion:
    uid: str
    deployed_at: datetime
    questions: tuple[Question, ...]
    repeat: str | None = None  # the path of the form's repeat group, if any
    repeat_questions: tuple[Question, ...] = ()


@dataclass
class KoboAsset:
    """A form (or a library item) with its deployed versions; the last version is the current one."""

    uid: str
    name: str
    asset_type: str  # survey, block, question, template
    date_created: datetime
    versions: list[FormVersion]
    formhub_uuid: str
    has_deployment: bool = True
    owner: str = OWNER
    submissions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> FormVersion:
        return self.versions[-1]

    @property
    def date_modified(self) -> datetime:
        return max(v.deployed_at for v in self.versions)


@dataclass
class KoboDataset:
    """The server's assets, in listing order, each with its submissions in ``_id`` order."""

    owner: str
    assets: list[KoboAsset]
    next_id: int  # the ``_id`` the next submission gets (ids are server-wide)

    def asset(self, uid: str) -> KoboAsset | None:
        return next((a for a in self.assets if a.uid == uid), None)

    @property
    def surveys(self) -> list[KoboAsset]:
        return [a for a in self.assets if a.asset_type == "survey"]


def kobo_uid(prefix: str, *parts: object) -> str:
    """A KoboToolbox-style uid (prefix + 21 base-57 characters), stable for the same parts."""
    number = int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(21):
        number, digit = divmod(number, len(UID_ALPHABET))
        chars.append(UID_ALPHABET[digit])
    return prefix + "".join(chars)


def stable_uuid(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def kobo_time(moment: datetime) -> str:
    """``_submission_time`` as KoboToolbox writes it: UTC, seconds, no zone suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def device_time(moment: datetime) -> str:
    """``start`` / ``end`` as a device records them: local time, milliseconds and offset."""
    return moment.astimezone(TZ).isoformat(timespec="milliseconds")


# -- the forms ---------------------------------------------------------------------------------
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


def _assets(seed: int) -> list[KoboAsset]:
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


# -- the submissions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Attendee:
    person: Person
    order_code: str
    country_answer: str


def _attendees(dataset: PretixDataset) -> dict[str, list[_Attendee]]:
    """Checked-in attendees of each live (not test-mode) event, in position id order."""
    by_event: dict[str, list[tuple[int, _Attendee]]] = {}
    for order in dataset.orders:
        if order.code is None or order.testmode or order.status != "p":
            continue
        for position in order.positions:
            if position.canceled or not position.checkins:
                continue
            attendee = _Attendee(position.person, order.code, position.country_answer)
            by_event.setdefault(order.event, []).append((position.id, attendee))
    return {slug: [a for _, a in sorted(pairs, key=lambda p: p[0])] for slug, pairs in by_event.items()}


class _Generator:
    def __init__(self, dataset: PretixDataset, assets: list[KoboAsset]) -> None:
        self.rng = random.Random(f"kobotoolbox:{dataset.seed}")
        self.dataset = dataset
        self.evaluation, self.follow_up, self.needs = assets[:3]
        self.drafts: list[tuple[KoboAsset, datetime, dict[str, Any], str | None]] = []

    def typed_email(self, person: Person) -> str:
        """The email as the respondent typed it: mostly as registered, sometimes capitalised or padded."""
        roll = self.rng.random()
        if roll < 0.10:
            local, _, domain = person.email.partition("@")
            return f"{'.'.join(p.capitalize() for p in local.split('.'))}@{domain}"
        if roll < 0.14:
            return f" {person.email} "
        return person.email

    def likert(self, centre: float) -> str:
        return str(min(5, max(1, round(self.rng.gauss(centre, 0.8)))))

    def pick_many(self, choices: list[tuple[str, str]], low: int, high: int) -> str:
        names = [name for name, _ in choices]
        picked = set(self.rng.sample(names, self.rng.randint(low, min(high, len(names)))))
        return " ".join(name for name in names if name in picked)  # in the form's choice order

    def add(self, asset: KoboAsset, at: datetime, answers: dict[str, Any], by: str | None = None) -> None:
        if asset.versions[0].deployed_at <= at <= DATA_AS_OF:
            self.drafts.append((asset, at, answers, by))

    def evaluation_answers(self, slug: str, attendee: _Attendee, at: datetime) -> dict[str, Any]:
        rng = self.rng
        v2 = at >= self.evaluation.versions[1].deployed_at
        answers: dict[str, Any] = {"activity/activity_code": slug}
        if rng.random() < 0.35:
            answers["activity/order_code"] = attendee.order_code
        if rng.random() < 0.92:  # some respondents stay anonymous
            answers["respondent/email"] = self.typed_email(attendee.person)
            if rng.random() < 0.5:
                answers["respondent/name"] = attendee.person.full_name
        satisfaction = self.likert(4.1)
        if v2:
            answers["evaluation/overall_satisfaction"] = satisfaction
            if rng.random() < 0.9:
                answers["evaluation/pace"] = rng.choices(["too_slow", "right", "too_fast"], [1, 6, 2])[0]
        else:
            answers["evaluation/satisfaction"] = satisfaction
        answers["evaluation/relevance"] = self.likert(4.0)
        answers["evaluation/would_recommend"] = "yes" if rng.random() < 0.88 else "no"
        if rng.random() < 0.8:
            answers["evaluation/most_useful_topics"] = self.pick_many(TOPICS, 1, 3)
        before = rng.choices([1, 2, 3, 4], [3, 5, 3, 1])[0]
        answers["learning/knowledge_before"] = str(before)
        answers["learning/knowledge_after"] = str(min(5, before + rng.choices([0, 1, 2], [2, 6, 3])[0]))
        if rng.random() < 0.25:
            answers["comments/improvements"] = rng.choice(IMPROVEMENTS)
        return answers

    def follow_up_answers(self, slug: str, attendee: _Attendee) -> dict[str, Any]:
        rng = self.rng
        applied = rng.choices(["yes", "partly", "no"], [5, 3, 2])[0]
        answers: dict[str, Any] = {
            "activity/activity_code": slug,
            "respondent/email": self.typed_email(attendee.person),
            "followup/skills_applied": applied,
        }
        if applied != "no":  # the question is only relevant then: absent otherwise
            answers["followup/application_areas"] = self.pick_many(APPLICATION_AREAS, 1, 3)
        answers["followup/knowledge_retained"] = self.likert(3.6)
        changed = applied == "yes" and rng.random() < 0.55
        answers["outcomes/organisational_change"] = "yes" if changed else "no"
        if changed and rng.random() < 0.7:
            answers["outcomes/change_description"] = rng.choice(CHANGES)
        if rng.random() < 0.6:
            answers["outcomes/colleagues_trained"] = str(rng.randint(0, 12))
        return answers

    def needs_answers(self, slug: str, attendee: _Attendee) -> dict[str, Any]:
        rng = self.rng
        person = attendee.person
        answers: dict[str, Any] = {
            "activity/activity_code": slug,
            "respondent/email": self.typed_email(person),
        }
        if rng.random() < 0.7:
            answers["respondent/role"] = rng.choice(ROLES)
        answers["organisation/name"] = person.organisation
        answers["organisation/country"] = attendee.country_answer
        answers["organisation/sector"] = person.sector
        for area in ("incident_response", "cybercrime", "strategy"):
            answers[f"maturity/{area}"] = self.likert(2.6)
        answers["priorities/areas"] = self.pick_many(TOPICS, 1, 4)
        requests = []
        for _ in range(rng.choices([0, 1, 2, 3], [2, 4, 3, 1])[0]):
            requests.append(
                {
                    "support_requests/topic": rng.choice(TOPICS)[0],
                    "support_requests/preferred_format": rng.choice(FORMATS)[0],
                    "support_requests/urgency": rng.choices(["low", "medium", "high"], [2, 5, 3])[0],
                }
            )
        if requests:  # an empty repeat group is absent, like any unanswered question
            answers["support_requests"] = requests
        return answers

    def sample(self, attendees: list[_Attendee]) -> list[_Attendee]:
        count = round(len(attendees) * self.rng.uniform(0.30, 0.50))
        return self.rng.sample(attendees, count) if count else []

    def run(self) -> None:
        rng = self.rng
        attendees = _attendees(self.dataset)
        for event in self.dataset.events:
            slug = event["slug"]
            if event["testmode"] or slug not in attendees:
                continue
            kind = event["meta_data"]["activity_type"]
            start = datetime.fromisoformat(event["date_from"])
            end = datetime.fromisoformat(event["date_to"])
            evaluated = rng.random() < 0.45
            if evaluated:
                for attendee in self.sample(attendees[slug]):
                    at = end + timedelta(seconds=rng.randint(1_800, 10 * 86_400))
                    self.add(self.evaluation, at, self.evaluation_answers(slug, attendee, at))
            if evaluated and kind in FOLLOW_UP_TYPES and rng.random() < 0.5:
                for attendee in self.sample(attendees[slug]):
                    at = end + timedelta(days=rng.uniform(90, 180))
                    self.add(self.follow_up, at, self.follow_up_answers(slug, attendee))
            if kind in NEEDS_TYPES and rng.random() < 0.3:
                for attendee in self.sample(attendees[slug]):
                    at = start + timedelta(seconds=rng.randint(3_600, 7 * 86_400))
                    self.add(self.needs, at, self.needs_answers(slug, attendee), ENUMERATOR)

    def validation_status(self, at: datetime) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.62:
            return {}
        uid = (
            "validation_status_approved"
            if roll < 0.95
            else self.rng.choice(["validation_status_not_approved", "validation_status_on_hold"])
        )
        label, colour = VALIDATION_STATUSES[uid]
        moment = at + timedelta(days=self.rng.randint(1, 20))
        return {
            "timestamp": int(min(moment, DATA_AS_OF).timestamp()),
            "uid": uid,
            "by_whom": OWNER,
            "color": colour,
            "label": label,
        }

    def finish(self) -> int:
        """Give the submissions server-wide ids in receipt order and attach them to their assets."""
        next_id = FIRST_SUBMISSION_ID
        for asset, at, answers, by in sorted(self.drafts, key=lambda d: (d[1], d[0].uid)):
            version = next(v for v in reversed(asset.versions) if v.deployed_at <= at)
            record = render_submission(
                asset,
                version,
                answers,
                submission_id=next_id,
                received_at=at,
                filled_seconds=self.rng.randint(120, 1_500),
                submitted_by=by,
                validation_status=self.validation_status(at),
            )
            asset.submissions.append(record)
            next_id += 1
        return next_id


def render_submission(
    asset: KoboAsset,
    version: FormVersion,
    answers: dict[str, Any],
    *,
    submission_id: int,
    received_at: datetime,
    filled_seconds: int = 300,
    submitted_by: str | None = None,
    validation_status: dict[str, Any] | None = None,
    instance_uuid: str | None = None,
) -> dict[str, Any]:
    """One submission as the data endpoint returns it: answers first, then the metadata."""
    instance = instance_uuid or stable_uuid("submission", asset.uid, submission_id)
    ended = received_at - timedelta(seconds=5 + submission_id % 55, milliseconds=submission_id * 37 % 1000)
    return {
        "_id": submission_id,
        "formhub/uuid": asset.formhub_uuid,
        "start": device_time(ended - timedelta(seconds=filled_seconds)),
        "end": device_time(ended),
        **answers,
        "__version__": version.uid,
        "meta/instanceID": f"uuid:{instance}",
        "_xform_id_string": asset.uid,
        "_uuid": instance,
        "_attachments": [],
        "_status": "submitted_via_web",
        "_geolocation": [None, None],
        "_submission_time": kobo_time(received_at),
        "_tags": [],
        "_notes": [],
        "_validation_status": validation_status or {},
        "_submitted_by": submitted_by,
    }


def generate(dataset: PretixDataset) -> KoboDataset:
    """The KoboToolbox server's data for the given pretix demo data; identical for identical input."""
    assets = _assets(dataset.seed)
    generator = _Generator(dataset, assets)
    generator.run()
    next_id = generator.finish()
    return KoboDataset(OWNER, assets, next_id)


# Keys that are metadata although they do not start with "_" (staging leaves them out of answers).
NON_ANSWER_KEYS = frozenset({"__version__", "start", "end", "formhub/uuid"})


def is_answer_key(key: str) -> bool:
    """Whether a submission key is an answer (a question path) rather than metadata."""
    return not (key.startswith(("_", "meta/")) or key in NON_ANSWER_KEYS)
