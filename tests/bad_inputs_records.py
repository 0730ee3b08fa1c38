"""Record cases of the partner-system streams (pretix, KoboToolbox, LimeSurvey) for the loader.

Each is one landed line, byte for byte: broken lines the loader must quarantine with a reason, and
odd-but-valid records that must load unchanged.
"""

from __future__ import annotations

from tests.bad_inputs_base import (
    ASSETS,
    EMOJI_TEXT,
    EVENTS,
    HUGE_TEXT,
    KOBO_FORM,
    KOBO_VERSION,
    LM,
    ORDERS,
    REMOVED,
    RESPONSES,
    RTL_TEXT,
    SQL_TEXT,
    SUBMISSIONS,
    RecordCase,
    as_line,
    kobo_submission,
    lime_response,
    pretix_event,
    pretix_order,
)

STREAM_RECORD_CASES: list[RecordCase] = [
    # --- pretix orders: the loader's own checks ---------------------------------------------------
    RecordCase("good_order", ORDERS, as_line(pretix_order("GOOD1")), "loaded"),
    RecordCase(
        "truncated_json", ORDERS, b'{"code": "T1", "last_modified": \n', "quarantine: unparseable JSON"
    ),
    RecordCase(
        "single_quoted_json",
        ORDERS,
        b"{'code': 'SQ', 'last_modified': '2024-01-01'}\n",
        "quarantine: unparseable JSON",
    ),
    RecordCase(
        "trailing_garbage",
        ORDERS,
        b'{"code": "TG", "last_modified": "2024-01-01T00:00:00Z"} xyz\n',
        "quarantine: unparseable JSON",
    ),
    # not strict JSON, but DuckDB's reader (and Python's json) accept NaN: it loads as it is
    RecordCase(
        "nan_literal",
        ORDERS,
        b'{"code": "NAN", "last_modified": "2024-01-01T00:00:00Z", "total": NaN}\n',
        "loaded",
    ),
    RecordCase("plain_text_line", ORDERS, b"ERROR 502 Bad Gateway\n", "quarantine: unparseable JSON"),
    RecordCase(
        "html_error_page",
        ORDERS,
        b"<html><body>Service unavailable</body></html>\n",
        "quarantine: unparseable JSON",
    ),
    RecordCase("blank_line", ORDERS, b"\n", "quarantine: unparseable JSON"),  # empty is not JSON
    RecordCase(
        "invalid_utf8_bytes",
        ORDERS,
        b'{"code":"Q\xff\xfe","last_modified":"2024-02-01T00:00:00Z"}\n',
        "quarantine: not valid UTF-8",
    ),
    RecordCase(
        "utf8_bom_line",
        ORDERS,
        b'\xef\xbb\xbf{"code":"BOM","last_modified":"2024-01-01T00:00:00Z"}\n',
        "quarantine: unparseable JSON",
    ),
    RecordCase(
        "raw_tab_in_string",
        ORDERS,
        b'{"code":"TAB","last_modified":"2024-01-01T00:00:00Z","note":"a\tb"}\n',
        "quarantine: unparseable JSON",
    ),
    RecordCase("json_array", ORDERS, b'["an", "array"]\n', "quarantine: not a JSON object"),
    RecordCase("json_string", ORDERS, b'"just a string"\n', "quarantine: not a JSON object"),
    RecordCase("json_number", ORDERS, b"42\n", "quarantine: not a JSON object"),
    RecordCase("json_null", ORDERS, b"null\n", "quarantine: not a JSON object"),
    RecordCase(
        "missing_key",
        ORDERS,
        as_line({"last_modified": LM, "status": "p"}),
        "quarantine: missing primary key (code)",
    ),
    RecordCase("blank_key", ORDERS, as_line(pretix_order("")), "quarantine: missing primary key (code)"),
    RecordCase(
        "whitespace_key", ORDERS, as_line(pretix_order("   ")), "quarantine: missing primary key (code)"
    ),
    RecordCase("null_key", ORDERS, as_line(pretix_order(None)), "quarantine: missing primary key (code)"),
    RecordCase(
        "missing_cursor",
        ORDERS,
        as_line({"code": "NOCUR", "status": "p"}),
        "quarantine: missing cursor field last_modified",
    ),
    RecordCase(
        "null_cursor",
        ORDERS,
        as_line(pretix_order("NULLCUR", last_modified=None)),
        "quarantine: missing cursor field last_modified",
    ),
    RecordCase(
        "text_cursor",
        ORDERS,
        as_line(pretix_order("TXTCUR", last_modified="yesterday")),
        "quarantine: cursor field last_modified is not a timestamp: yesterday",
    ),
    RecordCase(
        "impossible_date_cursor",
        ORDERS,
        as_line(pretix_order("FEB30", last_modified="2024-02-30T10:00:00Z")),
        "quarantine: is not a timestamp",
    ),
    RecordCase(
        "numeric_cursor",
        ORDERS,
        as_line(pretix_order("NUMCUR", last_modified=True)),
        "quarantine: is not a timestamp",
    ),
    RecordCase(
        "extractor_flagged",
        ORDERS,
        as_line(pretix_order("FLAG", _quarantine_reason="row 7: date_joined is not a date")),
        "quarantine: row 7: date_joined is not a date",
    ),
    # --- pretix orders: odd but valid, must load unchanged ----------------------------------------
    RecordCase(
        "rtl_name",
        ORDERS,
        as_line(pretix_order("RTL", invoice_address={"company": RTL_TEXT, "country": "BE"})),
        "loaded",
    ),
    RecordCase(
        "emoji_name",
        ORDERS,
        as_line(pretix_order("EMOJI", invoice_address={"company": EMOJI_TEXT})),
        "loaded",
    ),
    RecordCase(
        "escaped_emoji_ascii_json",
        ORDERS,
        b'{"code":"ESC","last_modified":"2024-01-03T00:00:00Z","comment":"\\u0645\\u0631 \\ud83d\\ude00"}\n',
        "loaded",
    ),
    RecordCase("sql_looking_text", ORDERS, as_line(pretix_order("SQLTXT", comment=SQL_TEXT)), "loaded"),
    # Wrong types in fields that are neither key nor cursor: the record loads as it came; staging
    # reads such a value as null (try_cast) instead of failing the whole refresh.
    RecordCase("wrong_type_boolean", ORDERS, as_line(pretix_order("WTBOOL", testmode="maybe")), "loaded"),
    RecordCase("wrong_type_timestamp", ORDERS, as_line(pretix_order("WTTIME", datetime="garbage")), "loaded"),
    RecordCase(
        "wrong_type_object", ORDERS, as_line(pretix_order("WTOBJ", invoice_address="not an object")), "loaded"
    ),
    RecordCase("sql_looking_key", ORDERS, as_line(pretix_order(SQL_TEXT)), "loaded"),
    RecordCase("huge_string_1mb", ORDERS, as_line(pretix_order("HUGE", comment=HUGE_TEXT)), "loaded"),
    RecordCase(
        "future_dates",
        ORDERS,
        as_line(
            pretix_order("FUTURE", datetime="2099-12-31T23:59:59+00:00", last_modified="2099-12-31T23:59:59Z")
        ),
        "loaded",
    ),
    RecordCase(
        "duplicate_id_first",
        ORDERS,
        as_line(pretix_order("DUP", status="n", last_modified="2024-02-01T00:00:00Z")),
        "loaded",
    ),
    RecordCase(
        "duplicate_id_conflicting_update",
        ORDERS,
        as_line(pretix_order("DUP", status="c", last_modified="2024-04-01T00:00:00Z")),
        "loaded",
    ),
    RecordCase(
        "out_of_order_timestamp",
        ORDERS,
        as_line(pretix_order("OLD", last_modified="2019-01-01T00:00:00Z")),
        "loaded",
    ),
    RecordCase("numeric_key", ORDERS, as_line(pretix_order(12345)), "loaded"),
    RecordCase(
        "unknown_fields",
        ORDERS,
        as_line(pretix_order("EXTRA", brand_new_field={"nested": [1, 2, {"a": None}]})),
        "loaded",
    ),
    RecordCase(
        "control_chars_escaped",
        ORDERS,
        as_line(pretix_order("CTRL", comment="tab\tnul\u0000bell\u0007")),
        "loaded",
    ),
    RecordCase(
        "unknown_country",
        ORDERS,
        as_line(pretix_order("ATL", invoice_address={"country": "Atlantis"})),
        "loaded",
    ),
    # --- pretix events (snapshot, key slug) -------------------------------------------------------
    RecordCase("good_event", EVENTS, as_line(pretix_event("bad-inputs-2024")), "loaded"),
    RecordCase(
        "event_missing_slug",
        EVENTS,
        as_line({"name": {"en": "No slug"}}),
        "quarantine: missing primary key (slug)",
    ),
    RecordCase("event_not_object", EVENTS, b"[1, 2, 3]\n", "quarantine: not a JSON object"),
    RecordCase(
        "event_rtl_emoji_name",
        EVENTS,
        as_line(pretix_event("rtl-emoji", name={"en": f"{RTL_TEXT} {EMOJI_TEXT}"})),
        "loaded",
    ),
    RecordCase(
        "event_future_dates",
        EVENTS,
        as_line(
            pretix_event(
                "future-2099", date_from="2099-06-01T09:00:00+02:00", date_to="2099-06-02T17:00:00+02:00"
            )
        ),
        "loaded",
    ),
    RecordCase(
        "event_unknown_country",
        EVENTS,
        as_line(
            pretix_event("atlantis", meta_data={"activity_type": "training", "host_country": "Atlantis"})
        ),
        "loaded",
    ),
    RecordCase(
        "event_ambiguous_country",
        EVENTS,
        as_line(
            pretix_event(
                "congo",
                meta_data={
                    "activity_type": "training",
                    "host_country": "Congo",
                    "beneficiary_countries": "Guinea; Korea",
                },
            )
        ),
        "loaded",
    ),
    RecordCase(
        "event_sql_looking_name", EVENTS, as_line(pretix_event("sql-name", name={"en": SQL_TEXT})), "loaded"
    ),
    # --- kobotoolbox assets and submissions (key _xform_id_string + _id, timestamp cursor) -----
    RecordCase(
        "good_asset",
        ASSETS,
        as_line(
            {
                "uid": KOBO_FORM,
                "name": "Post-activity evaluation",
                "asset_type": "survey",
                "version_id": KOBO_VERSION,
            }
        ),
        "loaded",
    ),
    RecordCase("good_submission", SUBMISSIONS, as_line(kobo_submission(9001)), "loaded"),
    RecordCase(
        "submission_missing_id",
        SUBMISSIONS,
        as_line(kobo_submission(REMOVED)),
        "quarantine: missing primary key (_xform_id_string, _id)",
    ),
    RecordCase(
        "submission_missing_form",
        SUBMISSIONS,
        as_line(kobo_submission(9002, _xform_id_string=REMOVED)),
        "quarantine: missing primary key (_xform_id_string, _id)",
    ),
    RecordCase(
        "submission_bad_time",
        SUBMISSIONS,
        as_line(kobo_submission(9003, _submission_time="05/03/2024 10h")),
        "quarantine: cursor field _submission_time is not a timestamp",
    ),
    RecordCase(
        "submission_missing_time",
        SUBMISSIONS,
        as_line(kobo_submission(9004, _submission_time=REMOVED)),
        "quarantine: missing cursor field _submission_time",
    ),
    RecordCase(
        "score_out_of_range_high",
        SUBMISSIONS,
        as_line(kobo_submission(9005, **{"evaluation/satisfaction": "11"})),
        "loaded",
    ),
    RecordCase(
        "score_out_of_range_negative",
        SUBMISSIONS,
        as_line(kobo_submission(9006, **{"evaluation/relevance": "-3"})),
        "loaded",
    ),
    RecordCase(
        "score_not_a_number",
        SUBMISSIONS,
        as_line(kobo_submission(9007, **{"evaluation/satisfaction": "five"})),
        "loaded",
    ),
    RecordCase(
        "new_survey_question",
        SUBMISSIONS,
        as_line(kobo_submission(9008, **{"evaluation/brand_new_question": "3"})),
        "loaded",
    ),
    RecordCase(
        "removed_survey_question",
        SUBMISSIONS,
        as_line(kobo_submission(9009, **{"evaluation/relevance": REMOVED})),
        "loaded",
    ),
    RecordCase(
        "submission_future_time",
        SUBMISSIONS,
        as_line(kobo_submission(9010, _submission_time="2099-01-01T00:00:00")),
        "loaded",
    ),
    # --- limesurvey responses (key _survey_id + id, integer cursor) -------------------------------
    RecordCase("good_response", RESPONSES, as_line(lime_response(101)), "loaded"),
    RecordCase(
        "response_missing_id",
        RESPONSES,
        as_line(lime_response(REMOVED)),
        "quarantine: missing primary key (_survey_id, id)",
    ),
    RecordCase(
        "response_text_id",
        RESPONSES,
        as_line(lime_response("abc")),
        "quarantine: cursor field id is not an integer: abc",
    ),
    RecordCase(
        "response_out_of_range_code",
        RESPONSES,
        as_line(lime_response(102, **{"SATISF[SQ001]": "A9"})),
        "loaded",
    ),
    RecordCase("response_new_question", RESPONSES, as_line(lime_response(103, NUEVAPREGUNTA="A2")), "loaded"),
    RecordCase(
        "response_removed_question", RESPONSES, as_line(lime_response(104, RELEVANCIA=REMOVED)), "loaded"
    ),
    RecordCase(
        "response_rtl_emoji_free_text",
        RESPONSES,
        as_line(lime_response(105, COMENTARIOS=f"{RTL_TEXT} {EMOJI_TEXT} {SQL_TEXT}")),
        "loaded",
    ),
]
