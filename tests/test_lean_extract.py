"""Issue 16's leaner extractor changes how records are landed, never what: for a fixed simulator run
the landed parts decompress to the very lines landed before (pinned digests), the memoised
allow-list gives what a plain walk of the rules gives, and the page fingerprint (body bytes) stops
on the repeats the re-serialised one stopped on."""

from __future__ import annotations

import gzip
import hashlib
import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from engage.extract import extract_stream
from engage.landing.batches import committed_manifests, encode_record
from engage.privacy import allow_list
from engage.privacy.allow_list import Minimiser
from engage.privacy.pseudonymise import Pseudonymiser
from engage.privacy.scrub import scrub_value
from extractors import kobotoolbox, pretix
from extractors.http import page_fingerprint
from extractors.source_config import KoboSource
from extractors.streams import FieldRule
from tests.demo_warehouse import KOBO, LIMESURVEY, PRETIX, demo_config

# content_sha256 (the sha256 of the landed lines) of the default simulator's streams, landed with
# the demo key by the extractor before issue 16 (gzip 9, json.dumps fingerprints, no memos). If the
# simulator's data or a stream's allow-list changes on purpose, these change with it: re-pin them
# (orders re-pinned when positions[].checkins became kept: attendance comes from the order feed).
LANDED_BEFORE = {
    (PRETIX, "orders"): (16974, "ec39d715fd3b92a919b74895e96eabfc7ce755b54983aca0c66a2ed009910225"),
    (PRETIX, "events"): (293, "ae6bbbade197243d36ed72d690338ff3284b363aee891bdcddb3378e1c2c97d9"),
    (KOBO, "submissions"): (3668, "b799c55642f8b1c4aefbdb5737ec22a39ab878adaf3d5740a4b467284672ebb5"),
    (LIMESURVEY, "responses"): (581, "ddd8e5f4ccd24208df8a64586ee649e55383798ed7d4f617da2d02962d09f861"),
}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[bytes]]:
    """Each pinned stream extracted once from a simulator of its own, as the lines its parts hold."""
    from simulator.server import start_simulator

    found: dict[tuple[str, str], list[bytes]] = {}
    with start_simulator(port=0) as sim:
        config = demo_config(tmp_path_factory.mktemp("lean"), sim)
        for source, stream in LANDED_BEFORE:
            extract_stream(config, source, stream)
            for folder, manifest in committed_manifests(config.landing_dir, source, stream):
                lines = b"".join(gzip.decompress((folder / p.name).read_bytes()) for p in manifest.parts)
                assert hashlib.sha256(lines).hexdigest() == manifest.content_sha256
                found[source, stream] = lines.splitlines(keepends=True)
    return found


@pytest.mark.parametrize("stream", list(LANDED_BEFORE), ids="/".join)
def test_the_landed_records_are_the_ones_landed_before(landed: dict, stream: tuple[str, str]) -> None:
    lines = landed[stream]
    rows, digest = LANDED_BEFORE[stream]
    assert len(lines) == rows
    assert hashlib.sha256(b"".join(lines)).hexdigest() == digest
    assert all(encode_record(json.loads(line)) == line for line in lines[:200])  # canonical lines


def _plain(record: dict, rules: tuple[FieldRule, ...], key: Pseudonymiser, unknown: dict) -> dict:
    """The allow-list as it was walked before issue 16: every key matched against every rule."""

    def node_for(children: dict, name: str) -> dict | None:
        if name in children:
            return children[name]
        return next(
            (n for p, n in children.items() if any(c in p for c in "*?[") and fnmatchcase(name, p)), None
        )

    def walk(value: dict, children: dict, prefix: str) -> dict:
        kept: dict[str, Any] = {}
        for name, item in value.items():
            node, path = node_for(children, name), prefix + name
            if node is None:
                unknown[path] = unknown.get(path, 0) + 1
            elif node["action"] == "keep":
                kept[name] = item
            elif node["action"] == "scrub":
                kept[name] = scrub_value(item)
            elif node["action"] == "pseudonymise":
                ok = isinstance(item, str) and item.strip()
                kept[f"{name}_pseudonym"] = key.pseudonym(item) if ok else None
            elif node["action"] == "drop":
                pass
            elif item is None:
                kept[name] = None
            elif node["list"] and isinstance(item, list):
                kept[name] = [
                    walk(i, node["children"], f"{path}[].") if isinstance(i, dict) else None for i in item
                ]
            elif not node["list"] and isinstance(item, dict):
                kept[name] = walk(item, node["children"], f"{path}.")
            else:
                unknown[path] = unknown.get(path, 0) + 1
        return kept

    root: dict = {"_quarantine_reason": {"action": "keep", "list": False, "children": {}}}
    for rule in rules:
        children, steps = root, rule.path.split(".")
        for index, step in enumerate(steps):
            name = step.removesuffix("[]")
            node = children.setdefault(name, {"action": None, "list": False, "children": {}})
            node["list"] = node["list"] or step.endswith("[]")
            if index == len(steps) - 1 and node["action"] is None and not node["children"]:
                node["action"] = rule.action
            children = node["children"]
    return walk(record, root, "")


def _awkward_orders() -> list[dict]:
    """Orders in several shapes: extra and missing keys, None and scalars where objects are declared,
    list items that are not objects, the same people again, blank identifiers."""
    base = {"code": "A", "email": "Ana@Example.org ", "status": "p", "last_modified": "2026-01-01T00:00:00Z"}
    position = {"id": 1, "attendee_email": "ana@example.org", "attendee_name": " ", "secret": "s", "new": 1}
    answers = [{"question": 1, "answer": "mail me: ana@example.org"}, "not an object", {"answer": None}]
    return [
        {
            **base,
            "positions": [{**position, "answers": answers}],
            "invoice_address": {"company": "X", "zz": 1},
        },
        {**base, "code": "B", "positions": None, "invoice_address": "a scalar", "plugin_data": {}},
        {"code": "C", "positions": [position, 7, None], "email": None, "comment": "dropped"},
        {**base, "code": "D", "positions": "a scalar", "brand_new": [1]},
        {"status": "n", **base, "positions": [{**position, "answers": answers, "company": 5}]},
    ]


def test_the_memoised_allow_list_gives_what_the_plain_walk_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Pseudonymiser(b"k")
    rules = pretix.STREAMS["orders"].rules_for(None)
    for memo_bounds in ((4096, 1024, 65_536), (0, 0, 1)):  # remembered, and nothing remembered
        for name, bound in zip(
            ("LOOKUPS_PER_NODE", "PLANS_PER_NODE", "MEMO_ENTRIES"), memo_bounds, strict=True
        ):
            monkeypatch.setattr(allow_list, name, bound)
        minimiser, unknown = Minimiser(rules, key), {}
        for record in _awkward_orders() * 3:
            assert minimiser.apply(record) == _plain(record, rules, key, unknown)
        assert dict(minimiser.unknown) == unknown
    source = KoboSource(kind="kobotoolbox", base_url="http://127.0.0.1:1/", credentials={"token_env": "T"})
    kobo_rules = kobotoolbox.STREAMS["submissions"].rules_for(source)  # globs, tried in order
    submission = {
        "_id": 1,
        "meta/instanceID": "u",
        "q/free": "call +32 2 555 12 12",
        "_new": 1,
        "g": [{"a": 1}],
    }
    minimiser, unknown = Minimiser(kobo_rules, key), {}
    assert minimiser.apply(submission) == _plain(submission, kobo_rules, key, unknown)
    assert dict(minimiser.unknown) == unknown


def _old_fingerprint(page: list[dict]) -> str:
    return hashlib.sha256(json.dumps(page, sort_keys=True, default=str).encode()).hexdigest()


def test_the_body_fingerprint_stops_on_the_repeats_the_old_one_stopped_on() -> None:
    def page(results: list, next_page: int | None, count: int = 9) -> tuple[dict, bytes]:
        link = f"https://source.example/api/items/?cursor=x&page={next_page}" if next_page else None
        payload = {"count": count, "next": link, "previous": None, "results": results}
        return payload, json.dumps(payload).encode()

    records = [{"id": 1, "name": "é"}, {"id": 2, "tags": [1, 2]}]
    first = page(records, 2)
    cases = {
        "the same body again (a stale cache, the simulator's repeat_page)": (page(records, 2), True),
        "the same records under a new link (the page parameter ignored)": (page(records, 3), True),
        "the same records, the last page": (page(records, None), True),
        "other records under the same link": (page([{"id": 3}], 2), False),
        "one record fewer": (page(records[:1], 3), False),
        "a record that changed": (page([records[0], {"id": 2, "tags": [1]}], 3), False),
    }
    for name, ((payload, body), repeats) in cases.items():
        old = _old_fingerprint(payload["results"]) == _old_fingerprint(first[0]["results"])
        new = page_fingerprint(payload, body) == page_fingerprint(*first)
        assert old == new == repeats, name
