"""KoboToolbox (API v2): the survey forms (assets) and their submissions.

`assets` is a snapshot of every survey the account can read (or the configured `asset_uids`), each
as `GET /api/v2/assets/{uid}/` returns it: name, deployed versions, form content, submission count.

`submissions` is incremental by `_submission_time`, kept per form (`partition_field`
`_xform_id_string`, the asset uid): each deployed form is read with
`query={"_submission_time": {"$gte": <the form's cursor>}}` and `limit` = `http.page_size`.
It is paged by the query, not by `start` offsets: a submission deleted between two fetches shifts
every offset behind it, and the first record of the next page would never be read. So each request
adds `"_id": {"$gt": <the last _id received>}` to the query, sorted by `_id` (the server's insertion
order: a new submission always gets a higher one).
KoboToolbox compares `_submission_time` as text (MongoDB strings), so the bound is sent in its own
format: UTC, seconds, no zone suffix. Submissions land as the endpoint returns them: group paths
(`evaluation/satisfaction`), repeat groups (lists of objects) and every metadata key unchanged.

Known limits of reading by `_submission_time`: an edited submission or a changed validation
status keeps its `_submission_time` and is not re-read by a normal run (a backfill window re-reads
it, and staging keeps the latest version); a submission deleted at the source stays.

Personal data: KoboToolbox forms hold identifiers in ordinary questions. The source's configured
`identifying_questions` (default `IDENTIFYING_QUESTIONS`) are pseudonymised (emails and names:
`respondent/email` becomes `respondent/email_pseudonym`, with the same keyed hash as pretix's
attendee emails, so survey answers link to attendance) or dropped (phone numbers) before anything
is landed. Every other answer (any key not starting with `_`) is kept as free text, scrubbed of
emails and phone numbers; of the metadata only what staging reads is kept (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from urllib.parse import quote

from extractors.http import ApiClient, token_client
from extractors.source_config import DEFAULT_KOBO_IDENTIFYING_QUESTIONS, KoboSource
from extractors.streams import FetchContext, FieldRule, Page, Stream, Tally, fields, parse_cursor

SYSTEM = "kobotoolbox"
VERSION = "kobotoolbox-1"

# The default identifying questions (paths, groups joined by "/"); each source may set its own.
IDENTIFYING_QUESTIONS: tuple[tuple[str, str], ...] = tuple(DEFAULT_KOBO_IDENTIFYING_QUESTIONS.items())

ASSET_RULES = (
    *fields("keep", "uid", "name", "asset_type", "date_created", "date_modified", "version_id"),
    *fields("keep", "deployed_version_id", "deployment__active", "deployment__submission_count"),
    *fields("keep", "has_deployment", "owner__username", "deployed_versions.count"),
    *fields("keep", "deployed_versions.results[].uid", "deployed_versions.results[].content_hash"),
    FieldRule("deployed_versions.results[].date_deployed", "keep"),
    *fields("drop", "permissions", "content", "downloads", "embeds", "url", "deployment__links"),
)
SUBMISSION_RULES = (
    *fields("keep", "_id", "_uuid", "_xform_id_string", "_submission_time", "_status"),
    *fields("keep", "_submitted_by", "__version__", "start", "end", "formhub/uuid", "meta/*"),
    *fields("keep", "_validation_status.uid", "_validation_status.label"),
    *fields("drop", "_attachments", "_geolocation", "_notes", "_tags", "_validation_status.by_whom"),
    FieldRule("[!_]*", "scrub"),  # the answers: any question path the form defines
)


def identifying_rules(source: KoboSource) -> tuple[FieldRule, ...]:
    """The source's identifying questions, at the top level and inside repeat groups' items."""
    return tuple(FieldRule(path, action) for path, action in source.identifying_questions.items())


SUBMISSION_SORT = json.dumps({"_id": 1}, separators=(",", ":"))


def make_client(source_name: str, source: KoboSource) -> ApiClient:
    return token_client(source_name, source)


def kobo_timestamp(value: str) -> str:
    """A cursor or window bound as KoboToolbox writes `_submission_time` (UTC, no zone suffix)."""
    return parse_cursor(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def survey_assets(client: ApiClient, source: KoboSource, tally: Tally | None = None) -> Iterator[dict]:
    """The listing entry of every survey to read: all of them, or the configured `asset_uids`."""
    wanted = set(source.asset_uids)
    params = {"format": "json", "q": "asset_type:survey", "limit": source.http.page_size}
    for page in client.paginate("api/v2/assets/", params, tally=None if wanted else tally):
        for asset in page:
            if asset.get("asset_type") == "survey" and (not wanted or asset.get("uid") in wanted):
                yield asset


def _asset_path(uid: str) -> str:
    return f"api/v2/assets/{quote(uid, safe='')}/"


def fetch_assets(client: ApiClient, source: KoboSource, context: FetchContext) -> Iterator[Page]:
    """One page per asset: its detail (deployed versions and form content), sorted by uid."""
    uids = sorted(asset["uid"] for asset in survey_assets(client, source, context.tally))
    for uid in uids:
        yield [client.get_json(_asset_path(uid), {"format": "json"})]


def fetch_submissions(client: ApiClient, source: KoboSource, context: FetchContext) -> Iterator[Page]:
    """Each deployed survey's submissions since its own cursor, oldest first."""
    for asset in survey_assets(client, source):
        if not asset.get("has_deployment"):
            continue  # a draft has no data endpoint
        uid = asset["uid"]
        bounds = {}
        if since := context.start(uid):
            bounds["$gte"] = kobo_timestamp(since)
        if context.window.end:  # a backfill window: the framework drops the rest anyway
            bounds["$lt"] = kobo_timestamp(context.window.end)

        def params_for(page: Page | None, bounds: dict = bounds) -> dict[str, object]:
            query: dict[str, object] = {"_submission_time": bounds} if bounds else {}
            if page:
                query["_id"] = {"$gt": max(_submission_id(record) for record in page)}
            params: dict[str, object] = {"format": "json", "limit": source.http.page_size}
            params["sort"] = SUBMISSION_SORT
            if query:
                params["query"] = json.dumps(query, separators=(",", ":"))
            return params

        yield from client.walk(f"{_asset_path(uid)}data/", params_for, tally=context.tally)


def _submission_id(record: dict) -> int:
    """`_id` as the server sorts it; a record without one (quarantined later) does not move the walk."""
    value = record.get("_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


STREAMS = {
    "assets": Stream("assets", ("uid",), None, fetch_assets, ASSET_RULES),
    "submissions": Stream(
        "submissions",
        ("_xform_id_string", "_id"),
        "_submission_time",
        fetch_submissions,
        SUBMISSION_RULES,
        cursor_type="timestamp",
        partition_field="_xform_id_string",
        source_rules=identifying_rules,
    ),
}
