"""Assets as the simulated KoboToolbox renders them: list and detail records, form ``content``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from simulator.kobo_forms import CHOICE_LISTS
from simulator.kobo_model import FormVersion, KoboAsset, Question, kobo_uid

PUBLIC_HOST = "https://kf.example.org"  # the (fake) public server named in asset links
ENKETO_HOST = "https://ee.example.org"


def _stamp(moment: datetime) -> str:
    """KPI's timestamps on assets: UTC with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content_hash(version: FormVersion) -> str:
    return hashlib.sha1(version.uid.encode(), usedforsecurity=False).hexdigest()


def _content(version: FormVersion) -> dict[str, Any]:
    """The form definition (XLSForm as JSON) as an asset's ``content`` holds it."""
    rows: list[dict[str, Any]] = [
        {"name": "start", "type": "start", "$kuid": kobo_uid("k", version.uid, "start"), "$xpath": "start"},
        {"name": "end", "type": "end", "$kuid": kobo_uid("k", version.uid, "end"), "$xpath": "end"},
    ]
    open_group: str | None = None

    def close() -> None:
        if open_group is not None:
            rows.append({"type": "end_group", "$kuid": kobo_uid("k", version.uid, "end", open_group)})

    used_lists: list[str] = []

    def add(question: Question) -> None:
        rows.append(_question_row(version, question))
        if question.choice_list and question.choice_list not in used_lists:
            used_lists.append(question.choice_list)

    for question in version.questions:
        group = question.path.rpartition("/")[0]
        if group != open_group:
            close()
            open_group = group
            rows.append(_group_row(version, "begin_group", group))
        add(question)
    close()
    if version.repeat:
        rows.append(_group_row(version, "begin_repeat", version.repeat))
        for question in version.repeat_questions:
            add(question)
        rows.append({"type": "end_repeat", "$kuid": kobo_uid("k", version.uid, "end", version.repeat)})
    choices = [
        {"name": name, "$kuid": kobo_uid("k", list_name, name), "label": [label], "list_name": list_name}
        for list_name in used_lists
        for name, label in CHOICE_LISTS[list_name]
    ]
    return {
        "schema": "1",
        "survey": rows,
        "choices": choices,
        "settings": {"default_language": "English (en)"},
        "translated": ["label"],
        "translations": ["English (en)"],
    }


def _group_row(version: FormVersion, kind: str, path: str) -> dict[str, Any]:
    return {
        "name": path.rpartition("/")[2],
        "type": kind,
        "$kuid": kobo_uid("k", version.uid, path),
        "label": [path.replace("_", " ").capitalize()],
        "$xpath": path,
    }


def _question_row(version: FormVersion, question: Question) -> dict[str, Any]:
    base, _, list_name = question.type.partition(" ")
    row: dict[str, Any] = {
        "name": question.path.rpartition("/")[2],
        "type": base,
        "$kuid": kobo_uid("k", version.uid, question.path),
        "label": [question.label],
        "$xpath": question.path,
        "required": question.required,
    }
    if list_name:
        row["select_from_list_name"] = list_name
    return row


def render_asset(asset: KoboAsset, api_url: str, *, detail: bool = False) -> dict[str, Any]:
    """An asset as ``GET assets/`` lists it; ``detail`` adds what ``GET assets/{uid}/`` shows."""
    url = f"{api_url}/assets/{asset.uid}/"
    deployed = asset.has_deployment
    record: dict[str, Any] = {
        "url": f"{url}?format=json",
        "date_modified": _stamp(asset.date_modified),
        "date_created": _stamp(asset.date_created),
        "owner": f"{api_url}/users/{asset.owner}/?format=json",
        "summary": {
            "geo": False,
            "labels": [q.label for q in asset.current.questions[:5]],
            "columns": ["name", "type", "label", "required", "select_from_list_name"],
            "languages": ["English (en)"],
            "row_count": len(asset.current.questions) + len(asset.current.repeat_questions),
            "default_translation": "English (en)",
        },
        "owner__username": asset.owner,
        "parent": None,
        "uid": asset.uid,
        "tag_string": "",
        "settings": {"sector": {"label": "Public Administration", "value": "Public Administration"}},
        "kind": "asset",
        "name": asset.name,
        "asset_type": asset.asset_type,
        "version_id": asset.current.uid,
        "has_deployment": deployed,
        "deployed_version_id": asset.current.uid if deployed else None,
        "deployment__identifier": f"{PUBLIC_HOST.replace('kf.', 'kc.')}/{asset.owner}/forms/{asset.uid}"
        if deployed
        else None,
        "deployment__active": deployed,
        "deployment__submission_count": len(asset.submissions),
        "permissions": [
            {
                "url": f"{url}permission-assignments/{kobo_uid('p', asset.uid, codename)}/?format=json",
                "user": f"{api_url}/users/{asset.owner}/?format=json",
                "permission": f"{api_url}/permissions/{codename}/?format=json",
                "label": label,
            }
            for codename, label in (("view_asset", "View form"), ("view_submissions", "View submissions"))
        ],
        "export_settings": [],
        "downloads": [
            {"format": "xls", "url": f"{url}?format=json.xls"},
            {"format": "xml", "url": f"{url}?format=json.xml"},
        ],
        "data": f"{url}data/?format=json",
        "subscribers_count": 0,
        "status": "private",
        "access_types": None,
        "children": {"count": 0},
        "data_sharing": {},
    }
    if detail:
        versions = asset.versions if deployed else []
        record.update(
            {
                "version__content_hash": _content_hash(asset.current),
                "version_count": len(asset.versions),
                "deployed_versions": {
                    "count": len(versions),
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "uid": version.uid,
                            "url": f"{url}versions/{version.uid}/?format=json",
                            "content_hash": _content_hash(version),
                            "date_deployed": _stamp(version.deployed_at),
                            "date_modified": _stamp(version.deployed_at),
                        }
                        for version in reversed(versions)  # newest first
                    ],
                },
                "deployment__links": {
                    "url": f"{ENKETO_HOST}/{asset.uid[:8]}",
                    "offline_url": f"{ENKETO_HOST}/x/{asset.uid[:8]}",
                    "preview_url": f"{ENKETO_HOST}/preview/{asset.uid[:8]}",
                }
                if deployed
                else {},
                "content": _content(asset.current),
            }
        )
    return record
