"""KoboToolbox records: forms, versions, assets, uids, timestamps and submissions as served."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.pretix_organiser import TZ

OWNER = "ecccn_me"  # the programme's KoboToolbox account owning the forms
UID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # KoboToolbox's uids

# The metadata keys every submission carries besides its answers (KoboToolbox API v2).
METADATA_KEYS = (
    "_id",
    "formhub/uuid",
    "start",
    "end",
    "__version__",
    "meta/instanceID",
    "_xform_id_string",
    "_uuid",
    "_attachments",
    "_status",
    "_geolocation",
    "_submission_time",
    "_tags",
    "_notes",
    "_validation_status",
    "_submitted_by",
)


@dataclass(frozen=True)
class Question:
    """One question of a form: its full path (groups joined by ``/``), type and label."""

    path: str
    type: str  # text, integer, select_one <list>, select_multiple <list>
    label: str
    required: bool = False

    @property
    def choice_list(self) -> str | None:
        kind, _, name = self.type.partition(" ")
        return name if kind in ("select_one", "select_multiple") else None


@dataclass(frozen=True)
class FormVersion:
    uid: str
    deployed_at: datetime
    questions: tuple[Question, ...]
    repeat: str | None = None  # the path of the form's repeat group, if any
    repeat_questions: tuple[Question, ...] = ()


@dataclass
class KoboAsset:
    """A form (or a library item) with its deployed versions; the last version is the current one."""

    uid: str
    name: str
    asset_type: str  # survey, block, question, template
    date_created: datetime
    versions: list[FormVersion]
    formhub_uuid: str
    has_deployment: bool = True
    owner: str = OWNER
    submissions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> FormVersion:
        return self.versions[-1]

    @property
    def date_modified(self) -> datetime:
        return max(v.deployed_at for v in self.versions)


@dataclass
class KoboDataset:
    """The server's assets, in listing order, each with its submissions in ``_id`` order."""

    owner: str
    assets: list[KoboAsset]
    next_id: int  # the ``_id`` the next submission gets (ids are server-wide)

    def asset(self, uid: str) -> KoboAsset | None:
        return next((a for a in self.assets if a.uid == uid), None)

    @property
    def surveys(self) -> list[KoboAsset]:
        return [a for a in self.assets if a.asset_type == "survey"]


def kobo_uid(prefix: str, *parts: object) -> str:
    """A KoboToolbox-style uid (prefix + 21 base-57 characters), stable for the same parts."""
    number = int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest(), "big")
    chars = []
    for _ in range(21):
        number, digit = divmod(number, len(UID_ALPHABET))
        chars.append(UID_ALPHABET[digit])
    return prefix + "".join(chars)


def stable_uuid(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def kobo_time(moment: datetime) -> str:
    """``_submission_time`` as KoboToolbox writes it: UTC, seconds, no zone suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def device_time(moment: datetime) -> str:
    """``start`` / ``end`` as a device records them: local time, milliseconds and offset."""
    return moment.astimezone(TZ).isoformat(timespec="milliseconds")


def render_submission(
    asset: KoboAsset,
    version: FormVersion,
    answers: dict[str, Any],
    *,
    submission_id: int,
    received_at: datetime,
    filled_seconds: int = 300,
    submitted_by: str | None = None,
    validation_status: dict[str, Any] | None = None,
    instance_uuid: str | None = None,
) -> dict[str, Any]:
    """One submission as the data endpoint returns it: answers first, then the metadata."""
    instance = instance_uuid or stable_uuid("submission", asset.uid, submission_id)
    ended = received_at - timedelta(seconds=5 + submission_id % 55, milliseconds=submission_id * 37 % 1000)
    return {
        "_id": submission_id,
        "formhub/uuid": asset.formhub_uuid,
        "start": device_time(ended - timedelta(seconds=filled_seconds)),
        "end": device_time(ended),
        **answers,
        "__version__": version.uid,
        "meta/instanceID": f"uuid:{instance}",
        "_xform_id_string": asset.uid,
        "_uuid": instance,
        "_attachments": [],
        "_status": "submitted_via_web",
        "_geolocation": [None, None],
        "_submission_time": kobo_time(received_at),
        "_tags": [],
        "_notes": [],
        "_validation_status": validation_status or {},
        "_submitted_by": submitted_by,
    }


# Keys that are metadata although they do not start with "_" (staging leaves them out of answers).
NON_ANSWER_KEYS = frozenset({"__version__", "start", "end", "formhub/uuid"})


def is_answer_key(key: str) -> bool:
    """Whether a submission key is an answer (a question path) rather than metadata."""
    return not (key.startswith(("_", "meta/")) or key in NON_ANSWER_KEYS)
