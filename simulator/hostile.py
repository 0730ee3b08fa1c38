"""What a hostile or broken server sends: the bodies and links behind the fault plan's newer kinds.

Each function takes the routed JSON body and returns what goes on the wire instead (bytes and
headers), so `simulator.faults` only decides *when*; this module says *what*. See
docs/reliability.md for what the client must do with each.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ENDLESS_PARAM = "_sim_endless"  # marks a link of an endless chain; the chain never ends once entered
LATIN1_NOTE = "Réponse reçue à Genève"  # non-ASCII text, so a Latin-1 body cannot pass for UTF-8


def foreign(url: str, origin: str) -> str:
    """The same path and query on another origin."""
    parts, target = urlsplit(url), urlsplit(origin)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))


def foreign_next(body: dict[str, Any], request_url: str, origin: str) -> dict[str, Any]:
    """A list page whose `next` leads to another host (even on the last page: a forged sequel)."""
    return {**body, "next": foreign(body.get("next") or _with(request_url, page="2"), origin)}


def endless_next(body: dict[str, Any], request_url: str) -> dict[str, Any]:
    """A list page whose `next` is always a new URL: the list's pages again and again, numbered on."""
    step = int(dict(parse_qsl(urlsplit(request_url).query)).get(ENDLESS_PARAM, "0")) + 1
    real_next = body.get("next")
    # Walk the real pages, then start over from the first: every link distinct, no page twice in a row.
    base = real_next or _without_page(request_url)
    return {**body, "next": _with(base, **{ENDLESS_PARAM: str(step)})}


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _without_page(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("page", "start", "offset")
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _object_text(body: Any) -> str:
    return json.dumps(body if isinstance(body, dict) else {"value": body})


def wrong_charset(body: Any) -> tuple[bytes, dict[str, str]]:
    """Latin-1 bytes labelled as JSON (whose charset is UTF-8 unless declared)."""
    document = {"note": LATIN1_NOTE, **(body if isinstance(body, dict) else {"value": body})}
    text = json.dumps(document, ensure_ascii=False)
    return text.encode("latin-1", errors="replace"), {"Content-Type": "application/json"}


def with_nan(body: Any) -> bytes:
    """Python's json writes NaN, which no JSON parser should accept."""
    text = _object_text(body)
    inner = text[1:-1].strip()
    return ('{"ratio": NaN' + (", " + inner if inner else "") + "}").encode()


def with_duplicate_key(body: Any) -> bytes:
    """The object again with a second, empty `results` (or its first key again, null)."""
    text = _object_text(body)
    document = body if isinstance(body, dict) else {"value": body}
    if isinstance(document.get("results"), list):
        extra = '"results": []'
    else:
        extra = f"{json.dumps(next(iter(document), 'value'))}: null"
    inner = text[1:-1].strip()
    return ("{" + (inner + ", " if inner else "") + extra + "}").encode()


@functools.lru_cache(maxsize=1)
def _padding_member() -> bytes:
    """One gzip member of 1 MiB of spaces (about 1 KiB: a 1,000-fold expansion), built once."""
    return gzip.compress(b" " * 2**20, compresslevel=9)


def gzip_bomb(body: Any, mib: int) -> tuple[bytes, dict[str, str]]:
    """The real JSON, then `mib` MiB of whitespace, gzip-encoded: valid JSON once fully inflated."""
    # A gzip stream may hold many members; a decoder inflates them all, one after the other.
    payload = gzip.compress(json.dumps(body).encode()) + _padding_member() * mib
    return payload, {"Content-Encoding": "gzip"}


def trickle(handler: Any, status: int, payload: bytes, seconds_per_byte: float, give_up_after: float) -> None:
    """Headers at once, then the body one byte at a time; stops when the client has gone."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.flush()
        stop = time.monotonic() + give_up_after
        for index in range(len(payload)):
            if time.monotonic() > stop:
                break
            handler.wfile.write(payload[index : index + 1])
            handler.wfile.flush()
            time.sleep(seconds_per_byte)
    except OSError:
        pass  # the client gave up, as it should
    handler.close_connection = True
