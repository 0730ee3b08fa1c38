"""The organiser's attendees: their names, genders, organisations and how they spell countries."""

from __future__ import annotations

import random

from simulator import countries
from simulator.pretix_model import Person

GENDER_WEIGHTS = {"female": 40, "male": 56, "other": 1, "undisclosed": 3}
FEMALE_NAMES = (
    "Maria",
    "Ana",
    "Sofia",
    "Amina",
    "Fatima",
    "Grace",
    "Aisha",
    "Nadia",
    "Elena",
    "Olena",
    "Mei",
    "Siti",
    "Nguyen",
    "Priya",
    "Leila",
    "Carmen",
    "Lucia",
    "Daniela",
    "Ioana",
    "Marta",
    "Esther",
    "Joy",
    "Chloe",
    "Hana",
    "Yuki",
    "Ayesha",
    "Lina",
    "Camila",
    "Valentina",
    "Rosa",
)
MALE_NAMES = (
    "Juan",
    "Carlos",
    "Luis",
    "Ahmed",
    "Mohamed",
    "Samuel",
    "David",
    "Ivan",
    "Andriy",
    "Arben",
    "Minh",
    "Budi",
    "Rizal",
    "Raj",
    "Omar",
    "Jose",
    "Diego",
    "Mateo",
    "Petar",
    "Nikola",
    "Kofi",
    "John",
    "Daniel",
    "Kenji",
    "Bilal",
    "Tariq",
    "Rafael",
    "Pablo",
    "Emeka",
    "Tomas",
)
FAMILY_NAMES = (
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Santos",
    "Silva",
    "Perez",
    "Mensah",
    "Okafor",
    "Diallo",
    "Mwangi",
    "Haddad",
    "Khan",
    "Rahman",
    "Tran",
    "Pham",
    "Santoso",
    "Wijaya",
    "Reyes",
    "Cruz",
    "Bautista",
    "Kovac",
    "Petrovic",
    "Hoxha",
    "Shevchenko",
    "Popescu",
    "Tanaka",
    "Kim",
    "Singh",
    "Naidoo",
    "Ndlovu",
    "Banda",
    "Phiri",
    "Tembo",
    "Ali",
    "Hassan",
    "Ibrahim",
    "Rossi",
    "Smith",
    "Brown",
    "Chen",
    "Wong",
    "Lim",
    "Tan",
    "Morales",
)
ORG_TEMPLATES: dict[str, tuple[str, ...]] = {
    "csirt": ("CERT-{iso2}", "National CSIRT of {name}"),
    "ministry": (
        "Ministry of ICT of {name}",
        "Ministry of Foreign Affairs of {name}",
        "Ministry of Interior of {name}",
    ),
    "law_enforcement": ("{name} National Police Cybercrime Unit", "Public Prosecutor of {name}"),
    "regulator": ("{name} Telecommunications Regulatory Authority", "{name} Central Bank"),
    "academia": ("University of {name}", "{name} Institute of Technology"),
    "private_sector": ("{name} Telecom", "{name} Power Company"),
    "civil_society": ("{name} Digital Rights Foundation",),
    "eu_institution": ("EU Delegation to {name}",),
    "other": ("{name} Chamber of Commerce",),
}
REGIONAL_ORGANISATIONS = {
    "Latin America and Caribbean": ("Organization of American States", "CARICOM IMPACS"),
    "Africa": ("African Union Commission", "ECOWAS Commission"),
    "Asia and Pacific": ("ASEAN Secretariat", "Pacific Islands Forum Secretariat"),
    "Western Balkans and Türkiye": ("Regional Cooperation Council",),
    "Eastern Partnership and Central Asia": ("OSCE Secretariat",),
    "Middle East": ("GCC Secretariat",),
    "Global": ("Global Forum on Cyber Expertise",),
}
LAC4_NAME = "LAC4 - Latin America and Caribbean Cyber Competence Centre"


class People:
    """Everyone generated so far, by country, and each country's organisations (created once).

    It draws from the generator's random stream, so the draws happen in the order callers make them.
    """

    def __init__(self, rng: random.Random, number_offset: int = 0) -> None:
        self.rng = rng
        self.number_offset = number_offset  # a replica's people are numbered clear of the others'
        self.spellings = countries.spellings()
        self.persons: list[Person] = []
        self.persons_by_country: dict[str, list[Person]] = {}
        self.orgs_by_country: dict[str, list[tuple[str, str]]] = {}

    def spell(self, iso2: str) -> str:
        """A spelling as an organiser or attendee would type it: mostly names, some codes."""
        options = self.spellings[iso2]
        names, codes = options[:-2], options[-2:]
        if self.rng.random() < 0.7:
            return names[0] if self.rng.random() < 0.6 else self.rng.choice(names)
        return codes[0] if self.rng.random() < 0.65 else codes[1]

    def organisations(self, iso2: str) -> list[tuple[str, str]]:
        """A country's organisations (name, sector), created once per country."""
        if iso2 not in self.orgs_by_country:
            name = countries.display_name(iso2)
            region = countries.REGION_OF[iso2]
            orgs = [
                (template.format(iso2=iso2, name=name), "csirt")
                for template in ORG_TEMPLATES["csirt"][: 1 + self.rng.randrange(2)]
            ]
            for sector in self.rng.sample(sorted(ORG_TEMPLATES), 5):
                if sector != "csirt":
                    template = self.rng.choice(ORG_TEMPLATES[sector])
                    orgs.append((template.format(iso2=iso2, name=name), sector))
            orgs.append((self.rng.choice(REGIONAL_ORGANISATIONS[region]), "regional_organisation"))
            if region == "Latin America and Caribbean":
                orgs.append((LAC4_NAME, "competence_centre"))
            self.orgs_by_country[iso2] = orgs
        return self.orgs_by_country[iso2]

    def new_person(self, iso2: str) -> Person:
        rng = self.rng
        gender = rng.choices(list(GENDER_WEIGHTS), weights=list(GENDER_WEIGHTS.values()))[0]
        if gender == "female" or (gender not in ("male", "female") and rng.random() < 0.5):
            given = rng.choice(FEMALE_NAMES)
        else:
            given = rng.choice(MALE_NAMES)
        family = rng.choice(FAMILY_NAMES)
        organisation, sector = rng.choice(self.organisations(iso2))
        number = self.number_offset + len(self.persons) + 1
        email = f"{given}.{family}{number}@example.org".lower()
        person = Person(given, family, email, iso2, organisation, sector, gender)
        self.persons.append(person)
        self.persons_by_country.setdefault(iso2, []).append(person)
        return person

    def pick_person(self, iso2: str, taken: set[str], reuse: float) -> Person:
        """A returning participant from that country (if any fits) or a new one."""
        known = self.persons_by_country.get(iso2)
        if known and self.rng.random() < reuse:
            for _ in range(3):
                person = self.rng.choice(known)
                if person.email not in taken:
                    return person
        return self.new_person(iso2)
