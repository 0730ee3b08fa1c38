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
from engage.privacy.scrub import scrub_text, scrub_value
from extractors.streams import INVALID_REASON_FIELD, FieldRule

# Distinct keys remembered per node: bounded, so a source making up keys cannot grow memory
# without end (past the bound a key is matched again each time, with the same answer).
LOOKUPS_PER_NODE = 4096
# Values scrubbed or pseudonymised once per stream run and remembered (an order's email is its
# attendee's too; answers repeat): bounded, the memo starts again when full. Memory only.
MEMO_ENTRIES = 65_536


@dataclass
class _Node:
    action: str | None = None  # a leaf: what to do with the whole value
    is_list: bool = False  # `name[]`: the children apply to each item
    children: dict[str, _Node] = field(default_factory=dict)
    # Filled by `compile`: the glob children in declared order, and every key's answer so far.
    globs: tuple[tuple[str, _Node], ...] = ()
    lookups: dict[str, _Node | None] = field(default_factory=dict)

    def compile(self) -> None:
        """Ready the subtree for lookups (call once the rules are all in): globs listed, memo empty."""
        self.globs = tuple((p, n) for p, n in self.children.items() if any(c in p for c in "*?["))
        self.lookups = {}
        for child in self.children.values():
            child.compile()

    def child(self, key: str) -> _Node | None:
        """The rule node for `key`: its exact name first, else the first glob matching it."""
        try:
            return self.lookups[key]
        except KeyError:
            pass
        found = self.children.get(key)
        if found is None:
            found = next((node for pattern, node in self.globs if fnmatchcase(key, pattern)), None)
        if len(self.lookups) < LOOKUPS_PER_NODE:
            self.lookups[key] = found
        return found


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
        self._root.compile()
        self.pseudonymiser = pseudonymiser
        self.unknown: Counter[str] = Counter()
        self._scrubbed: dict[str, str] = {}
        self._pseudonyms: dict[str, str | None] = {}

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """A new record holding only the declared fields, each treated by its action."""
        return self._object(record, self._root, "")

    def _object(self, value: dict[str, Any], node: _Node, prefix: str) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        child_of = node.child
        for key, item in value.items():
            child = child_of(key)
            if child is None:
                self.unknown[prefix + key] += 1
            elif child.action is not None:
                if child.action == "keep":  # the common case, without a call
                    kept[key] = item
                else:
                    self._leaf(kept, key, item, child.action)
            elif item is None:
                kept[key] = None
            elif child.is_list and isinstance(item, list):
                inner = f"{prefix}{key}[]."
                kept[key] = [self._object(i, child, inner) if isinstance(i, dict) else None for i in item]
            elif not child.is_list and isinstance(item, dict):
                kept[key] = self._object(item, child, f"{prefix}{key}.")
            else:  # a scalar where an object or a list was declared: not what staging reads
                self.unknown[prefix + key] += 1
        return kept

    def _leaf(self, kept: dict[str, Any], key: str, value: Any, action: str) -> None:
        if action == "keep":
            kept[key] = value
        elif action == "scrub":
            kept[key] = self._scrub(value) if isinstance(value, str) else scrub_value(value)
        elif action == "pseudonymise":
            kept[f"{key}_pseudonym"] = self._pseudonym(value) if isinstance(value, str) else None
        elif action != "drop":
            raise ValueError(f"unknown field action {action!r}")

    def _scrub(self, text: str) -> str:
        scrubbed = self._scrubbed.get(text)
        if scrubbed is None:
            scrubbed = _remember(self._scrubbed, text, scrub_text(text))
        return scrubbed

    def _pseudonym(self, value: str) -> str | None:
        try:
            return self._pseudonyms[value]
        except KeyError:
            pseudonym = self.pseudonymiser.pseudonym(value) if value.strip() else None
            return _remember(self._pseudonyms, value, pseudonym)


def _remember(memo: dict[str, Any], key: str, value: Any) -> Any:
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = value
    return value
