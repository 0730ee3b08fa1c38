"""The demo KoboToolbox submissions: respondents, answers, receipt times, ids and validation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.kobo_forms import APPLICATION_AREAS, FORMATS, TOPICS
from simulator.kobo_model import OWNER, KoboAsset, render_submission
from simulator.pretix_data import PretixDataset
from simulator.pretix_model import Person

ENUMERATOR = "ecccn_field"  # the account needs assessments are collected with
DATA_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the server received nothing later than this
FIRST_SUBMISSION_ID = 41_000_001
VALIDATION_STATUSES = {
    "validation_status_approved": ("Approved", "#00ff00"),
    "validation_status_not_approved": ("Not Approved", "#ff0000"),
    "validation_status_on_hold": ("On Hold", "#0000ff"),
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


class SubmissionGenerator:
    """Who answers which survey after which activity, what they answer, and in which order it arrives."""

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
