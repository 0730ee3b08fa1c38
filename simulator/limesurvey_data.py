"""The LAC4 centre's own LimeSurvey: evaluation surveys answered by attendees of its activities.

Derived deterministically from the pretix dataset the simulator already serves (never regenerated):
respondents are people checked in at LAC4-delivered activities, identified by the email pretix has
for them (sometimes typed with another case or stray spaces, as people do). Responses are kept as
LimeSurvey stores them with question-code headings and short answer codes; timestamps are the
server's local time without a zone ("YYYY-MM-DD HH:MM:SS"), as LimeSurvey exports them.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulator.pretix_data import TZ, PretixDataset

# The survey ids of the demo LimeSurvey (LimeSurvey ids are six digits).
EVALUATION_SID = 461572  # post-activity evaluation, Spanish question codes
FOLLOW_UP_SID = 538214  # follow-up 3-6 months later, English question codes, participant table
NEEDS_SID = 719305  # needs assessment 2026: active, no responses yet
DRAFT_SID = 824461  # a draft never activated: listed, not active

# Response fields LimeSurvey adds itself (not questions).
METADATA_FIELDS = ("id", "submitdate", "lastpage", "startlanguage", "seed", "startdate", "datestamp")

EVALUATION_QUESTIONS = (
    "ACTIVIDAD",  # activity code (pretix event slug), pre-filled from the invitation link
    "CORREO",  # respondent email
    "NOMBRE",  # respondent name
    "SATISF[SQ001]",  # satisfaction with content, A1..A5
    "SATISF[SQ002]",  # satisfaction with trainers, A1..A5
    "RELEVANCIA",  # relevance to the job, A1..A5
    "RECOMIENDA",  # would recommend, Y / N
    "CONOCANTES",  # knowledge before, 1..5
    "CONOCDESPUES",  # knowledge after, 1..5
    "COMENTARIOS",  # free text
)
FOLLOW_UP_QUESTIONS = (
    "ACTIVITY",  # activity code
    "EMAIL",  # respondent email
    "APPLIED",  # skills applied at work since, Y / N
    "ORGCHANGE",  # organisational change observed, A1..A5
    "EXAMPLE",  # free text
)

_COMMENTS_ES = (
    "Muy útil para nuestro CSIRT.",
    "Más ejercicios prácticos, por favor.",
    "Excelente organización y ponentes.",
    "El contenido fue demasiado básico para mi nivel.",
    "Me gustaría una segunda edición en línea.",
)
_COMMENTS_EN = (
    "Very relevant to our national strategy work.",
    "More hands-on labs would help.",
    "Great trainers, clear material.",
    "The pace was too fast on the second day.",
)
_EXAMPLES = (
    "We updated our incident response playbook.",
    "Actualizamos el procedimiento de gestión de incidentes.",
    "Trained two colleagues with the material.",
    "Set up a national exercise based on the scenario.",
    "",
)


@dataclass
class SimSurvey:
    sid: int
    title: str
    language: str
    startdate: str | None
    expires: str | None
    active: str  # "Y" / "N"
    shape: str  # "flat": [{"id": 12, ...}] (6.4.2, measured); "keyed": [{"12": {...}}] (older)
    questions: tuple[str, ...]
    responses: list[dict[str, Any]] = field(default_factory=list)  # in id order; None: unanswered
    pages: int = 1  # question groups: a complete response's lastpage
    has_participants: bool = False  # a participant table: responses export their `token`

    def listing(self) -> dict[str, Any]:
        """The list_surveys entry (6.4.2: an integer sid, the flags as strings)."""
        return {
            "sid": self.sid,
            "surveyls_title": self.title,
            "startdate": self.startdate,
            "expires": self.expires,
            "active": self.active,
        }

    def export_row(self, response: dict[str, Any]) -> dict[str, Any]:
        """A response as 6.4.2's JSON export writes it: "" for unanswered and for no submitdate."""
        row = {k: ("" if v is None else v) for k, v in response.items()}
        if self.has_participants:  # a participant's access code, derived so the draw is unchanged
            row["token"] = hashlib.sha256(f"{self.sid}:{response['id']}".encode()).hexdigest()[:15]
        return row


@dataclass
class LimeSurveyDataset:
    surveys: dict[int, SimSurvey]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _likert(rng: random.Random, centre: float) -> int:
    return max(1, min(5, round(rng.gauss(centre, 0.9))))


def _email_as_typed(rng: random.Random, email: str) -> str:
    roll = rng.random()
    if roll < 0.1:
        return email.upper()
    if roll < 0.2:
        return f" {email} "
    return email


def _finish(survey: SimSurvey, drafts: list[tuple[datetime, dict[str, Any]]]) -> None:
    """Give responses ids in the order they were started, as LimeSurvey's auto-increment does."""
    for number, (_, response) in enumerate(sorted(drafts, key=lambda d: d[0]), start=1):
        survey.responses.append({"id": number, **response})


def _meta(rng: random.Random, started: datetime, language: str, complete: bool, pages: int) -> dict:
    finished = started + timedelta(minutes=rng.randint(3, 25))
    return {
        "submitdate": _stamp(finished) if complete else None,
        "lastpage": pages if complete else rng.randint(0, pages - 1),
        "startlanguage": language,
        "seed": str(rng.randint(10_000_000, 999_999_999)),
        "startdate": _stamp(started),
        "datestamp": _stamp(finished),
    }


def generate(dataset: PretixDataset) -> LimeSurveyDataset:
    """The demo LimeSurvey for a pretix dataset; identical output for an identical dataset."""
    rng = random.Random(f"limesurvey:{dataset.seed}")
    lac4 = {
        e["slug"]: e
        for e in dataset.events
        if e["meta_data"].get("delivering_body") == "LAC4" and not e["testmode"]
    }
    attendees: list[tuple[str, Any]] = []  # (slug, person), pretix order
    for order in dataset.orders:
        if order.code is None or order.testmode or order.status == "c" or order.event not in lac4:
            continue
        for position in order.positions:
            if not position.canceled and any(c.type == "entry" for c in position.checkins):
                attendees.append((order.event, position.person))

    evaluation = SimSurvey(
        EVALUATION_SID,
        "Evaluación de actividades LAC4 / LAC4 activity evaluation",
        "es",
        "2023-05-01 00:00:00",
        None,
        "Y",
        "flat",
        EVALUATION_QUESTIONS,
        pages=3,
    )
    follow_up = SimSurvey(
        FOLLOW_UP_SID,
        "LAC4 follow-up: applying what you learned",
        "en",
        "2023-09-01 00:00:00",
        None,
        "Y",
        "flat",
        FOLLOW_UP_QUESTIONS,
        pages=2,
        has_participants=True,
    )
    # active, no responses: 6.4.2 answers its exports "No Data, could not get max id."
    needs = SimSurvey(
        NEEDS_SID, "Diagnóstico de necesidades 2026", "es", "2026-01-15 00:00:00", "2026-12-31 23:59:59",
        "Y", "flat", ("PAIS", "PRIORIDAD", "COMENTARIOS"),
    )  # fmt: skip
    draft = SimSurvey(
        DRAFT_SID, "Borrador - encuesta de ponentes", "es", None, None, "N", "keyed", ("COMENTARIOS",)
    )

    evaluations: list[tuple[datetime, dict[str, Any]]] = []
    follow_ups: list[tuple[datetime, dict[str, Any]]] = []
    for slug, person in attendees:
        # the server's local wall clock (Brussels), as before pretix dates were written in UTC
        ends = datetime.fromisoformat(lac4[slug]["date_to"]).astimezone(TZ).replace(tzinfo=None)
        spanish = rng.random() < 0.7
        language = "es" if spanish else "en"
        if rng.random() < 0.42:
            started = ends + timedelta(hours=rng.randint(1, 24 * 10), minutes=rng.randint(0, 59))
            complete = rng.random() > 0.15
            before = _likert(rng, 2.4)
            answers: dict[str, Any] = {
                "ACTIVIDAD": slug.upper() if rng.random() < 0.05 else slug,
                "CORREO": _email_as_typed(rng, person.email),
                "NOMBRE": person.full_name,
                "SATISF[SQ001]": f"A{_likert(rng, 4.1)}",
                "SATISF[SQ002]": f"A{_likert(rng, 4.3)}",
                "RELEVANCIA": f"A{_likert(rng, 3.9)}",
                "RECOMIENDA": "Y" if rng.random() < 0.88 else "N",
                "CONOCANTES": str(before),
                "CONOCDESPUES": str(min(5, before + rng.choice((0, 1, 1, 2)))),
                "COMENTARIOS": rng.choice(_COMMENTS_ES if spanish else _COMMENTS_EN)
                if rng.random() < 0.45
                else "",
            }
            meta = _meta(rng, started, language, complete, 3)
            if not complete:  # the pages not reached stay unanswered
                for code in EVALUATION_QUESTIONS[3 + 3 * meta["lastpage"] :]:
                    answers[code] = None
            evaluations.append((started, {**meta, **answers}))
        if rng.random() < 0.2:
            started = ends + timedelta(days=rng.randint(90, 180), minutes=rng.randint(0, 600))
            complete = rng.random() > 0.1
            answers = {
                "ACTIVITY": slug,
                "EMAIL": _email_as_typed(rng, person.email),
                "APPLIED": ("Y" if rng.random() < 0.68 else "N") if complete else None,
                "ORGCHANGE": f"A{_likert(rng, 3.2)}" if complete else None,
                "EXAMPLE": rng.choice(_EXAMPLES) if complete else None,
            }
            follow_ups.append((started, {**_meta(rng, started, language, complete, 2), **answers}))
    _finish(evaluation, evaluations)
    _finish(follow_up, follow_ups)
    return LimeSurveyDataset({s.sid: s for s in (evaluation, follow_up, needs, draft)})
