"""The allow-list applied at the edge: a record keeps only the fields its stream declares.

Each stream's rules (extractors.streams.FieldRule) form a tree of dotted paths. A record is rebuilt
from it: a declared field is kept, scrubbed (free text) or pseudonymised; an explicitly dropped one
goes silently; anything else goes too and is counted under its path (list indexes written `[]`),
so a new upstream field is reported, never landed unread. Exact names win over globs, and globs
are tried in the order declared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engage.privacy.pseudonymise import Pseudonymiser
from engage.privacy.scrub import scrub_value
from extractors.streams import INVALID_REASON_FIELD, FieldRule


@dataclass
class _Node:
    action: str | None = None  # a leaf: what to do with the whole value
    is_list: bool = False  # `name[]`: the children apply to each item
    children: dict[str, _Node] = field(default_factory=dict)

    def child(self, key: str) -> _Node | None:
        if key in self.children:
            return self.children[key]
        for pattern, node in self.children.items():
            if any(c in pattern for c in "*?[") and fnmatchcase(key, pattern):
                return node
        return None


def _tree(rules: Iterable[FieldRule]) -> _Node:
    root = _Node()
    for rule in rules:
        node = root
        steps = rule.path.split(".")
        for index, step in enumerate(steps):
            is_list = step.endswith("[]")
            name = step[:-2] if is_list else step
            node = node.children.setdefault(name, _Node())
            node.is_list = node.is_list or is_list
            if index == len(steps) - 1 and node.action is None and not node.children:
                node.action = rule.action
    return root


class Minimiser:
    """One stream's allow-list, ready to apply to records; `unknown` counts what it dropped unread."""

    def __init__(self, rules: Iterable[FieldRule], pseudonymiser: Pseudonymiser) -> None:
        self.rules = tuple(rules)
        self._root = _tree(self.rules)
        # The loader's quarantine marker is the extractor's, not the source's: it always passes.
        self._root.children.setdefault(INVALID_REASON_FIELD, _Node(action="keep"))
        self.pseudonymiser = pseudonymiser
        self.unknown: Counter[str] = Counter()

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """A new record holding only the declared fields, each treated by its action."""
        return self._object(record, self._root, "")

    def _object(self, value: dict[str, Any], node: _Node, prefix: str) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, item in value.items():
            path = f"{prefix}{key}"
            child = node.child(key)
            if child is None:
                self.unknown[path] += 1
            elif child.action is not None:
                self._leaf(kept, key, item, child.action)
            elif item is None:
                kept[key] = None
            elif child.is_list and isinstance(item, list):
                kept[key] = [
                    self._object(i, child, f"{path}[].") if isinstance(i, dict) else None for i in item
                ]
            elif not child.is_list and isinstance(item, dict):
                kept[key] = self._object(item, child, f"{path}.")
            else:  # a scalar where an object or a list was declared: not what staging reads
                self.unknown[path] += 1
        return kept

    def _leaf(self, kept: dict[str, Any], key: str, value: Any, action: str) -> None:
        if action == "keep":
            kept[key] = value
        elif action == "scrub":
            kept[key] = scrub_value(value)
        elif action == "pseudonymise":
            kept[f"{key}_pseudonym"] = (
                self.pseudonymiser.pseudonym(value) if isinstance(value, str) and value.strip() else None
            )
        elif action != "drop":
            raise ValueError(f"unknown field action {action!r}")
