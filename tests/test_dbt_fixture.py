"""Build the dbt project on a small hand-written raw warehouse and check the marts by hand.

The raw tables follow docs/contracts.md exactly. The fixture covers: a deleted event (only in an
older events snapshot), a testmode event, two order batches (an order canceled in the later one),
a testmode order, a canceled position, an expired order, a position without attendee email, a
person with two positions for one activity, check-ins carried by the orders' positions (an older
order version with a check-in reverted since), an exit-only check-in, a person scanned on two
check-in lists, and countries spelled in varied ways (names, ISO2, ISO3, accents, extra spaces,
"Lao PDR", junk).
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from engage.warehouse.schema import ensure_schemas

REPO = Path(__file__).resolve().parent.parent
PROJECT_DIR = REPO / "dbt_project"
SOURCE = "pretix_demo"


def _load_seed_script():
    spec = importlib.util.spec_from_file_location(
        "generate_country_seeds", REPO / "scripts" / "generate_country_seeds.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- records


def _event(slug, name, phase, activity_type, modality, host, beneficiaries, day_from, day_to, testmode=False):
    return {
        "name": {"en": name}, "slug": slug, "live": True, "testmode": testmode,
        "currency": "EUR", "date_from": f"{day_from}T09:00:00+01:00",
        "date_to": f"{day_to}T17:00:00+01:00", "is_public": True,
        "location": {"en": "Somewhere"}, "has_subevents": False, "timezone": "Europe/Brussels",
        "meta_data": {"activity_type": activity_type, "modality": modality,
                      "host_country": host, "beneficiary_countries": beneficiaries,
                      "phase": phase, "delivering_body": "LAC4", "region": "Somewhere"},
    }  # fmt: skip


def _answers(country, organisation="Org", sector="csirt", gender="female"):
    return [
        {"question": 1, "question_identifier": "country", "answer": country, "options": [],
         "option_identifiers": []},
        {"question": 2, "question_identifier": "organisation", "answer": organisation,
         "options": [], "option_identifiers": []},
        {"question": 3, "question_identifier": "sector", "answer": sector, "options": [31],
         "option_identifiers": [sector]},
        {"question": 4, "question_identifier": "gender", "answer": gender, "options": [41],
         "option_identifiers": [gender]},
    ]  # fmt: skip


def _position(position_id, order, attendee, country, canceled=False, checkins=(), **answers):
    """`checkins`: (check-in id, list, datetime, type) of every list, as pretix's order feed has them."""
    return {
        "id": position_id, "order": order, "positionid": 1, "item": 1, "variation": None,
        "price": "0.00", "attendee_name_pseudonym": f"name-{attendee}" if attendee else None,
        "attendee_email_pseudonym": attendee, "company": "Org", "country": None,
        "canceled": canceled, "pseudonymization_id": f"PSEUDO{position_id}",
        "answers": _answers(country, **answers),
        "checkins": [
            {"id": checkin_id, "list": checkin_list, "datetime": at, "type": kind,
             "auto_checked_in": False}
            for checkin_id, checkin_list, at, kind in checkins
        ],
    }  # fmt: skip


def _order(code, event, status, email, positions, modified, testmode=False):
    return {
        "code": code, "event": event, "status": status, "testmode": testmode,
        "email_pseudonym": email, "locale": "en", "datetime": "2019-02-20T10:11:12+00:00",
        "last_modified": modified, "total": "0.00", "sales_channel": "web",
        "invoice_address": {"company": "Org", "name_pseudonym": "x", "country": "DO"},
        "positions": positions,
    }  # fmt: skip


EV1, EV2, EV_TEST, EV_DELETED = "p1-2019-001", "p2-2025-001", "test-001", "p1-2018-999"
EVENTS = {
    "20240101T000000Z-aaaaaa": [  # older snapshot: still has the since-deleted event
        _event(EV1, "Training", "1", "training", "in_person", "Dominican Republic",
               "DO;Costa Rica;GTM", "2019-03-12", "2019-03-14"),
        _event(EV_DELETED, "Deleted", "1", "workshop", "online", "Japan", "JP",
               "2018-05-01", "2018-05-01"),
    ],
    "20240102T000000Z-bbbbbb": [  # current snapshot
        _event(EV1, "Training", "1", "training", "in_person", "Dominican Republic",
               "DO;Costa Rica;GTM", "2019-03-12", "2019-03-14"),
        _event(EV2, "Workshop", "2", "Workshop", "online", "Viet Nam",
               "Lao PDR; Türkiye ;  cote d'ivoire ;Atlantis", "2025-10-01", "2025-10-02"),
        _event(EV_TEST, "Test", "1", "webinar", "online", "France", "FR",
               "2020-01-01", "2020-01-01", testmode=True),
    ],
}  # fmt: skip

ORDERS = {
    "20240101T000000Z-cccccc": [
        _order("A0001", EV1, "p", "e1", [_position(101, "A0001", "a1", "Dominican Republic", checkins=[
            (9001, 7, "2019-03-12T08:45:00+01:00", "entry"),
            (9021, 8, "2019-03-12T08:46:00+01:00", "entry"),  # the same person on a second list
        ])], "2019-03-12T07:46:00+00:00"),
        _order("A0002", EV1, "n", "e2", [_position(102, "A0002", "a2", "Mexico", checkins=[
            (9002, 7, "2019-03-12T08:50:00+01:00", "entry"),
        ])], "2019-03-12T07:50:00+00:00"),
        _order("A0003", EV1, "p", "e3", [
            _position(103, "A0003", None, "MEX", sector="ministry", gender="male", checkins=[
                (9003, 7, "2019-03-13T09:00:00+01:00", "entry"),
                (9013, 7, "2019-03-12T09:10:00+01:00", "entry"),
            ]),
            _position(104, "A0003", "a4", "Brazil", canceled=True, checkins=[
                (9004, 7, "2019-03-12T09:00:00+01:00", "entry"),
            ]),
        ], "2019-03-13T08:00:00+00:00"),
        # an older version of A0004: 106's check-in was reverted since (the current one has none)
        _order("A0004", EV2, "p", "e4", [
            _position(105, "A0004", "a1", "dominican republic"),
            _position(106, "A0004", "a5", "Vietnam", sector="ministry", gender="male", checkins=[
                (9006, 9, "2025-10-01T08:45:00+01:00", "entry"),
            ]),
            _position(111, "A0004", "a9", "  Philippines ", gender="undisclosed"),
        ], "2025-10-01T07:45:00+00:00"),
    ],
    "20240102T000000Z-dddddd": [
        _order("A0002", EV1, "c", "e2", [_position(102, "A0002", "a2", "Mexico", checkins=[
            (9002, 7, "2019-03-12T08:50:00+01:00", "entry"),
        ])], "2019-03-15T00:00:00+00:00"),
        _order("A0004", EV2, "p", "e4", [
            _position(105, "A0004", "a1", "dominican republic", checkins=[
                (9005, 9, "2025-10-01T17:00:00+01:00", "exit"),  # an exit alone is no attendance
            ]),
            _position(106, "A0004", "a5", "Vietnam", sector="ministry", gender="male"),
            _position(111, "A0004", "a9", "  Philippines ", gender="undisclosed", checkins=[
                (9011, 9, "2025-10-01T09:05:00+01:00", "entry"),
            ]),
        ], "2025-10-01T16:00:00+00:00"),
        _order("A0005", EV2, "p", "e6", [_position(107, "A0005", "a6", "Fiji", checkins=[
            (9007, 9, "2025-10-01T09:00:00+01:00", "entry"),
        ])], "2025-10-01T08:00:00+00:00", testmode=True),
        _order("A0006", EV_TEST, "p", "e7", [_position(108, "A0006", "a7", "France", checkins=[
            (9008, 10, "2020-01-01T09:00:00+01:00", "entry"),
        ])], "2020-01-01T08:00:00+00:00"),
        _order("A0007", EV1, "p", "e1", [_position(109, "A0007", "a1", "DOM")],
               "2019-03-06T00:00:00+00:00"),
        _order("A0008", EV2, "e", "e8", [_position(110, "A0008", "a8", "Kosovo")],
               "2025-09-02T00:00:00+00:00"),
        _order("A0010", EV_DELETED, "p", "e10", [_position(112, "A0010", "a10", "Japan", checkins=[
            (9012, 11, "2018-05-01T09:00:00+01:00", "entry"),
        ])], "2018-05-01T08:00:00+00:00"),
    ],
}  # fmt: skip


def _write_raw(path: Path) -> None:
    con = duckdb.connect(str(path))
    ensure_schemas(con)  # every known system's raw tables, as the loader makes them
    streams = {
        "events": (EVENTS, lambda r: r["slug"], None),
        "orders": (ORDERS, lambda r: r["code"], lambda r: r["last_modified"]),
    }
    for stream, (batches, key, cursor) in streams.items():
        rows = [
            (SOURCE, batch_id, line, key(rec), cursor(rec) if cursor else None,
             json.dumps(rec, ensure_ascii=False))
            for batch_id, records in batches.items()
            for line, rec in enumerate(records, start=1)
        ]  # fmt: skip
        con.executemany(f"insert into raw.pretix__{stream} values (?, ?, ?, ?, ?, ?, now())", rows)
    con.close()


# --------------------------------------------------------------------------- dbt run


@pytest.fixture(scope="module")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:

    tmp = tmp_path_factory.mktemp("dbt_fixture")
    path = tmp / "warehouse.duckdb"
    _write_raw(path)
    result = _dbt(
        path,
        # the project must build with 0 warnings; the fixture's "Atlantis" is meant to trip the
        # unrecognised-country report, checked on its own below
        ["--warn-error", "build", "--exclude", "assert_country_texts_recognised"],
    )
    assert result.success, f"dbt build failed: {result.exception}"
    return path


def _dbt(path: Path, args: list[str]):
    from dbt.cli.main import dbtRunner

    work = path.parent
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("ENGAGE_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(work / "target"),
                "--log-path",
                str(work / "logs"),
            ]
        )
    finally:
        monkeypatch.undo()


def test_unrecognised_country_spellings_are_reported_by_a_test(fixture_warehouse: Path) -> None:
    result = _dbt(fixture_warehouse, ["test", "--select", "assert_country_texts_recognised"])
    [outcome] = result.result.results
    assert str(outcome.status) == "warn"
    assert outcome.failures == 1  # "Atlantis", the fixture's one unknown country


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_programme_kpis(fixture_warehouse: Path) -> None:
    rows = _query(fixture_warehouse, "select * from marts.mart_programme_kpis_by_phase order by phase")
    assert rows == [
        # phase, activities, attendances, participants, countries, experts, stakeholders, first, last
        # (the fixture has no registry files: no experts or stakeholders)
        ("1", 1, 2, 2, 4, 0, 0, date(2019, 3, 12), date(2019, 3, 14)),  # DO CR GT + MX
        ("2", 1, 1, 1, 5, 0, 0, date(2025, 10, 1), date(2025, 10, 2)),  # VN LA TR CI + PH
        ("all", 2, 3, 3, 9, 0, 0, date(2019, 3, 12), date(2025, 10, 2)),
    ]


def test_dim_activity(fixture_warehouse: Path) -> None:
    rows = _query(
        fixture_warehouse,
        """select activity_id, activity_type, phase, host_country_code,
                  beneficiary_country_count, unrecognised_beneficiary_count, activity_year
           from marts.dim_activity order by activity_id""",
    )
    assert rows == [
        (f"{SOURCE}:{EV1}", "training", "1", "DO", 3, 0, 2019),
        (f"{SOURCE}:{EV2}", "workshop", "2", "VN", 3, 1, 2025),
    ]


def test_fct_participation(fixture_warehouse: Path) -> None:
    rows = _query(
        fixture_warehouse,
        """select activity_id, person_key, country_code, sector, gender, is_registered,
                  is_attended, first_checked_in_at is not null
           from marts.fct_participation order by activity_id, person_key""",
    )
    assert rows == [
        (f"{SOURCE}:{EV1}", "a1", "DO", "csirt", "female", True, True, True),
        (f"{SOURCE}:{EV1}", "e3", "MX", "ministry", "male", True, True, True),
        (f"{SOURCE}:{EV2}", "a1", "DO", "csirt", "female", True, False, False),
        (f"{SOURCE}:{EV2}", "a5", "VN", "ministry", "male", True, False, False),
        (f"{SOURCE}:{EV2}", "a8", "XK", "csirt", "female", False, False, False),
        (f"{SOURCE}:{EV2}", "a9", "PH", "csirt", "undisclosed", True, True, True),
    ]
    # e3 has two entry check-ins: the earliest counts (2019-03-12T09:10+01:00)
    first = _query(
        fixture_warehouse,
        """select strftime(timezone('UTC', first_checked_in_at), '%Y-%m-%dT%H:%M')
           from marts.fct_participation where person_key = 'e3'""",
    )
    assert first == [("2019-03-12T08:10",)]


def test_dim_country(fixture_warehouse: Path) -> None:
    count, xk = _query(
        fixture_warehouse,
        "select count(*), count(*) filter (where country_code = 'XK') from marts.dim_country",
    )[0]
    assert count > 240 and xk == 1
    rows = _query(
        fixture_warehouse,
        """select country_code, first_engaged_date, is_engaged_phase_1, is_engaged_phase_2,
                  is_indo_pacific_focus
           from marts.dim_country where country_code in ('DO', 'PH', 'XK', 'LA', 'JP')
           order by country_code""",
    )
    assert rows == [
        ("DO", date(2019, 3, 12), True, False, False),
        ("JP", None, False, False, False),  # only the deleted event named Japan
        ("LA", date(2025, 10, 1), False, True, True),  # "Lao PDR", by pattern
        ("PH", date(2025, 10, 1), False, True, True),
        ("XK", None, False, False, False),  # registered (expired order), never attended
    ]


def test_unrecognised_countries_are_kept(fixture_warehouse: Path) -> None:
    rows = _query(
        fixture_warehouse,
        """select country_raw, country_code, match_method
           from intermediate.int_country_texts_normalised
           where country_raw in ('Atlantis', 'Türkiye', 'cote d''ivoire', 'Lao PDR', 'GTM')
           order by country_raw""",
    )
    assert rows == [
        ("Atlantis", None, None),
        ("GTM", "GT", "alias"),
        ("Lao PDR", "LA", "pattern"),
        ("Türkiye", "TR", "alias"),
        ("cote d'ivoire", "CI", "alias"),
    ]


# --------------------------------------------------------------------------- seeds


def test_seeds_are_up_to_date() -> None:
    files, _ambiguous = _load_seed_script().generate()
    for name, content in files.items():
        committed = (PROJECT_DIR / "seeds" / name).read_text(encoding="utf-8")
        assert committed == content, f"{name} is stale: run scripts/generate_country_seeds.py"


def test_python_and_sql_normalisation_agree() -> None:
    script = _load_seed_script()
    macro = (PROJECT_DIR / "macros" / "normalise_country_text.sql").read_text()
    body = re.search(r"%}\s*(.*?)\s*{%-? endmacro", macro, re.S).group(1)
    sql_expression = body.replace("{{ expr }}", "value")
    aliases = (PROJECT_DIR / "seeds" / "country_aliases.csv").read_text(encoding="utf-8")
    names = [country.name for country in script.pycountry.countries]
    samples = [
        "Türkiye", "Côte d'Ivoire", "  Viet   Nam ", "Viet\tNam", "ÅLAND Islands", "Curaçao",
        "Réunion", "São Tomé and Príncipe", "Saint Barthélemy", "Kosovo", "XK",
        *names, *aliases.splitlines()[1:],
    ]  # fmt: skip
    con = duckdb.connect()
    con.execute("create table t (value varchar)")
    con.executemany("insert into t values (?)", [(s,) for s in samples])
    sql_results = con.execute(f"select value, {sql_expression} from t").fetchall()
    con.close()
    mismatches = [
        (value, normalised, script.normalise_country_text(value))
        for value, normalised in sql_results
        if (normalised or "") != script.normalise_country_text(value)
    ]
    assert not mismatches
