"""Deterministic demo files for the registry inbox: the programme's own registers as exported.

`write_inbox(folder, seed)` writes (default seed):

* `experts_2023-12-31.xlsx`: the initial expert-pool export, 500 experts (E0001..E0500), Excel
  dates, stray spaces in the headers, an empty trailing row, and one row without an expert id;
* `experts_2025-06-30.csv`: a later export, `;`-delimited, Windows-1252: 57 new experts
  (E0501..E0557), 6 updated rows of earlier experts, and one update whose joined date is not a
  date ("31/02/2025": its earlier version stays current). 557 distinct valid experts in all;
* `stakeholders_2025-06-30.csv`: UTF-8 with BOM, `,`: 126 stakeholders in the 97 programme
  countries (LAC4 in the Dominican Republic, the national CSIRTs of the 8 Indo-Pacific focus
  countries among them), plus a row without an id and a row with an impossible joined date;
* `mapped_projects_2025-05-15.xlsx`: 60 mapped EU projects, plus one whose end precedes its start;
* `assistance_requests_2025-06-30.csv`: UTF-8, `,`: 40 rapid-assistance requests, plus one
  answered request without an answered date.

Names and emails are fake (example.org). Countries come from `simulator.countries` in the
spellings the country libraries produce. Bytes are identical for identical seeds (fixed XLSX
timestamps), so a regenerated file is recognised as already landed.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from simulator import countries

DEFAULT_SEED = 2019
EXPERTS_TOTAL = 557
EXPERTS_INITIAL = 500
EXPERTS_UPDATED = 6
STAKEHOLDERS_TOTAL = 126
PROJECTS_TOTAL = 60
REQUESTS_TOTAL = 40
_FIXED_TIME = datetime(2025, 6, 30, 12, 0, 0)

FIRST_NAMES = (
    "Ana", "José", "María", "Lucía", "Andrés", "Sofía", "Joaquín", "Inés", "Ngozi", "Kwame",
    "Amina", "Tendai", "Priya", "Arjun", "Siti", "Rizal", "Maile", "Sione", "Mai", "Somchai",
    "Élodie", "François", "Björn", "Jürgen", "Zoë", "Søren", "Agnieszka", "Tomás", "Ioana",
    "Mihai", "Dragan", "Ivana", "Elif", "Oksana", "Giorgi", "Aigerim", "Nadia", "Karim",
    "Fatou", "Chidi", "Grace", "David", "Laura", "Marco", "Chiara", "Pieter", "Anke", "Eero",
)  # fmt: skip
LAST_NAMES = (
    "García", "Martínez", "Pérez", "Rodríguez", "Núñez", "Okafor", "Mensah", "Diallo", "Banda",
    "Sharma", "Iyer", "Santos", "Reyes", "Wijaya", "Tuilagi", "Nakamura", "Schäfer", "Müller",
    "Lefèvre", "Dubois", "Østergaard", "Kowalski", "Nováková", "Popescu", "Horvat", "Žagar",
    "Jovanovic", "Yilmaz", "Kovalenko", "Beridze", "Nurlanova", "Haddad",
    "Ndiaye", "Eze", "Mwangi", "O'Connor", "Rossi", "Bianchi", "de Vries", "Jansen", "Virtanen",
)  # fmt: skip
EXPERTISE = (
    "incident response", "cybercrime", "cyber diplomacy", "critical infrastructure protection",
    "governance and strategy", "exercises",
)  # fmt: skip
LANGUAGES = ("English", "French", "Spanish", "Portuguese", "Arabic", "Russian", "German", "Italian")

STAKEHOLDER_TYPE_SPELLINGS = {
    "csirt": ("National CSIRT/CERT", "national CSIRT", "National CERT"),
    "ministry": ("Ministry", "ministry"),
    "law_enforcement": ("Law enforcement", "law enforcement"),
    "regulator": ("Regulator",),
    "regional_organisation": ("Regional organisation", "Regional organization"),
    "academia": ("Academia",),
    "private_sector": ("Private sector",),
    "civil_society": ("Civil society",),
    "eu_institution": ("EU institution or Member State agency",),
    "competence_centre": ("Competence centre",),
}
# type -> how many (126 in all; the CSIRTs include every Indo-Pacific focus country)
STAKEHOLDER_MIX = {
    "csirt": 45,
    "competence_centre": 1,
    "ministry": 25,
    "law_enforcement": 12,
    "regulator": 10,
    "regional_organisation": 8,
    "academia": 10,
    "private_sector": 6,
    "civil_society": 5,
    "eu_institution": 4,
}
REGIONAL_ORGANISATIONS = (
    ("African Union Commission", "ET"), ("ASEAN Secretariat", "ID"),
    ("CARICOM IMPACS", "TT"), ("ECOWAS Commission", "NG"),
    ("Pacific Islands Forum Secretariat", "FJ"), ("Organization of American States", "US"),
    ("SICA General Secretariat", "SV"), ("League of Arab States ICT Unit", "EG"),
)  # fmt: skip
MINISTRY_KINDS = (
    "Ministry of ICT",
    "Ministry of Foreign Affairs",
    "Ministry of Interior",
    "Ministry of Digital Economy",
)
FUNDERS = (
    "European Commission (DG INTPA)", "European Commission (FPI)", "European Commission (DG NEAR)",
    "Germany (GIZ)", "France (Expertise France)", "Estonia (MFA)", "Netherlands (MFA)",
)  # fmt: skip
IMPLEMENTERS = (
    "Expertise France", "GIZ", "e-Governance Academy", "Council of Europe", "UNODC", "FIIAPP",
    "CIVIPOL", "Estonian Information System Authority", "",
)  # fmt: skip
THEMES = (
    "cyber resilience", "cybercrime", "CSIRT maturity", "cyber diplomacy", "critical infrastructure",
    "legal frameworks", "cyber exercises", "digital forensics",
)  # fmt: skip
TOPICS = (
    "ransomware incident support", "national cyber strategy review", "CSIRT maturity assessment",
    "cybercrime legislation advice", "tabletop exercise design", "critical infrastructure risk review",
    "election security advice", "incident response playbooks",
)  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-").replace("--", "-")


def _spelling(rng: random.Random, iso2: str) -> str:
    return rng.choice(countries.spellings()[iso2])


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _person(rng: random.Random, n: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{first} {last}", f"{_ascii(first)}.{_ascii(last)}.{n}@example.org"


def _xlsx_bytes(header: list[str], rows: list[list[object]], title: str) -> bytes:
    """An XLSX with fixed timestamps, so equal content gives equal bytes."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = "DD/MM/YYYY"
    workbook.properties.created = workbook.properties.modified = _FIXED_TIME
    raw = io.BytesIO()
    workbook.save(raw)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with now()
                data = _fix_core_times(data)
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(2025, 6, 30, 12, 0, 0)), data)
    return fixed.getvalue()


def _fix_core_times(xml: bytes) -> bytes:
    import re

    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", xml)


def _csv_text(header: list[str], rows: list[list[object]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _experts(rng: random.Random) -> tuple[list[list[object]], list[list[object]]]:
    """(initial XLSX rows, later CSV rows); 557 distinct valid experts, 2 bad rows."""
    experts = []
    for n in range(1, EXPERTS_TOTAL + 1):
        name, email = _person(rng, n)
        initial = n <= EXPERTS_INITIAL
        joined = (
            _day(rng, date(2019, 1, 15), date(2023, 12, 15))
            if initial
            else _day(rng, date(2024, 1, 8), date(2025, 6, 27))
        )
        areas = rng.sample(EXPERTISE, rng.choice((1, 1, 2, 2, 3)))
        langs = ["English", *rng.sample(LANGUAGES[1:], rng.choice((0, 1, 1, 2)))]
        status = rng.choices(("Active", "active", "Inactive", "Withdrawn"), (70, 15, 10, 5))[0]
        country = _spelling(rng, rng.choice(countries.PHASE1_COUNTRIES))
        experts.append(
            [f"E{n:04d}", name, email, country, "; ".join(areas), "; ".join(langs), joined, status]
        )
    xlsx_rows = [list(e) for e in experts[:EXPERTS_INITIAL]]
    # a row someone added without an id: quarantined
    no_id = ["", "Kim Nguyen", "kim.nguyen@example.org", "Viet Nam", "exercises", "English"]
    xlsx_rows.insert(137, [*no_id, date(2023, 3, 2), "Active"])
    xlsx_rows.append([None] * 8)  # an empty trailing row (cells formatted, no values)

    def as_csv(row: list[object]) -> list[object]:
        out = list(row)
        out[6] = row[6].strftime("%d/%m/%Y")
        return out

    csv_rows = [as_csv(e) for e in experts[EXPERTS_INITIAL:]]
    for index in rng.sample(range(EXPERTS_INITIAL), EXPERTS_UPDATED):
        updated = as_csv(experts[index])
        updated[7] = "Inactive" if str(updated[7]).lower() == "active" else "Active"
        updated[5] = f"{updated[5]}; Spanish" if "Spanish" not in str(updated[5]) else updated[5]
        csv_rows.insert(rng.randrange(len(csv_rows)), updated)
    bad = as_csv(experts[41])
    bad[6] = "31/02/2025"  # not a date: quarantined, E0042's earlier version stays current
    csv_rows.insert(20, bad)
    csv_rows.append([""] * 8)  # ';;;;;;;' trailing row
    return xlsx_rows, csv_rows


def _stakeholders(rng: random.Random) -> tuple[list[list[object]], list[tuple[str, str]]]:
    """Rows of the stakeholder registry, and (organisation, iso2) pairs for the requests log."""
    pool = [c for c in countries.PHASE1_COUNTRIES if c not in countries.INDO_PACIFIC_FOCUS]
    orgs: list[tuple[str, str, str]] = []  # (type, name, iso2)
    csirt_countries = [*countries.INDO_PACIFIC_FOCUS, "DO"]
    csirt_countries += rng.sample([c for c in pool if c != "DO"], STAKEHOLDER_MIX["csirt"] - 9)
    for iso2 in csirt_countries:
        orgs.append(("csirt", f"National CSIRT of {countries.display_name(iso2)}", iso2))
    orgs.append(("competence_centre", "LAC4 - Latin America and Caribbean Cyber Competence Centre", "DO"))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["ministry"]):
        orgs.append(("ministry", f"{rng.choice(MINISTRY_KINDS)} of {countries.display_name(iso2)}", iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["law_enforcement"]):
        name = f"Cybercrime Unit, National Police of {countries.display_name(iso2)}"
        orgs.append(("law_enforcement", name, iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["regulator"]):
        name = f"Telecommunications Regulatory Authority of {countries.display_name(iso2)}"
        orgs.append(("regulator", name, iso2))
    for name, iso2 in REGIONAL_ORGANISATIONS:
        orgs.append(("regional_organisation", name, iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["academia"]):
        orgs.append(("academia", f"National University of {countries.display_name(iso2)}, Cyber Lab", iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["private_sector"]):
        orgs.append(("private_sector", f"{countries.display_name(iso2)} Banking Association ISAC", iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["civil_society"]):
        orgs.append(("civil_society", f"Digital Rights Forum {countries.display_name(iso2)}", iso2))
    for iso2 in rng.sample(countries.PHASE1_COUNTRIES, STAKEHOLDER_MIX["eu_institution"]):
        orgs.append(("eu_institution", f"EU Delegation to {countries.display_name(iso2)}", iso2))
    assert len(orgs) == STAKEHOLDERS_TOTAL == sum(STAKEHOLDER_MIX.values())
    rng.shuffle(orgs)
    rows: list[list[object]] = []
    for n, (kind, name, iso2) in enumerate(orgs, start=1):
        contact, email = _person(rng, 1000 + n)
        joined = _day(rng, date(2019, 1, 10), date(2025, 6, 20))
        shown = joined.isoformat() if n % 5 else joined.strftime("%d.%m.%Y")
        if kind == "competence_centre":
            shown = "2023-05-01"
        spelling = rng.choice(STAKEHOLDER_TYPE_SPELLINGS[kind])
        rows.append([f"S{n:03d}", name, _spelling(rng, iso2), spelling, shown, contact, email])
    rows.insert(60, ["", "Cyber Security Agency (draft)", "Ghana", "Regulator", "2024-02-01", "", ""])
    rows.insert(90, ["S127", "Cyber Hygiene Initiative", "Kenya", "Civil society", "2024-13-01", "", ""])
    rows.append([""] * 7)
    return rows, [(name, iso2) for _, name, iso2 in orgs]


def _projects(rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, PROJECTS_TOTAL + 1):
        start = _day(rng, date(2016, 1, 1), date(2025, 1, 1))
        end = start + timedelta(days=rng.randrange(365, 5 * 365))
        theme = rng.sample(THEMES, rng.choice((1, 2, 3)))
        where = rng.sample(countries.PHASE1_COUNTRIES, rng.choice((1, 1, 2, 3, 4, 6)))
        budget = rng.randrange(300, 25_000) * 1_000
        title = f"{theme[0].capitalize()} support in {countries.display_name(where[0])}"
        if len(where) > 1:
            title += " and the region"
        rows.append(
            [
                f"P-{n:03d}",
                title,
                rng.choice(FUNDERS),
                rng.choice(IMPLEMENTERS),
                "; ".join(_spelling(rng, c) for c in where),
                "; ".join(theme),
                start,
                end,
                budget if n % 7 else float(budget) + 0.5,
            ]
        )
    swapped = [date(2026, 1, 1), date(2024, 1, 1), 900_000]
    rows.append(
        ["P-061", "Cyber resilience support", FUNDERS[0], "GIZ", "Fiji", "cyber resilience", *swapped]
    )
    return rows


def _requests(rng: random.Random, stakeholders: list[tuple[str, str]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for n in range(1, REQUESTS_TOTAL + 1):
        requested = _day(rng, date(2025, 7, 1), date(2026, 6, 15))
        status = rng.choices(("answered", "closed", "open", "declined"), (45, 30, 15, 10))[0]
        answered = "" if status == "open" else (requested + timedelta(days=rng.randrange(1, 30))).isoformat()
        name, iso2 = rng.choice(stakeholders)
        topic = rng.choice(TOPICS)
        rows.append(
            [f"RA-{n:03d}", name, _spelling(rng, iso2), topic, requested.isoformat(), answered, status]
        )
    rows.insert(12, ["RA-041", "Ministry of ICT of Fiji", "Fiji", TOPICS[0], "2026-02-03", "", "answered"])
    return rows


def write_inbox(folder: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the demo registry exports into `folder` (created if needed); return their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xlsx_experts, csv_experts = _experts(rng)
    stakeholder_rows, stakeholders = _stakeholders(rng)
    project_rows = _projects(rng)
    request_rows = _requests(rng, stakeholders)
    files: list[tuple[str, bytes]] = [
        (
            "experts_2023-12-31.xlsx",
            _xlsx_bytes(
                [
                    " Expert ID",
                    "Full name ",
                    "E-mail",
                    " Home country",
                    "Areas of expertise ",
                    "Languages",
                    "Joined",
                    "Status ",
                ],
                xlsx_experts,
                "Expert pool",
            ),
        ),
        (
            "experts_2025-06-30.csv",
            _csv_text(
                [
                    "Expert ID ",
                    " Full Name",
                    "Email",
                    "Country",
                    "Expertise",
                    "Languages ",
                    "Joined date",
                    "Status",
                ],
                csv_experts,
                ";",
            ).encode("cp1252"),
        ),
        (
            "stakeholders_2025-06-30.csv",
            _csv_text(
                [
                    "Stakeholder ID",
                    " Organisation name",
                    "Country ",
                    "Type",
                    "Joined date",
                    "Contact person",
                    "Contact email ",
                ],
                stakeholder_rows,
                ",",
            ).encode("utf-8-sig"),
        ),
        (
            "mapped_projects_2025-05-15.xlsx",
            _xlsx_bytes(
                [
                    "Project ID",
                    "Title",
                    "Funder",
                    "Implementer",
                    "Countries",
                    "Themes",
                    "Start",
                    "End",
                    "Budget (EUR)",
                ],
                project_rows,
                "Mapped projects",
            ),
        ),
        (
            "assistance_requests_2025-06-30.csv",
            _csv_text(
                [
                    "Request ID",
                    "Requester",
                    "Requester country",
                    "Topic",
                    "Requested date",
                    "Answered date",
                    "Status",
                ],
                request_rows,
                ",",
            ).encode("utf-8"),
        ),
    ]
    paths = []
    for name, data in files:
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths
