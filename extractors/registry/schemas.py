"""Declared schemas of the registry files: which columns each kind of file must have, and how
each value is checked and normalised.

Headers are matched after `header_key` (case, stray spaces and punctuation do not matter) against
the column's name and its aliases. Choice values are matched the same way and landed as the
canonical code (e.g. "National CSIRT/CERT" -> "csirt", the sector codes pretix uses too).
Columns a file has beyond the declared ones are not landed (they might hold personal data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "email", "date", "number", "list"]


def header_key(value: object) -> str:
    """'  E-mail Address ' -> 'e_mail_address': lower-cased, runs of non-alphanumerics as '_'."""
    text = str(value or "").replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


@dataclass(frozen=True)
class Column:
    name: str  # the landed field name
    kind: Kind = "text"
    required: bool = True  # the file must have this column (else the whole file is rejected)
    nullable: bool = False  # an empty cell is allowed (else the row is quarantined)
    aliases: tuple[str, ...] = ()
    # canonical code -> accepted spellings (the code itself is always accepted)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    personal: bool = False  # never quote the value in a quarantine reason

    @property
    def header_keys(self) -> frozenset[str]:
        return frozenset({header_key(self.name), *(header_key(a) for a in self.aliases)})

    def choice_lookup(self) -> dict[str, str]:
        lookup = {}
        for code, spellings in self.choices.items():
            for spelling in (code, *spellings):
                lookup[header_key(spelling)] = code
        return lookup


@dataclass(frozen=True)
class FileSchema:
    stream: str
    key: str  # the column holding the record's id
    columns: tuple[Column, ...]
    # (earlier date column, later date column): the later one may not precede the earlier one
    date_order: tuple[tuple[str, str], ...] = ()

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)


EXPERTISE_AREAS = {
    "incident_response": ("incident response", "IR"),
    "cybercrime": ("cyber crime", "cyber-crime"),
    "cyber_diplomacy": ("cyber diplomacy", "diplomacy"),
    "critical_infrastructure_protection": ("critical infrastructure protection", "CIP", "CIIP"),
    "governance_and_strategy": ("governance and strategy", "governance & strategy", "strategy"),
    "exercises": ("exercises", "cyber exercises", "exercise"),
}
EXPERT_STATUSES = {
    "active": ("available",),
    "inactive": ("paused", "on hold"),
    "withdrawn": ("left", "retired"),
}
STAKEHOLDER_TYPES = {
    "csirt": ("national CSIRT/CERT", "national CSIRT", "national CERT", "CSIRT", "CERT"),
    "ministry": ("government ministry",),
    "law_enforcement": ("law enforcement", "police"),
    "regulator": ("regulatory authority",),
    "regional_organisation": ("regional organisation", "regional organization"),
    "academia": ("university", "research"),
    "private_sector": ("private sector", "industry"),
    "civil_society": ("civil society", "NGO"),
    "eu_institution": (
        "EU institution or Member State agency",
        "EU institution",
        "Member State agency",
        "EU institution / Member State agency",
    ),
    "competence_centre": ("competence centre", "competence center"),
}
REQUEST_STATUSES = {"open": (), "answered": (), "closed": (), "declined": ("rejected",)}

EXPERTS = FileSchema(
    stream="experts",
    key="expert_id",
    columns=(
        Column("expert_id", aliases=("id", "expert", "expert_no", "expert_number")),
        Column("full_name", aliases=("name", "expert_name", "full name"), personal=True),
        Column("email", "email", aliases=("e_mail", "email_address", "mail"), personal=True),
        Column("home_country", aliases=("country", "country_of_residence", "nationality")),
        Column(
            "expertise_areas",
            "list",
            required=False,
            nullable=True,
            aliases=("areas_of_expertise", "expertise", "areas", "expertise_area"),
            choices=EXPERTISE_AREAS,
        ),
        Column("languages", "list", required=False, nullable=True, aliases=("language", "langs")),
        Column("joined_date", "date", aliases=("joined", "joined_on", "date_joined", "member_since")),
        Column(
            "status",
            required=False,
            nullable=True,
            aliases=("pool_status", "expert_status"),
            choices=EXPERT_STATUSES,
        ),
    ),
)

STAKEHOLDERS = FileSchema(
    stream="stakeholders",
    key="stakeholder_id",
    columns=(
        Column("stakeholder_id", aliases=("id", "stakeholder", "organisation_id", "organization_id")),
        Column(
            "organisation_name",
            aliases=("organisation", "organization", "organization_name", "name", "org_name"),
        ),
        Column("country"),
        Column(
            "stakeholder_type",
            aliases=("type", "organisation_type", "organization_type", "sector", "category"),
            choices=STAKEHOLDER_TYPES,
        ),
        Column("joined_date", "date", aliases=("joined", "joined_on", "date_joined", "member_since")),
        Column(
            "contact_name",
            required=False,
            nullable=True,
            aliases=("contact", "contact_person", "contact_person_name"),
            personal=True,
        ),
        Column(
            "contact_email",
            "email",
            required=False,
            nullable=True,
            aliases=("contact_e_mail", "contact_person_email", "contact_person_e_mail", "email"),
            personal=True,
        ),
    ),
)

MAPPED_PROJECTS = FileSchema(
    stream="mapped_projects",
    key="project_id",
    columns=(
        Column("project_id", aliases=("id", "project", "project_code")),
        Column("title", aliases=("project_title", "name", "project_name")),
        Column("funder", aliases=("funded_by", "donor")),
        Column("implementer", nullable=True, aliases=("implemented_by", "implementing_partner")),
        Column("countries", "list", aliases=("country", "beneficiary_countries")),
        Column("themes", "list", required=False, nullable=True, aliases=("theme", "topics")),
        Column("start_date", "date", aliases=("start", "starts", "from")),
        Column("end_date", "date", nullable=True, aliases=("end", "ends", "to")),
        Column(
            "budget_eur",
            "number",
            required=False,
            nullable=True,
            aliases=("budget", "budget_in_eur", "budget_euro", "eu_contribution_eur"),
        ),
    ),
    date_order=(("start_date", "end_date"),),
)

ASSISTANCE_REQUESTS = FileSchema(
    stream="assistance_requests",
    key="request_id",
    columns=(
        Column("request_id", aliases=("id", "request", "request_no", "request_number")),
        Column("requester", aliases=("requester_organisation", "requester_organization", "requested_by")),
        Column("requester_country", aliases=("country",)),
        Column("topic", aliases=("subject", "request_topic")),
        Column("requested_date", "date", aliases=("requested", "requested_on", "date_requested")),
        Column(
            "answered_date",
            "date",
            nullable=True,
            aliases=("answered", "answered_on", "date_answered", "responded_date"),
        ),
        Column("status", aliases=("request_status",), choices=REQUEST_STATUSES),
    ),
    date_order=(("requested_date", "answered_date"),),
)

SCHEMAS: dict[str, FileSchema] = {
    s.stream: s for s in (EXPERTS, STAKEHOLDERS, MAPPED_PROJECTS, ASSISTANCE_REQUESTS)
}
