"""Pseudonymisation at the edge: personal fields become keyed hashes before anything is landed."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from extractors.streams import FieldRule

# Public on purpose: it protects nothing and must never be used outside the demo and the tests.
DEMO_KEY = "engage-demo-pseudonymisation-key-NOT-SECRET"


class MissingKeyError(Exception):
    """No pseudonymisation key is configured and the demo key is not allowed."""


def normalise_identifier(value: str) -> str:
    """The form of an email or name that is hashed: trimmed, lower-cased, inner spaces collapsed."""
    return " ".join(value.strip().lower().split())


@dataclass(frozen=True)
class Pseudonymiser:
    key: bytes

    @classmethod
    def from_environment(cls, key_env: str, *, allow_demo_key: bool = False) -> Pseudonymiser:
        key = os.environ.get(key_env, "")
        if key:
            return cls(key.encode("utf-8"))
        if allow_demo_key:
            return cls(DEMO_KEY.encode("utf-8"))
        raise MissingKeyError(
            f"set the pseudonymisation key in the environment variable {key_env} "
            "(privacy.allow_demo_key is false in the configuration)"
        )

    def pseudonym(self, value: str) -> str:
        """32 hex characters of HMAC-SHA256: stable per key, not reversible without it."""
        return hmac.digest(self.key, normalise_identifier(value).encode("utf-8"), hashlib.sha256).hex()[:32]


def apply_rules(
    record: dict[str, Any], rules: Iterable[FieldRule], pseudonymiser: Pseudonymiser
) -> dict[str, Any]:
    """Apply the rules to a record in place and return it."""
    for rule in rules:
        _apply(record, rule.path.split("."), rule.action, pseudonymiser)
    return record


def _apply(node: Any, steps: list[str], action: str, pseudonymiser: Pseudonymiser) -> None:
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        items = node.get(step[:-2]) if isinstance(node, dict) else None
        for item in items or []:
            _apply(item, rest, action, pseudonymiser)
        return
    if not isinstance(node, dict):
        return
    if rest:
        _apply(node.get(step), rest, action, pseudonymiser)
        return
    if step not in node:
        return
    value = node.pop(step)
    if action == "pseudonymise":
        node[f"{step}_pseudonym"] = (
            pseudonymiser.pseudonym(value) if isinstance(value, str) and value.strip() else None
        )
    elif action != "drop":
        raise ValueError(f"unknown privacy action {action!r}")
