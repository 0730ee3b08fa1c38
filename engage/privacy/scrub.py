"""Free text scrubbed of contact details: email addresses and phone numbers become placeholders.

Emails by a pattern (tests/test_privacy.py holds its cases); phone numbers by Google's
libphonenumber (`phonenumbers`), which knows every country's numbering plan, so dates, scores,
years and order codes are left alone. Only numbers written in international form (`+32 ...`,
`0032 ...`) are recognised: a national number ("0470 12 34 56") needs its country to be read,
and guessing one would turn ordinary digit runs into "phones".
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

EMAIL_PLACEHOLDER = "[email]"
PHONE_PLACEHOLDER = "[phone]"

# Local part and domain as people type them (dots, plus tags, hyphens, sub-domains), also with
# " at " / "(at)" written instead of "@", which is how addresses are typed to dodge harvesters.
EMAIL = re.compile(
    r"[A-Za-z0-9._%+'-]+(?:@|\s?\(at\)\s?|\s?\[at\]\s?)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    re.IGNORECASE,
)
_INTERNATIONAL_00 = re.compile(r"(?<![\d+])00(?=[1-9]\d)")
_DIGITS = re.compile(r"\d")


def _phones(text: str) -> list[tuple[int, int]]:
    if len(_DIGITS.findall(text)) < 7:  # the fast path: no phone number has fewer digits
        return []
    probe = _INTERNATIONAL_00.sub("+ ", text)  # same length: "00" -> "+ " keeps the offsets
    matcher = phonenumbers.PhoneNumberMatcher(probe, None, leniency=phonenumbers.Leniency.VALID)
    return [(m.start, m.end) for m in matcher]


def scrub_text(text: str) -> str:
    """The text with every email address and international phone number replaced."""
    text = EMAIL.sub(EMAIL_PLACEHOLDER, text)
    spans = _phones(text)
    for start, end in reversed(spans):
        text = text[:start] + PHONE_PLACEHOLDER + text[end:]
    return text


def scrub_value(value: Any) -> Any:
    """Every string inside a value scrubbed (lists and objects too, e.g. a repeat group)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_value(item) for item in value]
    if isinstance(value, dict):
        return {key: scrub_value(item) for key, item in value.items()}
    return value
