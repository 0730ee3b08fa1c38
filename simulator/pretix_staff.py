"""The events' ``experts`` and ``organisers`` meta properties, drawn from the registry demo files."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

from simulator import registry_files
from simulator.pretix_events import EventPlan


def registry_roster() -> tuple[dict[str, date], list[tuple[str, str, date, str]]]:
    """Expert codes with their joined dates, and stakeholders as (code, iso2, joined date, name), as the
    registry demo files (default seed) hold them: rows the registry extractor quarantines are left out."""

    def parse(value: object) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        for layout in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
            try:
                return datetime.strptime(str(value), layout).date()
            except ValueError:
                continue
        return None

    rng = random.Random(registry_files.DEFAULT_SEED)
    xlsx_rows, csv_rows = registry_files._experts(rng)
    experts: dict[str, date] = {}
    for row in [*xlsx_rows, *csv_rows]:
        joined = parse(row[6])
        if row[0] and joined and row[0] not in experts:
            experts[str(row[0])] = joined
    rows, organisations = registry_files._stakeholders(rng)
    stakeholders = []
    for row in rows:
        code, joined = str(row[0]), parse(row[4])
        number = int(code[1:]) if code[1:].isdigit() else 0
        if joined and 1 <= number <= len(organisations):
            name, iso2 = organisations[number - 1]
            stakeholders.append((code, iso2, joined, name))
    return experts, stakeholders


def add_staff(events: list[dict[str, Any]], plans: list[EventPlan], rng: random.Random) -> None:
    """Add the ``experts`` and ``organisers`` meta properties, drawn from ``rng`` only."""
    experts, stakeholders = registry_roster()
    lac4 = [code for code, _, _, name in stakeholders if name.startswith("LAC4")]
    for event, plan in zip(events, plans, strict=True):
        day = plan.start.date()
        pool = sorted(code for code, joined in experts.items() if joined <= day)
        count = min(len(pool), rng.choices((0, 1, 2, 3, 4), weights=(15, 30, 30, 15, 10))[0])
        deployed = sorted(rng.sample(pool, count))
        joined_by = [s for s in stakeholders if s[2] <= day] or stakeholders
        where = {plan.host, *plan.beneficiaries}
        local = [code for code, iso2, _, _ in joined_by if iso2 in where]
        organisers = lac4[:1] if event["meta_data"]["delivering_body"] == "LAC4" else []
        for _ in range(rng.choices((1, 2), weights=(60, 40))[0] - len(organisers)):
            options = [c for c in (local or [s[0] for s in joined_by]) if c not in organisers]
            organisers.append(rng.choice(options or [s[0] for s in joined_by]))
        event["meta_data"]["experts"] = ";".join(deployed)
        event["meta_data"]["organisers"] = ";".join(dict.fromkeys(organisers))
